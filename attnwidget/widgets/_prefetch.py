"""Frames a matrix view sends ahead, so a change made in the page draws without the kernel.

After a heatmap or weights matrix sends the frame it shows, it sends the frames a user
is likely to ask for next (:func:`neighbours`): the heads one arrow key away, the
neighbouring steps, then the other heads of the layer and ``"mean"``. The page holds
them (``js/prefetch.js``) and draws one at once when its own model's selection asks for
exactly that frame (a control linked in the page, an arrow key, a thumbnail click, a pick in
an explorer's head dropdown: its index names a head by :func:`head_at`).

Each frame has a *key*: a list of the view's epoch (:meth:`Prefetcher.epoch`: it
changes with the capture, its growth, the tokens, the groups and ``refresh()``) and the
values of its key traits (:func:`key_traits`: the selection, ``color_range``, and the
traits that shape the frame: scale, zoom region, size, significance), in the order the
synced trait ``_held["traits"]`` names them. The page reads the same traits from its
model, so a held frame is only drawn for the whole selection it was computed for; the
colormap is not in the key (codes are colormap-free), and the colour range the codes
were made with is, through the epoch: anything that changes a shared range starts a
new one. The synced ``_frame_key`` carries the key of the frame shown and its labels key.

A frame sent ahead is one custom message, ``{type: "held", key, meta, labels_key,
labels?}``, with its uint8 codes as the one buffer (deflated where that pays, as the
frame shown is: :func:`attnwidget.wire.deflate_codes`): a custom message rather than a
synced bytes trait, because it is no part of the widget's state (a saved notebook, a
``get_state()``, a standalone page never carry it), it changes no trait the page
redraws on, and each can be sent on its own, after the frame shown, and dropped when the
selection moves on. ``meta`` is the header the frame would have as ``_frame_meta`` (value
range, caption, ``outline`` of a class difference's significant cells...); ``labels``
travel only when the page does not hold that labels key already.

The page keeps at most :data:`PAGE_BUDGET` bytes of codes per view (16 MiB: 64 frames of
512 x 512), dropping the oldest first, and :data:`LABELS_HELD` label sets. The
:class:`Ledger` here keeps the same account, changed only by the messages both sides
see in the same order (the frame shown and each frame sent ahead are put, moved to
newest), so nothing the page holds is sent again; a new store in the page says
``{type: "held", what: "reset"}`` and the ledger starts again from the frame shown.
The ledger also keeps what was sent (codes, header, labels, selection), so the kernel's
answer to a selection the page already drew costs no frame computation.

Timing: the frame shown goes first, in the change's own message; the frames sent ahead
are computed afterwards on the kernel's event loop, one per loop turn from
:data:`START_AFTER_S` on (:data:`RESET_AFTER_S` after a page's new store: the cell's other
views may still be painting; messages from the page are handled in between), and a newer
frame shown drops what is left of the round. Nothing is sent ahead before the page has
said it holds frames (its first reset), nor where no event loop runs (plain Python:
:meth:`Prefetcher.run` sends a round at once).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._view_state import SELECTION
from ..wire import deflate_codes

__all__ = [
    "REDUCED_HEADS",
    "head_at",
    "head_index",
    "PAGE_BUDGET",
    "LABELS_HELD",
    "START_AFTER_S",
    "RESET_AFTER_S",
    "key_traits",
    "key_text",
    "labels_key",
    "neighbours",
    "Held",
    "Ledger",
    "Prefetcher",
]

#: bytes of uint8 codes the page holds per view (the oldest frames are dropped first)
PAGE_BUDGET = 16 * 1024 * 1024
#: label sets the page holds per view
LABELS_HELD = 16
#: seconds after the frame shown before the frames ahead are computed: the page draws it first, and
#: changes that come faster than this (a person clicking on) are not slowed by frames sent ahead
START_AFTER_S = 0.1
#: seconds after a page's new store (a view just rendered, other views of the cell still painting)
RESET_AFTER_S = 0.3
#: a round sends ahead at most this share of the budget (the frame shown and the last round stay)
ROUND_SHARE = 0.5


#: the heads that reduce over heads, first in the order the arrow keys walk heads and the head
#: dropdown lists them (``mean, max, 0, 1, ...``): js/prefetch.js REDUCED_HEADS is the same
REDUCED_HEADS: tuple[str, ...] = ("mean", "max")


def head_at(index: int) -> str | int:
    """The head a head dropdown's index names: 0 -> ``"mean"``, 1 -> ``"max"``, ``i + 2`` -> head ``i``
    (js/prefetch.js ``headAt``, which a heatmap linked to the dropdown in the page applies)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"a head index is an int >= 0 (0 mean, 1 max, i + 2 head i), not {index!r}")
    index = int(index)
    return REDUCED_HEADS[index] if index < len(REDUCED_HEADS) else index - len(REDUCED_HEADS)


