"""The base of the canvas views: a Selection that sends one frame as bytes.

Every view carries the one front-end bundle (``_bundle``, run once per page by
``static/loader.js``, its ``_esm``); a subclass names the view of the bundle that
draws it (``_js_view``), which traits besides the
selection change the picture (``_redraw_on``) and what it draws apart from
the selection (``view_spec()``, a :class:`~attnwidget._view_state.ViewSpec`).
What it sends for a selection is :func:`attnwidget._view_state.view_state`,
the function a standalone page calls too: ``_frame`` (uint8 codes, one byte
per cell; deflated on the wire where that pays, :func:`attnwidget.wire.deflate_codes`,
the trait itself keeps the codes), ``_frame_meta`` (shape, value range, axes, region: a
small header) and ``_labels`` (row and column labels, assigned only when they differ from
what was sent last). This class keeps them in step with the traits, answers
custom messages and describes the view for figures (``describe()``).

Frames computed on a trait change are kept in a small per-view LRU cache
(``FRAME_CACHE_SIZE`` entries) keyed by everything ``frame()`` reads, so
flipping back to a layer or head shown a moment ago costs no recomputation;
``frame()`` itself always computes, and ``refresh()`` recomputes too (call
it after changing the capture in place).

Every canvas view has ``color_range`` (``"frame"``, ``"fixed"``,
``"shared"``): the colour range its codes, colour bar and saved figure use
(:func:`attnwidget._view_state.view_range`); its toolbar offers the choice
unless ``_range_in_toolbar`` is False (an explorer offers it once, in its
controls row, for all its views). Each frame sent has a
``_frame_version``; the browser asks for the exact values of the row under the
pointer with ``{type: "row", row, id}`` and gets them back as one float32
buffer with that version, so a tooltip never shows the value of a frame that
is no longer drawn (:meth:`View._msg_row`). ``view.capture = other`` (or
``view.update(other)``) shows another capture, or the same one grown,
keeping the selection where it still exists (see
:meth:`~attnwidget.widgets._traits.Selection.update`); a view made from an
``aw.record`` recorder follows it as training goes.

A heatmap or weights matrix also sends, after the frame it shows, the frames
a user is likely to ask for next (the other heads of the layer, the
neighbouring steps), which the page holds and draws at once when a change
made in the page asks for one (:mod:`attnwidget.widgets._prefetch`: the keys,
the page's budget, the timing). ``_frame_key`` names the frame shown by its
key (sent with it, in the same message), and a row message may name the frame
it asks about the same way (``{type: "row", row, id, key}``).
"""

from __future__ import annotations

import hashlib
import pathlib
import time
from dataclasses import replace
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from .._frame import Frame
from .._view_state import ViewDescription, ViewSpec, forget_ranges, frame_args, view_frame, view_state
from ..colormaps import DIVERGING
from ..wire import deflate_codes
from ._prefetch import Prefetcher
from ._save import Savable
from ._traits import KEEP, Selection, check_capture, check_kwargs, color_range_trait, recorder_of, take_site

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
#: the one front-end bundle (js/widget.js, built): every canvas view carries it as ``_bundle``
BUNDLE = STATIC / "widget.js"
#: every canvas view's anywidget module (js/loader.js, built): runs ``_bundle`` once per page, where
#: the bundle itself as ``_esm`` was parsed and run again for each widget shown
LOADER = STATIC / "loader.js"
_BUNDLE_TEXT = BUNDLE.read_text(encoding="utf-8")
_BUNDLE_KEY = hashlib.sha256(_BUNDLE_TEXT.encode("utf-8")).hexdigest()[:16]

#: frames a view keeps (most recently shown first out last)
FRAME_CACHE_SIZE = 32


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


