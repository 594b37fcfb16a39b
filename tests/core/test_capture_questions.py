"""A Capture answers its own questions: sites, what a site holds at a step, heads, classes, counts,
names and statistics; one error vocabulary; ``site=`` wherever ``layer=`` is taken."""

from __future__ import annotations

import numpy as np
import pytest

import attnwidget as aw
from attnwidget import errors
from attnwidget._collect import stats as stats_module
from attnwidget._collect.stats import StreamingStats
from attnwidget._frame import frame
from attnwidget.store import Capture, class_name

LABELS = np.array([0, 1, 0, 1, 1, 0])


def softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def parts():
    rng = np.random.default_rng(0)
    return (
        softmax_rows(rng.normal(size=(6, 2, 4, 4))),
        softmax_rows(rng.normal(size=(6, 3, 4, 5))),
        rng.random((6, 5)).astype(np.float32),
    )


@pytest.fixture
def cap(parts):
    """``enc.0``: kept samples and statistics at step 0; ``enc.1``: statistics alone, at step 1;
    ``pool.w``: tapped weights kept at step 0. Statistics from the real accumulator."""
    x, y, w = parts
    acc = StreamingStats()
    acc.update("enc.0", 0, x, LABELS)
    acc.update("enc.1", 1, y, LABELS)
    streamed = acc.result()
    c = Capture()
    c.add("enc.0", 0, x, kind="self")
    c.add_stats("enc.0", 0, streamed["enc.0"][0], kind="self")
    c.add_stats("enc.1", 1, streamed["enc.1"][1], kind="cross")
    c.add("pool.w", 0, w, kind="weights", axes=("sample", "layer"))
    c.labels = LABELS.copy()
    return c


def test_sites_and_what_each_holds_at_each_step(cap):
    assert cap.sites == cap.layers == ["enc.0", "enc.1", "pool.w"]
    assert cap.site_name(-1) == cap.layer_name(2) == "pool.w"
    assert [cap.holds("enc.0", 0), cap.holds("enc.1", 1), cap.holds("enc.1", 0), cap.holds("pool.w", 1)] == [
        "samples",
        "stats",
        None,
        None,
    ]
    assert cap.holds("enc.1", -1) == "stats"  # a negative step counts from the last
    assert cap.is_stats_only("enc.1") and cap.is_stats_only("enc.1", 1)
    assert not cap.is_stats_only("enc.0") and not cap.is_stats_only("enc.0", 0)
    assert cap.site_steps("enc.1") == [1] and cap.steps_of("enc.1") == []
    assert cap.site_steps("enc.0") == [0] and cap.site_steps("pool.w") == [0]
    assert cap.has_stats() and cap.has_stats("enc.1") and not cap.has_stats("pool.w")
    assert cap.has_stats("enc.0", 0) and not cap.has_stats("enc.0", 1)
    assert cap.site_stats("enc.1", 1) is cap.stats["enc.1"][1] and cap.site_stats("enc.1", 0) is None


def test_heads_from_samples_or_statistics(cap):
    assert cap.num_heads("enc.0") == 2
    assert cap.num_heads(1) == 3  # statistics alone: read from [class, head, query, key]
    assert cap.num_heads("pool.w") is None


def test_classes_counts_and_names(cap):
    assert cap.classes() == [0, 1] and cap.classes(kept=False) == [0, 1]
    assert cap.classes(kept=False, site="pool.w") == []
    assert all(type(c) is int for c in cap.classes())
    assert cap.class_count() == 6 and cap.class_count(1) == 3 and cap.class_count(7) == 0
    assert cap.class_count(1, "enc.1", 1) == 3  # streamed there: the statistics' count
    assert cap.class_count(None, "enc.1", 1) == 6 and cap.class_count(7, "enc.1", 1) is None
    cap.labels = None
    assert cap.classes() == [0, 1] and cap.classes(stats=False) == [] and cap.class_count(1) == 0
    cap.stats.clear()
    assert cap.classes() == []
    # one display name, whatever shows it
    assert class_name(True, ["negative", "positive"]) == "positive"
    assert class_name(1, {"1": "spoof"}) == class_name("1", {1: "spoof"}) == "spoof"
    assert class_name(None, {}) == "all" and class_name(5, ["a"]) == "5"
    cap.metadata["class_names"] = {0: "bonafide"}
    assert cap.class_name(0) == "bonafide" and cap.class_name(0, {0: "real"}) == "real"


