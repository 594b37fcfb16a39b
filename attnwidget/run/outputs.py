"""The files a run writes, named as the guides name them, drawn by the package's figures and recipes.

================================  ===========================================================
what was run                      files (``{N}``: the layer within its stack, :mod:`.stacks`)
================================  ===========================================================
text, with cross-attention        ``cross_attention_layer{N}``, ``cross_attention_multihead_layer{N}``,
(generation; seed 004)            ``self_attention_layer{N}`` (the decoder's), and
                                  ``encoder_self_attention_layer{N}``
text, self-attention only         ``self_attention_layer{N}``, ``self_attention_multihead_layer{N}``
an image (seed 001)               ``attn_map_layer_{N}_{site}`` (the CLS row over the image) and
                                  ``heatmap_layer_{N}_{site}``
a data set, audio, a factory's    what ``attnwidget export`` writes (:mod:`attnwidget.recipes.gallery`):
example                           seed 000's nine files for tapped layer weights
                                  (``layer_weight_heatmap_spoof.png`` ...), heatmaps, head grids,
                                  class means and differences, GIFs over steps
a factory with ``recipe``         the recipe's files instead (the EEG lesson: seed 003's)
``--save-raw``                    ``attn_raw_layer_{i}.npy`` per site (``i``: its index in the
                                  capture), the whole generated sequence where the steps chain,
                                  else ``_step_{s}`` per step; a data set's statistics as export
                                  ``--raw`` names them
``--html``                        ``attention.html``: the explorer as one offline page
================================  ===========================================================

Text figures show each site at its last step, which for a generation is the
attention of the whole generated text (:meth:`attnwidget.Capture.assembled`).
Every file is written as ``attnwidget export`` writes: nothing before the
folder is checked, no existing file replaced without ``--force``, each file
whole or not at all (:func:`write_jobs`).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._assembled import generation
from .._names import (
    ExportError,
    FilesExistError,
    check_folder,
    clean_stale_temporaries,
    make_folder,
    remove_folders,
    safe_name,
    unique_names,
    write_into,
)
from .._names import advice as _advice
from ..cli import CommandError, _emit, printable
from ..errors import listing
from ..figures._draw import save_figure
from ..figures.arrays import stats_npy_arrays
from ..figures.grid import head_grid
from ..figures.heatmap import heatmap
from ..figures.overlay import cls_overlay
from ..recipes.gallery import Job, plan_gallery
from ..store import Capture
from .stacks import chosen_layers, stacks

__all__ = [
    "text_jobs",
    "image_jobs",
    "gallery_jobs",
    "raw_jobs",
    "recipe_jobs",
    "page_job",
    "write_jobs",
    "check_out",
    "out_folder",
    "PAGE",
]

#: the file name of ``--html``
PAGE = "attention.html"


def _figure(filename: str, make: Callable, dpi: int) -> Job:
    return Job(filename, lambda path: save_figure(make(), path, dpi=dpi))


def _last(cap: Capture, site: str) -> int:
    """The step a site's figure shows: its last (for a generation, the whole generated text)."""
    return cap.steps_of(site)[-1]


def _heads(cap: Capture, site: str) -> int:
    return cap.num_heads(site) or 0


def text_jobs(cap: Capture, *, layers: Sequence[str] | None, head: Any, fmt: str, dpi: int) -> list[Job]:
    """Seed 004's files for a text run (see the module docstring)."""
    found = stacks(cap)
    jobs: list[Job] = []

    def add(stem: str, site: str, n: int, grid: bool) -> None:
        jobs.append(
            _figure(
                f"{stem}_layer{n}.{fmt}", lambda s=site: heatmap(cap, s, head=head, step=_last(cap, s)), dpi
            )
        )
        if grid and _heads(cap, site) > 1:
            jobs.append(
                _figure(
                    f"{stem}_multihead_layer{n}.{fmt}",
                    lambda s=site: head_grid(cap, s, step=_last(cap, s)),
                    dpi,
                )
            )

    for n in chosen_layers(layers, len(found.cross)):
        add("cross_attention", found.cross[n], n, True)
        partner = found.decoder[n]
        if partner is not None:
            add("self_attention", partner, n, False)
    stem = "encoder_self_attention" if found.cross else "self_attention"
    for n in chosen_layers(layers, len(found.encoder)):
        add(stem, found.encoder[n], n, not found.cross)
    return jobs


