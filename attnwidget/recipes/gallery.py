"""What ``attnwidget export`` writes for a capture: a plan of figures per kind of site.

* tapped weights with the axes of :data:`~attnwidget.recipes.weights.WEIGHT_AXES`:
  ``layer_weight_heatmap_{class}``,
  ``layer_weight_comparison``, ``temporal_attention_heatmap_{class}``,
  ``intra_group_attention_{class}``, ``inter_group_attention_{class}``;
* other tapped weights: ``weights_layer_{i}_{site}_{class}``;
* attention sites: ``heatmap_layer_{i}_{site}``, ``multihead_layer_{i}_{site}``
  and, when the model ran several steps, ``steps_layer_{i}_{site}.gif``;
* a tapped-weights site streamed as statistics alone (``collect(..., keep="stats")``)
  gets the per-class figures above for each class of its statistics, drawn
  from the class's streamed mean;
* sites with class statistics (``collect(..., keep="stats"|"both")``):
  ``class_mean_layer_{i}_{site}_{class}`` per class (not for a tapped site
  streamed alone, which has the per-class figures above) and, with two classes or
  more, ``class_difference_layer_{i}_{site}_{class}_minus_{first class}``
  (step 0); with statistics at several steps, also
  ``class_mean_steps_layer_{i}_{site}_{class}.gif`` and
  ``class_difference_steps_...gif``, one frame per step;
* a decoder with cross- and self-attention: ``attention_summary``;
* with ``raw=True``: ``attn_raw_layer_{i}_{site}.npy`` (kept samples),
  ``attn_stats_layer_{i}_{site}_{field}.npy`` (statistics) and ``capture.npz``.

A class given as ``label`` that keeps no sample (only statistics) gets its
statistics figures alone: the figures of kept samples are not planned for it.

:func:`plan_gallery` lists the files and how to draw each; :func:`export_gallery`
draws them with a progress bar.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._names import (
    ExportError,
    check_folder,
    clean_stale_temporaries,
    fold,
    make_folder,
    remove_folders,
    unique_names,
    write_into,
)
from .._names import advice as _advice
from .._names import safe_name as _safe_name
from .._view_state import labels_fit, sample_index
from ..errors import NoLabelsError, check_head
from ..figures._draw import FORMATS, class_name, save_figure
from ..figures.grid import head_grid
from ..figures.heatmap import heatmap
from ..store import Capture
from .summary import attention_summary, default_pair
from .weights import (
    WEIGHT_AXES,
    class_labels,
    inter_group,
    intra_group,
    layer_weight_comparison,
    layer_weight_heatmap,
    temporal_heatmap,
)

__all__ = ["plan_gallery", "export_gallery", "Job", "safe_name", "class_file_names"]

# the file stem for each kind of tapped site, and the per-class figure drawing it
_WEIGHT_FIGURES = {
    "layer_weights": ("layer_weight_heatmap", layer_weight_heatmap),
    "temporal": ("temporal_attention_heatmap", temporal_heatmap),
    "intra_group": ("intra_group_attention", intra_group),
    "inter_group": ("inter_group_attention", inter_group),
}


def class_file_names(classes: Sequence[Any], class_names: dict | None) -> dict[Any, str]:
    """Class label -> the name its files carry: the class name made safe, with the label appended
    where two classes would otherwise share a file name (e.g. "a/b" and "a_b", a repeated name, or
    "Spoof" and "spoof", one file on macOS and Windows), and a hash of the label where even that
    is not enough (string labels "Spoof" and "spoof")."""
    names = {c: safe_name(class_name(c, class_names)) for c in classes}

    def clashing(chosen: dict) -> set:
        seen: dict[str, int] = {}
        for n in chosen.values():
            seen[fold(n)] = seen.get(fold(n), 0) + 1
        return {c for c, n in chosen.items() if seen[fold(n)] > 1}

    clash = clashing(names)
    names.update({c: f"{names[c]}_{safe_name(c)}" for c in clash})
    for c in clashing(names) & clash:
        names[c] = f"{names[c]}~{hashlib.sha256(repr(c).encode()).hexdigest()[:8]}"
    return names


@dataclass
class Job:
    """One file of the gallery: its name and a function that writes it to a path."""

    filename: str
    write: Callable[[str], Any]


def safe_name(text: str) -> str:
    """A site or class name made safe for a file name (see :func:`attnwidget._names.safe_name`:
    a long name keeps a readable prefix and ends with a hash of the whole name)."""
    return _safe_name(text)


def _weights_kind(cap: Capture, name: str) -> str | None:
    for kind, axes in WEIGHT_AXES.items():
        if tuple(cap.axes[name]) == axes:
            return kind
    return None


def _check_head(cap: Capture, sites: Sequence[str], head: Any) -> None:
    check_head(head, None, "", -1)  # an int, "mean" or "max", whatever the sites
    for s in sites:
        check_head(head, cap.num_heads(s), s, cap.layers.index(s))


def _check_label(cap: Capture, label: Any, kept: list, class_names: dict | None) -> None:
    """Raise a clear error unless ``label`` keeps samples or has statistics in the capture."""
    known = kept + [c for c in cap.classes(kept=False) if c not in kept]
    if not known:
        raise NoLabelsError(
            f"cannot show class {label!r}: this capture has no labels and no class "
            "statistics; collect it with aw.collect(..., labels=...)"
        )
    if label not in known:
        raise ValueError(
            f"unknown class {label!r}; classes are: "
            + ", ".join(f"{c} ({class_name(c, class_names)})" for c in known)
        )


def _stats_step(cap: Capture, site: str) -> tuple[int | None, list]:
    """The step the statistics figures of a site show (0, else its first step with statistics) and
    the classes it has statistics for there; ``(None, [])`` for a site without statistics."""
    if not cap.has_stats(site):
        return None, []
    step = 0 if cap.has_stats(site, 0) else min(cap.stats[site])
    return step, cap.classes(kept=False, site=site, step=step)


def _weight_classes(cap: Capture, site: str, kept_classes: list, label: Any) -> tuple[list, list]:
    """The classes a tapped-weights site's per-class figures are drawn for, and all its classes.

    From kept samples where the site has them; for a site streamed as statistics alone, its
    statistics' classes (the figures then draw each class's streamed mean), or every sample.
    """
    if cap.steps_of(site):
        return kept_classes, class_labels(cap)
    step, streamed = _stats_step(cap, site)
    if step is None:
        return [], []
    if label is not None:
        return [c for c in streamed if c == label], streamed
    return (streamed, streamed) if streamed else ([None], [None])


def _stats_jobs(cap: Capture, site: str, head: Any, label: Any, class_names: dict | None, fmt: str,
                fig_job: Callable, means: bool = True) -> list[Job]:  # fmt: skip
    """A site's class-mean figures (``means``) and, without ``label``, each class minus the first.

    Classes are those of :meth:`attnwidget.Capture.classes` that the site has
    statistics for at :func:`_stats_step`; nothing for a site without statistics.
    """
    step, classes = _stats_step(cap, site)
    if step is None:
        return []
    if label is not None:
        classes = [c for c in classes if c == label]
    stem = f"layer_{cap.layers.index(site)}_{safe_name(site)}"
    file_names = class_file_names(cap.classes(kept=False), class_names)  # the same name in every export
    names = [file_names[c] for c in classes]
    jobs = [
        fig_job(
            f"class_mean_{stem}_{n}.{fmt}",
            lambda c=c: heatmap(cap, site, head=head, step=step, stat="mean", label=c),
        )
        for c, n in zip(classes, names)
        if means
    ]
    if label is None:
        jobs += [
            fig_job(
                f"class_difference_{stem}_{n}_minus_{names[0]}.{fmt}",
                lambda c=c: heatmap(cap, site, head=head, step=step, difference=(c, classes[0])),
            )
            for c, n in zip(classes[1:], names[1:])
        ]
    if len(cap.stats[site]) > 1:  # statistics at several steps (diffusion, generation): walk them
        from ..figures.animate import animate

        jobs += [
            Job(
                f"class_mean_steps_{stem}_{n}.gif",
                lambda path, c=c: animate(cap, path, layer=site, head=head, stat="mean", label=c),
            )
            for c, n in zip(classes, names)
        ]
        if label is None:
            jobs += [
                Job(
                    f"class_difference_steps_{stem}_{n}_minus_{names[0]}.gif",
                    lambda path, c=c: animate(cap, path, layer=site, head=head, difference=(c, classes[0])),
                )
                for c, n in zip(classes[1:], names[1:])
            ]
    return jobs


def plan_gallery(cap: Capture, *, layers: Sequence[int | str] | None = None, head: int | str = "mean",
                 label: Any = None, class_names: dict | None = None, fmt: str = "png", dpi: int = 150,
                 sample: int | str = 0, raw: bool = False) -> list[Job]:  # fmt: skip
    """The files :func:`export_gallery` would write, in order (nothing is drawn yet).

    Parameters are those of :func:`export_gallery`. The class-statistics
    figures (``class_mean_...``, ``class_difference_...``) of a site show its
    statistics at step 0, or at its first step with statistics where it has
    none at step 0.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    names = list(cap.layers) if layers is None else list(dict.fromkeys(cap.layer_name(x) for x in layers))
    kept = class_labels(cap) if cap.labels is not None else []
    if label is not None:
        _check_label(cap, label, kept, class_names)
    # classes whose kept samples are drawn (none for a class that has statistics alone)
    classes = class_labels(cap) if label is None else [label] if label in kept else []
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
            site_classes, known = _weight_classes(cap, site, classes, label)
            file_names = class_file_names(known, class_names)
            for c in site_classes:
                cname = file_names[c]
                if kind == "other":
                    jobs.append(
                        fig_job(
                            f"weights_layer_{i}_{safe_name(site)}_{cname}.{fmt}",
                            lambda s=site, c=c: heatmap(cap, s, head=head, sample="mean", label=c),
                        )
                    )
                    continue
                stem, draw = _WEIGHT_FIGURES[kind]
                jobs.append(
                    fig_job(
                        f"{stem}_{cname}{tag}.{fmt}",
                        lambda s=site, c=c, d=draw: d(cap, s, label=c, class_names=class_names),
                    )
                )
            if kind == "layer_weights" and site_classes:
                jobs.append(
                    fig_job(
                        f"layer_weight_comparison{tag}.{fmt}",
                        lambda s=site, cs=site_classes: layer_weight_comparison(
                            cap, s, labels=cs, class_names=class_names
                        ),
                    )
                )
            # class differences (and, beside kept samples, the data set's class means)
            jobs.extend(
                _stats_jobs(cap, site, head, label, class_names, fmt, fig_job, means=bool(cap.steps_of(site)))
            )

    lab = label  # attention figures show one sample of the class (or of all samples)
    for site in attention:
        i = cap.layers.index(site)
        stem = f"layer_{i}_{safe_name(site)}"
        shown = sample_index(cap, dict(layer=site, head=head, sample=sample, label=lab, step=0))
        if shown is not None and site in cap.sample_axes:  # "..._sequence_3_epoch_5_EEG2.png"
            stem += f"_{safe_name(cap.sample_name(site, shown))}"
        if classes:  # figures of kept samples; none for a class that has statistics alone
            jobs.append(
                fig_job(
                    f"heatmap_{stem}.{fmt}",
                    lambda s=site: heatmap(cap, s, head=head, sample=sample, label=lab),
                )
            )
            if (cap.num_heads(site) or 0) > 1:
                jobs.append(
                    fig_job(
                        f"multihead_{stem}.{fmt}", lambda s=site: head_grid(cap, s, sample=sample, label=lab)
                    )
                )
            if len(cap.steps_of(site)) > 1:
                from ..figures.animate import animate

                jobs.append(
                    Job(
                        f"steps_{stem}.gif",
                        lambda path, s=site: animate(cap, path, layer=s, head=head, sample=sample, label=lab),
                    )
                )
        jobs.extend(_stats_jobs(cap, site, head, label, class_names, fmt, fig_job))
    # a decoder's summary: the last cross- and self-attention among the sites asked for
    crosses = [n for n in attention if cap.kinds[n] == "cross"]
    selfs = [n for n in attention if cap.kinds[n] == "self"]
    if crosses and classes:
        partner = selfs[-1] if selfs else default_pair(cap)[1]
        if (
            partner is not None
            and lab is not None
            and not labels_fit(cap, partner, cap.site_steps(partner)[0])
        ):
            partner = False  # the class cannot filter that site's samples: the cross-attention alone
        jobs.append(
            fig_job(
                f"attention_summary.{fmt}",
                lambda: attention_summary(cap, crosses[-1], partner, sample=sample, label=lab),
            )
        )
    if raw:
        import numpy as np

        from ..figures.arrays import npy_name, stats_npy_arrays

        for site in names:
            i = cap.layers.index(site)
            steps = cap.steps_of(site)
            for st in steps:
                jobs.append(
                    Job(
                        npy_name(i, site, st if len(steps) > 1 else None),
                        lambda path, s=site, st=st: np.save(path, cap.get(s, st)),
                    )
                )
            for filename, a in stats_npy_arrays(cap, site):
                jobs.append(Job(filename, lambda path, a=a: np.save(path, a)))
        jobs.append(Job("capture.npz", lambda path: cap.save(path)))
    # every name fits the file system, and none overwrites another where case does not count
    for job, name in zip(jobs, unique_names([j.filename for j in jobs])):
        job.filename = name
    return jobs


