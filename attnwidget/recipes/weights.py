"""Figures of tapped weights per class: learned layer weights, temporal and group attention.

The tapped sites of a model that weighs the layers of a speech encoder and
attends over time and over groups of layers (an audio anti-spoofing model,
say) get one figure each, per class.

Tapped ("weights") sites are recognised by their axis names:

* ``("sample", "layer")``: layer weights -> :func:`layer_weight_heatmap`
  (rows are samples of the class, columns SSL layers) and
  :func:`layer_weight_comparison` (the classes side by side);
* ``("sample", "layer", "frame")``: temporal attention -> :func:`temporal_heatmap`
  (SSL layers down, time frames across, mean of the class);
* ``("sample", "group", "member")``: intra-group weights -> :func:`intra_group`;
* ``("sample", "group")``: inter-group weights -> :func:`inter_group` (bars).

Every picture is a frame from :func:`attnwidget.frame` (the inter-group
bars are the mean and spread of that frame's rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._frame import frame
from ..figures._draw import (
    check_style,
    class_name,
    color_range,
    colorbar,
    draw_frame,
    frame_rgb,
    heat_size,
    new_figure,
    text_label,
)
from ..figures.fonts import label_fonts
from ..store import Capture, site_arg

__all__ = [
    "layer_weight_heatmap",
    "layer_weight_comparison",
    "temporal_heatmap",
    "intra_group",
    "inter_group",
    "find_sites",
    "class_labels",
    "WEIGHT_AXES",
]

# axis names of the tapped sites each figure here draws
WEIGHT_AXES = {
    "layer_weights": ("sample", "layer"),
    "temporal": ("sample", "layer", "frame"),
    "intra_group": ("sample", "group", "member"),
    "inter_group": ("sample", "group"),
}


def find_sites(cap: Capture, what: str) -> list[str]:
    """Names of the sites whose axes match one of :data:`WEIGHT_AXES`."""
    if what not in WEIGHT_AXES:
        raise ValueError(f"what must be one of {', '.join(WEIGHT_AXES)}, not {what!r}")
    return [n for n in cap.layers if tuple(cap.axes[n]) == WEIGHT_AXES[what]]


def class_labels(cap: Capture) -> list:
    """The distinct class labels of the kept samples, sorted (``[None]`` without labels)."""
    if cap.labels is None:
        return [None]
    return cap.classes(stats=False)


def _site(cap: Capture, layer, what: str) -> str:
    if layer is not None:
        name = cap.site_name(layer)
        if tuple(cap.axes[name]) != WEIGHT_AXES[what]:
            raise ValueError(
                f"site {name!r} has axes {cap.axes[name]}, but this figure "
                f"draws a site with axes {WEIGHT_AXES[what]}"
            )
        return name
    found = find_sites(cap, what)
    if not found:
        raise ValueError(
            f"this capture has no site with axes {WEIGHT_AXES[what]} "
            f"(sites: {', '.join(f'{n} {cap.axes[n]}' for n in cap.layers)})"
        )
    return found[0]


def _class_size(cap: Capture, name: str, label, step: int, rows: int | None = None) -> int:
    """How many samples a class figure stands for: the count the statistics streamed for a site that
    holds statistics only, else the kept samples of the class (``rows`` of them drawn, if given)."""
    streamed = cap.is_stats_only(name, step)
    if not streamed and rows is not None:
        return rows
    n = cap.class_count(label, name, step)
    if n is None:
        raise ValueError(f"no statistics for class {label!r} at site {name!r}")
    return n


def _class_title(what: str, label, class_names, n: int) -> str:
    who = "all samples" if label is None else f"{class_name(label, class_names)}"
    return f"{what} · {who} (n={n})"


def layer_weight_heatmap(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
                         label: Any = None, class_names: dict | None = None, num_runs: int | None = None,
                         step: int = 0, colormap: str = "YlOrRd", scale: str = "linear",
                         vmin: float | None = None, vmax: float | None = None) -> Figure:  # fmt: skip
    """Layer weights of one class: one row per sample, one column per SSL layer.

    Parameters
    ----------
    cap : Capture
    site, layer : int or str, optional
        A site with axes ``("sample", "layer")`` (default: the first one);
        ``layer`` is the older name of ``site`` (so for every figure here).
    label : optional
        Class to show (default: all samples).
    class_names : dict, optional
        Label -> name for titles, e.g. ``{0: "spoof", 1: "bonafide"}``.
    num_runs : int, optional
        Show only the first ``num_runs`` samples of the class.
    step, colormap, scale, vmin, vmax
        As :func:`attnwidget.figures.heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    name = _site(cap, site_arg(site, layer, None, "layer_weight_heatmap()"), "layer_weights")
    fr = frame(
        cap,
        name,
        sample="mean",
        label=label,
        step=step,
        region=None if num_runs is None else (0, int(num_runs), 0, 10**9),
    )
    fig = new_figure(*heat_size(*fr.shape, base=5.0))
    ax = fig.add_subplot()
    title = _class_title(
        "Layer weights", label, class_names, _class_size(cap, name, label, step, fr.shape[0])
    )
    _, lo, hi = draw_frame(ax, fr, colormap=colormap, scale=scale, vmin=vmin, vmax=vmax, title=title)
    ax.set_xlabel("SSL layer")
    colorbar(fig, ax, lo, hi, colormap=colormap, scale=scale, label="weight")
    return fig


def layer_weight_comparison(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
                            labels: Sequence | None = None, class_names: dict | None = None,
                            num_runs: int | None = None, step: int = 0, colormap: str = "YlOrRd",
                            scale: str = "linear") -> Figure:  # fmt: skip
    """The classes' layer weights side by side on one colour scale, with their means.

    Top row: one heatmap per class (rows samples, columns SSL layers). Bottom:
    the mean weight of each layer per class, the column means of those frames.

    Parameters
    ----------
    cap : Capture
    layer : int or str, optional
        A site with axes ``("sample", "layer")``.
    labels : sequence, optional
        Classes to compare (default: every label in the capture).
    class_names, num_runs, step, colormap, scale
        As :func:`layer_weight_heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_style(colormap, scale)
    name = _site(cap, site_arg(site, layer, None, "layer_weight_comparison()"), "layer_weights")
    labels = class_labels(cap) if labels is None else list(labels)
    region = None if num_runs is None else (0, int(num_runs), 0, 10**9)
    frames = [frame(cap, name, sample="mean", label=lb, step=step, region=region) for lb in labels]
    lo, hi = color_range([f.values for f in frames], scale)
    n = len(frames)
    fig = new_figure(4.6 * n + 1.2, 6.4)
    gs = fig.add_gridspec(2, n, height_ratios=[2.2, 1])
    axs = [fig.add_subplot(gs[0, i]) for i in range(n)]
    for ax, fr, lb in zip(axs, frames, labels):
        draw_frame(
            ax,
            fr,
            colormap=colormap,
            scale=scale,
            vmin=lo,
            vmax=hi,
            title=_class_title(
                "Layer weights", lb, class_names, _class_size(cap, name, lb, step, fr.shape[0])
            ),
        )
        ax.set_xlabel("SSL layer")
    colorbar(fig, axs, lo, hi, colormap=colormap, scale=scale, label="weight")
    mean_ax = fig.add_subplot(gs[1, :])
    for fr, lb in zip(frames, labels):
        mean_ax.plot(
            np.arange(fr.shape[1]),
            fr.values.mean(axis=0),
            marker="o",
            ms=3,
            label=text_label(class_name(lb, class_names)),
        )
    mean_ax.set_xlabel("SSL layer")
    mean_ax.set_ylabel("mean weight")
    mean_ax.set_xticks(np.arange(frames[0].shape[1]))
    mean_ax.set_xticklabels([text_label(s) for s in frames[0].col_labels], fontsize=7)
    mean_ax.legend(fontsize=8)
    mean_ax.grid(alpha=0.3)
    fig.suptitle("Layer weight comparison")
    return fig


