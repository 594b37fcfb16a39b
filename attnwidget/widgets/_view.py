"""The base of the canvas views: a Selection that sends one frame as bytes.

A subclass says which ES module draws it (``_esm``), which traits besides the
selection change the picture (``_redraw_on``) and how to compute its frame
(``frame()``, always via :func:`attnwidget.frame.frame`). This class keeps
``_frame`` (uint8 codes, one byte per cell) and ``_frame_meta`` (shape, value
range, labels, region) in step with the traits and answers custom messages.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import anywidget
import traitlets as t

from ..frame import Frame
from ._traits import Selection, check_capture, check_kwargs, error_state, frame_state

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"


class View(Selection, anywidget.AnyWidget):
    """A canvas view of one capture (abstract: subclasses set ``_esm`` and ``frame``)."""

    _frame = t.Bytes(b"", help="uint8 colour codes of the shown frame, row-major, h*w bytes").tag(sync=True)
    _frame_meta = t.Dict(help="shape, vmin, vmax, scale, labels, region, block, title, error").tag(sync=True)

    #: traits (besides the selection) whose change recomputes the frame
    _redraw_on: tuple[str, ...] = ()
    _extra_kwargs: tuple[str, ...] = ("tokens", "layout")

    def __init__(self, cap, *, tokens: Any = None, **kwargs):
        check_kwargs(type(self), kwargs, self._extra_kwargs)
        self.cap = check_capture(cap)
        self.tokens = tokens
        self._ready = False
        super().__init__(**kwargs)
        self._ready = True
        self.observe(self._redraw, names=["layer", "head", "sample", "label", "step",
                                          *self._redraw_on])
        self.on_msg(self._on_message)
        self.refresh()

    # ------------------------------------------------------------ frame
    def frame(self) -> Frame:
        """The :class:`~attnwidget.frame.Frame` this view shows now."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Recompute the frame and send it to the browser."""
        started = time.perf_counter()
        try:
            payload, meta = frame_state(self.frame(), getattr(self, "scale", "linear"))
        except (IndexError, KeyError, ValueError) as e:
            payload, meta = error_state(str(e))
        meta["compute_ms"] = round((time.perf_counter() - started) * 1000, 2)
        with self.hold_sync():
            self._frame = payload
            self._frame_meta = meta

    def _redraw(self, change=None) -> None:
        if self._ready:
            self.refresh()

    # ------------------------------------------------------------ messages
    def _on_message(self, widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        handler = getattr(self, f"_msg_{kind}", None) if isinstance(kind, str) else None
        mid = content.get("id")
        if handler is None:
            self.send({"type": "error", "id": mid, "message": f"unknown message type {kind!r}"})
            return
        try:
            reply = handler(content) or {}
        except (t.TraitError, IndexError, KeyError, ValueError, TypeError) as e:
            self.send({"type": "error", "id": mid, "message": str(e)})
            return
        self.send({"type": "ok", "id": mid, **reply})

    def _msg_select(self, content: dict) -> dict:
        """``{type: "select", layer?, head?}``: the browser picked a layer and/or head."""
        with self.hold_trait_notifications():
            if "layer" in content:
                self.layer = int(content["layer"])
            if "head" in content:
                self.head = content["head"]
        return {"layer": self.layer, "head": self.head}

    # ------------------------------------------------------------ export
    def save(self, path, dpi: int = 150):
        """Save what this view shows as an image file (via :func:`attnwidget.figures.save_view`).

        Parameters
        ----------
        path : str or os.PathLike
            Output file; the format follows the extension (``.png``, ``.pdf``, ``.svg``).
        dpi : int
            Resolution of raster formats.
        """
        from ..figures import save_view  # lazy: matplotlib only when saving

        return save_view(self, path, dpi=dpi)
