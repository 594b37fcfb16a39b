"""Figures of notebook views: ``view.save(path)`` and the view "at" another selection.

``save_view`` draws exactly the frame a view shows, from ``view.frame()``
(or ``view.frames()`` for a head grid), with the view's colormap and scale.
``ViewAt`` runs a view's own methods (``frame``, ``frames``, ``refresh``)
for another selection without touching the live widget, which is how
:func:`animate` and :func:`to_html` get the frames a view *would* show.
"""

from __future__ import annotations

import contextlib
import os
import types
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..wire import value_range
from ._draw import new_figure, save_figure, text_label
from .grid import frames_grid
from .heatmap import bare_figure, frame_figure
from .overlay import overlay_figure

__all__ = ["save_view", "view_figure", "canvas_view", "ViewAt", "SELECTION"]

SELECTION = ("layer", "head", "sample", "label", "step")


def canvas_view(view: Any) -> Any:
    """The view whose frame is drawn: itself, a WeightsView's canvas, an Explorer's main view."""
    name = type(view).__name__
    if name == "WeightsView" and hasattr(view, "canvas"):
        return view.canvas
    if name == "Explorer":
        for part in ("heatmap", "weights", "overlay"):
            sub = getattr(view, part, None)
            if sub is not None:
                return canvas_view(sub)
        raise ValueError("this explorer shows no frame view to save")
    if not hasattr(view, "frame") or not hasattr(view, "cap"):
        raise TypeError(f"expected an attnwidget view (Heatmap, HeadGrid, ImageOverlay, "
                        f"WeightsView, HeadStats or Explorer), not {type(view).__name__}")
    return view


def _image_of(view) -> np.ndarray:
    shape = view._image_meta["shape"]
    return np.frombuffer(view._image, dtype=np.uint8).reshape(shape)[..., :3]


def _head_stats_figure(view) -> Figure:
    stats = dict(view.stats or {})
    if not stats:
        raise ValueError(f"this HeadStats view shows no statistics for layer {view.layer}")
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
    name = view.cap.layers[view.layer]
    title = getattr(view, "title", None) or "head statistics"  # says when from cap.stats
    ax.set_title(text_label(f"{title} · {name}"), fontsize=10)
    return fig


def view_figure(view: Any, *, axes: bool = True, pixels_per_cell: int = 1) -> Figure:
    """The figure of what a view shows now (see :func:`save_view`)."""
    if type(view).__name__ == "HeadStats":
        if not axes:
            raise ValueError("HeadStats is a bar chart; it has no axes-free image form")
        return _head_stats_figure(view)
    v = canvas_view(view)
    colormap = getattr(v, "colormap", "viridis")
    scale = getattr(v, "scale", "linear")
    if not axes:
        fr = v.frame()
        return bare_figure(fr, colormap=colormap, scale=scale, pixels_per_cell=pixels_per_cell,
                           **_sent_range(fr, scale))
    kind = type(v).__name__
    if kind == "HeadGrid":
        frames = v.frames()
        heads = v._thumbs_meta.get("heads") or len(frames)
        # each thumbnail is quantized over its own range, as the widget sends it
        return frames_grid(frames, colormap=colormap, scale="linear", shared=False,
                           cols=min(heads, 6) if v.mode == "layer" else heads,
                           titles=[f"L{v.cap.layers.index(f.selection['layer'])} H{f.selection['head']}"
                                   for f in frames],
                           suptitle=f"{frames[0].title.split(' · ')[0]} · all heads")
    if kind == "ImageOverlay":
        fr = v.frame()
        return overlay_figure(fr, _image_of(v), colormap=colormap, scale=scale,
                              alpha=float(v.opacity), **_sent_range(fr, scale))
    fr = v.frame()
    return frame_figure(fr, colormap=colormap, scale=scale, **_sent_range(fr, scale))


def _sent_range(fr, scale: str) -> dict:
    """``vmin``/``vmax`` where the widget does not send the frame's own range: a
    class-difference map goes out symmetric about zero (``wire.encode(symmetric=True)``)."""
    if fr.selection.get("difference") is None:
        return {}
    lo, hi = value_range(fr.values, scale, symmetric=True)
    return {"vmin": lo, "vmax": hi}


def save_view(view: Any, path: str | os.PathLike, dpi: int = 150, *, axes: bool = True,
              pixels_per_cell: int = 1) -> str:
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


class ViewAt:
    """A view seen at another selection: its own methods, run on these values.

    ``ViewAt(view, layer=2, head=0).frame()`` is what ``view.frame()`` would
    return after ``view.layer = 2; view.head = 0``, without changing the view.
    ``refresh()`` stores the synced data (``_frame``, ``_thumbs``...) on the proxy.
    """

    def __init__(self, view: Any, **selection: Any) -> None:
        # the selection, plus any other trait of the view (e.g. scale) to see it at
        unknown = [k for k in selection if k not in SELECTION and not view.has_trait(k)]
        if unknown:
            raise TypeError(f"unknown selection keys {sorted(unknown)}; use {SELECTION} "
                            f"or another trait of {type(view).__name__}")
        object.__setattr__(self, "_view", view)
        object.__setattr__(self, "_values", {k: getattr(view, k) for k in SELECTION})
        self._values.update(selection)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        view = object.__getattribute__(self, "_view")
        attr = getattr(type(view), name, None)
        if isinstance(attr, types.FunctionType):
            return types.MethodType(attr, self)  # run the view's code on these values
        return getattr(view, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._values:
            self._values[name] = value
        else:
            object.__setattr__(self, name, value)

    def selection(self) -> dict:
        return {k: self._values[k] for k in SELECTION}

    @contextlib.contextmanager
    def hold_sync(self):
        yield

    hold_trait_notifications = hold_sync
