"""Figures of notebook views: what ``view.save(path)`` draws.

A view describes itself (``view.describe()``, an
:class:`~attnwidget._view_state.ViewDescription`), and the figure is drawn
from that description alone: the frames come from
:func:`attnwidget._view_state.view_frame` and
:func:`~attnwidget._view_state.view_panels`, the functions the widget sends
from, with the view's colormap, scale and colour range
(:func:`~attnwidget._view_state.view_range`, the range the widget's codes
use: the frame's own, fixed or shared over the site's heads and steps), and
the caption the widget shows under a frame whose values hardly vary or whose
range is not its own. Nothing here reads a widget.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._view_state import ViewDescription, grid_range, is_difference, range_caption, view_frame, view_panels
from .._view_state import view_range as _view_range
from ..wire import value_range
from ._draw import new_figure, save_figure, text_label
from .fonts import label_fonts
from .grid import frames_grid
from .heatmap import bare_figure, frame_figure
from .overlay import overlay_figure

__all__ = ["save_view", "view_figure", "describe", "canvas_description"]


def describe(view: Any) -> ViewDescription:
    """What a view shows, as plain data (``view.describe()``); a TypeError for anything else."""
    method = getattr(view, "describe", None)
    d = method() if callable(method) else None
    if not isinstance(d, ViewDescription):
        raise TypeError(
            f"expected an attnwidget view (Heatmap, HeadGrid, ImageOverlay, "
            f"WeightsView, HeadStats or Explorer), not {type(view).__name__}"
        )
    return d


def canvas_description(view: Any, what: str) -> ViewDescription:
    """:func:`describe` for what needs frames (a canvas view); a TypeError for a bar chart."""
    d = describe(view)
    if d.spec is None:
        raise TypeError(
            f"{what} needs a view that shows frames (Heatmap, HeadGrid, ImageOverlay, "
            f"WeightsView or Explorer); {d.name} is a bar chart"
        )
    return d


def _head_stats_figure(d: ViewDescription) -> Figure:
    stats = dict(d.bars or {})
    if not stats:
        raise ValueError(f"this HeadStats view shows no statistics for site {d.site!r}")
    names = list(stats)
    n = len(stats[names[0]])
    fig = new_figure(max(5.0, 0.5 * n * len(names) / 2 + 2), 3.6)
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    x = np.arange(n)
    for i, k in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * width, stats[k], width, label=k)
    ax.set_xticks(x)
    ax.set_xticklabels([str(h) for h in range(n)])
    ax.set_xlabel("head")
    ax.set_ylabel("value (0..1)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    title = d.title or "head statistics"  # says when from cap.stats
    ax.set_title(text_label(f"{title} · {d.site}"), fontsize=10, fontfamily=label_fonts())
    return fig


def view_figure(view: Any, *, axes: bool = True, pixels_per_cell: int = 1) -> Figure:
    """The figure of what a view shows now (see :func:`save_view`)."""
    d = describe(view)
    if d.kind == "headstats":
        if not axes:
            raise ValueError("HeadStats is a bar chart; it has no axes-free image form")
        return _head_stats_figure(d)
    colormap = d.colormap or "viridis"
    scale = d.spec.scale
    if not axes:
        fr = view_frame(d.cap, d.spec, d.selection)
        return bare_figure(
            fr, colormap=colormap, scale=scale, pixels_per_cell=pixels_per_cell, **_sent_range(d, fr, scale)
        )
    if d.kind == "headgrid":
        frames = view_panels(d.cap, d.spec, d.selection)
        heads = max(int(f.selection["head"]) for f in frames) + 1
        # the thumbnails' range as the widget sends them: each its own, or one for all
        one = grid_range(d.cap, d.spec, d.selection, frames)
        return frames_grid(
            frames,
            colormap=colormap,
            scale="linear",
            vmin=None if one is None else one[0],
            vmax=None if one is None else one[1],
            shared=one is not None,
            cols=min(heads, 6) if d.spec.mode == "layer" else heads,
            titles=[f"L{d.cap.layers.index(f.selection['layer'])} H{f.selection['head']}" for f in frames],
            suptitle=f"{frames[0].title.split(' · ')[0]} · all heads",
        )
    fr = view_frame(d.cap, d.spec, d.selection)
    sent = _sent_range(d, fr, scale)
    # the caption the widget shows under the frame goes under the title (with the significance
    # test's count on a class-difference map, whose cells the widget outlines)
    caption = range_caption(fr, _range_of(fr, scale, sent), d.spec.color_range)
    cells = None
    if d.spec.significance is not None and d.kind != "overlay":
        from ..analysis._frame_cells import frame_significance

        cells = frame_significance(d.cap, fr, d.spec.significance)
        if cells is not None:
            caption = f"{caption} · {cells.text}" if caption else cells.text
    title = f"{fr.title}\n{caption}" if caption else None
    if d.kind == "overlay":
        return overlay_figure(
            fr, d.image, colormap=colormap, scale=scale, alpha=d.opacity, title=title, **sent
        )
    fig = frame_figure(fr, colormap=colormap, scale=scale, title=title, **sent)
    if cells is not None and cells.mask is not None:
        from ..analysis._figure import outline_cells

        outline_cells(fig.axes[0], cells.mask)
    return fig


def _sent_range(d: ViewDescription, fr, scale: str) -> dict:
    """``vmin``/``vmax`` where the widget does not send the frame's own range: the view's fixed
    or shared range (:func:`~attnwidget._view_state.view_range`), or a difference map's,
    symmetric about zero (``wire.encode(symmetric=True)``)."""
    vrange = _view_range(d.cap, d.spec, d.selection, fr)
    if vrange is not None:
        return {"vmin": vrange[0], "vmax": vrange[1]}
    if not is_difference(fr):
        return {}
    lo, hi = value_range(fr.values, scale, symmetric=True)
    return {"vmin": lo, "vmax": hi}


def _range_of(fr, scale: str, sent: dict) -> tuple[float, float]:
    if sent:
        return sent["vmin"], sent["vmax"]
    return value_range(fr.values, scale)


def save_view(
    view: Any, path: str | os.PathLike, dpi: int = 150, *, axes: bool = True, pixels_per_cell: int = 1
) -> str:
    """Save what a view shows as PNG, PDF or SVG (by extension).

    Parameters
    ----------
    view : Heatmap, HeadGrid, ImageOverlay, WeightsView, HeadStats or Explorer
    path : str or os.PathLike
        Output file: ``.png``, ``.pdf`` or ``.svg``.
    dpi : int
        Resolution of the figure (raster formats).
    axes : bool
        False: the frame alone, ``pixels_per_cell`` pixels per cell, no labels,
        in the widget's exact colours (``dpi`` is then ignored).
    pixels_per_cell : int
        Only with ``axes=False``.

    Returns
    -------
    str
        The path written.
    """
    fig = view_figure(view, axes=axes, pixels_per_cell=pixels_per_cell)
    return save_figure(fig, path, dpi=dpi if axes else 100)
