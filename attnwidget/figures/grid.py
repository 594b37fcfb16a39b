"""Every head of one site in a grid.

Each panel is ``frame(cap, layer, head=h, ...)``, the frame a Heatmap view
shows for that head; all panels share one colour range and one colorbar so
heads can be compared by colour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from .._frame import Frame, frame
from ..store import Capture, site_arg
from ._draw import check_style, color_range, colorbar, draw_frame, text_label
from .fonts import label_fonts

__all__ = ["head_grid", "frames_grid"]


def frames_grid(frames: Sequence[Frame], *, colormap: str = "viridis", scale: str = "linear",
                vmin: float | None = None, vmax: float | None = None, cols: int | None = None,
                titles: Sequence[str] | None = None, suptitle: str | None = None, max_ticks: int = 16,
                shared: bool = True) -> Figure:  # fmt: skip
    """Several frames in a grid with one shared colour range and colorbar.

    Parameters
    ----------
    frames : sequence of Frame
    colormap, scale, vmin, vmax
        As :func:`attnwidget.figures.frame_figure`; the default range spans all frames.
    cols : int, optional
        Panels per row (default: about the square root of the count).
    titles : sequence of str, optional
        One per panel (default: each frame's title).
    suptitle : str, optional
    shared : bool
        True: one colour range for all panels. False: each panel spans its own
        range (as the HeadGrid widget's thumbnails); the colorbar then reads
        low..high of each panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not frames:
        raise ValueError("frames_grid needs at least one frame")
    check_style(colormap, scale)
    n = len(frames)
    cols = cols or min(n, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    lo, hi = color_range([f.values for f in frames], scale, vmin, vmax)
    fig = Figure(figsize=(2.9 * cols + 1.2, 2.8 * rows + 0.6), layout="constrained")
    axs = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axs.flat):
        if i >= n:
            ax.set_axis_off()
            continue
        fr = frames[i]
        draw_frame(
            ax,
            fr,
            colormap=colormap,
            scale=scale,
            vmin=lo if shared else None,
            vmax=hi if shared else None,
            title=titles[i] if titles else None,
            max_ticks=max_ticks,
        )
        # inner panels: labels on the outer edge only, so the grid stays readable
        if i % cols:
            ax.set_ylabel("")
            ax.set_yticklabels([])
        if i + cols < n:
            ax.set_xlabel("")
            ax.set_xticklabels([])
    if shared:
        colorbar(fig, axs, lo, hi, colormap=colormap, scale=scale)
    else:
        cb = colorbar(fig, axs, 0.0, 1.0, colormap=colormap, label="each panel: its own min..max")
        cb.set_ticks([0.0, 1.0])
        cb.set_ticklabels(["min", "max"])
    if suptitle:
        fig.suptitle(text_label(suptitle), fontfamily=label_fonts())
    return fig


def head_grid(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
              sample: int | str = 0, label: Any = None, step: int = 0, region: Sequence[int] | None = None,
              size: int | None = None, tokens: Any = None, heads: Sequence[int] | None = None,
              colormap: str = "viridis", scale: str = "linear", vmin: float | None = None,
              vmax: float | None = None, cols: int | None = None, groups: Any = None,
              padding: bool = False, assembled: bool | None = None) -> Figure:  # fmt: skip
    """One panel per head of an attention site, sharing a colour range.

    Parameters
    ----------
    cap : Capture
    site, layer, sample, label, step, region, size, tokens, groups, padding, assembled
        The selection, as :func:`attnwidget.frame` takes it (``layer`` is the
        older name of ``site``; default 0).
    heads : sequence of int, optional
        Heads to show (default: all).
    colormap, scale, vmin, vmax, cols
        As :func:`frames_grid`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    name = cap.site_name(site_arg(site, layer, 0, "head_grid()"))
    nh = cap.num_heads(name) or 0
    if nh == 0:
        raise ValueError(f"site {name!r} has no head axis (axes {cap.axes[name]}); use heatmap() for it")
    heads = list(range(nh)) if heads is None else list(heads)
    frames = [
        frame(
            cap,
            name,
            head=h,
            sample=sample,
            label=label,
            step=step,
            region=region,
            size=size,
            tokens=tokens,
            groups=groups,
            padding=padding,
            assembled=assembled,
        )
        for h in heads
    ]
    ref = frames[0].title.replace(f"head {heads[0]}", "all heads")
    return frames_grid(
        frames,
        colormap=colormap,
        scale=scale,
        vmin=vmin,
        vmax=vmax,
        cols=cols,
        titles=[f"head {h}" for h in heads],
        suptitle=ref,
    )