class View(Savable, Selection, anywidget.AnyWidget):
    """A canvas view of one capture (abstract: subclasses set ``_js_view``, ``_css`` and ``view_spec``)."""

    _esm = LOADER
    _bundle = t.Unicode(_BUNDLE_TEXT, help="the front end's bundle (js/loader.js runs it)").tag(sync=True)
    _bundle_key = t.Unicode(_BUNDLE_KEY, help="the bundle's hash: a page runs each bundle once").tag(
        sync=True
    )

    _frame = t.Bytes(b"", help="uint8 colour codes of the shown frame, row-major, h*w bytes").tag(
        sync=True, to_json=lambda codes, view: view._wire_codes(codes)
    )
    _frame_meta = t.Dict(help="shape, vmin, vmax, scale, axes, region, block, title, error").tag(sync=True)
    _labels = t.Dict(
        default_value={"rows": [], "cols": []},
        help="{'rows': [...], 'cols': [...]}: labels of the shown frame; assigned only when they change",
    ).tag(sync=True)
    _frame_version = t.Int(
        0, help="counts the frames sent; a row message's answer names the version it is from"
    ).tag(sync=True)
    color_range = color_range_trait()
    _frame_key = t.Dict(
        default_value=None,
        allow_none=True,
        help="{'key': [...], 'labels': labels key} of the frame shown, for the frames held in the page; "
        "None for an error frame or a view that holds none",
    ).tag(sync=True)
    _held = t.Dict(
        default_value=None,
        allow_none=True,
        help="frames held in the page: {'traits': key traits in key order, 'budget': bytes of codes}, "
        "or None where the view holds none (attnwidget.widgets._prefetch)",
    ).tag(sync=True)
    _range_in_toolbar = t.Bool(
        True,
        help="whether the view's toolbar offers the colour-range choice (False inside an explorer, "
        "whose controls row has the one choice for all its views)",
    ).tag(sync=True)

    #: traits (besides the selection) whose change recomputes the frame
    _redraw_on: tuple[str, ...] = ()
    #: traits of ``_redraw_on`` that change the codes sent but not ``frame()`` (not in the cache key)
    _not_in_frame: tuple[str, ...] = ("scale",)
    _extra_kwargs: tuple[str, ...] = ("tokens", "groups", "layout", "class_names")
    #: the trait holding the header of what is sent (its compute time goes there)
    _meta_trait = "_frame_meta"
    #: the view kinds whose page holds frames sent ahead (js/matrix.js draws them)
    _holds_frames = ("heatmap", "weights")

    def __init__(self, cap, *, tokens: Any = None, groups: Any = None, class_names: Any = None, **kwargs):
        take_site(type(self), kwargs)
        check_kwargs(type(self), kwargs, self._extra_kwargs)
        self._frame_cache: dict = {}
        # names of the classes for titles (class 1 (spoof), true spoof -> pred bonafide); None:
        # cap.metadata["class_names"]. Given at construction (an explorer passes its own)
        self.class_names = class_names
        self._prefetch: Prefetcher | None = None
        recorder = recorder_of(cap)
        self.cap = check_capture(cap)
        self.tokens = tokens
        self.groups = groups
        self._ready = False
        super().__init__(**kwargs)
        if "colormap" not in kwargs:  # opened on a difference map: on its diverging colormap
            self._diverging(None)
        if self.view_spec().kind in self._holds_frames:
            self._prefetch = Prefetcher(self)
            self._held = self._prefetch.budget_info()
        self._ready = True
        self.observe(
            self._redraw,
            names=[
                "layer",
                "head",
                "sample",
                "label",
                "step",
                "stat",
                "difference",
                "color_range",
                *self._redraw_on,
            ],
        )
        self.on_msg(self._on_message)
        self.refresh()
        self._steps_seen = self.cap.steps
        if recorder is not None:
            recorder.watch(self)

    # the cache holds frames of one capture with one set of tokens: replacing either empties it
    @property
    def cap(self):
        return self.__dict__["_cap"]

    @cap.setter
    def cap(self, value) -> None:
        self.__dict__["_cap"] = value
        self.__dict__.get("_frame_cache", {}).clear()

    @property
    def tokens(self):
        return self.__dict__.get("_tokens")

    @tokens.setter
    def tokens(self, value) -> None:
        self.__dict__["_tokens"] = value
        self.__dict__.get("_frame_cache", {}).clear()

    @property
    def groups(self):
        """Groups of positions the frames aggregate (:func:`attnwidget.frame`'s ``groups=``), or None."""
        return self.__dict__.get("_groups")

    @groups.setter
    def groups(self, value) -> None:
        self.__dict__["_groups"] = value
        self.__dict__.get("_frame_cache", {}).clear()
        if self.__dict__.get("_ready"):
            self.refresh()

    def _take(self, cap, tokens) -> None:
        self.cap = cap  # empties the frame cache
        if tokens is not KEEP:
            self.tokens = tokens

    def _taken(self) -> None:
        self.refresh()

    def notify_change(self, change) -> None:
        # one comm message per change: the changed trait's own update and the frame its observers
        # compute travel together (nested holds send once). A change made outside any hold is
        # this view's own: its frame is sent as soon as it is made (see _send_now), before the
        # views linked to this one hear of the change, so the page draws it first
        own = not self._holding_sync
        depth = self.__dict__.get("_change_depth", 0)
        self.__dict__["_change_depth"] = depth + 1
        self.__dict__["_own_change"] = own if depth == 0 else self.__dict__.get("_own_change", False)
        try:
            with self.hold_sync():
                super().notify_change(change)
        finally:
            self.__dict__["_change_depth"] = depth

    def _send_now(self) -> None:
        """Send what the view's own change has set so far (its frame) without waiting for its hold.

        The page handles kernel messages one after the other: a frame sent after the messages
        of every view linked to this one (an explorer's head grid, statistics, overlay, head
        dropdown) was drawn only after the page had handled all of theirs. Only in the
        outermost change of a hold this view opened itself: a caller's ``hold_sync()`` still
        gets one message, and a change its observers make (a zoom forgotten with the layer)
        does not send a frame before the change that made it has its own.
        """
        if (
            self._holding_sync
            and self.__dict__.get("_own_change")
            and self.__dict__.get("_change_depth") == 1
        ):
            self.send_state(self._states_to_send)
            self._states_to_send.clear()

    # ------------------------------------------------------------ frame
    def view_spec(self) -> ViewSpec:
        """What this view draws apart from the selection (kind, size, zoom, tokens, scale...)."""
        raise NotImplementedError

    def frame(self) -> Frame:
        """The :class:`~attnwidget.frame.Frame` this view shows now."""
        return view_frame(self.cap, self.view_spec(), self.selection())

    def _spec(self) -> ViewSpec:
        """:meth:`view_spec` with the view's colour range."""
        return replace(self.view_spec(), color_range=self.color_range)

    def describe(self) -> ViewDescription:
        """This view as plain data, for figures and standalone pages (they read no widget)."""
        # the frame version counts messages to this browser: no state of what is shown
        # nor are the frames held in the page (a standalone page holds every frame it has)
        skip = (
            "_esm",
            "_css",
            "_bundle",
            "_bundle_key",
            "layout",
            "comm",
            "_frame_version",
            "_held",
            "_frame_key",
        )
        state = {k: v for k, v in self.get_state().items() if k not in skip}
        state["_frame"] = self._frame  # the codes themselves, not as they cross to a live page
        return ViewDescription(
            kind=self.view_spec().kind,
            name=type(self).__name__.lstrip("_"),
            cap=self.cap,
            selection=self.selection(),
            spec=self._spec(),
            colormap=getattr(self, "colormap", None),
            state=state,
            esm=BUNDLE,
            restore=dict(self.__dict__.get("_before_difference") or {}),
        )

    def _wire_codes(self, codes: bytes) -> bytes:
        """``_frame`` as it crosses to the page (deflated where that pays); the last one is kept,
        so the state sent again (a page that asks for it, a second browser) costs nothing."""
        memo = self.__dict__.get("_wire_memo")
        if memo is not None and memo[0] is codes:
            return memo[1]
        wire = deflate_codes(codes)
        self.__dict__["_wire_memo"] = (codes, wire)
        return wire

    def _cache_key(self, selection: dict | None = None) -> Any:
        """Everything ``frame()`` depends on: the selection (default: the view's), the frame
        traits, the capture's shape."""
        cap = self.cap
        traits = tuple(
            (n, _hashable(getattr(self, n))) for n in self._redraw_on if n not in self._not_in_frame
        )
        # a capture that grows (more steps or sites, new tokens or labels) is another capture
        grown = (cap.steps, len(cap.layers), id(cap.tokens), id(cap.labels))
        args = self.frame_selection() if selection is None else frame_args(cap, selection)
        return (_hashable(args), traits, grown)

    def _cached_frame(self, fresh: bool = False, selection: dict | None = None) -> Frame:
        """``frame()`` (or the frame of another ``selection`` under the view's other traits),
        from the cache when the same selection was computed lately.

        ``fresh`` recomputes (and replaces the cached frame).
        """
        cache = self._frame_cache

        def compute() -> Frame:
            return self.frame() if selection is None else view_frame(self.cap, self.view_spec(), selection)

        key = self._cache_key(selection)
        try:
            hash(key)
        except TypeError:  # an unhashable selection value: no caching
            return compute()
        hit = None if fresh else cache.pop(key, None)
        fr = hit if hit is not None else compute()
        cache.pop(key, None)
        cache[key] = fr  # most recent last
        while len(cache) > FRAME_CACHE_SIZE:
            del cache[next(iter(cache))]
        return fr

    def refresh(self) -> None:
        """Recompute the frame (and the capture's shared colour ranges) and send it to the browser."""
        forget_ranges(self.cap)
        # frames held in the page were computed before: none of their keys is asked for again
        self.__dict__["_refreshes"] = self.__dict__.get("_refreshes", 0) + 1
        self._send_frame(fresh=True)

    def _state_for(self, selection: dict) -> dict | None:
        """What the view would send for another selection (under its other traits now), or None
        where that selection has no frame."""
        state = view_state(
            self.cap, self._spec(), selection, frame_of=lambda: self._cached_frame(selection=selection)
        )
        return None if state[self._meta_trait].get("error") else state

    def _send_frame(self, fresh: bool = False) -> None:
        started = time.perf_counter()
        selection, prefetch = self.selection(), self._prefetch
        key = None if prefetch is None else prefetch.key(selection)
        # a frame sent before and still held in the page: the same codes, header and labels
        state = None if key is None or fresh else prefetch.held_state(key)  # type: ignore[union-attr]
        if state is None:
            state = view_state(
                self.cap, self._spec(), selection, frame_of=lambda: self._cached_frame(fresh=fresh)
            )
        meta = {**state[self._meta_trait], "compute_ms": round((time.perf_counter() - started) * 1000, 2)}
        state[self._meta_trait] = meta
        if prefetch is not None and key is not None:
            error = meta.get("error")
            state["_frame_key"] = None if error else prefetch.shown(key, state, selection, self.view_spec())
        # every frame sent has its own version: the browser drops row values of older ones
        state["_frame_version"] = self._frame_version + 1
        with self.hold_sync():
            for name, value in state.items():
                if name != "_labels" or value != self._labels:  # unchanged labels are not sent again
                    setattr(self, name, value)

    def _redraw(self, change=None) -> None:
        if self._ready:
            self._send_frame()
            self._send_now()

    def _wants_diverging(self) -> bool:
        """Whether the selection is a difference map: a class difference, or a site that
        ``cap.metadata["difference_sites"]`` lists (``aw.compare``'s ``a − b`` sites)."""
        if getattr(self, "difference", None) is not None:
            return True
        listed = (self.cap.metadata or {}).get("difference_sites") or ()
        try:
            return bool(listed) and self.cap.site_name(self.layer) in listed
        except (IndexError, KeyError, TypeError):
            return False

    @t.observe("difference", "layer")
    def _diverging(self, change) -> None:
        # a difference map reads on a diverging colormap, linear, centred on zero; the colormap
        # and scale shown before come back when the selection leaves it (a linked view that
        # already switched leaves nothing to restore here)
        now, before = self._wants_diverging(), "_before_difference" in self.__dict__
        with self.hold_sync():
            if now and not before:
                saved = {}
                if self.has_trait("colormap") and self.colormap != DIVERGING:
                    saved["colormap"], self.colormap = self.colormap, DIVERGING
                if self.has_trait("scale") and self.scale != "linear":
                    saved["scale"], self.scale = self.scale, "linear"
                self.__dict__["_before_difference"] = saved
            elif before and not now:
                saved = self.__dict__.pop("_before_difference", {})
                if saved.get("colormap") and self.colormap == DIVERGING:
                    self.colormap = saved["colormap"]
                if saved.get("scale") and self.scale == "linear":
                    self.scale = saved["scale"]

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
            reply = dict(handler(content) or {})
        except (t.TraitError, IndexError, KeyError, ValueError, TypeError) as e:
            self.send({"type": "error", "id": mid, "message": str(e)})
            return
        buffers = reply.pop("_buffers", None)
        self.send({"type": "ok", "id": mid, **reply}, buffers)

    def _msg_row(self, content: dict) -> dict:
        """``{type: "row", row: i, id}``: the exact values of row ``i`` of the frame shown now.

        Answered with ``{type: "ok", id, row, cols, version}`` and one buffer of
        ``cols`` little-endian float32 values (``view.frame().values[i]``;
        NaN where the cell is NaN); ``version`` is the frame's, so the browser
        can drop an answer about a frame it no longer draws.
        """
        row = content.get("row")
        if isinstance(row, bool) or not isinstance(row, int):
            raise ValueError(f"a row message needs an integer row index, not {row!r}")
        key = content.get("key")
        values = self._cached_frame().values if key is None else self._held_values(key)
        if not 0 <= row < values.shape[0]:
            raise IndexError(
                f"row {row} is out of range: the frame shown has {values.shape[0]} rows "
                f"(0..{values.shape[0] - 1})"
            )
        data = np.ascontiguousarray(values[row], dtype="<f4")
        reply = {
            "row": row,
            "cols": int(data.shape[0]),
            "version": self._frame_version,
            "_buffers": [memoryview(data).cast("B")],
        }
        if key is not None:
            reply["key"] = key  # the frame the values are of, named as the page named it
        return reply

    def _held_values(self, key: Any) -> np.ndarray:
        """The values of the frame the page holds under ``key`` (the frame it draws)."""
        held = None if self._prefetch is None or not isinstance(key, list) else self._prefetch.ledger.get(key)
        if held is None:
            raise ValueError(
                f"the page asked for a row of a frame this view no longer holds (key {key!r}); "
                "the tooltip shows the colour code's value until the next frame"
            )
        if held.spec == self.view_spec():
            return self._cached_frame(selection=held.selection).values
        return view_frame(self.cap, held.spec, held.selection).values

    def _msg_held(self, content: dict) -> dict:
        """``{type: "held", what: "reset"}``: the page holds a new store (the frame shown, nothing
        else); frames are sent ahead from now on."""
        if content.get("what") != "reset":
            raise ValueError(f"a held message says what='reset', not {content.get('what')!r}")
        if self._prefetch is None:
            raise ValueError(f"{type(self).__name__.lstrip('_')} holds no frames in the page")
        self._prefetch.reset()
        return {"held": len(self._prefetch.ledger.frames)}

    def _msg_select(self, content: dict) -> dict:
        """``{type: "select", layer?, head?}``: the browser picked a layer and/or head."""
        with self.hold_trait_notifications():
            if "layer" in content:
                self.layer = int(content["layer"])
            if "head" in content:
                self.head = content["head"]
        return {"layer": self.layer, "head": self.head}
