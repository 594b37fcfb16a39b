"""The step axis as a GIF: one figure per step, written with Pillow.

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

from .._frame import frame
from .._view_state import view_frame
from ..colormaps import DIVERGING
from ..store import Capture, site_arg
from ._draw import _report as report
from ._draw import check_style, color_range
from .heatmap import frame_figure
from .views import canvas_description

__all__ = ["animate", "step_frames"]


def _explain(name: str, cap: Capture, e: Exception, hint: bool, label: Any) -> ValueError:
    """A frame that cannot be computed at some step, said with what to change."""
    msg = f"cannot animate site {name!r}: {e.args[0] if e.args else e}"
    streamed = cap.classes(kept=False, site=name)
    if hint and cap.has_stats(name) and (label is None or _plain(label) in streamed):
        # the selection asked for kept samples; the class statistics are there at every step
        msg += (
            "; this capture holds class statistics: animate one with stat='mean' "
            "(or 'var', 'min', 'max') or difference=(a, b)"
        )
    return ValueError(msg)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def step_frames(source: Any, *, layer: int | str | None = None, site: int | str | None = None,
                head: int | str = "mean", sample: int | str = 0, label: Any = None, size: int | None = None,
                tokens: Any = None, stat: str | None = None, difference: Any = None) -> list:  # fmt: skip
    """One frame per step at which the site ran (or holds statistics), for a view or a capture.

    ``site`` (or ``layer``, its older name; default 0) and the rest select, as
    :func:`attnwidget.frame` takes them, when ``source`` is a capture. Raises
    ``ValueError`` saying what to change when the selection has no frame at some step
    (e.g. a class that keeps no sample, where only its statistics can be animated).
    """
    if isinstance(source, Capture):
        cap = source
        name = cap.site_name(site_arg(site, layer, 0, "step_frames()"))

        def at(s):
            return frame(
                cap,
                name,
                head=head,
                sample=sample,
                label=label,
                step=s,
                size=size,
                tokens=tokens,
                stat=stat,
                difference=difference,
            )
    else:
        d = canvas_description(source, "animate")
        cap, name = d.cap, d.site

        def at(s):
            return view_frame(cap, d.spec, {**d.selection, "step": s})

    steps = cap.site_steps(name)
    if not steps:
        raise ValueError(
            f"cannot animate site {name!r}: it holds no step, neither kept samples nor class statistics"
        )
    try:
        return [at(s) for s in steps]
    except (IndexError, KeyError, ValueError) as e:
        hint = isinstance(source, Capture) and stat is None and difference is None
        raise _explain(name, cap, e, hint, label) from e


def animate(source: Any, path: str | os.PathLike, fps: float = 2, *, layer: int | str | None = None,
            site: int | str | None = None, head: int | str = "mean", sample: int | str = 0,
            label: Any = None, size: int | None = None, tokens: Any = None, stat: str | None = None,
            difference: Any = None, colormap: str | None = None, scale: str | None = None, dpi: int = 100,
            loop: int = 0) -> str:  # fmt: skip
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
    site, layer, head, sample, label, size, tokens, stat, difference
        The selection, when ``source`` is a capture, as :func:`attnwidget.frame`
        takes it. On a capture from ``collect(..., keep="stats")`` (no kept
        sample) each frame is the class statistic (``stat``, default the mean
        of ``label``) at that step; ``difference=(a, b)`` animates the
        class-difference map (on a diverging colormap, symmetric about zero).
    colormap, scale : str, optional
        Default: the view's, else "viridis" ("coolwarm" for a difference map)
        and "linear".
    dpi : int
        Resolution of each frame.
    loop : int
        0 loops forever.

    Returns
    -------
    str
        The path written: one GIF frame per step at which the site ran or
        holds statistics (a single frame where it has one step).
    """
    path = os.fspath(path)
    if not path.lower().endswith(".gif"):
        raise ValueError(f"animate writes GIF files; name it *.gif, not {path!r}")
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, not {fps!r}")
    if not isinstance(source, Capture):
        d = canvas_description(source, "animate")
        colormap = colormap or d.colormap or "viridis"
        scale = scale or d.spec.scale
    elif difference is not None and colormap is None:
        colormap = DIVERGING
    colormap, scale = colormap or "viridis", scale or "linear"
    check_style(colormap, scale)
    frames = step_frames(
        source,
        layer=layer,
        site=site,
        head=head,
        sample=sample,
        label=label,
        size=size,
        tokens=tokens,
        stat=stat,
        difference=difference,
    )
    # a class-difference map is coloured symmetric about zero, as the widget sends it
    symmetric = any(f.selection.get("difference") is not None for f in frames)
    lo, hi = color_range([f.values for f in frames], scale, symmetric=symmetric)
    images = []
    size_px = None
    for fr in frames:
        fig = frame_figure(fr, colormap=colormap, scale=scale, vmin=lo, vmax=hi, figsize=(6.4, 5.2))
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
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=duration, loop=loop, optimize=False
    )
    return path


def gif_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """The frames of a GIF as RGB arrays (for tests and notebooks)."""
    out = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return out
