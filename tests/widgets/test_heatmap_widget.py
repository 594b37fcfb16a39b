"""Heatmap: frames as bytes, state round trip, zoom, class filter, pins, tokens."""

from __future__ import annotations

import numpy as np
import pytest

import attnwidget as aw
from attnwidget import wire
from attnwidget._frame import frame, select_samples

HOSTILE = "<img src=x onerror=alert(1)>"  # the same string conftest puts in cap.tokens


def codes_of(view) -> np.ndarray:
    meta = view._frame_meta
    return np.frombuffer(view._frame, dtype=np.uint8).reshape(meta["shape"])


def test_frame_bytes_are_one_per_cell(cap):
    hm = aw.Heatmap(cap, layer=1, head=2, sample=3)
    h, w = hm._frame_meta["shape"]
    assert (h, w) == (10, 10)
    assert len(hm._frame) == h * w
    assert hm._frame_meta["dtype"] == "uint8"


def test_codes_are_the_quantized_frame(torch_cap):
    hm = aw.Heatmap(torch_cap, layer=1, head=3, sample=1, step=2)
    fr = frame(torch_cap, 1, head=3, sample=1, step=2, size=hm.size)
    np.testing.assert_allclose(hm.frame().values, fr.values)
    lo, hi = wire.value_range(fr.values)
    np.testing.assert_array_equal(codes_of(hm), wire.quantize(fr.values, lo, hi))
    assert hm._frame_meta["vmin"] == pytest.approx(lo)
    assert hm._frame_meta["vmax"] == pytest.approx(hi)


def test_get_state_round_trip_keeps_binary_dtype_and_shape(cap):
    hm = aw.Heatmap(cap, layer=2, head="max", scale="log")
    state = hm.get_state()
    assert isinstance(state["_frame"], (bytes, memoryview))
    meta = state["_frame_meta"]
    codes = np.frombuffer(bytes(state["_frame"]), dtype=np.dtype(meta["dtype"]))
    assert codes.dtype == np.uint8 and codes.size == np.prod(meta["shape"])
    assert meta["scale"] == "log"
    # what the browser would write back is accepted and recomputes the frame
    hm.set_state({"head": 1, "layer": 0, "colormap": "magma"})
    assert (hm.head, hm.layer, hm.colormap) == (1, 0, "magma")
    np.testing.assert_allclose(hm.frame().values, cap.get(0)[0, 1])


def test_large_frames_are_pooled_to_size_then_zoom_sends_full_resolution(big_cap):
    hm = aw.Heatmap(big_cap, head=0, size=200)
    assert hm._frame_meta["shape"] == [200, 200]
    assert hm._frame_meta["block"] == [3, 3]
    assert len(hm._frame) == 200 * 200

    hm._on_message(hm, {"type": "zoom", "region": [100, 250, 40, 190], "id": 1}, [])
    meta = hm._frame_meta
    assert meta["region"] == [100, 250, 40, 190]
    assert meta["shape"] == [150, 150] and meta["block"] == [1, 1]
    full = big_cap.get(0)[0, 0]
    np.testing.assert_allclose(hm.frame().values, full[100:250, 40:190])
    lo, hi = wire.value_range(full[100:250, 40:190])
    np.testing.assert_array_equal(codes_of(hm), wire.quantize(full[100:250, 40:190], lo, hi))

    hm._on_message(hm, {"type": "zoom", "region": None, "id": 2}, [])
    assert hm.region is None and hm._frame_meta["shape"] == [200, 200]


def test_zoom_replies_ok_or_error_with_the_request_id(cap):
    hm = aw.Heatmap(cap)
    sent = []
    hm.send = lambda content, buffers=None: sent.append(content)
    hm._on_message(hm, {"type": "zoom", "region": [2, 5, 0, 10], "id": 7}, [])
    hm._on_message(hm, {"type": "zoom", "region": [5, 2, 0, 10], "id": 8}, [])
    hm._on_message(hm, {"type": "zoom", "region": "all", "id": 9}, [])
    hm._on_message(hm, {"type": "explode", "id": 10}, [])
    assert sent[0] == {"type": "ok", "id": 7, "region": [2, 5, 0, 10], "shape": [3, 10]}
    assert sent[1]["type"] == "error" and sent[1]["id"] == 8 and "row0 < row1" in sent[1]["message"]
    assert sent[2]["type"] == "error" and "[row0, row1, col0, col1]" in sent[2]["message"]
    assert sent[3] == {"type": "error", "id": 10, "message": "unknown message type 'explode'"}
    assert hm.region == [2, 5, 0, 10]  # failed requests left the zoom alone


def test_class_filter_mean_equals_frame(cap):
    hm = aw.Heatmap(cap, layer=1, head=0, label=1, sample="mean")
    idx = select_samples(cap, 1)
    expected = cap.get(1)[idx, 0].mean(axis=0)
    np.testing.assert_allclose(hm.frame().values, expected, rtol=1e-6)
    np.testing.assert_allclose(
        hm.frame().values, frame(cap, 1, head=0, label=1, sample="mean", size=hm.size).values
    )
    assert "class 1" in hm._frame_meta["title"]
    hm.sample = 1  # the second sample *of class 1*
    np.testing.assert_allclose(hm.frame().values, cap.get(1)[idx[1], 0])


def test_hostile_tokens_pass_through_as_plain_strings(cap):
    hm = aw.Heatmap(cap)
    assert hm._labels["rows"][0] == HOSTILE
    assert hm._labels["cols"][3] == "&amp;"  # not unescaped either
    assert hm._labels["cols"][8] == "</script>"
    custom = aw.Heatmap(cap, tokens=[f"<b>{i}</b>" for i in range(10)])
    assert custom._labels["rows"][4] == "<b>4</b>"


def test_pinned_validation(cap):
    hm = aw.Heatmap(cap)
    hm.pinned = {"axis": "key", "index": 3}
    assert hm.pinned == {"axis": "key", "index": 3}
    with pytest.raises(Exception, match="'query' or 'key'"):
        hm.pinned = {"axis": "row", "index": 3}


def test_changing_layer_forgets_the_zoom(cap):
    hm = aw.Heatmap(cap, region=[0, 4, 0, 4])
    assert hm._frame_meta["shape"] == [4, 4]
    hm.layer = 2
    assert hm.region is None and hm._frame_meta["shape"] == [10, 10]


def test_an_impossible_selection_shows_an_error_not_a_traceback(torch_cap):
    # a site that did not run at a step: the view says so instead of raising
    torch_cap.add("decoder.cross", 1, np.ones((2, 4, 12, 12), np.float32) / 12, kind="cross")
    hm = aw.Heatmap(torch_cap, layer=2, step=1)
    assert hm._frame_meta["error"] is None
    hm.step = 0
    assert "has no step 0" in hm._frame_meta["error"]
    assert hm._frame == b""
