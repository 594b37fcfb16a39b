"""What ``attnwidget export`` writes for a capture: a plan of figures per kind of site.

* tapped weights with seed 000's axes: ``layer_weight_heatmap_{class}``,
  ``layer_weight_comparison``, ``temporal_attention_heatmap_{class}``,
  ``intra_group_attention_{class}``, ``inter_group_attention_{class}``;
* other tapped weights: ``weights_layer_{i}_{site}_{class}``;
* attention sites: ``heatmap_layer_{i}_{site}``, ``multihead_layer_{i}_{site}``
  and, when the model ran several steps, ``steps_layer_{i}_{site}.gif``;
* a decoder with cross- and self-attention: ``attention_summary``;
* with ``raw=True``: ``attn_raw_layer_{i}_{site}.npy`` and ``capture.npz``.

:func:`plan_gallery` lists the files and how to draw each; :func:`export_gallery`
draws them with a progress bar.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..store import Capture
from ._draw import FORMATS, class_name, save_figure
from .grid import head_grid, num_heads
from .heatmap import heatmap
from .summary import attention_summary
from .weights import (WEIGHT_AXES, class_labels, inter_group, intra_group, layer_weight_comparison,
                      layer_weight_heatmap, temporal_heatmap)

__all__ = ["plan_gallery", "export_gallery", "Job", "safe_name"]

# seed 000's file stem for each kind of tapped site, and the per-class figure drawing it
_SEED000 = {
    "layer_weights": ("layer_weight_heatmap", layer_weight_heatmap),
    "temporal": ("temporal_attention_heatmap", temporal_heatmap),
    "intra_group": ("intra_group_attention", intra_group),
    "inter_group": ("inter_group_attention", inter_group),
}


@dataclass
class Job:
    """One file of the gallery: its name and a function that writes it to a path."""

    filename: str
    write: Callable[[str], Any]


def safe_name(text: str) -> str:
    """A site or class name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "site"


def _weights_kind(cap: Capture, name: str) -> str | None:
    for kind, axes in WEIGHT_AXES.items():
        if tuple(cap.axes[name]) == axes:
            return kind
    return None


def _check_head(cap: Capture, sites: Sequence[str], head: Any) -> None:
    if isinstance(head, str):
        if head not in ("mean", "max"):
            raise ValueError(f"head must be an int, 'mean' or 'max', not {head!r}")
        return
    for s in sites:
        n = num_heads(cap, s)
        if n and not -n <= head < n:
            raise ValueError(f"head {head} is out of range: site {s!r} has {n} heads (0..{n - 1})")