def head_index(head: str | int, heads: int | None = None) -> int:
    """The head dropdown's index of a head (:func:`head_at` inverted); a negative head counts from
    the end of ``heads``."""
    if isinstance(head, str):
        if head not in REDUCED_HEADS:
            raise ValueError(f"head must be an int or one of {REDUCED_HEADS}, not {head!r}")
        return REDUCED_HEADS.index(head)
    h = int(head)
    if h < 0 and heads:
        h %= heads
    if h < 0:
        raise ValueError(f"head {head} counts from the end, but the site's number of heads is unknown")
    return h + len(REDUCED_HEADS)


def key_traits(view) -> tuple[str, ...]:
    """The traits a view's frames depend on, in key order: the selection, the colour range,
    then the view's ``_redraw_on`` traits (the colormap is never one)."""
    return (*SELECTION, "color_range", *(n for n in view._redraw_on if n != "colormap"))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def key_text(key: list) -> str:
    """The string a key list is held under; the list as the page sends it back gives the same
    string (integral floats are written as integers, as JavaScript writes them)."""

    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(_plain(key)), separators=(",", ":"), ensure_ascii=False)


def labels_key(labels: dict) -> str:
    """A short digest naming a label set (``{"rows": [...], "cols": [...]}``)."""
    text = json.dumps([labels.get("rows", []), labels.get("cols", [])], ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def neighbours(cap, selection: dict, kind: str, came_from: dict | None = None) -> list[dict]:
    """The selections a user is likely to ask for next, most likely first.

    The heads one arrow key away (in the arrow keys' order ``mean, max, 0, 1, ...``),
    the steps before and after where the site has steps, then the other heads of the
    layer outwards and ``"mean"``. Coming from ``came_from`` (the selection shown before)
    by a step, the steps go first; by a head or a step, the one further the same way
    goes before the one back (Play, a slider dragged, a key held down). A weights site
    has no heads to walk; steps the site holds nothing at are left out.
    """
    name = cap.site_name(selection["layer"])
    heads = cap.num_heads(name) if kind != "weights" and cap.kinds[name] != "weights" else None
    order: list[Any] = [*REDUCED_HEADS, *range(heads or 0)]
    here = order.index(selection["head"]) if (heads or 0) > 1 and selection["head"] in order else None
    step = selection["step"]
    moved = {k for k in selection if came_from is not None and came_from.get(k) != selection[k]}
    ahead_head = ahead_step = 1
    if moved == {"head"} and here is not None and came_from["head"] in order:  # type: ignore[index]
        ahead_head = 1 if order.index(came_from["head"]) < here else -1  # type: ignore[index]
    if moved == {"step"}:
        ahead_step = 1 if came_from["step"] < step else -1  # type: ignore[index]
    near_heads: list[dict] = []
    if here is not None:
        near = [i for i in (here + ahead_head, here - ahead_head) if 0 <= i < len(order)]
        near_heads = [{**selection, "head": order[i]} for i in near]
    near_steps = [
        {**selection, "step": s}
        for s in (step + ahead_step, step - ahead_step)
        if 0 <= s < cap.steps and cap.holds(name, s) is not None
    ]
    out = near_steps + near_heads if moved == {"step"} else near_heads + near_steps
    if here is not None:
        rest = sorted(
            (i for i in range(2, len(order)) if abs(i - here) > 1), key=lambda i: (abs(i - here), i)
        )
        out += [{**selection, "head": order[i]} for i in rest]
        if here > 1:  # "mean" one key away is in `near` already
            out.append({**selection, "head": "mean"})
    return out


@dataclass
class Held:
    """What the page holds under one key, and what the kernel needs to answer for it."""

    key: list
    nbytes: int
    labels_key: str
    selection: dict
    spec: Any
    payload: bytes
    meta: dict


class Ledger:
    """The kernel's account of the frames and label sets the page holds (the page keeps the same)."""

    def __init__(self, budget: int = PAGE_BUDGET, label_sets: int = LABELS_HELD):
        self.budget = budget
        self.label_sets = label_sets
        self.frames: OrderedDict[str, Held] = OrderedDict()
        self.labels: OrderedDict[str, dict] = OrderedDict()
        self.bytes = 0

    def put(self, held: Held, labels: dict) -> None:
        """Hold a frame (moved to newest when held), then drop the oldest beyond the budget
        (the newest is kept even when it alone is over it); its labels likewise."""
        text = key_text(held.key)
        old = self.frames.pop(text, None)
        if old is not None:
            self.bytes -= old.nbytes
        self.frames[text] = held
        self.bytes += held.nbytes
        while self.bytes > self.budget and len(self.frames) > 1:
            _, dropped = self.frames.popitem(last=False)
            self.bytes -= dropped.nbytes
        self.labels.pop(held.labels_key, None)
        self.labels[held.labels_key] = labels
        while len(self.labels) > self.label_sets:
            self.labels.popitem(last=False)

    def get(self, key: list | str) -> Held | None:
        return self.frames.get(key if isinstance(key, str) else key_text(key))

    def holds(self, key: list) -> bool:
        return key_text(key) in self.frames

    def holds_labels(self, lk: str) -> bool:
        return lk in self.labels

    def clear(self) -> None:
        self.frames.clear()
        self.labels.clear()
        self.bytes = 0


class Prefetcher:
    """Sends a view's likely next frames after the frame it shows (see the module docstring).

    ``view`` is a :class:`~attnwidget.widgets._view.View`; it calls :meth:`shown` after
    each frame it sends, :meth:`reset` on the page's reset message, and asks
    :meth:`held_state` for a selection's state before computing it.
    """

    def __init__(self, view, budget: int = PAGE_BUDGET):
        self.view = view
        self.ledger = Ledger(budget)
        self.traits = key_traits(view)
        self.page = False  # whether the page said it holds frames (its first reset)
        self.sent = 0  # frames sent ahead
        self.sent_bytes = 0  # their codes
        self._epoch = 0
        self._stamp: Any = None
        self._queue: list[dict] = []
        self._round = 0
        self._handle: Any = None
        self._room = 0
        self._shown: Held | None = None
        self._came_from: dict | None = None  # the selection shown before the one shown now
        self._shown_labels: dict = {"rows": [], "cols": []}

    # ------------------------------------------------------------ keys
    def epoch(self) -> int:
        """A count that changes whenever the frames may change under the same trait values."""
        view, cap = self.view, self.view.cap
        stamp = (
            id(cap),
            cap.steps,
            len(cap.layers),
            id(cap.tokens),
            id(cap.labels),
            id(view.tokens),
            id(view.groups),
            view.__dict__.get("_refreshes", 0),
        )
        if stamp != self._stamp:
            self._stamp = stamp
            self._epoch += 1
        return self._epoch

    def key(self, selection: dict) -> list:
        """The key of a selection's frame under the view's other traits now."""
        values = {**{n: getattr(self.view, n) for n in self.traits}, **selection}
        return [self.epoch(), *(_plain(values[n]) for n in self.traits)]

    def budget_info(self) -> dict:
        """The synced ``_held`` trait: the key traits' names, in order, and the page's budget."""
        return {"traits": list(self.traits), "budget": self.ledger.budget}

    # ------------------------------------------------------------ the frame shown
    def held_state(self, key: list) -> dict | None:
        """The state sent for a key before (codes, header, labels), while the page holds it."""
        held = self.ledger.get(key)
        if held is None or held.labels_key not in self.ledger.labels:
            return None
        labels = self.ledger.labels[held.labels_key]
        return {"_frame": held.payload, "_frame_meta": dict(held.meta), "_labels": labels}

    def shown(self, key: list, state: dict, selection: dict, spec: Any) -> dict:
        """The frame shown is sent: hold it, start a round for its neighbours; returns its
        ``_frame_key``: the key, the labels key, and how far the page may move the selection
        itself (``heads`` of the site, None without a head axis; the capture's ``steps``)."""
        labels = state["_labels"]
        lk = labels_key(labels)
        meta = {k: v for k, v in state["_frame_meta"].items() if k != "compute_ms"}
        held = Held(key, len(state["_frame"]), lk, dict(selection), spec, state["_frame"], meta)
        self.ledger.put(held, labels)
        self._came_from = None if self._shown is None else self._shown.selection
        self._shown, self._shown_labels = held, labels
        self._start(selection)
        return {"key": key, "labels": lk, **self.moves(selection)}

    def moves(self, selection: dict) -> dict:
        """The heads and steps an arrow key walks from a selection (js/prefetch.js pageMove), as
        ``_msg_move`` walks them: heads only where the site has query x key heads."""
        cap = self.view.cap
        name = cap.site_name(selection["layer"])
        heads = cap.num_heads(name) if cap.kinds[name] != "weights" else None
        return {"heads": heads, "steps": max(cap.steps, 1)}

    def reset(self) -> None:
        """The page holds a new store: the frame shown and nothing else."""
        self.page = True
        self.ledger.clear()
        if self._shown is not None:
            self.ledger.put(self._shown, self._shown_labels)
            self._start(self._shown.selection, RESET_AFTER_S)

    # ------------------------------------------------------------ rounds
    def _start(self, selection: dict, after: float = START_AFTER_S) -> None:
        self._round += 1
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self.page:
            self._queue = []
            return
        view = self.view
        try:
            self._queue = neighbours(view.cap, selection, view.view_spec().kind, self._came_from)
        except (IndexError, KeyError, ValueError, TypeError):
            self._queue = []
        self._room = int(self.ledger.budget * ROUND_SHARE)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (plain Python): run() sends the round
        self._handle = loop.call_later(after, self._step, self._round, loop)

    def _step(self, round_: int, loop) -> None:
        self._handle = None
        if round_ != self._round:
            return
        if self._send_next() and self._queue:
            self._handle = loop.call_soon(self._step, round_, loop)

    def run(self) -> int:
        """Send what is left of the round now (where no event loop runs); returns frames sent."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        before = self.sent
        while self._queue and self._send_next():
            pass
        return self.sent - before

    def _send_next(self) -> bool:
        """Send the next neighbour the page does not hold; False when the round is over."""
        view = self.view
        while self._queue:
            selection = self._queue.pop(0)
            key = self.key(selection)
            if self.ledger.holds(key):
                continue
            try:
                state = view._state_for(selection)
            except Exception:  # noqa: BLE001 - a guess ahead: its error is the view's to show if asked
                state = None
            if state is None:
                continue  # nothing to show there (the view would say why): nothing to hold
            payload = state["_frame"]
            if len(payload) > self._room:
                self._queue = []
                return False
            self._room -= len(payload)
            labels = state["_labels"]
            lk = labels_key(labels)
            meta = state["_frame_meta"]
            held = Held(key, len(payload), lk, dict(selection), view.view_spec(), payload, meta)
            content: dict = {"type": "held", "key": key, "meta": meta, "labels_key": lk}
            if not self.ledger.holds_labels(lk):
                content["labels"] = labels
            self.ledger.put(held, labels)
            view.send(content, [deflate_codes(payload)])
            self.sent += 1
            self.sent_bytes += len(payload)
            return True
        return False
