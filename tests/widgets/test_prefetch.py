"""Frames a matrix view sends ahead (attnwidget/widgets/_prefetch.py): what, in what order,
within what budget, under which keys, and the row answers for a held frame.

The page's side (which frame it draws, its store) is tests/js/prefetch.test.js; a head
picked in a real page and drawn from these frames is tests/browser/test_prefetch_browser.py.
Messages are read where the widget puts them on the wire (``Widget._send``); the page's
messages go in through the widget's own handler (``_on_message``).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures

import numpy as np
import pytest

import attnwidget as aw
from attnwidget._view_state import shared_range
from attnwidget.widgets import _prefetch
from attnwidget.widgets._prefetch import PAGE_BUDGET, Held, Ledger, key_text, neighbours


class Wire:
    """The comm messages a widget sends, in order: ("state", state, buffers) or ("held", content, buffers)."""

    def __init__(self, view):
        self.messages: list = []
        real = view._send

        def send(msg, buffers=None):
            kind = msg["content"].get("type") if msg.get("method") == "custom" else msg["method"]
            body = msg["content"] if msg.get("method") == "custom" else msg.get("state", {})
            self.messages.append((kind, body, [bytes(b) for b in buffers or []]))
            return real(msg, buffers=buffers)

        view._send = send

    def take(self, kind=None) -> list:
        out, self.messages = self.messages, []
        return [m for m in out if kind is None or m[0] == kind]


def on_a_loop(coroutine_function):
    """Run a coroutine on an event loop of its own, in a thread of its own: the browser tests'
    Playwright keeps an event loop running in the main thread for the whole session, and
    ``asyncio.run`` refuses to start a second one there."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_function())).result()


def page_opens(view) -> None:
    """What the page does when it renders the view: a new store, told to the kernel."""
    view._on_message(view, {"type": "held", "what": "reset", "id": 1}, [])


def shown_state(view) -> tuple[bytes, dict]:
    meta = {k: v for k, v in view._frame_meta.items() if k != "compute_ms"}
    return view._frame, meta


def test_the_other_heads_then_the_neighbouring_steps_are_sent_after_the_frame_shown(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=0, head=1, step=1)
    wire = Wire(hm)
    assert hm._held["traits"][:8] == [
        "layer",
        "head",
        "sample",
        "label",
        "step",
        "stat",
        "difference",
        "color_range",
    ]
    assert hm._prefetch.run() == 0  # nothing before the page says it holds frames
    page_opens(hm)
    assert hm._prefetch.run() == 6
    held = wire.take("held")
    picked = [(c["key"][2], c["key"][5]) for _, c, _ in held]  # (head, step)
    # one arrow key away first (head 2, head 0), the steps either side, then the rest outwards, "mean"
    # ("max" only where it is one key away)
    assert picked == [(2, 1), (0, 1), (1, 2), (1, 0), (3, 1), ("mean", 1)]
    assert all(c["key"][0] == hm._frame_key["key"][0] for _, c, _ in held)  # one epoch
    # each is exactly what the view sends when that selection is shown
    for _, content, buffers in held:
        head, step = content["key"][2], content["key"][5]
        hm.head, hm.step = head, step
        codes, meta = shown_state(hm)
        assert buffers == [codes] and content["meta"] == meta
        assert content["meta"]["where"]["head"] == head and content["meta"]["where"]["step"] == step


def test_the_page_is_not_sent_what_it_holds_and_the_frame_shown_goes_first(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=0, head=0)
    page_opens(hm)
    hm._prefetch.run()
    wire = Wire(hm)
    hm.head = 1  # held already: its answer is the held frame, then only what is new around head 1
    first, *rest = wire.take()
    assert first[0] == "update" and len(first[2]) == 1 and len(first[2][0]) == 12 * 12
    assert rest == []  # nothing sent ahead inside the change itself
    assert hm._prefetch.run() == 1  # head 1 at step 1: the heads of step 0 are held
    assert hm._prefetch.run() == 0 and [m[0] for m in wire.take()] == ["held"]
    hm.head = 0
    assert hm._prefetch.run() == 0  # everything around head 0 is held
    hm.head = 1
    assert hm._prefetch.run() == 0 and [m[0] for m in wire.take()] == ["update", "update"]