def temporal_heatmap(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
                     label: Any = None, sample: int | str = "mean", class_names: dict | None = None,
                     step: int = 0, colormap: str = "viridis", scale: str = "linear",
                     vmin: float | None = None, vmax: float | None = None) -> Figure:  # fmt: skip
    """Temporal attention: SSL layers down, time frames across (mean of the class).

    Parameters
    ----------
    cap : Capture
    layer : int or str, optional
        A site with axes ``("sample", "layer", "frame")``.
    label, class_names
        Class to show and its name.
    sample : int or "mean"
        One sample of the class, or their mean (default).
    step, colormap, scale, vmin, vmax
        As :func:`attnwidget.figures.heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    name = _site(cap, site_arg(site, layer, None, "temporal_heatmap()"), "temporal")
    fr = frame(cap, name, sample=sample, label=label, step=step)
    n = _class_size(cap, name, label, step)
    fig = new_figure(11, 5.5)
    ax = fig.add_subplot()
    one = sample != "mean" and not cap.is_stats_only(name, step)  # statistics alone: the class mean
    what = f"Temporal attention, sample {sample}" if one else "Temporal attention"
    _, lo, hi = draw_frame(
        ax,
        fr,
        colormap=colormap,
        scale=scale,
        vmin=vmin,
        vmax=vmax,
        title=_class_title(what, label, class_names, n),
        max_ticks=25,
    )
    ax.set_xlabel("time frame")
    ax.set_ylabel("SSL layer")
    colorbar(fig, ax, lo, hi, colormap=colormap, scale=scale)
    return fig


def intra_group(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
                label: Any = None, class_names: dict | None = None, step: int = 0,
                colormap: str = "viridis", scale: str = "linear", vmin: float | None = None,
                vmax: float | None = None) -> Figure:  # fmt: skip
    """Intra-group weights: groups down, layers within a group across (class mean).

    Parameters
    ----------
    cap : Capture
    layer : int or str, optional
        A site with axes ``("sample", "group", "member")``.
    label, class_names, step, colormap, scale, vmin, vmax
        As :func:`temporal_heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    name = _site(cap, site_arg(site, layer, None, "intra_group()"), "intra_group")
    fr = frame(cap, name, sample="mean", label=label, step=step)
    n = _class_size(cap, name, label, step)
    fig = new_figure(5.5, 1.2 + 0.45 * fr.shape[0] + 1.2)
    ax = fig.add_subplot()
    _, lo, hi = draw_frame(
        ax,
        fr,
        colormap=colormap,
        scale=scale,
        vmin=vmin,
        vmax=vmax,
        title=_class_title("Intra-group weights", label, class_names, n),
    )
    # the weights are few: print each cell's value on it
    for (i, j), v in np.ndenumerate(fr.values):
        ax.text(
            j,
            i,
            f"{v:.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if (v - lo) < 0.5 * (hi - lo) else "black",
        )
    ax.set_xlabel("layer within group")
    ax.set_ylabel("group")
    colorbar(fig, ax, lo, hi, colormap=colormap, scale=scale, label="weight")
    return fig


def inter_group(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
                label: Any = None, class_names: dict | None = None, step: int = 0,
                colormap: str = "viridis", scale: str = "linear") -> Figure:  # fmt: skip
    """Inter-group weights as bars: mean weight of each group over the class, with spread.

    Bars are coloured by their height with the same table as the heatmaps.

    Parameters
    ----------
    cap : Capture
    layer : int or str, optional
        A site with axes ``("sample", "group")``.
    label, class_names, step, colormap, scale
        As :func:`temporal_heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_style(colormap, scale)
    name = _site(cap, site_arg(site, layer, None, "inter_group()"), "inter_group")
    fr = frame(cap, name, sample="mean", label=label, step=step)  # [sample, group]
    mean, std = fr.values.mean(axis=0), fr.values.std(axis=0)
    n = _class_size(cap, name, label, step, fr.shape[0])
    if cap.is_stats_only(name, step):  # one row, the streamed mean: the spread is the streamed variance
        std = np.sqrt(cap.stat(name, step, "var", label))
    lo, hi = color_range(mean, scale)
    colours = frame_rgb(mean[None, :], lo, hi, scale, colormap)[0] / 255.0
    fig = new_figure(1.6 + 0.7 * len(mean), 4.2)
    ax = fig.add_subplot()
    x = np.arange(len(mean))
    ax.bar(x, mean, yerr=std if n > 1 else None, color=colours, edgecolor="black", linewidth=0.6, capsize=3)
    ax.set_xticks(x)
    ax.set_xticklabels([text_label(s) for s in fr.col_labels])
    ax.set_xlabel("group")
    ax.set_ylabel("mean weight")
    ax.set_title(
        _class_title("Inter-group weights", label, class_names, n), fontsize=10, fontfamily=label_fonts()
    )
    ax.grid(axis="y", alpha=0.3)
    return fig
