"""Cross- and self-attention summary with token labels.

A translation decoder's cross-attention (target tokens down, source tokens
across) next to its self-attention (target down, target across), both the
head mean, and below them the cross-attention of each head. All panels are
frames from :func:`attnwidget.frame`.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure

from .._frame import frame
from ..figures._draw import check_style, color_range, colorbar, draw_frame, new_figure, text_label
from ..store import Capture

__all__ = ["attention_summary", "default_pair"]


def default_pair(cap: Capture) -> tuple[str | None, str | None]:
    """The last cross-attention site and the last self-attention site (None if absent)."""
    cross = [n for n in cap.layers if cap.kinds[n] == "cross"]
    selfs = [n for n in cap.layers if cap.kinds[n] == "self"]
    return (cross[-1] if cross else None), (selfs[-1] if selfs else None)


def attention_summary(cap: Capture, cross_layer: int | str | None = None,
                      self_layer: int | str | None = None, *, sample: int | str = 0, label: Any = None,
                      step: int = 0, tokens: Any = None, heads: bool = True, colormap: str = "viridis",
                      scale: str = "linear") -> Figure:  # fmt: skip
    """Cross- and self-attention side by side (head mean), and the heads of the first.

    Parameters
    ----------
    cap : Capture
    cross_layer, self_layer : int or str, optional
        The two sites (default: the last "cross" and last "self" site). One
        may be missing; at least one must exist.
    sample, label, step, tokens
        The selection, as :func:`attnwidget.frame` takes it.
    heads : bool
        Add a row with every head of the first panel's site.
    colormap, scale
        As the widget.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_style(colormap, scale)
    dc, ds = default_pair(cap)
    cross = cap.site_name(cross_layer) if cross_layer is not None else dc
    # False: no self-attention panel (None: the capture's last self-attention site)
    selfl = None if self_layer is False else cap.site_name(self_layer) if self_layer is not None else ds
    sites = [s for s in (cross, selfl) if s is not None]
    if not sites:
        raise ValueError("this capture has no 'self' or 'cross' attention site to summarise")
    for s in sites:
        if cap.kinds[s] == "weights":
            raise ValueError(f"site {s!r} holds tapped weights, not query x key attention")
    sel = dict(sample=sample, label=label, step=step, tokens=tokens)
    top = [frame(cap, s, head="mean", **sel) for s in sites]
    first = sites[0]
    nh = (cap.num_heads(first) or 0) if heads else 0
    head_frames = [frame(cap, first, head=h, **sel) for h in range(nh)] if nh > 1 else []
    hcols = min(len(head_frames), 4) if head_frames else 0
    hrows = math.ceil(len(head_frames) / hcols) if hcols else 0

    width = 5.6 * len(top) + 1.0
    fig = new_figure(max(width, 2.6 * hcols + 1.0), 5.2 + 2.7 * hrows)
    cols = max(len(top) * 2, hcols) if hcols else len(top) * 2
    gs = fig.add_gridspec(1 + hrows, cols, height_ratios=[2.0] + [1.0] * hrows)
    span = cols // len(top)
    top_axes = []
    for i, (s, fr) in enumerate(zip(sites, top)):
        ax = fig.add_subplot(gs[0, i * span : (i + 1) * span])
        what = "cross-attention" if cap.kinds[s] == "cross" else "self-attention"
        _, lo, hi = draw_frame(
            ax, fr, colormap=colormap, scale=scale, title=f"{what} · {fr.title}", aspect="auto"
        )
        colorbar(fig, ax, lo, hi, colormap=colormap, scale=scale)
        top_axes.append(ax)
    if head_frames:
        lo, hi = color_range([f.values for f in head_frames], scale)
        hspan = cols // hcols
        axs = []
        for h, fr in enumerate(head_frames):
            r, c = divmod(h, hcols)
            ax = fig.add_subplot(gs[1 + r, c * hspan : (c + 1) * hspan])
            draw_frame(
                ax, fr, colormap=colormap, scale=scale, vmin=lo, vmax=hi, title=f"head {h}", max_ticks=12
            )
            ax.set_xlabel("")
            ax.set_ylabel("")
            axs.append(ax)
        colorbar(fig, axs, lo, hi, colormap=colormap, scale=scale)
    fig.suptitle(
        text_label(
            f"Attention summary · sample {sample}"
            if sample != "mean"
            else "Attention summary · mean of samples"
        )
    )
    return fig
