"""HeadGrid: all thumbnails in one message, clicking selects a head."""

from __future__ import annotations

import numpy as np

import attnwidget as aw
from attnwidget import wire
from attnwidget._frame import frame
from attnwidget.store import Capture


def test_one_thumbnail_per_head_of_the_layer(cap):
    grid = aw.HeadGrid(cap, layer=1, sample=2)
    meta = grid._thumbs_meta
    assert [(t["layer"], t["head"]) for t in meta["thumbs"]] == [(1, h) for h in range(4)]
    assert len(grid._thumbs) == sum(t["shape"][0] * t["shape"][1] for t in meta["thumbs"]) == 4 * 100
    thumbs = grid.thumbnails()
    assert all(t.dtype == np.uint8 and t.shape == (10, 10) for t in thumbs)
    values = cap.get(1)[2, 3]
    np.testing.assert_array_equal(thumbs[3], wire.quantize(values, *wire.value_range(values)))


def test_click_message_selects_layer_and_head(cap):
    grid = aw.HeadGrid(cap, mode="model")
    sent = []
    grid.send = lambda content, buffers=None: sent.append(content)
    grid._on_message(grid, {"type": "select", "layer": 2, "head": 3, "id": 4}, [])
    assert (grid.layer, grid.head) == (2, 3)
    assert sent == [{"type": "ok", "id": 4, "layer": 2, "head": 3}]
    grid._on_message(grid, {"type": "select", "layer": 2, "head": 9, "id": 5}, [])
    assert sent[-1]["type"] == "error" and "head 9 is out of range" in sent[-1]["message"]
    assert grid.head == 3


def test_whole_model_grid_bert_base_size_in_one_message():
    # 12 layers x 12 heads at 512 tokens, as BERT-base would give
    rng = np.random.default_rng(0)
    cap = Capture()
    for layer in range(12):
        cap.add(
            f"bert.encoder.layer.{layer}.attention.self",
            0,
            rng.random((1, 12, 512, 512), dtype=np.float32),
            kind="self",
        )
    # its speed is benchmarks/browser.py's whole-model first paint, not asserted here
    grid = aw.HeadGrid(cap, mode="model", thumb=64)
    assert len(grid._thumbs_meta["thumbs"]) == 144
    assert len(grid._thumbs) == 144 * 64 * 64  # ~590 kB: one byte per thumbnail cell
    fr = frame(cap, 7, head=5, sample=0, size=64)
    np.testing.assert_array_equal(
        grid.thumbnails()[7 * 12 + 5], wire.quantize(fr.values, *wire.value_range(fr.values))
    )


def test_picking_a_head_does_not_resend_thumbnails(cap):
    grid = aw.HeadGrid(cap)
    before = grid._thumbs
    grid.head = 2
    assert grid._thumbs is before
    grid.layer = 2
    assert grid._thumbs is not before


def test_weights_layer_shows_an_error(weights_cap):
    grid = aw.HeadGrid(weights_cap, layer=1)
    assert "holds weights" in grid._thumbs_meta["error"]
    assert grid._thumbs == b""
