"""The analyses' figures: the head-roles chart, and class-difference maps with their significant cells.

:func:`heads_figure` draws sites down, heads across, each cell coloured by the
head's strongest role; :func:`significance_figure` draws the difference map of
a :class:`~attnwidget.analysis.Significance` on the diverging colour scale,
symmetric about zero, with the cells that differ at ``q < alpha`` outlined
(:func:`outline_cells`) and their count in the title; :func:`side_by_side_figure`
draws two runs and their difference (``aw.compare``).

Drawn with matplotlib through :mod:`attnwidget.figures._draw` (a figure not
registered with pyplot, saved by :func:`~attnwidget.figures._draw.save_figure`);
imported only when a figure is asked for, so the analyses work without
matplotlib.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._frame import Frame
from ..figures.fonts import label_fonts
from ..store import Capture
from ._roles import ROLES, HeadRoles, heads
from ._significance import Significance

__all__ = ["heads_figure", "ROLE_COLORS", "significance_figure", "side_by_side_figure", "outline_cells"]

#: one colour per role (Okabe-Ito, distinguishable with colour-blindness), grey for "other"
ROLE_COLORS = {
    "induction": "#CC79A7",
    "same": "#882255",
    "previous": "#0072B2",
    "first": "#D55E00",
    "own": "#009E73",
    "local": "#56B4E9",
    "broad": "#F0E442",
    "other": "#BBBBBB",
}


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255.0


def heads_figure(
    roles: HeadRoles | Capture,
    *,
    step: int = 0,
    tokens: Any = None,
    values: bool = True,
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """Sites x heads, each cell coloured by the head's strongest role, with a legend.

    A cell's colour is its role (:data:`ROLE_COLORS`); its strength fades
    the colour towards white (score 1: full colour, :data:`ROLE_MIN`: pale),
    and ``values`` writes the score in the cell.

    Parameters
    ----------
    roles : HeadRoles or Capture
        From :func:`heads`, or a capture to score (with ``step`` and ``tokens``).
    values : bool
        Write each cell's score.
    title : str, optional
    path : str or path, optional
        Also save the figure there (png, pdf or svg).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    from ..figures._draw import new_figure, save_figure, text_label

    if isinstance(roles, Capture):
        roles = heads(roles, tokens=tokens, step=step)
    if not roles:
        raise ValueError("heads_figure needs at least one row of head roles; heads() found none")
    sites = roles.sites
    width = max(r["head"] for r in roles) + 1
    rgb = np.ones((len(sites), width, 3))
    score = np.full((len(sites), width), np.nan)
    for r in roles:
        i, j = sites.index(r["site"]), r["head"]
        role = r["role"]
        if role in ROLES:
            s = r[role]
        else:  # "other": the best of the roles it does not reach
            s = max([r[x] for x in ROLES if np.isfinite(r[x])] or [np.nan])
        strength = float(np.clip(s, 0, 1)) if np.isfinite(s) else 0.0
        score[i, j] = s
        # fade towards white: a weak role reads pale, a pure one in full colour
        mix = 0.25 + 0.75 * strength
        rgb[i, j] = 1 - mix * (1 - _rgb(ROLE_COLORS[role]))
    fig = new_figure(min(2.0 + 0.55 * width, 16), min(1.6 + 0.4 * len(sites), 14))
    ax = fig.add_subplot()
    ax.imshow(rgb, interpolation="nearest", aspect="auto")
    ax.set_xticks(np.arange(width))
    ax.set_xticklabels([str(h) for h in range(width)], fontsize=8)
    ax.set_yticks(np.arange(len(sites)))
    ax.set_yticklabels([text_label(s) for s in sites], fontsize=8 if len(sites) <= 24 else 6)
    ax.set_xlabel("head")
    ax.set_ylabel("site")
    if values and len(sites) * width <= 400:
        for (i, j), s in np.ndenumerate(score):
            if np.isfinite(s):
                ax.text(j, i, f"{s:.2f}", ha="center", va="center", fontsize=7, color="black")
    shown = [r for r in (*ROLES, "other") if any(row["role"] == r for row in roles)]
    ax.legend(
        handles=[Patch(facecolor=ROLE_COLORS[r], label=r) for r in shown],
        title="strongest role",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title_fontsize=8,
        frameon=False,
    )
    steps = {r["step"] for r in roles}
    ax.set_title(
        text_label(
            title
            if title is not None
            else "head roles" + (f" · step {steps.pop()}" if len(steps) == 1 else "")
        ),
        fontsize=10,
    )
    if path is not None:
        save_figure(fig, path)
    return fig


