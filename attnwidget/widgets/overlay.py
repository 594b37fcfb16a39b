"""ImageOverlay: one query row reshaped to the patch grid, blended over the image of its sample.

The frame is the ``query`` row (CLS by default) of the selected attention,
without the leading non-patch tokens, as a ``[grid_rows, grid_cols]`` array.
The browser enlarges it nearest-neighbour to the image size (each patch a
sharp block; a small image is enlarged by a whole factor the same way, never
smoothed), colours it with the shared LUT, draws it over the image with
``opacity`` and puts a colour bar beside it. Clicking a patch sends
``{type: "pick", row, col}``: the view then shows that patch's own query row
(in the explorer, the heatmap pins it; a row pinned on the heatmap is the one
shown here).

The image is one for every sample, or one per sample (a list or a batch
array): then sample k shows image k, and the image travels again only when
the sample shown changes (a few recent ones are kept encoded). A mean over
samples or a class statistic is no one sample: the attention is drawn over
white, and the title says so. Which image a selection shows is decided by
:func:`attnwidget._view_state.sample_index`, as in the figures.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import traitlets as t

from .._view_state import ViewDescription, ViewSpec, patch_grid_for
from ._browser import CSS, BrowserRequests
from ._traits import check_capture, colormap_trait, scale_trait, take_site
from ._view import View

__all__ = ["ImageOverlay", "image_rgba"]

#: what the title of a view showing no single image ends with

#: images per sample kept encoded (the recently shown ones), so stepping back and forth costs nothing
IMAGE_CACHE_SIZE = 8


def image_rgba(image) -> np.ndarray:
    """An image (PIL image, ``[H, W]``, ``[H, W, 3|4]`` uint8 or float in 0..1, or a
    ``[3, H, W]`` tensor) as a C-ordered ``[H, W, 4]`` uint8 array."""
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        image = np.asarray(image.convert("RGBA"))
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # channels-first
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image must be [H, W], [H, W, 3|4] or [3, H, W]; got shape {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if a.max(initial=0) <= 1.0:
            a = a * 255.0
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.shape[-1] == 3:
        a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    return np.ascontiguousarray(a)


class ImageOverlay(BrowserRequests, View):
    """Attention of one query over an image's patches, blended over the image.

    Parameters
    ----------
    cap : Capture
    image : image, list of images, or batch array
        One image for every sample (a PIL image, ``[H, W]``, ``[H, W, 3|4]``
        uint8 or float in 0..1, or a channels-first ``[3, H, W]`` tensor), or
        one per sample: a list of N images (sizes may differ), an
        ``[N, H, W]`` or ``[N, H, W, 3|4]`` array or a torch ``[N, 3, H, W]``
        tensor, N the number of samples of the site. Sample k (counted over
        every sample, whatever the class filter) then shows image k; a mean
        over samples or a class statistic shows the attention alone. See
        :func:`attnwidget.figures.overlay.sample_images` for how a 3-D array
        is read.
    patch_grid : (int, int), optional
        Patch rows and columns; inferred as the largest square that fits the
        key axis when omitted (e.g. 197 keys -> 14 x 14 after 1 CLS token).
    **traits
        Any public trait below.

    Raises
    ------
    ValueError
        Images per sample that are not as many as the site's samples.

    Attributes
    ----------
    layer, head, sample, label, step
        The selection.
    query : int
        Query row to show (0 = CLS).
    opacity : float
        Heat-map opacity over the image, 0..1.
    colormap, scale : str
    """

    _css = CSS
    _js_view = t.Unicode("overlay", help="the view js/widget.js draws this widget with").tag(sync=True)
    _extra_kwargs = ("tokens", "layout", "image", "patch_grid", "class_names")

    query = t.Int(0, help="query row shown over the image (0 = CLS)").tag(sync=True)
    opacity = t.Float(0.5, min=0.0, max=1.0, help="heat-map opacity, 0..1").tag(sync=True)
    colormap = colormap_trait("jet")
    scale = scale_trait()

    _image = t.Bytes(b"", help="the image shown as RGBA uint8, row-major (white where none)").tag(sync=True)
    _image_meta = t.Dict(
        help="{shape: [H, W, 4], sample: absolute index of the sample whose image it is (None: one "
        "image for all, or none), caption: why no image is shown (None when one is)}"
    ).tag(sync=True)

    _redraw_on = ("query", "scale")

    def __init__(self, cap, image=None, *, patch_grid=None, **kwargs):
        from ..figures.overlay import sample_images  # lazy: matplotlib only for an overlay

        if image is None:
            raise TypeError(
                "ImageOverlay needs the input image: ImageOverlay(cap, image=..., patch_grid=(14, 14))"
            )
        self.patch_grid = None if patch_grid is None else tuple(int(v) for v in patch_grid)
        if self.patch_grid is not None and (len(self.patch_grid) != 2 or min(self.patch_grid) < 1):
            raise ValueError(f"patch_grid must be (rows, cols) of patches, not {patch_grid!r}")
        take_site(type(self), kwargs)
        store = check_capture(cap)
        site = store.site_name(kwargs.get("layer", 0))
        self._images = sample_images(image, store.samples_of(site), what="ImageOverlay", site=site)
        self._encoded: OrderedDict = OrderedDict()  # sample -> (rgba bytes, [H, W, 4])
        self._image_key: object = ()  # what _image holds now: a sample, None (no image), () (nothing yet)
        if self._images is None:
            rgba = image_rgba(image)
            self._one = (rgba.tobytes(), list(rgba.shape))
        super().__init__(cap, **kwargs)

    @t.validate("query")
    def _check_query(self, proposal):
        q = proposal["value"]
        if q < 0:
            raise t.TraitError(f"query must be a row index >= 0, not {q}")
        return q

    def _msg_pick(self, content: dict) -> dict:
        """``{type: "pick", row, col}``: show the query row of the patch at (row, col) of the grid."""
        row, col = content.get("row"), content.get("col")
        if not isinstance(row, int) or not isinstance(col, int):
            raise ValueError(f"pick needs integer row and col of a patch, not {row!r} and {col!r}")
        full = self.frame().selection
        rows, cols = self._frame_meta.get("shape") or (0, 0)
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(f"patch ({row}, {col}) is outside the {rows} x {cols} patch grid")
        self.query = int(full.get("skipped_keys", 0)) + row * cols + col
        return {"query": self.query}

    def grid(self, keys: int) -> tuple[int, int]:
        """Patch grid ``(rows, cols)`` for a key axis of length ``keys``."""
        return patch_grid_for(keys, self.patch_grid)

    def view_spec(self) -> ViewSpec:
        """The ``query`` row as a ``[grid_rows, grid_cols]`` frame (leading non-patch keys dropped)."""
        return ViewSpec(
            "overlay",
            tokens=self.tokens,
            query=self.query,
            patch_grid=self.patch_grid,
            scale=self.scale,
            class_names=self.class_names,
        )

    # ------------------------------------------------------------ the image of the sample shown
    @property
    def num_images(self) -> int:
        """How many images the view holds: 1 (one for every sample), or one per sample."""
        return 1 if self._images is None else len(self._images)

    def _image_for(self) -> tuple[int | None, str | None] | None:
        """``(sample, caption)``: the sample whose image the selection shows, or None with the
        reason there is no image as the caption; ``(None, None)`` for one image for every sample;
        None where the selection has no frame either (the view shows the error; the image stays)."""
        from ..figures.overlay import image_choice

        if self._images is None:
            return None, None
        return image_choice(self.cap, self.selection(), len(self._images))

    def _encode(self, k: int) -> tuple[bytes, list[int]]:
        """Sample ``k``'s image as RGBA bytes and shape, encoded once while it stays recent."""
        hit = self._encoded.pop(k, None)
        if hit is None:
            rgba = image_rgba(self._images[k])
            hit = (rgba.tobytes(), list(rgba.shape))
        self._encoded[k] = hit  # most recent last
        while len(self._encoded) > IMAGE_CACHE_SIZE:
            self._encoded.popitem(last=False)
        return hit

    def _send_frame(self, fresh: bool = False) -> None:
        with self.hold_sync():
            super()._send_frame(fresh)
            shown = self._image_for()
            if shown is None:
                return
            key, caption = shown
            if caption is not None:
                # the title already says what is shown (a mean, a class statistic): say there is no image
                from ..figures.overlay import NO_IMAGE

                meta = self._frame_meta
                title = meta.get("title") or ""
                self._frame_meta = {**meta, "title": f"{title} · {NO_IMAGE}" if title else caption}
            if self._images is None:
                if self._image_key == ():
                    self._image_meta = {"shape": self._one[1], "sample": None, "caption": None}
                    self._image = self._one[0]
                    self._image_key = None
                return
            if key == self._image_key and caption == self._image_meta.get("caption"):
                return  # the same image: nothing travels
            if key is None:
                # no single image: white of the size last shown, so the canvas keeps its size
                shape = self._image_meta.get("shape") or self._encode(0)[1]
                pixels = b"\xff" * int(np.prod(shape))
            else:
                pixels, shape = self._encode(key)
            self._image_meta = {"shape": shape, "sample": key, "caption": caption}
            self._image = pixels
            self._image_key = key

    def _take(self, cap, tokens) -> None:
        if self._images is not None:
            name = self.cap.site_name(self.layer)
            site = name if name in cap.layers else cap.layers[0]
            if cap.samples_of(site) != len(self._images):
                raise ValueError(
                    f"the new capture holds {cap.samples_of(site)} samples at site {site!r}, and this "
                    f"overlay has {len(self._images)} images, one per sample: make a new "
                    "ImageOverlay with one image per sample of the new capture"
                )
            self._image_key = ()  # send the image again for the new capture
        super()._take(cap, tokens)

    def describe(self) -> ViewDescription:
        """The view as plain data, with the image shown (``[H, W, 3]`` uint8; None where no
        single image is shown, a mean over samples) and the opacity."""
        d = super().describe()
        shape = self._image_meta.get("shape")
        shown = shape is not None and (self._images is None or self._image_key is not None)
        d.image = np.frombuffer(self._image, dtype=np.uint8).reshape(shape)[..., :3] if shown else None
        d.opacity = float(self.opacity)
        d.images = self._images  # one image per sample (None: one image for every sample)
        return d