def test_rounds_run_on_the_event_loop_after_the_frame_shown(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=0, head=0)
    page_opens(hm)
    hm._prefetch.run()
    wire = Wire(hm)

    async def change_then_idle():
        hm.layer = 1  # nothing held for layer 1
        sent_in_change = [m[0] for m in wire.messages]
        await asyncio.sleep(0.3)
        return sent_in_change

    assert on_a_loop(change_then_idle) == ["update"]
    kinds = [m[0] for m in wire.take()]
    assert kinds[0] == "update" and kinds.count("held") == 6  # heads of layer 1, its step 1, "mean"

    async def two_quick_changes():
        hm.head = 2
        hm.step = 2  # before the round of head 2 starts: that round is dropped
        await asyncio.sleep(0.3)

    on_a_loop(two_quick_changes)
    keys = [c["key"] for kind, c, _ in wire.take() if kind == "held"]
    assert keys and all(k[5] in (1, 2) for k in keys)  # around step 2 only
    assert [k for k in keys if k[5] == 1] == [hm._prefetch.key({**hm.selection(), "step": 1})]


def test_the_ledger_keeps_the_budget_dropping_the_oldest_first():
    ledger = Ledger(budget=12)
    for name, n in [("a", 4), ("b", 4), ("c", 4), ("a", 4), ("d", 6), ("e", 1)]:
        ledger.put(Held([1, name], n, "L", {}, None, b"", {}), {"rows": [], "cols": []})
    # the same puts as tests/js/prefetch.test.js: the page keeps the same frames
    assert list(ledger.frames) == [key_text([1, x]) for x in ("a", "d", "e")] and ledger.bytes == 11
    ledger.put(Held([1, "big"], 40, "L", {}, None, b"", {}), {})
    assert list(ledger.frames) == [key_text([1, "big"])]  # alone over the budget: kept


def test_a_view_keeps_within_the_page_budget(big_cap, monkeypatch):
    monkeypatch.setattr(_prefetch, "PAGE_BUDGET", 3 * 600 * 600)
    hm = aw.Heatmap(big_cap, head=0, size=600)
    assert hm._held["budget"] == PAGE_BUDGET  # the budget is read when the view is made
    hm._prefetch.ledger.budget = 3 * 600 * 600
    page_opens(hm)
    hm._prefetch.run()
    for head in ("mean", 1, "max", 0):
        hm.head = head
        hm._prefetch.run()
        assert hm._prefetch.ledger.bytes <= 3 * 600 * 600
    assert hm._prefetch.ledger.holds(hm._frame_key["key"])  # the frame shown is the newest


def test_every_key_trait_tells_frames_apart_and_the_colormap_does_not(cap):
    hm = aw.Heatmap(cap, layer=0, head=0)
    base = key_text(hm._frame_key["key"])
    for name, value in [
        ("layer", 1),
        ("head", 2),
        ("sample", 3),
        ("label", 1),
        ("color_range", "shared"),
        ("scale", "log"),
        ("region", [0, 5, 0, 5]),
        ("size", 4),
        ("significance", 0.01),
    ]:
        view = aw.Heatmap(cap, layer=0, head=0)
        setattr(view, name, value)
        assert key_text(view._frame_key["key"])[3:] != base[3:], name
    hm.colormap = "magma"
    assert key_text(hm._prefetch.key(hm.selection())) == base