def plan_gallery(cap: Capture, *, layers: Sequence[int | str] | None = None, head: int | str = "mean",
                 label: Any = None, class_names: dict | None = None, fmt: str = "png",
                 dpi: int = 150, sample: int | str = 0, raw: bool = False) -> list[Job]:
    """The files :func:`export_gallery` would write, in order (nothing is drawn yet).

    Parameters are those of :func:`export_gallery`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    names = list(cap.layers) if layers is None else list(dict.fromkeys(cap.layer_name(x) for x in layers))
    classes = class_labels(cap) if label is None else [label]
    if label is not None:
        class_labels_present = class_labels(cap)
        if label not in class_labels_present:
            raise ValueError(f"unknown class {label!r}; classes are: "
                             + ", ".join(f"{c} ({class_name(c, class_names)})" for c in class_labels_present))
    attention = [n for n in names if cap.kinds[n] in ("self", "cross")]
    _check_head(cap, attention, head)

    def fig_job(filename, make):
        return Job(filename, lambda path: save_figure(make(), path, dpi=dpi))

    jobs: list[Job] = []
    by_kind: dict[str, list[str]] = {}
    for n in names:
        if cap.kinds[n] == "weights":
            by_kind.setdefault(_weights_kind(cap, n) or "other", []).append(n)
    for kind, sites in by_kind.items():
        for site in sites:
            i = cap.layers.index(site)
            tag = "" if len(sites) == 1 else f"_{safe_name(site)}"
            for c in classes:
                cname = safe_name(class_name(c, class_names))
                if kind == "other":
                    jobs.append(fig_job(
                        f"weights_layer_{i}_{safe_name(site)}_{cname}.{fmt}",
                        lambda s=site, c=c: heatmap(cap, s, head=head, sample="mean", label=c)))
                    continue
                stem, draw = _SEED000[kind]
                jobs.append(fig_job(f"{stem}_{cname}{tag}.{fmt}",
                                    lambda s=site, c=c, d=draw: d(cap, s, label=c, class_names=class_names)))
            if kind == "layer_weights":
                jobs.append(fig_job(f"layer_weight_comparison{tag}.{fmt}",
                                    lambda s=site: layer_weight_comparison(
                                        cap, s, labels=classes, class_names=class_names)))

    lab = label  # attention figures show one sample of the class (or of all samples)
    for site in attention:
        i = cap.layers.index(site)
        stem = f"layer_{i}_{safe_name(site)}"
        jobs.append(fig_job(f"heatmap_{stem}.{fmt}",
                            lambda s=site: heatmap(cap, s, head=head, sample=sample, label=lab)))
        if (num_heads(cap, site) or 0) > 1:
            jobs.append(fig_job(f"multihead_{stem}.{fmt}",
                                lambda s=site: head_grid(cap, s, sample=sample, label=lab)))
        if len(cap.steps_of(site)) > 1:
            from .animate import animate
            jobs.append(Job(f"steps_{stem}.gif",
                            lambda path, s=site: animate(cap, path, layer=s, head=head,
                                                         sample=sample, label=lab)))
    # a decoder's summary: the last cross- and self-attention among the sites asked for
    crosses = [n for n in attention if cap.kinds[n] == "cross"]
    selfs = [n for n in attention if cap.kinds[n] == "self"]
    if crosses:
        jobs.append(fig_job(f"attention_summary.{fmt}",
                            lambda: attention_summary(cap, crosses[-1], selfs[-1] if selfs else None,
                                                      sample=sample, label=lab)))
    if raw:
        from .arrays import npy_name
        import numpy as np
        for site in names:
            i = cap.layers.index(site)
            steps = cap.steps_of(site)
            for st in steps:
                jobs.append(Job(npy_name(i, site, st if len(steps) > 1 else None),
                                lambda path, s=site, st=st: np.save(path, cap.get(s, st))))
        jobs.append(Job("capture.npz", lambda path: cap.save(path)))
    return jobs


def export_gallery(cap: Capture, out: str | os.PathLike, *, layers: Sequence[int | str] | None = None,
                   head: int | str = "mean", label: Any = None, class_names: dict | None = None,
                   fmt: str = "png", dpi: int = 150, sample: int | str = 0, raw: bool = False,
                   progress: bool = True) -> list[str]:
    """Write every figure for a capture into a folder.

    Parameters
    ----------
    cap : Capture
    out : str or os.PathLike
        Folder (created if needed).
    layers : sequence of int or str, optional
        Only these sites (default: all).
    head : int, "mean" or "max"
        Head of the attention heatmaps.
    label : optional
        Only this class (default: every class; all samples without labels).
    class_names : dict, optional
        Label -> name, used in file names (``layer_weight_heatmap_spoof.png``).
    fmt : str
        "png", "pdf" or "svg".
    dpi : int
    sample : int or "mean"
        Sample of the attention figures (within ``label``).
    raw : bool
        Also write the raw arrays (``.npy`` per site and ``capture.npz``).
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    list of str
        The paths written.
    """
    jobs = plan_gallery(cap, layers=layers, head=head, label=label, class_names=class_names,
                        fmt=fmt, dpi=dpi, sample=sample, raw=raw)
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    from tqdm.auto import tqdm

    written = []
    for job in tqdm(jobs, desc="attnwidget export", unit="file", disable=not progress):
        path = os.path.join(out, job.filename)
        job.write(path)
        written.append(path)
    return written