# ---------------------------------------------------------------- significant cells on a difference map


def outline_cells(ax, mask: Any, *, color: str = "black", linewidth: float = 1.2):
    """Outline the cells where ``mask`` is true on an image drawn cell by cell (``imshow``, nearest).

    Draws the cell edges between a marked cell and an unmarked one (or the
    border), so a group of marked cells gets one outline around it and the
    colours inside stay visible. Cell ``(i, j)`` spans ``j - 0.5 .. j + 0.5``
    across and ``i - 0.5 .. i + 0.5`` down, as ``imshow`` places it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    mask : bool array ``[rows, columns]`` (a 1-D mask is one row)
    color : str
    linewidth : float

    Returns
    -------
    matplotlib.collections.LineCollection or None
        None when no cell is marked.
    """
    from matplotlib.collections import LineCollection

    m = np.asarray(mask, dtype=bool)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2:
        raise ValueError(f"outline_cells needs a [rows, columns] mask, not shape {m.shape}")
    if not m.any():
        return None
    padded = np.pad(m, 1)
    segments = []
    # a horizontal edge lies between rows i-1 and i where exactly one of the two is marked
    for i, j in zip(*np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])):
        segments.append([(j - 0.5, i - 0.5), (j + 0.5, i - 0.5)])
    for i, j in zip(*np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])):
        segments.append([(j - 0.5, i - 0.5), (j - 0.5, i + 0.5)])
    lines = LineCollection(segments, colors=color, linewidths=linewidth, capstyle="projecting")
    ax.add_collection(lines, autolim=False)
    return lines


