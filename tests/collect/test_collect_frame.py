"""frame() on statistics: class statistic, class-difference map, stats-only fallback, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from _collect_models import batches, data, model

import attnwidget as aw
from attnwidget._frame import frame


@pytest.fixture(scope="module")
def caps():
    ids, labels = data(48)
    bs = batches(ids, labels, 8)
    both = aw.collect(model(), bs, num_samples=None, labels=1, keep="both", progress=False)
    stats = aw.collect(model(), bs, labels=1, keep="stats", progress=False)
    return both, stats


def test_class_statistics_and_difference_from_stats(caps):
    both, stats = caps
    x = both.get("blocks.1").astype(np.float64)
    one = x[both.labels == 1]
    f = frame(stats, "blocks.1", label=1, stat="var", head=0)
    np.testing.assert_allclose(f.values, one.var(0)[0], rtol=1e-5)
    assert f.selection["stat"] == "var" and "class 1" in f.title and "var" in f.title
    d = frame(stats, "blocks.1", difference=(1, 0))
    want = one.mean(0).mean(0) - x[both.labels == 0].mean(0).mean(0)
    np.testing.assert_allclose(d.values, want, rtol=1e-5, atol=1e-7)
    assert d.selection["difference"] == (1, 0) and "class 1 − class 0" in d.title
    assert np.abs(d.values).max() > 1e-3  # the classes differ in this data
    m = frame(stats, "blocks.1", stat="max", head="max")
    np.testing.assert_allclose(m.values, x.max(axis=(0, 1)), rtol=1e-6)


def test_titles_name_the_classes_the_capture_names(caps):
    _, stats = caps
    stats.metadata["class_names"] = {0: "bonafide", 1: "spoof"}
    try:
        assert "class 1 (spoof) · var" in frame(stats, "blocks.1", label=1, stat="var").title
        d = frame(stats, "blocks.1", difference=(1, 0))
        assert "mean of class 1 (spoof) − class 0 (bonafide)" in d.title
        stats.metadata["class_names"] = ["bonafide"]  # a list that names class 0 only
        assert frame(stats, "blocks.1", label=1, stat="mean").title.endswith("class 1 · mean")
    finally:
        del stats.metadata["class_names"]


def test_stats_only_capture_falls_back_to_the_mean(caps):
    both, stats = caps
    x = both.get("blocks.0").astype(np.float64)
    f = frame(stats, 0)  # sample=0 asks for a sample there is none of: the mean is shown
    np.testing.assert_allclose(f.values, x.mean(axis=(0, 1)), rtol=1e-5)
    g = frame(stats, 0, label=0, head=1, size=4)
    assert g.shape == (4, 4) and g.block == (2, 2)
    np.testing.assert_allclose(g.values[0, 0], x[both.labels == 0, 1, :2, :2].mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="no statistics for class 7"):
        frame(stats, 0, label=7)
    with pytest.raises(ValueError, match="stat must be one of"):
        frame(stats, 0, stat="median")
    with pytest.raises(ValueError, match="pair of class labels"):
        frame(stats, 0, difference=(1,))


def test_samples_behaviour_is_unchanged_and_stat_works_from_samples(caps):
    both, _ = caps
    ids, labels = data(48)
    samples = aw.collect(model(), batches(ids, labels, 8), num_samples=None, labels=1, progress=False)
    a, b = frame(samples, 1, sample=3, label=0, head=1), frame(both, 1, sample=3, label=0, head=1)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, samples.get(1)[np.flatnonzero(samples.labels == 0)[3], 1])
    assert a.title == b.title and "stat" not in b.selection
    # stat= without statistics is computed from the kept samples, and agrees with the streamed one
    np.testing.assert_allclose(
        frame(samples, 1, stat="var", label=1).values,
        frame(both, 1, stat="var", label=1).values,
        rtol=1e-5,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        frame(samples, 1, difference=(0, 1)).values,
        frame(both, 1, difference=(0, 1)).values,
        rtol=1e-5,
        atol=1e-7,
    )


def test_stats_round_trip_through_save_and_load(caps, tmp_path):
    both, stats = caps
    for cap in (both, stats):
        back = aw.load(cap.save(tmp_path / "c.npz"))
        assert back.layers == cap.layers and back.steps == cap.steps
        for layer in cap.layers:
            s, t = cap.stats[layer][0], back.stats[layer][0]
            assert t["classes"] == s["classes"] == ["all", 0, 1]
            for field in ("count", "mean", "var", "min", "max", "entropy"):
                np.testing.assert_array_equal(t[field], s[field])
                assert t[field].dtype == s[field].dtype
        np.testing.assert_array_equal(
            frame(back, 0, difference=(0, 1)).values, frame(cap, 0, difference=(0, 1)).values
        )
    assert aw.load(stats.save(tmp_path / "s.npz")).num_samples == 0
