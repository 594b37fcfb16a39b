"""HeadGrid: every head of a layer (or layers x heads) as thumbnails, in one binary message.

Each thumbnail is the frame of one (layer, head), block-pooled to at most
``thumb`` x ``thumb`` cells and quantized over its own value range; all of
them travel together in ``_thumbs`` (concatenated codes) with their shapes
and offsets in ``_thumbs_meta``, so the first paint needs one message.
Clicking a thumbnail sends ``{type: "select", layer, head}``. The grid fills a
panel of fixed width (the thumbnails are sized to it) and bounded height, so it
stays in place whatever the step or layer.
"""

from __future__ import annotations

import numpy as np
import traitlets as t

from .._frame import Frame
from .._view_state import ViewSpec, attention_sites, grid_layers, view_panels
from ._browser import CSS, BrowserRequests
from ._traits import colormap_trait
from ._view import STATIC, View

__all__ = ["HeadGrid"]


class HeadGrid(BrowserRequests, View):
    """Thumbnails of all heads of the selected layer, or of every layer.

    Parameters
    ----------
    cap : Capture
    tokens : optional
        Token strings (only used by :meth:`frame` titles and exports).
    **traits
        Any public trait below.

    Attributes
    ----------
    layer, head, sample, label, step
        The selection; ``layer``/``head`` mark the highlighted thumbnail.
    mode : str
        ``"layer"``: the heads of ``layer``; ``"model"``: all attention layers x heads.
    thumb : int
        Largest side of a thumbnail, in cells (pooled in Python).
    colormap : str
    """

    _esm = STATIC / "headgrid.js"
    _css = CSS

    mode = t.Enum(
        ["layer", "model"],
        default_value="layer",
        help="'layer': heads of the selected layer; 'model': layers x heads",
    ).tag(sync=True)
    thumb = t.Int(64, help="largest thumbnail side in cells; bigger heads are pooled").tag(sync=True)
    colormap = colormap_trait()

    _thumbs = t.Bytes(b"", help="all thumbnails' uint8 codes, concatenated").tag(sync=True)
    _thumbs_meta = t.Dict(help="{layers, heads, thumbs: [{layer, head, shape, offset, vmin, vmax}]}").tag(
        sync=True
    )

    _redraw_on = ("mode", "thumb")
    _meta_trait = "_thumbs_meta"

    @t.validate("thumb")
    def _check_thumb(self, proposal):
        if not 2 <= proposal["value"] <= 512:
            raise t.TraitError(f"thumb must be between 2 and 512 cells, not {proposal['value']}")
        return proposal["value"]

    def _redraw(self, change=None) -> None:
        # the highlight is drawn in the browser: picking another head (or, in
        # "model" mode, another layer) needs no new thumbnails
        if change is not None and (
            change["name"] == "head" or (change["name"] == "layer" and self.mode == "model")
        ):
            return
        super()._redraw(change)

    def attention_layers(self) -> list[int]:
        """Indices of the sites with a head axis (the rows of the grid in "model" mode)."""
        return attention_sites(self.cap)

    def grid_layers(self) -> list[int]:
        """Sites shown now: the selected one, or all attention sites."""
        return grid_layers(self.cap, self.view_spec(), self.selection())

    def view_spec(self) -> ViewSpec:
        """Thumbnails of ``thumb`` cells at most; :meth:`frame` is the highlighted one, pooled like it.

        Thumbnails are not cached: every trait change that reaches ``refresh``
        sends them all again, in one message.
        """
        return ViewSpec("headgrid", size=self.thumb, tokens=self.tokens, mode=self.mode, groups=self.groups)

    def frames(self) -> list[Frame]:
        """One frame per thumbnail, in the order they are sent (site-major)."""
        return view_panels(self.cap, self.view_spec(), self.selection())

    def thumbnails(self) -> list[np.ndarray]:
        """The uint8 code arrays as sent, one ``[h, w]`` array per thumbnail."""
        buf = np.frombuffer(self._thumbs, dtype=np.uint8)
        return [
            buf[m["offset"] : m["offset"] + m["shape"][0] * m["shape"][1]].reshape(m["shape"])
            for m in self._thumbs_meta.get("thumbs", [])
        ]