def _patches(cap: Capture, site: str) -> tuple[int, tuple[int, int]] | None:
    """``(skip, grid)``: keys before the patches and the square patch grid, or None where there is none."""
    info = cap.info.get(site, {})
    if tuple(info.get("block") or (1, 1)) != (1, 1):
        return None  # --max-size pooled the patches together: no grid to lay over the image
    n = cap.get(site, _last(cap, site)).shape[-1]
    for skip in (1, 0):
        side = math.isqrt(max(n - skip, 0))
        if side and side * side == n - skip:
            return skip, (side, side)
    return None


def image_jobs(cap: Capture, image: Any, *, layers: Sequence[str] | None, head: Any, fmt: str,
               dpi: int) -> list[Job]:  # fmt: skip
    """Seed 001's files for an image run: the CLS row over the image, and the heatmap, per layer."""
    found = stacks(cap)
    sites = found.encoder or [s for s in found.decoder if s]
    jobs: list[Job] = []
    skipped = []
    for n in chosen_layers(layers, len(sites)):
        site = sites[n]
        stem = f"layer_{n}_{safe_name(site)}"
        patches = _patches(cap, site)
        if patches is not None:
            skip, grid = patches
            jobs.append(
                _figure(
                    f"attn_map_{stem}.{fmt}",
                    lambda s=site, k=skip, g=grid: cls_overlay(
                        cap, s, image, skip=k, grid=g, head=head, step=_last(cap, s)
                    ),
                    dpi,
                )
            )
        else:
            skipped.append(site)
        jobs.append(
            _figure(
                f"heatmap_{stem}.{fmt}", lambda s=site: heatmap(cap, s, head=head, step=_last(cap, s)), dpi
            )
        )
    if skipped:
        _emit(
            printable(
                f"attnwidget run: note: no attn_map file for {listing(skipped, 4)}: its keys are no square "
                "grid of patches (after a CLS token), or --max-size pooled them"
            ),
            sys.stderr,
        )
    return jobs


def gallery_jobs(cap: Capture, *, layers: Sequence[str] | None, head: Any, class_names: dict | None,
                 fmt: str, dpi: int) -> list[Job]:  # fmt: skip
    """What ``attnwidget export`` writes for the capture (seed 000's files for tapped layer weights)."""
    from ..cli import _exported_sites, _resolve_layers

    names = _exported_sites(cap, _resolve_layers(layers, cap), None, 0)
    try:
        return plan_gallery(cap, layers=names, head=head, class_names=class_names, fmt=fmt, dpi=dpi)
    except (IndexError, KeyError, ValueError) as e:
        raise CommandError(e.args[0] if e.args else str(e)) from None


def raw_jobs(cap: Capture, sites: Sequence[str] | None = None) -> list[Job]:
    """``attn_raw_layer_{i}.npy`` per site (seed 001's name), and a site's statistics where it has them."""
    jobs = []
    for site in sites if sites is not None else cap.sites:
        i = cap.sites.index(site)
        steps = cap.steps_of(site)
        if len(steps) > 1 and generation(cap, site) is not None:
            jobs.append(Job(f"attn_raw_layer_{i}.npy", lambda p, s=site: np.save(p, cap.assembled(s))))
        elif len(steps) == 1:
            jobs.append(
                Job(f"attn_raw_layer_{i}.npy", lambda p, s=site, st=steps[0]: np.save(p, cap.get(s, st)))
            )
        else:
            jobs += [
                Job(f"attn_raw_layer_{i}_step_{st}.npy", lambda p, s=site, st=st: np.save(p, cap.get(s, st)))
                for st in steps
            ]
        jobs += [Job(name, lambda p, a=a: np.save(p, a)) for name, a in stats_npy_arrays(cap, site)]
    return jobs


