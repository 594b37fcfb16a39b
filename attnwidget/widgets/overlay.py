"""ImageOverlay: one query row reshaped to the patch grid, blended over the input image.

The frame is the ``query`` row (CLS by default) of the selected attention,
without the leading non-patch tokens, as a ``[grid_rows, grid_cols]`` array.
The browser upsamples it (bilinear) to the image size, colours it with the
shared LUT and draws it over the image with ``opacity``.
"""

from __future__ import annotations

import numpy as np
import traitlets as t

from .._view_state import ViewDescription, ViewSpec, patch_grid_for
from ._traits import colormap_trait, scale_trait
from ._view import STATIC, View

__all__ = ["ImageOverlay", "image_rgba"]


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


class ImageOverlay(View):
    """Attention of one query over an image's patches, blended over the image.

    Parameters
    ----------
    cap : Capture
    image : array-like or PIL.Image
        The input image (see :func:`image_rgba` for accepted forms).
    patch_grid : (int, int), optional
        Patch rows and columns; inferred as the largest square that fits the
        key axis when omitted (e.g. 197 keys -> 14 x 14 after 1 CLS token).
    **traits
        Any public trait below.

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

    _esm = STATIC / "overlay.js"
    _extra_kwargs = ("tokens", "layout", "image", "patch_grid")

    query = t.Int(0, help="query row shown over the image (0 = CLS)").tag(sync=True)
    opacity = t.Float(0.5, min=0.0, max=1.0, help="heat-map opacity, 0..1").tag(sync=True)
    colormap = colormap_trait("jet")
    scale = scale_trait()

    _image = t.Bytes(b"", help="the image as RGBA uint8, row-major").tag(sync=True)
    _image_meta = t.Dict(help="{shape: [H, W, 4]}").tag(sync=True)

    _redraw_on = ("query", "scale")

    def __init__(self, cap, image=None, *, patch_grid=None, **kwargs):
        if image is None:
            raise TypeError(
                "ImageOverlay needs the input image: ImageOverlay(cap, image=..., patch_grid=(14, 14))"
            )
        rgba = image_rgba(image)
        self.patch_grid = None if patch_grid is None else tuple(int(v) for v in patch_grid)
        if self.patch_grid is not None and (len(self.patch_grid) != 2 or min(self.patch_grid) < 1):
            raise ValueError(f"patch_grid must be (rows, cols) of patches, not {patch_grid!r}")
        super().__init__(cap, **kwargs)
        self._image_meta = {"shape": list(rgba.shape)}
        self._image = rgba.tobytes()

    @t.validate("query")
    def _check_query(self, proposal):
        q = proposal["value"]
        if q < 0:
            raise t.TraitError(f"query must be a row index >= 0, not {q}")
        return q

    def grid(self, keys: int) -> tuple[int, int]:
        """Patch grid ``(rows, cols)`` for a key axis of length ``keys``."""
        return patch_grid_for(keys, self.patch_grid)

    def view_spec(self) -> ViewSpec:
        """The ``query`` row as a ``[grid_rows, grid_cols]`` frame (leading non-patch keys dropped)."""
        return ViewSpec(
            "overlay", tokens=self.tokens, query=self.query, patch_grid=self.patch_grid, scale=self.scale
        )

    def describe(self) -> ViewDescription:
        """The view as plain data, with the image (``[H, W, 3]`` uint8) and the opacity."""
        d = super().describe()
        d.image = np.frombuffer(self._image, dtype=np.uint8).reshape(self._image_meta["shape"])[..., :3]
        d.opacity = float(self.opacity)
        return d