def _panels(sig: Significance) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(title, difference, mask)`` per panel: one map, or one per head (the leading axis)."""
    diff, mask = np.asarray(sig.difference), np.asarray(sig.mask)
    if diff.ndim <= 2:
        return [("", diff, mask)]
    if diff.ndim == 3:
        return [(f"head {h}", diff[h], mask[h]) for h in range(diff.shape[0])]
    raise ValueError(
        f"significance_figure draws maps of one or two axes (or one per head); this test has shape "
        f"{diff.shape}: pick a head (significance(..., head=0))"
    )


def significance_figure(
    sig: Significance,
    *,
    labels: tuple[Any, Any] | None = None,
    axes: tuple[str, str] = ("query", "key"),
    color: str = "black",
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """The difference map of a test, on the diverging scale, with the significant cells outlined.

    Each panel shows ``sig.difference`` (``mean[a] - mean[b]``) in the
    widget's diverging colormap with a range symmetric about zero, and
    outlines the cells where ``q < alpha`` (:func:`outline_cells`). The title
    is the test's count ("312 of 512^2 cells differ at q < 0.05") above its
    caption (site, groups and their sizes). A test of every head
    (``head=None`` on a site with several) gets one panel per head.

    Parameters
    ----------
    sig : Significance
        From :func:`attnwidget.significance` or :meth:`Comparison.significance`.
    labels : (row labels, column labels), optional
        Tick labels (e.g. tokens); default: positions.
    axes : (str, str)
        What rows and columns are (default query and key).
    color : str
        The outline's colour.
    title : str, optional
        Replaces the test's count and caption.
    path : str or path, optional
        Also save the figure there (png, pdf or svg).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..colormaps import DIVERGING
    from ..figures._draw import (
        color_range,
        colorbar,
        draw_frame,
        heat_size,
        new_figure,
        save_figure,
        text_label,
    )

    if not isinstance(sig, Significance):
        raise TypeError(
            f"significance_figure draws a Significance (from aw.significance), not {type(sig).__name__}"
        )
    panels = _panels(sig)
    lo, hi = color_range([p[1] for p in panels], symmetric=True)
    rows, cols = (1, panels[0][1].shape[0]) if panels[0][1].ndim == 1 else panels[0][1].shape[:2]
    w, h = heat_size(rows, cols, base=4.0 if len(panels) > 1 else 6.0)
    across = min(len(panels), 4)
    down = -(-len(panels) // across)
    fig = new_figure(min(w * across, 20), min(h * down + 0.6, 20))
    grid = fig.subplots(down, across, squeeze=False)
    for ax in grid.ravel()[len(panels) :]:
        ax.set_visible(False)
    for ax, (name, diff, mask) in zip(grid.ravel(), panels):
        values = diff[None, :] if diff.ndim == 1 else diff
        r, c = values.shape
        row_labels, col_labels = labels if labels is not None else (None, None)
        fr = Frame(
            values=np.asarray(values, dtype=np.float32),
            row_axis=axes[0] if diff.ndim == 2 else "",
            col_axis=axes[1] if diff.ndim == 2 else "cell",
            row_labels=[str(x) for x in row_labels] if row_labels is not None and len(row_labels) == r else [str(i) for i in range(r)],
            col_labels=[str(x) for x in col_labels] if col_labels is not None and len(col_labels) == c else [str(i) for i in range(c)],
            title=name,
            region=(0, r, 0, c),
            full_shape=(r, c),
            selection={"layer": sig.site, "difference": (sig.a, sig.b), "step": sig.step},
        )  # fmt: skip
        draw_frame(ax, fr, colormap=DIVERGING, vmin=lo, vmax=hi, title=name)
        outline_cells(ax, mask.reshape(values.shape), color=color)
    colorbar(fig, grid.ravel()[: len(panels)].tolist(), lo, hi, colormap=DIVERGING, label="difference")
    outlined = f" (outlined: q < {sig.alpha:g})" if sig.count else ""
    fig.suptitle(
        text_label(title if title is not None else f"{sig.title}{outlined}\n{sig.caption}"), fontsize=10
    )
    if path is not None:
        save_figure(fig, path)
    return fig


def side_by_side_figure(
    frames: Sequence[Frame],
    names: Sequence[str],
    *,
    mask: Any = None,
    alpha: float = 0.05,
    title: str = "",
    colormap: str = "viridis",
    path: str | os.PathLike | None = None,
):
    """Run a, run b and their difference in one row: what :meth:`Comparison.figure` draws.

    The two runs share one colour range on ``colormap``; the difference is on
    the diverging colormap with a range symmetric about zero, and ``mask``
    (the cells that differ at ``q < alpha``, of the difference frame's shape)
    is outlined on it (:func:`outline_cells`).

    Parameters
    ----------
    frames : (Frame, Frame, Frame)
        Run a, run b and a - b, from :func:`attnwidget.frame`.
    names : (str, str)
        The runs' names, the panels' titles.
    mask : bool array, optional
    alpha : float
        The false discovery rate the mask was drawn at (for the panel title).
    title : str
    colormap : str
    path : str or path, optional
        Also save the figure there (png, pdf or svg).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..colormaps import DIVERGING
    from ..figures._draw import (
        color_range,
        colorbar,
        draw_frame,
        heat_size,
        new_figure,
        save_figure,
        text_label,
    )

    fa, fb, fd = frames
    a, b = names
    lo, hi = color_range([fa.values, fb.values])
    dlo, dhi = color_range(fd.values, symmetric=True)
    w, h = heat_size(*fa.shape, base=4.0)
    fig = new_figure(min(3 * w, 24), h + 0.8)
    axes = fig.subplots(1, 3)
    for ax, fr, text in zip(axes[:2], (fa, fb), (a, b)):
        draw_frame(ax, fr, colormap=colormap, vmin=lo, vmax=hi, title=text)
    colorbar(fig, axes[1], lo, hi, colormap=colormap)
    marked = None if mask is None else np.asarray(mask, dtype=bool)
    outlined = marked is not None and bool(marked.any()) and marked.size == fd.values.size
    panel = f"{a} − {b}" + (f" (outlined: q < {alpha:g})" if outlined else "")
    draw_frame(axes[2], fd, colormap=DIVERGING, vmin=dlo, vmax=dhi, title=panel)
    colorbar(fig, axes[2], dlo, dhi, colormap=DIVERGING, label="difference")
    if outlined and marked is not None:
        outline_cells(axes[2], marked.reshape(fd.values.shape))
    if title:
        fig.suptitle(text_label(title), fontsize=10, fontfamily=label_fonts())
    if path is not None:
        save_figure(fig, path)
    return fig