def export_gallery(cap: Capture, out: str | os.PathLike, *, layers: Sequence[int | str] | None = None,
                   head: int | str = "mean", label: Any = None, class_names: dict | None = None,
                   fmt: str = "png", dpi: int = 150, sample: int | str = 0, raw: bool = False,
                   progress: bool = True, overwrite: bool = False,
                   protect: Sequence[str | os.PathLike] = ()) -> list[str]:  # fmt: skip
    """Write every figure for a capture into a folder.

    Nothing is written before the folder is checked (it is not a file, and
    no file of the export exists there unless ``overwrite``). Each file is
    written to a temporary name and renamed, so a failure part-way (a full
    disk) leaves the files written before it whole and no torn file; a
    symlink in the folder is replaced, never written through.

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
        Only this class (default: every class; all samples without labels). A
        class that keeps no sample but has statistics gets its ``class_mean_...``
        figures alone.
    class_names : dict, optional
        Label -> name, used in file names (``layer_weight_heatmap_spoof.png``).
    fmt : str
        "png", "pdf" or "svg".
    dpi : int
    sample : int or "mean"
        Sample of the attention figures (within ``label``).
    raw : bool
        Also write the raw arrays (``.npy`` per site, ``.npy`` per statistic of
        a site with class statistics, and ``capture.npz``).
    progress : bool
        Show a progress bar (tqdm, on stderr).
    overwrite : bool
        Replace files of the export that exist in ``out`` already (default:
        refuse, listing them).
    protect : sequence of paths
        Files never to be written, whatever ``overwrite`` says (the command
        line passes the capture it read, so ``--raw`` cannot replace it).

    Returns
    -------
    list of str
        The paths written.

    Raises
    ------
    attnwidget._names.ExportError
        (an ``OSError``) the folder cannot be used or a write failed; its
        message says which file, why, and how many were written whole.
    """
    jobs = plan_gallery(
        cap,
        layers=layers,
        head=head,
        label=label,
        class_names=class_names,
        fmt=fmt,
        dpi=dpi,
        sample=sample,
        raw=raw,
    )
    out = os.fspath(out)
    check_folder(out, [j.filename for j in jobs], overwrite=overwrite, protect=protect)
    created = make_folder(out)
    clean_stale_temporaries(out)
    from tqdm.auto import tqdm

    written: list[str] = []
    try:
        with tqdm(jobs, desc="attnwidget export", unit="file", disable=not progress) as bar:
            for job in bar:
                try:
                    written.append(write_into(out, job.filename, job.write, overwrite=overwrite))
                except ExportError:
                    raise
                except OSError as e:
                    raise ExportError(
                        f"could not write {job.filename!r} in {out!r}: {e.strerror or e} "
                        f"({len(written)} of {len(jobs)} files written whole before it); "
                        f"{_advice(e)}"
                    ) from e
    except BaseException:
        if not written:
            remove_folders(created)  # nothing written: leave no empty folder behind either
        raise
    return written
