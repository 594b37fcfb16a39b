"""The step axis as a GIF (seed 002): one figure per step, written with Pillow.

All steps share one colour range, so a colour means the same weight in
every frame of the animation.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import numpy as np
from PIL import Image

from ..frame import frame
from ..store import Capture
from ._draw import _report as report, check_style, color_range
from .heatmap import frame_figure
from .views import ViewAt, canvas_view

__all__ = ["animate", "step_frames"]


def step_frames(source: Any, *, layer: int | str = 0, head: int | str = "mean",
                sample: int | str = 0, label: Any = None, size: int | None = None,
                tokens: Any = None) -> list:
    """One frame per step at which the site ran, for a view or a capture."""
    if isinstance(source, Capture):
        name = source.layer_name(layer)
        return [frame(source, name, head=head, sample=sample, label=label, step=s,
                      size=size, tokens=tokens) for s in source.steps_of(name)]
    v = canvas_view(source)
    name = v.cap.layers[v.layer] if isinstance(v.layer, int) else v.layer
    return [ViewAt(v, step=s).frame() for s in v.cap.steps_of(name)]


def animate(source: Any, path: str | os.PathLike, fps: float = 2, *, layer: int | str = 0,
            head: int | str = "mean", sample: int | str = 0, label: Any = None,
            size: int | None = None, tokens: Any = None, colormap: str | None = None,
            scale: str | None = None, dpi: int = 100, loop: int = 0) -> str:
    """Write the step axis of a view or capture as an animated GIF.

    Parameters
    ----------
    source : view or Capture
        A view (its selection, colormap and scale are used; only the step
        changes) or a capture (with the selection given here).
    path : str or os.PathLike
        Output ``.gif`` file.
    fps : float
        Frames (steps) per second.
    layer, head, sample, label, size, tokens
        The selection, when ``source`` is a capture.
    colormap, scale : str, optional
        Default: the view's, else "viridis" and "linear".
    dpi : int
        Resolution of each frame.
    loop : int
        0 loops forever.

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    if not path.lower().endswith(".gif"):
        raise ValueError(f"animate writes GIF files; name it *.gif, not {path!r}")
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, not {fps!r}")
    if not isinstance(source, Capture):
        v = canvas_view(source)
        colormap = colormap or getattr(v, "colormap", "viridis")
        scale = scale or getattr(v, "scale", "linear")
    colormap, scale = colormap or "viridis", scale or "linear"
    check_style(colormap, scale)
    frames = step_frames(source, layer=layer, head=head, sample=sample, label=label,
                         size=size, tokens=tokens)
    lo, hi = color_range([f.values for f in frames], scale)
    images = []
    size_px = None
    for fr in frames:
        fig = frame_figure(fr, colormap=colormap, scale=scale, vmin=lo, vmax=hi,
                           figsize=(6.4, 5.2))
        buf = io.BytesIO()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(buf, format="png", dpi=dpi)
        report(caught)
        im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        size_px = size_px or im.size
        if im.size != size_px:  # constrained layout may differ by a pixel between steps
            im = im.resize(size_px)
        images.append(im)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    duration = int(round(1000 / fps))
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration,
                   loop=loop, optimize=False)
    return path


def gif_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """The frames of a GIF as RGB arrays (for tests and notebooks)."""
    out = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return out