def test_stat_from_the_statistics_or_from_kept_samples(cap, parts):
    x, y, w = parts
    np.testing.assert_allclose(cap.stat("enc.1", 1, "var", 1), y[LABELS == 1].var(0), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(cap.stat("enc.1", 1), y.mean(0), rtol=1e-5)
    assert cap.stat("enc.1", 1, "entropy", 0).shape == (3,)
    np.testing.assert_allclose(cap.stat("pool.w", 0, "max", 0), w[LABELS == 0].max(0))  # kept samples
    with pytest.raises(ValueError, match="no statistics for class 7 at site 'enc.1'"):
        cap.stat("enc.1", 1, "mean", 7)
    with pytest.raises(ValueError, match="no 'median' statistic"):
        cap.stat("enc.1", 1, "median")
    with pytest.raises(ValueError, match="stat must be one of"):
        cap.stat("pool.w", 0, "entropy")


def test_the_statistics_module_keeps_only_the_accumulator():
    assert set(stats_module.__all__) == {
        "ALL",
        "FIELDS",
        "Moments",
        "SiteStats",
        "StreamingStats",
        "head_entropy",
    }
    for moved in ("site_steps", "stat_array", "class_count", "class_key"):
        assert moved not in stats_module.__all__


def test_site_is_accepted_wherever_layer_is(cap):
    assert np.array_equal(cap.get(site="pool.w"), cap.get("pool.w"))
    assert np.array_equal(cap.get(layer=2), cap.get(site=2))
    np.testing.assert_array_equal(frame(cap, site="enc.0", head=1).values, frame(cap, "enc.0", head=1).values)
    np.testing.assert_array_equal(frame(cap, site=0).values, aw.frame(cap, layer=0).values)
    with pytest.raises(TypeError, match="both site=0 and layer=0"):
        frame(cap, 0, site=0)
    with pytest.raises(TypeError, match="site= only"):
        cap.get(site=0, layer=0)
    with pytest.raises(TypeError, match="needs a site"):
        cap.get()


def test_one_error_vocabulary(cap):
    with pytest.raises(errors.SelectionError, match=r"head 5 is out of range: layer 0 has 2 head\(s\)") as e:
        frame(cap, 0, head=5)
    assert isinstance(e.value, IndexError)
    with pytest.raises(errors.SelectionError, match="layer 9 is out of range: this capture has 3 sites"):
        cap.site_name(9)
    with pytest.raises(errors.UnknownSiteError) as e:
        cap.get("nope")
    assert isinstance(e.value, KeyError) and isinstance(e.value, errors.SelectionError)
    assert str(e.value) == "no site named 'nope'; sites are: enc.0, enc.1, pool.w"  # a sentence, unquoted
    with pytest.raises(errors.SelectionError, match="sample 9 is out of range: class 1 has 3 sample"):
        frame(cap, 0, sample=9, label=1)
    with pytest.raises(errors.SelectionError, match=r"class 1 has 3 sample\(s\) at site 'enc.0'"):
        frame(cap, 0, sample=9, label=1)  # each site has its own samples: the message names it
    cap.labels = None
    with pytest.raises(errors.NoLabelsError) as e:
        frame(cap, "pool.w", label=0)
    assert str(e.value) == errors.no_labels("filtering by class")
    with pytest.raises(errors.NoLabelsError, match="aw.collect"):
        cap.stat("pool.w", 0, "mean", 0)
    assert errors.check_head("max", 2, "s", 0) == "max" and errors.check_head(-1, 2, "s", 0) == -1
    with pytest.raises(errors.SelectionError):
        errors.check_head(-1, 2, "s", 0, negative=False)
    with pytest.raises(ValueError, match="int, 'mean' or 'max'"):
        errors.check_head(True, 2, "s", 0)