def test_the_epoch_moves_with_refresh_tokens_and_capture(cap, torch_cap):
    hm = aw.Heatmap(cap, layer=0, head=0)
    epochs = [hm._frame_key["key"][0]]
    hm.refresh()
    epochs.append(hm._frame_key["key"][0])
    hm.tokens = [f"t{i}" for i in range(10)]
    hm.refresh()
    epochs.append(hm._frame_key["key"][0])
    hm.update(torch_cap, tokens=None)
    epochs.append(hm._frame_key["key"][0])
    assert len(set(epochs)) == 4


def test_a_shared_range_is_the_range_of_every_held_frame(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=0, head=0, color_range="shared")
    wire = Wire(hm)
    page_opens(hm)
    hm._prefetch.run()
    lo, hi = shared_range(torch_cap, hm._spec(), hm.selection())
    metas = [c["meta"] for _, c, _ in wire.take("held")]
    assert metas and all((m["vmin"], m["vmax"]) == (lo, hi) and m["color_range"] == "shared" for m in metas)
    assert hm._frame_key["key"][8] == "shared"


def test_a_held_difference_map_carries_its_outline(cap):
    hm = aw.Heatmap(cap, layer=0, head=0, difference=(1, 0), significance=0.5)
    wire = Wire(hm)
    page_opens(hm)
    hm._prefetch.run()
    held = {c["key"][2]: c["meta"] for _, c, _ in wire.take("held")}
    assert set(held) >= {1, "max", 2, 3, "mean"}
    for head, meta in held.items():
        hm.head = head
        shown = shown_state(hm)[1]
        assert meta.get("outline") == shown.get("outline") and meta["caption"] == shown["caption"]
    assert any("outline" in meta for meta in held.values()), "no head has a cell to outline: a weak test"
    bits = np.unpackbits(
        np.frombuffer(base64.b64decode(next(m["outline"] for m in held.values() if "outline" in m)), np.uint8)
    )
    assert bits.any()


def test_a_row_message_with_a_key_answers_for_that_frame(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=0, head=0)
    wire = Wire(hm)
    page_opens(hm)
    hm._prefetch.run()
    key3 = next(c["key"] for _, c, _ in wire.take("held") if c["key"][2] == 3)
    hm.head = 1  # the kernel shows head 1; the page still draws head 3
    wire.take()
    hm._on_message(hm, {"type": "row", "row": 4, "id": "row:1", "key": key3}, [])
    ((_, reply, buffers),) = wire.take()
    assert reply["type"] == "ok" and reply["key"] == key3
    want = aw.frame(torch_cap, 0, head=3).values[4]
    np.testing.assert_array_equal(np.frombuffer(buffers[0], "<f4"), want)
    assert not np.array_equal(want, aw.frame(torch_cap, 0, head=1).values[4])
    # a key the view never sent, or no longer holds: an error the tooltip shows as the code's value
    hm._on_message(hm, {"type": "row", "row": 4, "id": "row:2", "key": [99, 0, 0]}, [])
    ((_, reply, _),) = wire.take()
    assert reply["type"] == "error" and "no longer holds" in reply["message"]


