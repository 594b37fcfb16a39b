"""Drawing helpers shared by every figure: frames as LUT-coloured RGB images.

A frame is never coloured by matplotlib. Its values are quantized with
:func:`attnwidget.wire.quantize` and looked up in :func:`attnwidget.colormaps.lut`,
exactly as the widget does on its canvas, and the resulting RGB array is
shown with nearest-neighbour interpolation. The colorbar is built from the
same 256-entry table, so the figure and the widget agree pixel for pixel.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure

from .._frame import Frame
from ..colormaps import COLORMAPS, apply, lut
from ..store import class_name
from ..wire import SCALES, TOP, quantize, value_range
from .fonts import label_fonts, missing_glyph_advice

__all__ = [
    "frame_rgb",
    "draw_frame",
    "colorbar",
    "color_range",
    "text_label",
    "thin_ticks",
    "new_figure",
    "heat_size",
    "save_figure",
    "class_name",
    "check_style",
    "FORMATS",
]

FORMATS = ("png", "pdf", "svg")

#: the most pixels (width x height at the dpi asked for) :func:`save_figure` draws: 300 million
#: RGBA pixels already take 1.2 GB while rendering
MAX_PIXELS = 300_000_000


def check_style(colormap: str, scale: str) -> None:
    """Raise a clear error for an unknown colormap or scale."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose one of {', '.join(COLORMAPS)}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")


def color_range(
    values: np.ndarray | Sequence[np.ndarray],
    scale: str = "linear",
    vmin: float | None = None,
    vmax: float | None = None,
    symmetric: bool = False,
) -> tuple[float, float]:
    """The colour range of one frame's values (or several, for a shared scale).

    Missing ends default to :func:`attnwidget.wire.value_range`, the same
    default the widget uses (``symmetric``: ``-m..m``, as for a class-difference map).
    """
    if isinstance(values, np.ndarray):
        arr = values
    else:
        arr = np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in values])
    lo, hi = value_range(arr, scale, symmetric)
    return (lo if vmin is None else float(vmin)), (hi if vmax is None else float(vmax))


def frame_rgb(
    values: np.ndarray, vmin: float, vmax: float, scale: str = "linear", colormap: str = "viridis"
) -> np.ndarray:
    """Values ``[h, w]`` -> ``[h, w, 3]`` uint8 RGB, the widget's colouring."""
    return apply(quantize(values, vmin, vmax, scale), colormap)


def text_label(s: Any) -> str:
    """A token string as plain text: matplotlib must not read ``$`` as math."""
    return str(s).replace("\\", "\\\\").replace("$", r"\$")


def thin_ticks(n: int, most: int = 40) -> np.ndarray:
    """Indices of the ticks to label so that at most ``most`` are shown."""
    if n <= 0:
        return np.arange(0)
    step = max(1, math.ceil(n / max(most, 1)))
    return np.arange(0, n, step)


def _ticks(ax, labels: Sequence[str], axis: str, most: int) -> None:
    idx = thin_ticks(len(labels), most)
    texts = [text_label(labels[i]) for i in idx]
    if axis == "x":
        ax.set_xticks(idx)
        rotate = any(len(t) > 3 for t in texts) or len(texts) > 12
        ax.set_xticklabels(
            texts, rotation=90 if rotate else 0, fontsize=_font(len(texts)), fontfamily=label_fonts()
        )
    else:
        ax.set_yticks(idx)
        ax.set_yticklabels(texts, fontsize=_font(len(texts)), fontfamily=label_fonts())


def _font(n: int) -> float:
    return 9 if n <= 16 else 7 if n <= 32 else 6


