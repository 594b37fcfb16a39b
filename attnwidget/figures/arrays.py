"""Raw arrays out: one ``.npy`` per site (``attn_raw_layer_{i}.npy``), ``.npz`` per capture.

The ``.npz`` is the capture engine's own format (:meth:`Capture.save`), so
:func:`attnwidget.load` reads it back; the ``.npy`` files are plain arrays
any tool can open. A site with class statistics (``collect(..., keep="stats"
|"both")``) also gets one ``.npy`` per statistic, ``attn_stats_layer_{i}_...``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .._names import make_folder, safe_name, write_into
from ..store import Capture

__all__ = ["save_arrays", "npy_name", "stats_npy_name", "stats_npy_arrays"]

#: the per-class arrays of ``cap.stats[layer][step]``, in the order they are written
STATS_FIELDS = ("classes", "count", "mean", "var", "min", "max", "entropy")


def _safe(layer: str) -> str:
    # the gallery's rule: a long site name keeps a prefix and a hash, so every name fits the file system
    return safe_name(layer)


def npy_name(index: int, layer: str, step: int | None = None) -> str:
    """File name of one layer's raw array, e.g. ``attn_raw_layer_3_encoder.layer.3.attn.npy``."""
    tail = "" if step is None else f"_step_{step}"
    return f"attn_raw_layer_{index}_{_safe(layer)}{tail}.npy"


def stats_npy_name(index: int, layer: str, field: str, step: int | None = None) -> str:
    """File name of one statistic of a layer, e.g. ``attn_stats_layer_3_encoder.layer.3.attn_mean.npy``."""
    tail = "" if step is None else f"_step_{step}"
    return f"attn_stats_layer_{index}_{_safe(layer)}{tail}_{field}.npy"


def stats_npy_arrays(cap: Capture, layer: str) -> list[tuple[str, np.ndarray]]:
    """``(file name, array)`` of each class statistic a site holds, in the order they are written.

    One file per statistic and step (``_step_{s}`` only where the site has
    statistics at several steps); empty for a site without statistics.
    """
    i = cap.layers.index(layer)
    per_step = cap.stats.get(layer) or {}
    out = []
    for s in sorted(per_step):
        st = per_step[s]
        for field in STATS_FIELDS:
            if field not in st:
                continue
            # class keys may mix "all" and ints: stored as text, so loading needs no pickle
            a = np.array([str(c) for c in st[field]]) if field == "classes" else np.asarray(st[field])
            out.append((stats_npy_name(i, layer, field, s if len(per_step) > 1 else None), a))
    return out


def save_arrays(
    cap: Capture, out: str | os.PathLike, *, layers: Sequence[int | str] | None = None, npz: bool = True
) -> list[str]:
    """Write each layer's raw array as ``.npy`` and the whole capture as ``capture.npz``.

    Parameters
    ----------
    cap : Capture
    out : str or os.PathLike
        Folder to write into (created if needed).
    layers : sequence of int or str, optional
        Layers to write as ``.npy`` (default: all).
    npz : bool
        Also write ``capture.npz`` (readable with :func:`attnwidget.load`).

    Returns
    -------
    list of str
        The paths written. A layer that ran at several steps gets one file
        per step (``..._step_{s}.npy``); axes are ``cap.axes[layer]``.
        A layer with class statistics gets ``attn_stats_layer_{i}_{layer}_{field}.npy``
        per statistic: ``classes`` (the class keys as strings, ``"all"``
        first), ``count`` ``[class]``, ``mean``/``var``/``min``/``max``
        ``[class, *axes[1:]]`` and ``entropy`` ``[class, head]``; a capture
        from ``collect(..., keep="stats")`` holds nothing else.
    """
    if not isinstance(cap, Capture):
        raise TypeError(f"save_arrays needs a Capture, not {type(cap).__name__}")
    out = os.fspath(out)
    if os.path.lexists(out) and not os.path.isdir(out):
        raise NotADirectoryError(f"save_arrays writes into a folder and {out!r} is a file; choose a folder")
    make_folder(out)
    names = cap.layers if layers is None else [cap.layer_name(x) for x in layers]
    written = []
    # each file goes to a temporary name and is renamed: a failure leaves no torn file, and a
    # symlink in the folder is replaced rather than written through
    for name in names:
        i = cap.layers.index(name)
        steps = cap.steps_of(name)
        for s in steps:
            written.append(
                write_into(
                    out,
                    npy_name(i, name, s if len(steps) > 1 else None),
                    lambda p, a=cap.get(name, s): np.save(p, np.asarray(a)),  # noqa: B008
                    overwrite=True,
                )
            )
        for filename, a in stats_npy_arrays(cap, name):
            written.append(write_into(out, filename, lambda p, a=a: np.save(p, a), overwrite=True))
    if npz:
        written.append(write_into(out, "capture.npz", cap.save, overwrite=True))
    return written
