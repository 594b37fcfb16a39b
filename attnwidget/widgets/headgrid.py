"""HeadGrid: every head of a layer (or layers x heads) as thumbnails, in one binary message.

Each thumbnail is the frame of one (layer, head), block-pooled to at most
``thumb`` x ``thumb`` cells and quantized over its own value range; all of
them travel together in ``_thumbs`` (concatenated codes) with their shapes
and offsets in ``_thumbs_meta``, so the first paint needs one message.
Clicking a thumbnail sends ``{type: "select", layer, head}``.
"""

from __future__ import annotations

import time

import numpy as np
import traitlets as t

from .. import wire
from .._frame import Frame, frame
from ._traits import colormap_trait, is_difference
from ._view import STATIC, View

__all__ = ["HeadGrid"]


class HeadGrid(View):
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

    mode = t.Enum(["layer", "model"], default_value="layer",
                  help="'layer': heads of the selected layer; 'model': layers x heads").tag(sync=True)
    thumb = t.Int(64, help="largest thumbnail side in cells; bigger heads are pooled").tag(sync=True)
    colormap = colormap_trait()

    _thumbs = t.Bytes(b"", help="all thumbnails' uint8 codes, concatenated").tag(sync=True)
    _thumbs_meta = t.Dict(help="{layers, heads, thumbs: [{layer, head, shape, offset, vmin, vmax}]}"
                          ).tag(sync=True)

    _redraw_on = ("mode", "thumb")

    @t.validate("thumb")
    def _check_thumb(self, proposal):
        if not 2 <= proposal["value"] <= 512:
            raise t.TraitError(f"thumb must be between 2 and 512 cells, not {proposal['value']}")
        return proposal["value"]

    def _redraw(self, change=None) -> None:
        # the highlight is drawn in the browser: picking another head (or, in
        # "model" mode, another layer) needs no new thumbnails
        if change is not None and (change["name"] == "head"
                                   or (change["name"] == "layer" and self.mode == "model")):
            return
        super()._redraw(change)

    def attention_layers(self) -> list[int]:
        """Indices of the sites with a head axis (the rows of the grid in "model" mode)."""
        return [i for i, name in enumerate(self.cap.layers)
                if self.cap.kinds[name] in ("self", "cross") and "head" in self.cap.axes[name]]

    def grid_layers(self) -> list[int]:
        """Layers shown now: the selected one, or all attention layers."""
        return [self.layer] if self.mode == "layer" else self.attention_layers()

    def frame(self) -> Frame:
        """The frame of the highlighted thumbnail (selected layer and head), pooled like it."""
        return frame(self.cap, **self.frame_selection(), size=self.thumb, tokens=self.tokens)

    def frames(self) -> list[Frame]:
        """One frame per thumbnail, in the order they are sent (layer-major)."""
        out = []
        sel = self.frame_selection()
        for layer in self.grid_layers():
            n = self.num_heads(layer)
            if n is None or self.cap.kinds[self.cap.layers[layer]] == "weights":
                raise ValueError(f"layer {layer} ({self.cap.layers[layer]}) holds weights, "
                                 "not heads of query x key attention")
            for h in range(n):
                out.append(frame(self.cap, **{**sel, "layer": layer, "head": h},
                                 size=self.thumb, tokens=self.tokens))
        return out

    def refresh(self) -> None:
        """Recompute every thumbnail and send them in one message."""
        self._send_frame(fresh=True)

    def _send_frame(self, fresh: bool = False) -> None:
        # every trait change lands here too (View._redraw); thumbnails are not cached
        started = time.perf_counter()
        try:
            frames = self.frames()
        except (IndexError, KeyError, ValueError) as e:
            with self.hold_sync():
                self._thumbs = b""
                self._thumbs_meta = {"layers": [], "heads": 0, "thumbs": [], "error": str(e)}
            return
        parts, thumbs, offset = [], [], 0
        layers = self.grid_layers()
        for fr in frames:
            header, payload = wire.encode(fr.values, "linear", symmetric=is_difference(fr))
            layer = self.cap.layers.index(fr.selection["layer"])
            thumbs.append({"layer": layer, "head": int(fr.selection["head"]),
                           "shape": header["shape"], "offset": offset, "vmin": header["vmin"],
                           "vmax": header["vmax"]})
            parts.append(payload)
            offset += len(payload)
        heads = max((t_["head"] for t_ in thumbs), default=-1) + 1
        meta = {"layers": layers, "layer_names": [self.cap.layers[i] for i in layers],
                "heads": heads, "thumbs": thumbs, "error": None,
                "compute_ms": round((time.perf_counter() - started) * 1000, 2)}
        with self.hold_sync():
            self._thumbs = b"".join(parts)
            self._thumbs_meta = meta

    def thumbnails(self) -> list[np.ndarray]:
        """The uint8 code arrays as sent, one ``[h, w]`` array per thumbnail."""
        buf = np.frombuffer(self._thumbs, dtype=np.uint8)
        return [buf[m["offset"]:m["offset"] + m["shape"][0] * m["shape"][1]].reshape(m["shape"])
                for m in self._thumbs_meta.get("thumbs", [])]