def draw_frame(ax, fr: Frame, *, colormap: str = "viridis", scale: str = "linear",
               vmin: float | None = None, vmax: float | None = None, ticks: bool = True,
               max_ticks: int = 40, title: str | None = None, aspect: str = "auto"):  # fmt: skip
    """Draw one frame on ``ax`` as an RGB image; returns ``(image, vmin, vmax)``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    fr : Frame
        The frame, from :func:`attnwidget.frame`.
    colormap, scale : str
        Colormap name (:data:`attnwidget.colormaps.COLORMAPS`) and "linear" or "log".
    vmin, vmax : float, optional
        Colour range; defaults to the frame's own range (as the widget), symmetric
        about zero for a class-difference map (``frame(..., difference=...)``).
    ticks : bool
        Label rows and columns with the frame's labels (thinned to ``max_ticks``).
    title : str, optional
        Axes title; defaults to ``fr.title``. Pass ``""`` for none.
    """
    check_style(colormap, scale)
    diverging = fr.selection.get("difference") is not None or bool(fr.selection.get("diverging"))
    lo, hi = color_range(fr.values, scale, vmin, vmax, symmetric=diverging)
    img = ax.imshow(frame_rgb(fr.values, lo, hi, scale, colormap), interpolation="nearest", aspect=aspect)
    if ticks:
        _ticks(ax, fr.col_labels, "x", max_ticks)
        _ticks(ax, fr.row_labels, "y", max_ticks)
        ax.set_xlabel(fr.col_axis, fontfamily=label_fonts())
        ax.set_ylabel(fr.row_axis, fontfamily=label_fonts())
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    title = text_label(fr.title if title is None else title)
    if np.isnan(np.asarray(fr.values, dtype=np.float32)).any():
        # NaN has its own colour (grey) and the figure says so, as the widget's tooltip does
        title = f"{title}\n(grey: NaN)" if title else "grey: NaN"
    ax.set_title(title, fontsize=10, fontfamily=label_fonts())  # sample names and labels are text too
    return img, lo, hi


def colorbar(fig: Figure, ax, vmin: float, vmax: float, *, colormap: str = "viridis", scale: str = "linear",
             label: str = "attention"):  # fmt: skip
    """A colorbar from the widget's table over ``[vmin, vmax]`` (its value codes: NaN's grey is no value)."""
    cmap = ListedColormap(lut(colormap)[: TOP + 1] / 255.0, name=f"aw-{colormap}")
    if scale == "log":
        from ..wire import LOG_FLOOR

        norm = LogNorm(vmin=max(vmin, LOG_FLOOR), vmax=max(vmax, LOG_FLOOR * 10))
    else:
        norm = Normalize(vmin=vmin, vmax=vmax)
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.03)
    cb.set_label(label)
    return cb


def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot, so batch runs do not leak memory."""
    return Figure(figsize=(width, height), layout="constrained")


def heat_size(rows: int, cols: int, base: float = 6.0) -> tuple[float, float]:
    """A figure size for a ``rows x cols`` heatmap that keeps cells roughly square."""
    ratio = cols / max(rows, 1)
    w = float(np.clip(base * min(ratio, 2.2) ** 0.5 + 1.5, 4.5, 14))
    h = float(np.clip(base / max(ratio, 0.45) ** 0.5, 3.0, 10))
    return w, h


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> str:
    """Write a figure; the format comes from the extension (png, pdf or svg).

    A figure of more than :data:`MAX_PIXELS` pixels at ``dpi`` is refused
    (``ValueError``) before it is drawn.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"cannot tell the format of {path!r}: use a .png, .pdf or .svg name")
    if not isinstance(dpi, (int, float)) or isinstance(dpi, bool) or not dpi > 0 or not math.isfinite(dpi):
        raise ValueError(f"dpi must be a positive number, not {dpi!r}")
    w_in, h_in = fig.get_size_inches()
    pixels = w_in * dpi * h_in * dpi
    if pixels > MAX_PIXELS:  # refused before rendering, which would allocate all of it
        most = int(math.sqrt(MAX_PIXELS / max(w_in * h_in, 1e-9)))
        raise ValueError(
            f"a {w_in:.1f} x {h_in:.1f} inch figure at dpi {dpi:g} would be "
            f"{pixels / 1e6:,.0f} megapixels, above the limit of {MAX_PIXELS // 10**6}; "
            f"use dpi {most} or less"
        )
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(path, dpi=dpi, format=ext)
    _report(caught)
    return path


def _report(caught) -> None:
    """Re-raise warnings, folding matplotlib's one-per-glyph font warnings into one."""
    missing = []
    for w in caught:
        text = str(w.message)
        if text.startswith("Glyph ") and "missing from font" in text:
            missing.append(text.split("(", 1)[-1].split(")", 1)[0])
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if missing:
        names = ", ".join(sorted(set(missing))[:8])
        warnings.warn(
            f"no installed font has some token characters ({names}); they show as boxes. "
            f"{missing_glyph_advice()}",
            stacklevel=3,
        )
