"""WeightsView (matrix + class bars) and HeadStats (bars; click selects a head)."""

from __future__ import annotations

import numpy as np

import attnwidget as aw
from attnwidget.reduce import head_stats
from attnwidget.widgets.weights import class_profile


def test_weights_matrix_and_class_bars(weights_cap):
    wv = aw.WeightsView(weights_cap, layer=1, sample="mean", class_names={0: "spoof", 1: "bonafide"})
    fr = wv.frame()
    assert (fr.row_axis, fr.col_axis) == ("group", "layer")
    np.testing.assert_allclose(fr.values, weights_cap.get(1).mean(axis=0), rtol=1e-6)
    meta = wv.canvas._frame_meta
    assert len(wv.canvas._frame) == meta["shape"][0] * meta["shape"][1] == 21
    data = weights_cap.get(1)
    expected = np.stack([data[:2].mean(axis=(0, 1)), data[2:].mean(axis=(0, 1))])
    np.testing.assert_allclose(np.asarray(wv._bars.y), expected, rtol=1e-6)
    assert list(wv._bars.labels) == ["spoof", "bonafide"]
    assert wv.chart.marks == [wv._bars]


def test_weights_view_traits_drive_its_canvas(weights_cap):
    wv = aw.WeightsView(weights_cap, layer=1)
    wv.colormap = "coolwarm"
    wv.label = 1
    assert wv.canvas.colormap == "coolwarm" and wv.canvas.label == 1


def test_time_axis_is_drawn_as_lines():
    from attnwidget.store import Capture

    cap = Capture()
    cap.add(
        "tap.frames",
        0,
        np.random.default_rng(0).random((3, 4, 9)).astype(np.float32),
        kind="weights",
        axes=("sample", "layer", "time"),
    )
    wv = aw.WeightsView(cap)
    assert wv.chart.marks == [wv._lines]
    values, names, axis = class_profile(cap, 0)
    assert axis == "time" and values.shape == (1, 9)


def test_head_stats_bars_and_click(cap):
    hs = aw.HeadStats(cap, layer=2, label=0)
    idx = np.flatnonzero(cap.labels == 0)
    expected = head_stats(cap.get(2)[idx])
    for name in ("entropy", "max", "sparsity"):
        np.testing.assert_allclose(hs.stats[name], expected[name], rtol=1e-6)
    assert np.asarray(hs.bars.y).shape == (3, 4)
    hs.bars.selected = [3]  # what bqplot sets when the user clicks bar 3
    assert hs.head == 3
    hs.layer = 0
    np.testing.assert_allclose(hs.stats["max"], head_stats(cap.get(0)[idx])["max"], rtol=1e-6)
    assert "aw-headstats" in hs._dom_classes


def test_head_stats_on_a_weights_site_explains(weights_cap):
    hs = aw.HeadStats(weights_cap, layer=1)
    assert hs.stats == {} and "holds weights" in hs.message.value
    # no empty frame with the reason in red: the widget is hidden, the reason kept for code
    assert hs.layout.display == "none" and hs.figure not in hs.children


def test_head_stats_mark_the_selected_head_and_collapse(cap):
    hs = aw.HeadStats(cap, layer=0, head=1)
    assert hs.bars.selected == [1]
    hs.head = "mean"
    assert hs.bars.selected is None  # the mean of the heads is no one head
    hs.bars.selected = [2]  # a click on head 2's bars
    assert hs.head == 2 and hs.bars.selected == [2]
    assert "mean over all" in hs.caption.value and str(cap.num_samples) in hs.caption.value
    hs.toggle.value = False
    assert hs.figure not in hs.children and hs.header in hs.children
    hs.toggle.value = True
    assert hs.figure in hs.children


def test_head_stats_legend_sits_above_the_chart_not_on_the_bars(cap):
    hs = aw.HeadStats(cap, layer=0)
    assert hs.bars.display_legend is False  # bqplot's legend would cover the last heads
    assert hs.legend in hs.header.children and hs.children.index(hs.header) < hs.children.index(hs.figure)
    for name in ("entropy", "max", "sparsity"):
        assert name in hs.legend.value
    for color in hs.bars.colors:
        assert color in hs.legend.value