def test_the_answer_for_a_held_frame_computes_nothing(torch_cap, monkeypatch):
    hm = aw.Heatmap(torch_cap, layer=0, head=0)
    page_opens(hm)
    hm._prefetch.run()
    calls = []
    real = aw.widgets._view.view_state
    monkeypatch.setattr(aw.widgets._view, "view_state", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    hm.head = 2
    assert calls == [] and hm._frame_meta["where"]["head"] == 2
    hm.layer = 1  # not held: computed
    assert len(calls) == 1


def test_views_that_hold_no_frames_send_none(cap, vit_cap):
    grid = aw.HeadGrid(cap)
    overlay = aw.ImageOverlay(vit_cap, np.zeros((8, 8, 3), np.uint8))
    for view in (grid, overlay):
        assert view._held is None and view._prefetch is None
    wire = Wire(overlay)
    overlay._on_message(overlay, {"type": "held", "what": "reset", "id": 3}, [])
    ((_, reply, _),) = wire.take()
    assert reply["type"] == "error" and "holds no frames" in reply["message"]
    assert overlay._frame_key is None


def test_neighbours_go_on_the_way_the_selection_was_going(torch_cap):
    sel = {"layer": 0, "head": 1, "sample": 0, "label": None, "step": 1, "stat": "mean", "difference": None}
    # Play, or a slider dragged on: the next step first, then the one back, then the heads
    played = neighbours(torch_cap, sel, "heatmap", came_from={**sel, "step": 2})
    assert [(n["head"], n["step"]) for n in played[:4]] == [(1, 0), (1, 2), (2, 1), (0, 1)]
    # a head key held down: the next head that way first
    keyed = neighbours(torch_cap, sel, "heatmap", came_from={**sel, "head": 2})
    assert [(n["head"], n["step"]) for n in keyed[:4]] == [(0, 1), (2, 1), (1, 2), (1, 0)]
    # another layer, a first frame: the heads either side, then the steps
    assert [(n["head"], n["step"]) for n in neighbours(torch_cap, sel, "heatmap")[:4]] == [
        (2, 1),
        (0, 1),
        (1, 2),
        (1, 0),
    ]


@pytest.mark.parametrize(
    "head, want", [("mean", ["max", "step", 0, 1, 2, 3]), (3, [2, "step", 1, 0, "mean"])]
)
def test_neighbours_walk_the_heads_as_the_arrow_keys_do(torch_cap, head, want):
    sel = {
        "layer": 0,
        "head": head,
        "sample": 0,
        "label": None,
        "step": 0,
        "stat": "mean",
        "difference": None,
    }
    got = ["step" if n["step"] != 0 else n["head"] for n in neighbours(torch_cap, sel, "heatmap")]
    assert got == want


def test_the_frame_key_says_how_far_the_page_may_move_as_the_kernel_moves(torch_cap, weights_cap):
    hm = aw.Heatmap(torch_cap, layer=1, head="max", step=2)
    assert hm._frame_key["heads"] == 4 and hm._frame_key["steps"] == 3
    # the kernel's own move walks the same heads and steps (js/prefetch.js pageMove mirrors it)
    walked = []
    for _ in range(7):
        hm._on_message(hm, {"type": "move", "what": "head", "by": 1, "id": 1}, [])
        walked.append(hm.head)
    assert walked == [0, 1, 2, 3, 3, 3, 3]
    hm._on_message(hm, {"type": "move", "what": "step", "by": 1, "id": 2}, [])
    assert hm.step == 2  # the last of the 3 steps: it stays
    canvas = aw.WeightsView(weights_cap, layer=1).canvas
    assert canvas._frame_key["heads"] is None  # weights have no heads to walk


# ---------------------------------------------------------------- the whole-model view's first paint
def test_a_model_wide_grid_pools_to_about_a_cell_per_pixel_unless_thumb_is_given():
    rng = np.random.default_rng(4)
    cap = aw.Capture()
    for layer in range(3):
        cap.add(f"enc.{layer}.attn", 0, rng.random((1, 12, 128, 128)).astype(np.float32), kind="self")
    grid = aw.HeadGrid(cap, mode="model")
    # a row of 12 heads in the 326-pixel panel: ~19 pixels a thumbnail, 32 cells (not 64)
    assert grid.thumb_cells() == 32 and {tuple(t["shape"]) for t in grid._thumbs_meta["thumbs"]} == {(32, 32)}
    assert len(grid._thumbs) == 36 * 32 * 32
    np.testing.assert_array_equal(grid.frames()[5].values, aw.frame(cap, 0, head=5, size=32).values)
    assert aw.HeadGrid(cap, mode="model", thumb=64).thumb_cells() == 64  # given: kept
    layer = aw.HeadGrid(cap)
    assert layer.thumb_cells() == 64  # one layer: the panel holds a 4 x 3 grid of big thumbnails
    layer.mode = "model"
    assert {tuple(t["shape"]) for t in layer._thumbs_meta["thumbs"]} == {(32, 32)}
