"""HeadGrid: every head of a layer (or layers x heads) as thumbnails, in one binary message.

Each thumbnail is the frame of one (layer, head), block-pooled to at most
``thumb`` x ``thumb`` cells and quantized over its own value range; all of
them travel together in ``_thumbs`` (concatenated codes) with their shapes
and offsets in ``_thumbs_meta``, so the first paint needs one message.
A model-wide grid pools its thumbnails to about one cell per pixel of the place
each gets (:meth:`HeadGrid.thumb_cells`: 32 cells for a row of 12 heads, not 64)
unless ``thumb`` is given: a quarter of the bytes, the same picture.
Clicking a thumbnail sets ``layer`` and ``head`` in the page (a view linked
there follows at once; ``{type: "select", layer, head}`` still selects one from
a message). The grid fills a
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
from ._view import View

__all__ = ["HeadGrid"]

#: cells a model-wide grid shares out between the heads of a row: js/headgrid.js draws a row
#: of H heads across its 326-pixel panel, so 384 // H cells is a little over one per pixel
MODEL_CELLS = 384


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
        Largest side of a thumbnail, in cells (pooled in Python). Not given, a
        ``"model"`` grid pools to fewer (:meth:`thumb_cells`).
    colormap : str
    """

    _css = CSS
    _js_view = t.Unicode("headgrid", help="the view js/widget.js draws this widget with").tag(sync=True)

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

    def __init__(self, cap, **kwargs):
        # a thumb given is kept in every mode; not given, a model-wide grid sizes its thumbnails
        self.__dict__["_thumb_given"] = "thumb" in kwargs
        super().__init__(cap, **kwargs)

    @t.observe("thumb")
    def _thumb_chosen(self, change) -> None:
        self.__dict__["_thumb_given"] = True

    def thumb_cells(self) -> int:
        """The side the thumbnails are pooled to: ``thumb``; in ``"model"`` mode, where ``thumb``
        was not given, at most :data:`MODEL_CELLS` // the most heads of a site (at least 8)."""
        if self.mode != "model" or self.__dict__.get("_thumb_given", True):
            return self.thumb
        heads = max((self.cap.num_heads(i) or 1 for i in attention_sites(self.cap)), default=1)
        return max(8, min(self.thumb, MODEL_CELLS // heads))

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
        """Thumbnails of :meth:`thumb_cells` cells at most; :meth:`frame` is the highlighted one,
        pooled like it.

        Thumbnails are not cached: every trait change that reaches ``refresh``
        sends them all again, in one message.
        """
        return ViewSpec(
            "headgrid", size=self.thumb_cells(), tokens=self.tokens, mode=self.mode, groups=self.groups
        )

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