def recipe_jobs(figures: Any, *, fmt: str, dpi: int, who: str) -> list[Job]:
    """Jobs for what a factory's ``recipe`` returned: ``{file stem: Figure or function returning one}``."""
    from matplotlib.figure import Figure

    if not isinstance(figures, dict):
        raise CommandError(
            f"{who}: recipe() returned a {type(figures).__name__}; it must return a dict of file stem -> "
            "matplotlib Figure (or a function that draws one)"
        )
    jobs = []
    for stem, made in figures.items():
        if not isinstance(stem, str) or not stem.strip():
            raise CommandError(f"{who}: recipe() gave a file stem {stem!r}; stems are non-empty strings")
        if not (isinstance(made, Figure) or callable(made)):
            raise CommandError(
                f"{who}: recipe()[{stem!r}] is a {type(made).__name__}, not a Figure or a function"
            )

        def make(m=made, s=stem):
            fig = m if isinstance(m, Figure) else m()
            if not isinstance(fig, Figure):
                raise CommandError(f"{who}: recipe()[{s!r}]() returned a {type(fig).__name__}, not a Figure")
            return fig

        jobs.append(_figure(f"{safe_name(stem)}.{fmt}", make, dpi))
    return jobs


def page_job(
    cap: Capture, *, image: Any = None, class_names: dict | None = None, site: str | None = None
) -> Job:
    """``attention.html``: the explorer of the capture, as one page that works offline, opening on ``site``."""

    def write(path: str) -> None:
        from ..figures.html import to_html
        from ..widgets import show

        start = {"layer": site} if site is not None else {}
        view = show(cap, class_names=class_names, image=image, **start)
        try:
            to_html(view, path, class_names=class_names)
        finally:
            view.close()

    return Job(PAGE, write)


def write_jobs(jobs: Sequence[Job], out: str, *, overwrite: bool = False, progress: bool = True,
               protect: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """Write every job into ``out``, as ``attnwidget export`` writes; returns the paths written.

    The folder is checked first (not a file; none of the files there unless
    ``overwrite``; never one of ``protect``); each file goes to a temporary
    name and is renamed, so a failure leaves whole files only.
    """
    from tqdm.auto import tqdm

    jobs = list(jobs)
    for job, name in zip(jobs, unique_names([j.filename for j in jobs])):
        job.filename = name
    try:
        check_folder(out, [j.filename for j in jobs], overwrite=overwrite, protect=protect)
        created = make_folder(out)
        clean_stale_temporaries(out)
    except FilesExistError as e:
        raise CommandError(
            f"{len(e.existing)} file(s) of this run already exist in {e.folder!r}: "
            f"{listing(e.existing, most=5)}; add --force to replace them, or choose another --out"
        ) from None
    except ExportError as e:
        raise CommandError(str(e).replace("output folder", "--out folder")) from None
    written: list[str] = []
    try:
        with tqdm(jobs, desc="attnwidget run: files", unit="file", disable=not progress) as bar:
            for job in bar:
                try:
                    written.append(write_into(out, job.filename, job.write, overwrite=overwrite))
                except (CommandError, ExportError):
                    raise
                except OSError as e:
                    raise CommandError(
                        f"could not write {job.filename!r} in {out!r}: {e.strerror or e} "
                        f"({len(written)} of {len(jobs)} files written whole before it); {_advice(e)}"
                    ) from None
                except (IndexError, KeyError, ValueError) as e:
                    raise CommandError(
                        f"cannot draw {job.filename!r}: {e.args[0] if e.args else e}"
                    ) from None
    except BaseException as e:
        if not written:
            remove_folders(created)  # nothing written: leave no empty folder behind either
        if isinstance(e, ExportError):
            raise CommandError(str(e)) from None
        raise
    return written


def check_out(out: str) -> None:
    """Refuse an ``--out`` that cannot be a folder, before the model loads."""
    try:
        check_folder(out, [])
    except ExportError as e:
        raise CommandError(str(e).replace("output folder", "--out folder")) from None


def out_folder(out: str, name: str, several: bool) -> str:
    """Where one input's files go: ``out`` itself, or ``out/name`` when the run has several inputs."""
    return os.path.join(out, name) if several else out
