"""Streaming statistics: equal to the statistics of the same samples kept whole; merge; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _collect_models import batches, data, model

import attnwidget as aw
from attnwidget._collect.stats import ALL, StreamingStats
from attnwidget.reduce import entropy

FIELDS = ("mean", "var", "min", "max")


def _reference(x: np.ndarray) -> dict[str, np.ndarray]:
    x = x.astype(np.float64)
    return {
        "mean": x.mean(0),
        "var": x.var(0),
        "min": x.min(0),
        "max": x.max(0),
        "entropy": entropy(x, axis=-1).astype(np.float64).mean(axis=(0, 2)),
    }


def _check(st, kept, labels, classes):
    assert st["classes"] == [ALL] + classes
    for i, c in enumerate(st["classes"]):
        x = kept if c == ALL else kept[labels == c]
        assert st["count"][i] == len(x)
        ref = _reference(x)
        for field in FIELDS + ("entropy",):
            np.testing.assert_allclose(
                st[field][i], ref[field], rtol=1e-6, atol=1e-12, err_msg=f"{c} {field}"
            )


def test_streaming_stats_equal_stats_of_the_kept_samples():
    ids, labels = data(57)  # batches of 5 leave a short last batch
    cap = aw.collect(
        model(), batches(ids, labels, 5), num_samples=None, labels=1, keep="both", progress=False
    )
    assert cap.num_samples == 57 and cap.metadata["stats_samples"] == 57
    assert cap.metadata["keep"] == "both"
    for layer in cap.layers:
        st = cap.stats[layer][0]
        assert st["mean"].shape == (3, 2, 8, 8) and st["entropy"].shape == (3, 2)
        _check(st, cap.get(layer), cap.labels, [0, 1])
        assert np.all(st["var"] >= 0) and np.all(st["min"] <= st["mean"] + 1e-12)


def test_stats_only_keeps_no_sample_and_equals_both():
    ids, labels = data(40)
    bs = batches(ids, labels, 8)
    stats = aw.collect(model(), bs, labels=1, keep="stats", progress=False)
    both = aw.collect(model(), bs, num_samples=5, labels=1, keep="both", progress=False)
    assert stats.num_samples == 0 and stats.steps == 1 and both.num_samples == 5
    assert stats.layers == both.layers == ["blocks.0", "blocks.1"]
    for layer in stats.layers:
        assert stats.steps_of(layer) == []
        for field in FIELDS + ("entropy", "count"):
            np.testing.assert_array_equal(stats.stats[layer][0][field], both.stats[layer][0][field])
    with pytest.raises(IndexError, match="statistics only"):
        stats.get("blocks.0")
    assert "statistics of 40 sample(s)" in repr(stats)


def test_without_labels_only_the_all_entry_and_max_samples_caps():
    ids, labels = data(30)
    cap = aw.collect(
        model(), batches(ids, labels, 4), num_samples=None, keep="both", max_samples=13, progress=False
    )
    st = cap.stats["blocks.1"][0]
    assert st["classes"] == [ALL] and list(st["count"]) == [13]
    kept = aw.collect(model(), batches(ids, labels, 4), num_samples=13, progress=False)
    ref = _reference(kept.get("blocks.1"))
    for field in FIELDS:
        np.testing.assert_allclose(st[field][0], ref[field], rtol=1e-6, atol=1e-12)
    assert cap.num_samples == 13  # kept samples never pass max_samples: none are read past it


def test_reduced_heads_and_pooling_are_streamed_too():
    ids, labels = data(20)
    cap = aw.collect(
        model(),
        batches(ids, labels, 6),
        num_samples=None,
        labels=1,
        keep="both",
        heads="mean",
        max_size=4,
        progress=False,
    )
    st = cap.stats["blocks.0"][0]
    assert st["mean"].shape == (3, 1, 4, 4)
    _check(st, cap.get("blocks.0"), cap.labels, [0, 1])


def test_merge_of_parts_equals_the_whole():
    rng = np.random.default_rng(0)
    x = rng.random((50, 3, 4, 4)) * 1e3 + 1e6  # a large offset: naive sums of squares would lose it
    y = rng.integers(0, 3, 50)
    whole, a, b = StreamingStats(), StreamingStats(), StreamingStats()
    whole.update("s", 0, x, y)
    for i in range(0, 21, 3):
        a.update("s", 0, x[i : i + 3], y[i : i + 3])
    b.update("s", 0, x[21:], y[21:])
    got = a.merge(b).result()["s"][0]
    want = whole.result()["s"][0]
    for field in FIELDS + ("entropy",):
        np.testing.assert_allclose(got[field], want[field], rtol=1e-9, err_msg=field)
    np.testing.assert_allclose(want["var"][0], x.var(0), rtol=1e-9)
    assert got["classes"] == ["all", 0, 1, 2]


def test_string_labels_and_weights_sites():
    acc = StreamingStats()
    acc.update(
        "w",
        0,
        np.arange(12.0).reshape(4, 3),
        np.array(["real", "fake", "real", "real"]),
        axes=("sample", "channel"),
    )
    st = acc.result()["w"][0]
    assert st["classes"] == ["all", "fake", "real"] and "entropy" not in st
    np.testing.assert_allclose(st["mean"][2], [5, 6, 7])
    np.testing.assert_allclose(st["max"][1], [3, 4, 5])
    with pytest.raises(ValueError, match="the every-sample entry"):
        acc.update("w", 0, np.zeros((1, 3)), np.array(["all"]), axes=("sample", "channel"))
    with pytest.raises(ValueError, match="2 labels for a batch of 1"):
        acc.update("w", 0, np.zeros((1, 3)), np.array(["a", "b"]), axes=("sample", "channel"))


def test_shapes_that_change_are_a_clear_error():
    net = model()
    short, _ = data(4, length=5)
    long, _ = data(4, length=8)
    with pytest.raises(ValueError, match=r"pad inputs to a fixed length .* keep='samples'"):
        aw.collect(net, [short, long], keep="stats", progress=False)
    with pytest.raises(ValueError, match="labels= gave 3 labels for a batch of 4"):
        aw.collect(net, [(short, np.zeros(3))], labels=1, keep="stats", progress=False)


def test_memory_does_not_grow_with_samples():
    acc = StreamingStats()
    x = np.random.default_rng(1).random((16, 2, 8, 8))
    acc.update("s", 0, x, np.arange(16) % 2)
    size = sum(a.nbytes for m in acc.sites[("s", 0)].classes.values() for a in (m.mean, m.m2, m.min, m.max))
    for _ in range(20):
        acc.update("s", 0, x, np.arange(16) % 2)
    assert acc.num_samples == 16 * 21
    assert (
        sum(a.nbytes for m in acc.sites[("s", 0)].classes.values() for a in (m.mean, m.m2, m.min, m.max))
        == size
    )


def test_head_entropy_matches_reduce_entropy():
    from attnwidget._collect.stats import head_entropy

    rng = np.random.default_rng(2)
    x = rng.random((5, 3, 4, 6)).astype(np.float32)
    x[0, 0, 0] = 0  # an all-zero row
    x[1, :, :, :2] = 0  # zero weights
    x[2] *= 7  # rows that do not sum to 1
    x[3, 1, 2, 3] = -0.5  # negative weights are clipped
    want = entropy(x, axis=-1).astype(np.float64).mean(axis=-1)
    np.testing.assert_allclose(head_entropy(x), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        head_entropy(x.astype(np.float16)),
        entropy(x.astype(np.float16), axis=-1).mean(axis=-1),
        rtol=1e-3,
        atol=1e-3,
    )


def test_float32_variance_keeps_its_precision_when_tiny_next_to_the_mean():
    rng = np.random.default_rng(3)
    x = (0.3 + 1e-4 * rng.random((40, 2, 5, 5))).astype(np.float32)
    x[:, 0, 0, 0] = 0.7  # a constant cell: variance exactly 0
    acc = StreamingStats()
    for i in range(0, 40, 7):
        acc.update("s", 0, x[i : i + 7], np.arange(i, min(i + 7, 40)) % 3)
    st = acc.result()["s"][0]
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(st["var"][0], x64.var(0), rtol=1e-6, atol=1e-20)
    np.testing.assert_allclose(st["var"][2], x64[1::3].var(0), rtol=1e-6, atol=1e-20)
    np.testing.assert_allclose(st["mean"][0], x64.mean(0), rtol=1e-12)
    assert st["var"][0, 0, 0, 0] < 1e-20


def test_batches_of_other_types_reads_and_releases_between_them_fold_in_exactly():
    # a class's sum buffers are made once and overwritten after each read; a batch of another type
    # than the pending sums is worked in theirs
    rng = np.random.default_rng(4)
    x = rng.random((30, 2, 3, 3))
    y = np.arange(30) % 2
    want = x.copy()
    acc = StreamingStats()
    parts = ((0, 8, np.float64), (8, 15, np.float32), (15, 22, torch.float32), (22, 30, np.float64))
    for i, (a, b, kind) in enumerate(parts):
        part = torch.from_numpy(x[a:b]).to(kind) if isinstance(kind, torch.dtype) else x[a:b].astype(kind)
        want[a:b] = np.asarray(part, dtype=np.float64)  # what float32 rounding left of it
        acc.update("s", 0, part, y[a:b])
        if i in (0, 2):
            acc.result()  # a read: the pending sums go to the host, their buffers wait for the next batch
        if i == 1:
            acc.release()  # the end of a collection: sums folded in, their buffers freed
            assert not acc.sites[("s", 0)].pending
    st = acc.result()["s"][0]
    assert list(st["count"]) == [30, 15, 15]
    for i, rows in enumerate((slice(None), y == 0, y == 1)):
        ref = _reference(want[rows])
        for field in FIELDS + ("entropy",):
            np.testing.assert_allclose(
                st[field][i], ref[field], rtol=1e-6, atol=1e-12, err_msg=f"{i} {field}"
            )
