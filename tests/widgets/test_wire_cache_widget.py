"""What a change costs: labels sent only when they change, and the per-view frame cache."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

import attnwidget as aw
from attnwidget import wire as _wire
from attnwidget._frame import frame
from attnwidget.store import Capture
from attnwidget.widgets import _view
from attnwidget.wire import quantize


class Wire:
    """Record the comm messages a widget sends (what the kernel puts on the wire)."""

    def __init__(self, view):
        self.messages = []
        real = view._send

        def send(msg, buffers=None):
            self.messages.append((msg, [bytes(b) for b in buffers or []]))
            return real(msg, buffers=buffers)

        view._send = send

    def take(self):
        out, self.messages = self.messages, []
        return out


def count_changes(view, name):
    seen = []
    view.observe(lambda change: seen.append(change), names=[name])
    return seen


def test_meta_is_small_and_labels_travel_apart(cap):
    hm = aw.Heatmap(cap, layer=1)
    assert "row_labels" not in hm._frame_meta and "col_labels" not in hm._frame_meta
    assert hm._labels == {"rows": [str(s) for s in cap.tokens], "cols": [str(s) for s in cap.tokens]}


def test_a_change_with_the_same_labels_sends_codes_and_a_small_header(cap):
    n = 128
    c = Capture()
    rng = np.random.default_rng(0)
    c.add("l0", 0, rng.random((1, 4, n, n)).astype(np.float32), kind="self")
    c.add("l1", 0, rng.random((1, 4, n, n)).astype(np.float32), kind="self")
    hm = aw.Heatmap(c, tokens=[f"token{i}" for i in range(n)], layer=0, head=0)
    labels_changes = count_changes(hm, "_labels")
    wire = Wire(hm)
    for layer, head in ((1, 0), (1, 3), (0, 3), (0, 0)):
        hm.layer, hm.head = layer, head
        messages = wire.take()
        assert len(messages) == 1  # the selection's own update and the frame, together
        msg = messages[0][0]
        assert "_frame_meta" in msg["state"] and ["_frame"] in msg["buffer_paths"]
        states = [msg["state"] for msg, _ in messages]
        assert not any("_labels" in st for st in states)
        assert sum(len(b) for _, bufs in messages for b in bufs) == n * n  # the codes, once
        header = sum(len(json.dumps(msg, separators=(",", ":"))) for msg, _ in messages)
        assert header < 700, states  # shape, value range, title...: not 2 x 128 labels
        assert (n * n + header) / (n * n) < 1.05
    assert labels_changes == []  # the labels trait was never re-assigned


def test_labels_are_sent_again_when_they_change(cap):
    hm = aw.Heatmap(cap, layer=0)
    changes = count_changes(hm, "_labels")
    hm.region = [0, 4, 0, 10]
    assert len(changes) == 1 and hm._labels["rows"] == [str(s) for s in cap.tokens[:4]]
    hm.layer = 1  # forgets the zoom: all labels again
    assert len(changes) == 2 and len(hm._labels["rows"]) == 10
    hm.head = 2
    assert len(changes) == 2


def test_an_error_clears_the_labels_and_recovers(torch_cap):
    torch_cap.add("decoder.cross", 1, np.ones((2, 4, 12, 12), np.float32) / 12, kind="cross")
    hm = aw.Heatmap(torch_cap, layer=2, step=1)
    assert len(hm._labels["rows"]) == 12
    hm.step = 0
    assert hm._frame_meta["error"] and hm._labels == {"rows": [], "cols": []}
    hm.step = 1
    assert hm._frame_meta["error"] is None and len(hm._labels["cols"]) == 12


# ---------------------------------------------------------------- frame cache
def test_cache_hit_returns_the_same_frame_and_another_selection_misses(cap, monkeypatch):
    hm = aw.Heatmap(cap, layer=0, head=1)
    calls = []
    real = type(hm).frame
    monkeypatch.setattr(type(hm), "frame", lambda self: calls.append(self.selection()) or real(self))
    first = hm._cached_frame()
    assert calls == []  # computed when the view was built
    assert hm._cached_frame() is first
    hm.head = 2
    assert len(calls) == 1
    second = hm._cached_frame()
    assert second is not first and len(calls) == 1
    np.testing.assert_array_equal(second.values, frame(cap, 0, head=2, size=hm.size).values)
    hm.head = 1  # back: from the cache, identical to what frame() computes
    assert len(calls) == 1
    assert hm._cached_frame() is first
    np.testing.assert_array_equal(first.values, hm.frame().values)
    assert first.row_labels == hm.frame().row_labels and first.title == hm.frame().title
    codes = np.frombuffer(hm._frame, np.uint8).reshape(hm._frame_meta["shape"])
    hm.head = 2
    hm.head = 1
    assert np.array_equal(np.frombuffer(hm._frame, np.uint8).reshape(hm._frame_meta["shape"]), codes)


@pytest.mark.parametrize(
    "change",
    [
        dict(layer=1),
        dict(sample=2),
        dict(label=1),
        dict(sample="mean"),
        dict(region=[0, 5, 0, 5]),
        dict(size=4),
        dict(head="max"),
    ],
)
def test_every_part_of_the_selection_is_in_the_key(cap, change):
    hm = aw.Heatmap(cap, layer=0, head=0)
    key = hm._cache_key()
    for name, value in change.items():
        setattr(hm, name, value)
    assert hm._cache_key() != key
    np.testing.assert_array_equal(hm._cached_frame().values, hm.frame().values)


def test_scale_reuses_the_frame_and_the_cache_is_bounded(cap, monkeypatch):
    hm = aw.Heatmap(cap, layer=0)
    key = hm._cache_key()
    hm.scale = "log"
    assert hm._cache_key() == key  # the colour scale changes the codes, not the frame
    monkeypatch.setattr(_view, "FRAME_CACHE_SIZE", 4)
    for head in (0, 1, 2, 3, "max", "mean"):
        hm.head = head
    assert len(hm._frame_cache) == 4


def test_new_tokens_or_capture_empty_the_cache(cap):
    hm = aw.Heatmap(cap, layer=0)
    assert hm._frame_cache
    hm.tokens = [f"t{i}" for i in range(10)]
    assert not hm._frame_cache
    hm.refresh()
    assert hm._labels["rows"][0] == "t0"
    assert hm._frame_cache
    hm.cap = cap
    assert not hm._frame_cache


def test_refresh_recomputes_after_the_capture_changed_in_place(cap):
    hm = aw.Heatmap(cap, layer=0, head=0)
    cap.get(0)[0, 0] = 1.0 / 10  # in place: no key can see this
    hm.refresh()
    np.testing.assert_allclose(hm._cached_frame().values, np.full((10, 10), 0.1, np.float32))


def test_a_growing_capture_is_not_served_stale_frames(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=0)
    key = hm._cache_key()
    torch_cap.add("blocks.0.attn", 3, torch_cap.get(0, 2), kind="self")  # one more step
    assert hm._cache_key() != key


def test_views_of_different_captures_do_not_share_frames(cap, torch_cap):
    a, b = aw.Heatmap(cap, layer=0, head=0), aw.Heatmap(torch_cap, layer=0, head=0)
    assert a._frame_cache is not b._frame_cache
    assert a._cached_frame().shape != b._cached_frame().shape


class Sent:
    """The order in which several widgets put their messages on the wire."""

    def __init__(self, named: dict):
        self.order = []
        for name, widget in named.items():
            real = widget._send

            def send(msg, buffers=None, real=real, name=name):
                self.order.append((name, msg.get("method"), sorted((msg.get("state") or {}).keys())))
                return real(msg, buffers=buffers)

            widget._send = send

    def take(self):
        out, self.order = self.order, []
        return out


def test_a_head_picked_in_the_page_sends_the_frame_before_the_linked_views_hear_of_it():
    # the page handles kernel messages one by one: the frame sent last waited for every linked
    # view's message to be handled first (a thumbnail click in an explorer: 5 of them)
    c = Capture()
    rng = np.random.default_rng(4)
    c.add("vit.0.attn", 0, rng.random((2, 4, 10, 10)).astype(np.float32), kind="self")
    ex = aw.Explorer(c, image=np.zeros((8, 8)), patch_grid=(3, 3))
    wire = Sent(
        {
            "heatmap": ex.heatmap,
            "grid": ex.headgrid,
            "stats": ex.headstats,
            "overlay": ex.overlay,
            "explorer": ex,
            "head dropdown": ex.controls.head,
        }
    )
    for head in (2, 3, 1):
        ex.heatmap.set_state({"head": head})  # what ipywidgets does with the page's update
        order = wire.take()
        frames = [
            i for i, (name, method, keys) in enumerate(order) if name == "heatmap" and "_frame_meta" in keys
        ]
        assert len(frames) == 1, order
        others = [i for i, (name, _, _) in enumerate(order) if name != "heatmap"]
        assert others and frames[0] < min(others), order
        # and the views linked follow the change
        assert ex.head == ex.headgrid.head == ex.headstats.head == ex.overlay.head == head


def test_a_change_in_python_is_still_one_message_and_a_hold_still_sends_once(cap):
    hm = aw.Heatmap(cap, layer=0, head=0)
    wire = Wire(hm)
    hm.layer = 1  # forgets no zoom here; with one it would be a nested change
    assert len(wire.take()) == 1
    hm.region = [0, 4, 0, 4]
    wire.take()
    hm.layer = 2  # the zoom forgotten with the layer: a change inside the change, one frame sent
    msgs = wire.take()
    assert len(msgs) == 1 and msgs[0][0]["state"].get("region", "absent") is None
    with hm.hold_sync():  # the caller's hold: one message for both changes
        hm.layer, hm.head = 0, 3
    msgs = wire.take()
    assert len(msgs) == 1 and {"layer", "head", "_frame_meta"} <= set(msgs[0][0]["state"])


def peaky_capture(n: int = 128) -> Capture:
    """Real attention of two nn.MultiheadAttention layers over n tokens, sharp enough to be peaky
    (most keys near zero for each query), as trained and pretrained heads mostly are."""
    import torch

    torch.manual_seed(0)
    c = Capture()
    x = torch.randn(1, n, 32) * 4
    with torch.no_grad():
        for i in range(2):
            mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
            x, w = mha(x, x, x, need_weights=True, average_attn_weights=False)
            c.add(f"blocks.{i}.attn", 0, w.numpy(), kind="self")
            x = x * 8
    return c


def test_peaky_codes_cross_deflated_noise_and_small_frames_as_they_are():
    codes = bytes(aw.Heatmap(peaky_capture(), layer=0, head=0)._frame)
    wire = _wire.deflate_codes(codes)
    assert len(wire) < 0.5 * len(codes) and zlib.decompress(wire) == codes
    noise = np.random.default_rng(0).integers(0, 255, 128 * 128, dtype=np.uint8).tobytes()
    assert _wire.deflate_codes(noise) is noise  # judged on its first eighth: not deflated at all
    small = bytes(60 * 60)  # under DEFLATE_FROM: as it is, however well it would deflate
    assert _wire.deflate_codes(small) is small


def test_a_view_sends_its_frame_deflated_and_keeps_the_codes_themselves():
    hm = aw.Heatmap(peaky_capture(), layer=0, head=0)
    wire = Wire(hm)
    for layer, head in ((1, 0), (1, 3), (0, 2)):
        hm.layer, hm.head = layer, head
        *_, (msg, buffers) = [m for m in wire.take() if ["_frame"] in m[0].get("buffer_paths", [])]
        at = msg["buffer_paths"].index(["_frame"])
        sent = buffers[at]
        assert len(sent) < 0.5 * 128 * 128  # a stream, shorter than the frame: the page inflates it
        assert zlib.decompress(sent) == hm._frame  # the trait holds the codes, row-major
        assert len(hm._frame) == 128 * 128
        assert np.array_equal(
            np.frombuffer(hm._frame, np.uint8).reshape(128, 128),
            quantize(hm.frame().values, hm._frame_meta["vmin"], hm._frame_meta["vmax"]),
        )
    # what figures and standalone pages read is the codes, not their stream
    assert hm.describe().state["_frame"] == hm._frame
    # the state asked for again (a second page) is the stream sent, not deflated again
    assert hm.get_state("_frame")["_frame"] is hm.get_state("_frame")["_frame"]


def test_frames_sent_ahead_are_deflated_too_and_inflate_to_what_the_view_shows():
    hm = aw.Heatmap(peaky_capture(), layer=0, head=0)
    wire = Wire(hm)
    hm._on_message(hm, {"type": "held", "what": "reset", "id": 1}, [])  # the page opens: a new store
    assert hm._prefetch.run() > 3
    held = [
        (msg["content"], buffers[0])
        for msg, buffers in wire.take()
        if msg.get("method") == "custom" and msg["content"]["type"] == "held"
    ]
    assert len(held) > 3
    for content, stream in held:
        assert len(stream) < 128 * 128
        hm.head = content["key"][2]
        assert zlib.decompress(stream) == hm._frame
    # the ledger and the page's budget count the codes, not their streams: both sides agree
    assert hm._prefetch.sent_bytes == len(held) * 128 * 128
