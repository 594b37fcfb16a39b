"""CLS attention over an image: one query row, patches as a grid.

The row is cut with ``frame(..., region=(query, query + 1, skip, key_len))``,
the same selection an ImageOverlay view makes, reshaped to the patch grid,
coloured with the widget's table, and laid over the image.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._frame import Frame, frame
from ..store import Capture, site_arg
from ._draw import check_style, color_range, colorbar, frame_rgb, new_figure, text_label

__all__ = ["cls_overlay", "overlay_figure", "as_image", "patch_grid"]


def as_image(image: Any) -> np.ndarray:
    """An image as ``[h, w, 3]`` uint8, from a path, a PIL image or an array.

    Arrays may be ``[h, w]``, ``[h, w, 3|4]`` or channels-first ``[3, h, w]``
    (a torch tensor too), floats in ``[0, 1]`` or integers in ``[0, 255]``.
    """
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        if not os.path.exists(image):
            raise FileNotFoundError(f"no image at {os.fspath(image)!r}")
        with Image.open(image) as im:
            return np.asarray(im.convert("RGB"))
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
        return np.asarray(image.convert("RGB"))
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image must be [h, w], [h, w, 3] or [3, h, w], got shape {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    a = a[..., :3]
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if a.max() <= 1.0 + 1e-6:
            a = a * 255.0
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return a


def patch_grid(n: int, grid: Sequence[int] | None = None) -> tuple[int, int]:
    """Rows and columns of the patch grid for ``n`` patches (square by default)."""
    if grid is not None:
        gh, gw = (int(g) for g in grid)
        if gh * gw != n:
            raise ValueError(f"grid {gh}x{gw} holds {gh * gw} patches, but the row has {n} keys")
        return gh, gw
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(
            f"{n} patch keys do not make a square grid; pass grid=(rows, cols) "
            f"or skip= the number of non-patch tokens (e.g. 1 for CLS)"
        )
    return side, side


def overlay_figure(fr: Frame, image: Any, *, grid: Sequence[int] | None = None, colormap: str = "jet",
                   scale: str = "linear", alpha: float = 0.5, vmin: float | None = None,
                   vmax: float | None = None, title: str | None = None) -> Figure:  # fmt: skip
    """Draw a one-row frame as a patch grid over an image, next to the grid alone.

    Parameters
    ----------
    fr : Frame
        One query row over the patch keys (``fr.shape == (1, n)``), or a frame
        already shaped as the patch grid.
    image : path, PIL image or array
    grid : (rows, cols), optional
        Patch grid (default: square).
    colormap, scale, vmin, vmax
        As the widget (default colormap "jet", which reads well over photographs).
    alpha : float
        Opacity of the attention over the image.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_style(colormap, scale)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    img = as_image(image)
    values = fr.values
    if values.shape[0] == 1:
        values = values.reshape(patch_grid(values.shape[1], grid))
    lo, hi = color_range(values, scale, vmin, vmax)
    rgb = frame_rgb(values, lo, hi, scale, colormap)
    h, w = img.shape[:2]
    fig = new_figure(9.5, 4.6 * h / max(w, 1) + 0.8)
    ax_img, ax_map = fig.subplots(1, 2)
    ax_img.imshow(img, interpolation="bilinear")
    # the coarse patch colours are stretched over the image; bilinear blends them smoothly
    ax_img.imshow(rgb, extent=(-0.5, w - 0.5, h - 0.5, -0.5), alpha=alpha, interpolation="bilinear")
    ax_img.set_title("attention over the image", fontsize=10)
    ax_map.imshow(rgb, interpolation="nearest")
    ax_map.set_title("patch attention", fontsize=10)
    for ax in (ax_img, ax_map):
        ax.set_xticks([])
        ax.set_yticks([])
    colorbar(fig, ax_map, lo, hi, colormap=colormap, scale=scale)
    fig.suptitle(text_label(fr.title if title is None else title))
    return fig


def cls_overlay(cap: Capture, layer: int | str | None = None, image: Any = None, *,
                site: int | str | None = None, query: int = 0, skip: int = 1, head: int | str = "mean",
                sample: int | str = 0, label: Any = None, step: int = 0, grid: Sequence[int] | None = None,
                colormap: str = "jet", scale: str = "linear", alpha: float = 0.5) -> Figure:  # fmt: skip
    """The CLS token's attention to image patches, laid over the image.

    Parameters
    ----------
    cap : Capture
    site, layer : int or str
        Attention site (default: the last); ``layer`` is the older name of ``site``.
    image : path, PIL image or array
        The image the model saw.
    query : int
        Query row to show (0: the CLS token).
    skip : int
        Keys before the first patch (1: CLS; more for register tokens).
    head, sample, label, step
        The selection, as :func:`attnwidget.frame` takes it.
    grid, colormap, scale, alpha
        As :func:`overlay_figure`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if image is None:
        raise ValueError("cls_overlay needs the image the model saw: image=path, PIL image or array")
    name = cap.site_name(site_arg(site, layer, -1, "cls_overlay()"))
    if cap.kinds[name] == "weights":
        raise ValueError(f"site {name!r} holds tapped weights, not query x key attention")
    fr = frame(
        cap, name, head=head, sample=sample, label=label, step=step, region=(query, query + 1, skip, 10**9)
    )
    return overlay_figure(
        fr,
        image,
        grid=grid,
        colormap=colormap,
        scale=scale,
        alpha=alpha,
        title=f"{fr.title} · query {text_label(fr.row_labels[0])}",
    )
