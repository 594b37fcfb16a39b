"""CLS attention over an image: one query row, patches as a grid, over the image of its sample.

The row is cut with ``frame(..., region=(query, query + 1, skip, key_len))``,
the same selection an ImageOverlay view makes, reshaped to the patch grid,
coloured with the widget's table, and laid over the image.

The image may be one for every sample, or one per sample (a list, or a batch
array): :func:`sample_images` tells the two apart and checks the count, and
:func:`attnwidget._view_state.sample_index` says which sample a selection
shows, so sample k is laid over image k. A mean over samples, a class statistic or a class difference
is no one sample: it is drawn alone, and the figure says so
(:func:`no_image_reason`). The ImageOverlay widget picks its image with the
same functions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._frame import Frame, frame
from .._view_state import frame_args, sample_index
from ..store import Capture, site_arg
from ._draw import check_style, color_range, colorbar, frame_rgb, new_figure, text_label
from .fonts import label_fonts

__all__ = [
    "cls_overlay",
    "overlay_figure",
    "as_image",
    "patch_grid",
    "SampleImages",
    "sample_images",
    "no_image_reason",
]

#: channel counts an image axis may have (grey, RGB, RGBA)
CHANNELS = (1, 3, 4)

IMAGE_FORMS = (
    "one image ([H, W], [H, W, 3|4], [3, H, W], a PIL image) or one per sample "
    "(a list of images, an [N, H, W] or [N, H, W, 3|4] array, a torch [N, 3, H, W] tensor)"
)


def _to_uint8(a: np.ndarray, unit: bool | None = None) -> np.ndarray:
    """Pixel values as uint8: integers as they are (clipped), floats in 0..1 (``unit``, or when
    their max is at most 1) times 255."""
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float64)
    if unit is None:
        unit = a.max(initial=0.0) <= 1.0 + 1e-6
    if unit:
        a = a * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _image_array(image: Any) -> np.ndarray:
    """A path, a PIL image, a torch tensor or an array-like as a numpy array (RGB for a file or PIL)."""
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        if not os.path.exists(image):
            raise FileNotFoundError(f"no image at {os.fspath(image)!r}")
        with Image.open(image) as im:
            return np.asarray(im.convert("RGB"))
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
        return np.asarray(image.convert("RGB"))
    if hasattr(image, "detach"):  # torch tensor
        return image.detach().cpu().numpy()
    return np.asarray(image)


def _channels_last(a: np.ndarray) -> np.ndarray:
    """One image ``[h, w]``, ``[h, w, c]`` or ``[c, h, w]`` as ``[h, w, 3]`` (pixel type kept)."""
    if a.ndim == 3 and a.shape[0] in CHANNELS and a.shape[-1] not in CHANNELS:
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[-1] not in CHANNELS:
        raise ValueError(f"image must be [h, w], [h, w, 3] or [3, h, w], got shape {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return a[..., :3]


def as_image(image: Any) -> np.ndarray:
    """An image as ``[h, w, 3]`` uint8, from a path, a PIL image or an array.

    Arrays may be ``[h, w]``, ``[h, w, 3|4]`` or channels-first ``[3, h, w]``
    (a torch tensor too), floats in ``[0, 1]`` or integers in ``[0, 255]``.
    """
    return _to_uint8(_channels_last(_image_array(image)))


class SampleImages:
    """One image per sample: ``images[k]`` is sample k's image as ``[h, w, 3]`` uint8.

    Made by :func:`sample_images`. Images are converted one at a time, when
    asked for: a batch of thousands costs nothing until shown. The floats of a
    batch array are read on one scale for the whole batch (0..1 when its
    largest value is at most 1), so a dark image is not brightened alone.
    """

    def __init__(self, items: Sequence[Any] | np.ndarray):
        self._items = items
        self._unit: bool | None = None

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, k: int) -> np.ndarray:
        n = len(self._items)
        if not -n <= k < n:
            raise IndexError(f"sample {k} has no image: there are {n} images")
        if isinstance(self._items, np.ndarray):
            if self._unit is None and self._items.dtype != np.uint8:
                self._unit = bool(self._items.max(initial=0.0) <= 1.0 + 1e-6)
            return _to_uint8(_channels_last(self._items[k]), self._unit)
        return as_image(self._items[k])

    def __repr__(self) -> str:
        return f"SampleImages({len(self)} images)"


def _is_image_list(image: Any) -> bool:
    # a list of images, not a nested list of pixel values (np.asarray reads that as one image)
    return isinstance(image, (list, tuple)) and not (
        len(image) and isinstance(image[0], (list, tuple, int, float, np.number))
    )


def sample_images(image: Any, samples: int, *, what: str = "the overlay", site: str | None = None):
    """The images of an overlay: None for one image (shown for every sample), else :class:`SampleImages`.

    Parameters
    ----------
    image : image, list of images, or batch array
        One image: a path, a PIL image, ``[H, W]``, ``[H, W, 3|4]`` or
        channels-first ``[3, H, W]`` (numpy or torch). One per sample: a list
        or tuple of N images (their sizes may differ), an ``[N, H, W]`` or
        ``[N, H, W, 3|4]`` array, or a torch ``[N, 3, H, W]`` tensor. A 3-D
        array whose first axis is ``samples`` (2 or more) is N grey images,
        never one channels-first image: pass that one as ``[H, W, 3]``.
    samples : int
        How many samples the site holds; one-per-sample images must be as many.
    what, site : str
        Who asks and for which site, for the error messages.

    Returns
    -------
    SampleImages or None

    Raises
    ------
    ValueError
        Images per sample that are not ``samples``, or an array that is no
        image and no batch of images.
    """
    where = f"site {site!r} holds {samples} samples" if site is not None else f"there are {samples} samples"

    def count(n: int, given: str) -> None:
        if n != samples:
            raise ValueError(
                f"{what} got {n} images ({given}) but {where}: pass one image per sample "
                f"(N = {samples}, in the order of the capture), or one image for all of them"
            )

    if _is_image_list(image):
        count(len(image), "a list")
        return SampleImages(list(image))
    if isinstance(image, (str, os.PathLike)) or (hasattr(image, "convert") and hasattr(image, "size")):
        return None
    tensor = hasattr(image, "detach")
    a = _image_array(image)
    if a.ndim == 2:
        return None
    if a.ndim == 3:
        if a.shape[-1] in CHANNELS:
            return None  # [H, W, C]
        if a.shape[0] in CHANNELS and not (samples > 1 and a.shape[0] == samples):
            return None  # [C, H, W]
        count(a.shape[0], f"an array of shape {a.shape}, read as [N, H, W]")
        return SampleImages(a)
    if a.ndim == 4:
        given = a.shape
        if tensor and a.shape[1] in CHANNELS:
            a = np.moveaxis(a, 1, -1)  # torch [N, C, H, W]
        if a.shape[-1] in CHANNELS:
            count(a.shape[0], f"a batch of shape {given}")
            return SampleImages(a)
        if a.shape[1] in CHANNELS:
            raise ValueError(
                f"image must be {IMAGE_FORMS}; got a numpy array of shape {a.shape}: a numpy batch "
                "is read channels-last (np.moveaxis(images, 1, -1), or pass the torch tensor)"
            )
    raise ValueError(f"image must be {IMAGE_FORMS}; got shape {a.shape}")


#: what an overlay's title adds where its selection shows no single sample's image
NO_IMAGE = "no single image"


def image_choice(cap: Capture, selection: dict, count: int) -> tuple[int | None, str | None] | None:
    """The image an overlay with ``count`` images (one per sample) shows for a selection:
    ``(sample, None)``, or ``(None, caption)`` with the reason there is no single image (a mean, a
    class statistic, a sample past the images); None where the selection has no frame (the view
    shows the error). The widget and the standalone page both decide with it."""
    try:
        k = sample_index(cap, selection)
        args = frame_args(cap, selection)
    except (IndexError, KeyError, ValueError, TypeError):
        return None
    if k is None:
        return None, no_image_reason(args)
    if k >= count:
        return None, f"no image: sample {k} of a site with more samples than the {count} images"
    return k, None


def no_image_reason(selection: dict) -> str:
    """Why a selection shows no single sample's image: ``"no image: a mean over samples"``..."""
    if selection.get("difference") is not None:
        what = "a class difference"
    elif selection.get("stat") not in (None, "mean"):
        what = {"var": "a class variance", "min": "a class minimum", "max": "a class maximum"}.get(
            selection["stat"], f"a class {selection['stat']}"
        )
    else:
        what = "a mean over samples"
    return f"no image: {what}"


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
    image : path, PIL image, array or None
        The image of the sample the frame shows. None: no single image (the
        frame is a mean over samples or a class statistic); the attention is
        drawn alone, over white as the widget draws it, and the panel says why.
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
    values = fr.values
    if values.shape[0] == 1:
        values = values.reshape(patch_grid(values.shape[1], grid))
    lo, hi = color_range(values, scale, vmin, vmax)
    rgb = frame_rgb(values, lo, hi, scale, colormap)
    img = None if image is None else as_image(image)
    h, w = img.shape[:2] if img is not None else rgb.shape[:2]
    fig = new_figure(9.5, 4.6 * h / max(w, 1) + 0.8)
    ax_img, ax_map = fig.subplots(1, 2)
    if img is not None:
        ax_img.imshow(img, interpolation="bilinear")
        ax_img.set_title("attention over the image", fontsize=10)
    else:
        ax_img.set_facecolor("white")  # the widget blends over white where there is no image
        ax_img.set_title(no_image_reason(fr.selection), fontsize=10)
    # the coarse patch colours are stretched over the image; bilinear blends them smoothly
    ax_img.imshow(rgb, extent=(-0.5, w - 0.5, h - 0.5, -0.5), alpha=alpha, interpolation="bilinear")
    ax_map.imshow(rgb, interpolation="nearest")
    ax_map.set_title("patch attention", fontsize=10)
    for ax in (ax_img, ax_map):
        ax.set_xticks([])
        ax.set_yticks([])
    colorbar(fig, ax_map, lo, hi, colormap=colormap, scale=scale)
    fig.suptitle(text_label(fr.title if title is None else title), fontfamily=label_fonts())
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
    image : path, PIL image, array, or one per sample
        The image the model saw: one for every sample, or one per sample (a
        list or a batch array, see :func:`sample_images`), of which the
        selected sample's is drawn. A mean over samples or a class statistic
        has no single image: it is drawn alone (one image is still drawn).
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
    images = sample_images(image, cap.samples_of(name), what="cls_overlay", site=name)
    fr = frame(
        cap, name, head=head, sample=sample, label=label, step=step, region=(query, query + 1, skip, 10**9)
    )
    if images is not None:
        shown = {"layer": name, "head": head, "sample": sample, "label": label, "step": step}
        k = sample_index(cap, {**shown, "stat": None, "difference": None})
        image = None if k is None else images[k]
    return overlay_figure(
        fr,
        image,
        grid=grid,
        colormap=colormap,
        scale=scale,
        alpha=alpha,
        title=f"{fr.title} · query {text_label(fr.row_labels[0])}",
    )
