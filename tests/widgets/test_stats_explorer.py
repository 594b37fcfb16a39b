"""The explorer and every view on captures from collect(keep="stats"|"both"):
shapes, heads and classes from the statistics, the class filter showing each
class's statistic, the ``stat`` and ``difference`` traits and controls, and
a difference map's symmetric range, also in the saved PNG."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

import attnwidget as aw
from attnwidget._frame import frame
from attnwidget.colormaps import apply
from attnwidget.figures import save_view
from attnwidget.store import Capture
from attnwidget.widgets.headstats import stats_entropy


def _collect(keep: str, **kw) -> Capture:
    torch.manual_seed(0)
    enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2).eval()
    ds = TensorDataset(torch.randn(50, 5, 16), torch.randint(0, 2, (50,)))
    return aw.collect(enc, DataLoader(ds, batch_size=8), keep=keep, labels=1, progress=False, **kw)


@pytest.fixture(scope="module")
def stats_cap() -> Capture:
    return _collect("stats")


@pytest.fixture(scope="module")
def both_cap() -> Capture:
    return _collect("both", num_samples=10)


def sent(view) -> np.ndarray:
    meta = view._frame_meta
    return np.frombuffer(view._frame, dtype=np.uint8).reshape(meta["shape"])


def test_the_issue_snippet_works(stats_cap):
    ex = aw.show(stats_cap)
    assert ex.heatmap._frame_meta["error"] is None
    assert ex.heatmap.num_heads(ex.layer) == 2
    assert ex.controls.head.layout.display != "none"  # two heads, from the statistics
    np.testing.assert_allclose(ex.heatmap.frame().values, frame(stats_cap, ex.layer, stat="mean").values)
    assert ex.headgrid._thumbs_meta["error"] is None and len(ex.headgrid.thumbnails()) == 2
    assert ex.classes() == [0, 1]


def test_class_filter_shows_the_class_mean_of_the_statistics(stats_cap):
    ex = aw.show(stats_cap, class_names={0: "spoof", 1: "bonafide"})
    assert [o[0] for o in ex.controls.label.options] == ["all samples", "spoof", "bonafide"]
    ex.label = 1
    for view in (ex.heatmap, ex):
        np.testing.assert_array_equal(
            view.frame().values, frame(stats_cap, ex.layer, label=1, stat="mean").values
        )
    assert "class 1" in ex.heatmap._frame_meta["title"]
    # the control picks a class too
    ex.controls.label.value = 0
    assert ex.label == 0
    np.testing.assert_array_equal(
        ex.heatmap.frame().values, frame(stats_cap, ex.layer, label=0, stat="mean").values
    )


def test_class_names_default_to_the_capture_metadata(stats_cap):
    stats_cap.metadata["class_names"] = {"0": "spoof", "1": "bonafide"}  # as a loaded file holds them
    try:
        ex = aw.show(stats_cap)
        assert [o[0] for o in ex.controls.label.options] == ["all samples", "spoof", "bonafide"]
        assert [o[0] for o in ex.controls.difference.options] == [
            "none",
            "spoof − bonafide",
            "bonafide − spoof",
        ]
    finally:
        del stats_cap.metadata["class_names"]


def test_stat_trait_and_control(stats_cap):
    ex = aw.show(stats_cap, layer=1)
    assert "stat" in ex.controls.visible()
    for stat in ("var", "min", "max"):
        ex.controls.stat.value = stat
        assert ex.stat == ex.heatmap.stat == stat
        np.testing.assert_array_equal(ex.heatmap.frame().values, frame(stats_cap, 1, stat=stat).values)
    ex.label, ex.head = 0, 1
    np.testing.assert_array_equal(
        ex.heatmap.frame().values, frame(stats_cap, 1, head=1, label=0, stat="max").values
    )
    with pytest.raises(Exception, match="stat|mean"):
        ex.stat = "median"


def test_difference_shows_mean1_minus_mean0_on_a_symmetric_range(stats_cap):
    ex = aw.show(stats_cap)
    assert "difference" in ex.controls.visible()
    ex.difference = (1, 0)
    name = stats_cap.layers[ex.layer]
    st = stats_cap.stats[name][0]
    expected = (st["mean"][st["classes"].index(1)] - st["mean"][st["classes"].index(0)]).mean(axis=0)
    np.testing.assert_allclose(ex.heatmap.frame().values, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(
        ex.heatmap.frame().values, frame(stats_cap, ex.layer, difference=(1, 0)).values
    )
    meta = ex.heatmap._frame_meta
    m = float(np.abs(expected).max())
    assert meta["vmin"] == pytest.approx(-m) and meta["vmax"] == pytest.approx(m)
    assert ex.heatmap.colormap == ex.headgrid.colormap == "coolwarm"
    for th in ex.headgrid._thumbs_meta["thumbs"]:
        assert th["vmin"] == pytest.approx(-th["vmax"])
    # the dropdown follows, and clearing it restores the colormap
    assert ex.controls.difference.label == "1 − 0"
    ex.controls.difference.value = "__none__"
    assert ex.difference is None and ex.heatmap.colormap == "viridis"
    assert ex.heatmap._frame_meta["vmin"] >= 0
    with pytest.raises(Exception, match="two different classes"):
        ex.difference = (1, 1)
    with pytest.raises(Exception, match="no class 7"):
        ex.difference = (1, 7)


def test_sample_control_hidden_for_stats_only_shown_for_both(stats_cap, both_cap):
    ex = aw.show(stats_cap)
    assert "sample" not in ex.controls.visible() and "mean" not in ex.controls.visible()
    ex.label = 1
    assert "sample" not in ex.controls.visible()
    both = aw.show(both_cap)
    assert {"sample", "mean", "stat", "difference", "label"} <= set(both.controls.visible())
    # a sample of a "both" capture is that kept sample; the class mean comes from the statistics
    both.sample = 3
    np.testing.assert_array_equal(both.heatmap.frame().values, both_cap.get(both.layer)[3].mean(axis=0))
    both.label = 1
    both.sample = "mean"
    np.testing.assert_array_equal(
        both.heatmap.frame().values, frame(both_cap, both.layer, label=1, stat="mean").values
    )
    st = both_cap.stats[both_cap.layers[both.layer]][0]
    assert int(st["count"][st["classes"].index(1)]) > (np.asarray(both_cap.labels) == 1).sum()


def test_headstats_uses_the_entropy_of_the_statistics(stats_cap, both_cap):
    ex = aw.show(stats_cap, layer=1)
    hs = ex.headstats
    assert list(hs.stats) == ["entropy"]
    np.testing.assert_allclose(hs.stats["entropy"], stats_entropy(stats_cap, stats_cap.layers[1], 0))
    assert "statistics" in hs.title and "50 samples" in hs.title
    assert hs.title in hs.caption.value  # the header says what the bars are computed over
    assert "keep='both'" in hs.message.value
    ex.label = 0
    assert "class 0" in hs.title
    np.testing.assert_allclose(hs.stats["entropy"], stats_entropy(stats_cap, stats_cap.layers[1], 0, 0))
    # the per-sample entropy of "both" agrees with the streamed one over the same samples
    assert all(0 < v <= 1 for v in hs.stats["entropy"])
    assert list(aw.show(both_cap).headstats.stats) == ["entropy", "max", "sparsity"]


def test_weights_site_with_statistics_only():
    from attnwidget._collect.stats import StreamingStats

    rng = np.random.default_rng(0)
    x = rng.random((6, 3, 7)).astype(np.float32)
    labels = np.array([0, 1, 0, 1, 1, 0])
    acc = StreamingStats()
    acc.update("pool.w", 0, x, labels, axes=("sample", "group", "layer"))
    cap = Capture()
    cap.add_stats("pool.w", 0, acc.result()["pool.w"][0], kind="weights", axes=("sample", "group", "layer"))
    wv = aw.WeightsView(cap, class_names=["spoof", "bonafide"])
    np.testing.assert_allclose(wv.frame().values, x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(wv._bars.y), [x[labels == c].mean(axis=(0, 1)) for c in (0, 1)], rtol=1e-6
    )
    assert list(wv._bars.labels) == ["spoof", "bonafide"]


def test_saved_difference_png_matches_the_widget_codes(tmp_path, stats_cap):
    ex = aw.show(stats_cap, difference=(1, 0))
    view = ex.heatmap
    assert view.colormap == "coolwarm"
    img = np.asarray(
        Image.open(save_view(view, tmp_path / "d.png", axes=False, pixels_per_cell=3)).convert("RGB")
    )
    expected = apply(sent(view), "coolwarm")
    assert np.array_equal(img[::3, ::3], expected)
    # the explorer's save, with axes: the drawn image is the sent codes
    from attnwidget.figures import view_figure

    fig = view_figure(ex)
    assert np.array_equal(np.asarray(fig.axes[0].images[0].get_array()), expected)
    assert ex.save(str(tmp_path / "ex.png")).endswith("ex.png")
    # head grid thumbnails, each over its own symmetric range
    fig = view_figure(ex.headgrid)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    for im, codes in zip(images, ex.headgrid.thumbnails()):
        assert np.array_equal(np.asarray(im.get_array()), apply(codes, "coolwarm"))


def test_loaded_stats_capture_shows(tmp_path, stats_cap):
    cap = aw.load(stats_cap.save(tmp_path / "s.npz"))
    ex = aw.show(cap, label=1)
    np.testing.assert_array_equal(
        ex.heatmap.frame().values, frame(stats_cap, ex.layer, label=1, stat="mean").values
    )


def test_head_roles_of_a_statistics_only_site_say_how_many_samples_they_stand_for(stats_cap):
    panel = aw.HeadStats(stats_cap)
    panel.show = "roles"
    assert panel.layout.display != "none" and len(panel.stats["first"]) == 2  # two heads
    assert "statistics of 50 sample(s)" in panel.caption.value, panel.caption.value
