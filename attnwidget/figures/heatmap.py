"""One frame as a figure: the heatmap and the bare image.

``frame_figure`` draws a :class:`~attnwidget.frame.Frame` that was already
computed (what ``view.save`` uses, so the figure is the frame the view
shows); ``heatmap`` computes the frame from a capture with the same
:func:`attnwidget.frame` the widgets call. ``bare_figure`` draws the frame
with no axes, cell-exact, so a test can compare its pixels with the widget's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._frame import Frame, frame
from ..colormaps import DIVERGING
from ..store import Capture
from ._draw import check_style, color_range, colorbar, draw_frame, frame_rgb, heat_size, new_figure

__all__ = ["heatmap", "frame_figure", "bare_figure"]


def frame_figure(fr: Frame, *, colormap: str = "viridis", scale: str = "linear", vmin: float | None = None,
                 vmax: float | None = None, title: str | None = None, max_ticks: int = 40,
                 figsize: tuple[float, float] | None = None) -> Figure:  # fmt: skip
    """A heatmap figure of one computed frame, with labels, colorbar and title.

    Parameters
    ----------
    fr : Frame
        From :func:`attnwidget.frame` or ``view.frame()``.
    colormap, scale : str
        Colormap name and ``"linear"``/``"log"``, as in the widget.
    vmin, vmax : float, optional
        Colour range (default: the frame's min and max, as the widget).
    title : str, optional
        Figure title (default: the frame's title).
    max_ticks : int
        Most token labels per axis; more are thinned evenly.
    figsize : (width, height), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure(*(figsize or heat_size(*fr.shape)))
    ax = fig.add_subplot()
    _, lo, hi = draw_frame(
        ax, fr, colormap=colormap, scale=scale, vmin=vmin, vmax=vmax, title=title, max_ticks=max_ticks
    )
    colorbar(fig, ax, lo, hi, colormap=colormap, scale=scale)
    return fig


def heatmap(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
            head: int | str = "mean", sample: int | str = 0, label: Any = None, step: int = 0,
            region: Sequence[int] | None = None, size: int | None = None, tokens: Any = None,
            stat: str | None = None, difference: Any = None, colormap: str | None = None,
            scale: str = "linear", vmin: float | None = None, vmax: float | None = None,
            title: str | None = None, groups: Any = None, padding: bool = False,
            assembled: bool | None = None, significance: float | None = None) -> Figure:  # fmt: skip
    """Heatmap of one selection: query tokens down, key tokens across.

    Parameters
    ----------
    cap : Capture
    site, layer, head, sample, label, step, region, size, tokens, stat, difference, groups, padding, assembled
        The selection, exactly as :func:`attnwidget.frame` takes it (``layer``
        is the older name of ``site``; default 0): ``stat``
        draws a class statistic (``"mean"``, ``"var"``, ``"min"``, ``"max"``
        of ``label``), ``difference=(a, b)`` the class-difference map
        ``mean[a] - mean[b]``.
    colormap : str, optional
        Default "viridis"; for a difference map the diverging colormap the
        widget uses ("coolwarm"), with a colour range symmetric about zero
        (``-m..m``, ``m`` the frame's largest absolute value) unless
        ``vmin``/``vmax`` are given.
    scale, vmin, vmax, title
        As :func:`frame_figure`.
    significance : float, optional
        With ``difference=(a, b)``: outline the cells where the classes differ
        at this false discovery rate (``aw.significance``: Welch's t per cell,
        Benjamini-Hochberg over the cells; for ``head="mean"`` or ``"max"``, the
        cells where some head differs) and put the count in the title
        ("312 of 512^2 cells differ at q < 0.05"; with ``region``, the test
        is still over the whole matrix, and the region's count is added). The
        cells must be the captured ones (no ``size`` pooling or ``groups``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fr = frame(
        cap,
        layer,
        site=site,
        head=head,
        sample=sample,
        label=label,
        step=step,
        region=region,
        size=size,
        tokens=tokens,
        stat=stat,
        difference=difference,
        groups=groups,
        padding=padding,
        assembled=assembled,
    )
    diverging = difference is not None or bool(fr.selection.get("diverging"))
    if colormap is None:
        colormap = DIVERGING if diverging else "viridis"
    if diverging and vmin is None and vmax is None:
        vmin, vmax = color_range(fr.values, scale, symmetric=True)
    if significance is None:
        return frame_figure(fr, colormap=colormap, scale=scale, vmin=vmin, vmax=vmax, title=title)
    mask, text = _significant_cells(cap, fr, difference, head, step, significance, (region, size, groups))
    fig = frame_figure(
        fr, colormap=colormap, scale=scale, vmin=vmin, vmax=vmax, title=(title or fr.title) + "\n" + text
    )
    from ..analysis._figure import outline_cells

    outline_cells(fig.axes[0], mask)
    return fig


def _significant_cells(cap, fr, difference, head, step, alpha, cuts) -> tuple[np.ndarray, str]:
    """The cells of a class-difference frame where the classes differ at ``q < alpha``, and the title."""
    from ..analysis._frame_cells import frame_significance

    if difference is None:
        raise ValueError("significance= outlines the cells of a class-difference map: pass difference=(a, b)")
    if any(c is not None for c in cuts[1:]) or fr.block != (1, 1):
        raise ValueError(
            "significance= needs the captured cells: leave out size= and groups= (the test is per "
            "cell of the captured matrix; a region= of it is fine)"
        )
    cells = frame_significance(cap, fr, alpha, strict=True)
    assert cells is not None and cells.mask is not None  # a difference frame, tested (strict)
    return cells.mask, cells.text


def bare_figure(fr: Frame, *, colormap: str = "viridis", scale: str = "linear", vmin: float | None = None,
                vmax: float | None = None, pixels_per_cell: int = 1) -> Figure:  # fmt: skip
    """The frame alone: no axes, no margins, ``pixels_per_cell`` pixels per cell.

    Saved with ``dpi=100`` (what :func:`attnwidget.figures.save_view` uses for
    ``axes=False``) the PNG is ``h * k`` by ``w * k`` pixels, and every block of
    ``k x k`` pixels is the cell's colour from the widget's colormap table.
    """
    check_style(colormap, scale)
    k = int(pixels_per_cell)
    if k < 1:
        raise ValueError(f"pixels_per_cell must be at least 1, not {pixels_per_cell!r}")
    lo, hi = color_range(fr.values, scale, vmin, vmax)
    rgb = frame_rgb(fr.values, lo, hi, scale, colormap)
    if k > 1:
        rgb = np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)
    h, w = rgb.shape[:2]
    fig = Figure(figsize=(w / 100, h / 100), dpi=100)
    # figimage places pixels 1:1 with no resampling, so the PNG is exact
    fig.figimage(rgb, xo=0, yo=0, origin="upper")
    return fig
