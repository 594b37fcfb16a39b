"""The numbers the explorer's charts show: per-head statistics and a weights site's class profile.

The head statistics panel (``HeadStats``), the weights view's chart
(``WeightsView``) and the standalone page (``attnwidget.figures.page``) all
read them here, so the page draws what the widget draws.
"""

from __future__ import annotations

import numpy as np

from ._frame import select_samples
from ._view_state import labels_fit
from .reduce import head_stats

__all__ = ["stats_for", "stats_entropy", "roles_for", "ROLES", "class_profile", "TIME_AXES"]

#: a weights site whose last axis has one of these names is drawn as lines (else as bars)
TIME_AXES = ("time", "frame", "frames", "t", "timestep", "step")


def stats_for(cap, layer, step: int = 0, label=None) -> dict[str, np.ndarray]:
    """Per-head statistics of one layer over the samples of ``label`` (all when None).

    Returns
    -------
    dict
        ``{"entropy", "max", "sparsity"}``, each ``[head]`` float32.
    """
    name = cap.site_name(layer)
    if cap.kinds[name] == "weights" or "head" not in cap.axes[name]:
        raise ValueError(f"site {name!r} holds weights, not heads of query x key attention")
    if cap.is_stats_only(name, step):
        return {"entropy": stats_entropy(cap, name, step, label)}
    return head_stats(cap.get(name, step), select_samples(cap, label, name))


def stats_entropy(cap, name: str, step: int = 0, label=None) -> np.ndarray:
    """Per-head mean row entropy of a class from ``cap.stats``, normalised by ``log(keys)`` (1 = uniform).

    Returns
    -------
    numpy.ndarray
        ``[head]`` float32.
    """
    st = cap.site_stats(name, step)
    if st is None or "entropy" not in st:
        raise ValueError(f"site {name!r} has no per-head entropy in its statistics at step {step}")
    ent = np.asarray(cap.stat(name, step, "entropy", label), dtype=np.float64)
    nk = np.asarray(st["mean"]).shape[-1]
    if nk > 1:
        ent = ent / np.log(nk)
    return ent.astype(np.float32)


#: the head roles the role picker shows (``aw.heads`` scores in [0, 1] that need no tokens)
ROLES = ("previous", "first", "own", "local", "broad")


def roles_for(cap, layer, step: int = 0) -> dict[str, np.ndarray]:
    """Per-head role scores of one attention site (``aw.heads``, every sample, valid positions):
    ``{"previous", "first", "own", "local", "broad"}``, each ``[head]``; a score a site has no
    row for (``previous`` of cross-attention) is NaN."""
    from .analysis import heads

    name = cap.site_name(layer)
    if cap.kinds[name] == "weights" or "head" not in cap.axes[name]:
        raise ValueError(f"site {name!r} holds weights, not heads of query x key attention")
    rows = heads(cap, step=step, sites=[name])
    if not rows:
        raise ValueError(f"site {name!r} did not run at step {step}: no head roles there")
    return {r: np.array([row[r] for row in rows], dtype=np.float64) for r in ROLES}


def class_profile(cap, layer, step: int = 0, classes=None) -> tuple[np.ndarray, list[str], str]:
    """Mean weight along a site's last axis, per class.

    ``classes`` split kept samples only where the labels name the site's
    samples (:func:`~attnwidget._view_state.labels_fit`); elsewhere the one
    row is every sample.

    Returns
    -------
    values : numpy.ndarray
        ``[class, last_axis]`` (one row, "all samples", when ``classes`` is empty).
    names : list of str
        Labels of the last axis (from ``cap.metadata["axis_labels"]`` or indices).
    axis : str
        Name of the last axis.
    """
    name = cap.site_name(layer)
    axis = cap.axes[name][-1]
    if cap.is_stats_only(name, step):
        # statistics only: the class means of every streamed sample
        mean = np.stack([cap.stat(name, step, "mean", c) for c in (classes or [None])]).astype(np.float32)
        values = mean.reshape(mean.shape[0], -1, mean.shape[-1]).mean(axis=1)  # [class, last]
    else:
        data = np.asarray(cap.get(name, step), dtype=np.float32)
        flat = data.reshape(data.shape[0], -1, data.shape[-1]).mean(axis=1)  # [sample, last]
        if classes and labels_fit(cap, name, step):
            values = np.stack([flat[select_samples(cap, c, name)].mean(axis=0) for c in classes])
        else:
            values = flat.mean(axis=0, keepdims=True)
    names = cap.metadata.get("axis_labels", {}).get(name, {}).get(axis)
    if names is None or len(names) != values.shape[1]:
        names = [str(i) for i in range(values.shape[1])]
    return values, [str(n) for n in names], axis
