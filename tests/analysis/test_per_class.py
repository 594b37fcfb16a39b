"""collect(per_class=N): up to N samples of each label from an imbalanced data set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import attnwidget as aw


class SelfAttention(torch.nn.Module):
    """One head of plain self-attention over the inputs, and a two-class readout."""

    def forward(self, x):
        q = x[:, None]
        y = F.scaled_dot_product_attention(q, q, q)[:, 0]
        return y.mean(1)[:, :2]


def imbalanced(n_batches=8, batch=10, seed=0):
    """Batches ``(x [batch, 5, 4], label [batch])`` with about 1 in 8 samples of class 1."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        labels = (torch.rand(batch, generator=g) < 0.125).long()
        out.append((torch.randn(batch, 5, 4, generator=g), labels))
    return out


def first_of_each(batches, n):
    """The inputs and labels of the first ``n`` samples of each label, in reading order."""
    xs = torch.cat([b[0] for b in batches])
    ys = torch.cat([b[1] for b in batches])
    keep, seen = [], {}
    for i, y in enumerate(ys.tolist()):
        if seen.get(y, 0) < n:
            seen[y] = seen.get(y, 0) + 1
            keep.append(i)
    return xs[keep], ys[keep]


def test_per_class_keeps_the_first_n_of_each_label():
    batches = imbalanced()
    labels = torch.cat([b[1] for b in batches])
    minority = int((labels == 1).sum())
    assert 3 <= minority < 10 and int((labels == 0).sum()) > 40  # the data set is imbalanced
    model = SelfAttention().eval()
    cap = aw.collect(model, batches, num_samples=None, labels=1, per_class=10, predict=lambda o: o.argmax(-1))
    counts = {k: int(v) for k, v in zip(*np.unique(cap.labels, return_counts=True))}
    assert counts == {0: 10, 1: minority}  # a class with fewer keeps them all
    x, y = first_of_each(batches, 10)
    assert cap.labels.tolist() == y.tolist()
    with aw.capture(model) as ref:
        out = model(x)
    assert np.allclose(cap.get(0), ref.get(0), atol=1e-6)
    assert cap.predictions.tolist() == out.argmax(-1).tolist()
    # without per_class the first samples are kept whatever their label: the minority is short
    plain = aw.collect(model, batches, num_samples=10 + minority, labels=1, progress=False)
    assert int((plain.labels == 1).sum()) < minority


def test_num_samples_caps_the_total_and_stops_reading():
    read = []

    def batches():
        for i, b in enumerate(imbalanced()):
            read.append(i)
            yield b

    cap = aw.collect(
        SelfAttention().eval(), batches(), num_samples=12, labels=1, per_class=10, progress=False
    )
    assert cap.num_samples == 12 and int((cap.labels == 0).sum()) == 10
    assert len(read) < 8  # stopped once 12 were kept


def test_with_keep_both_the_statistics_still_count_every_sample():
    batches = imbalanced()
    cap = aw.collect(
        SelfAttention().eval(), batches, num_samples=None, keep="both", labels=1, per_class=4, progress=False
    )
    assert np.unique(cap.labels, return_counts=True)[1].tolist() == [4, 4]
    assert cap.metadata["stats_samples"] == 80
    st = cap.site_stats(0)
    assert st["classes"] == ["all", 0, 1] and st["count"][0] == 80 and st["count"][1:].sum() == 80


class Crash(Exception):
    pass


def test_a_resumed_collection_continues_the_class_counts(tmp_path):
    batches = imbalanced()
    model = SelfAttention().eval()
    path = tmp_path / "run.npz"

    def crashing():
        for i, b in enumerate(batches):
            if i == 4:
                raise Crash
            yield b

    with pytest.raises(Crash):
        aw.collect(model, crashing(), num_samples=None, labels=1, per_class=6, checkpoint=path, every=1)
    resumed = aw.collect(model, batches, num_samples=None, labels=1, per_class=6, checkpoint=path, every=1)
    whole = aw.collect(model, batches, num_samples=None, labels=1, per_class=6, progress=False)
    assert resumed.labels.tolist() == whole.labels.tolist()
    assert np.array_equal(resumed.get(0), whole.get(0))


def test_per_class_errors_say_what_to_do():
    model, batches = SelfAttention().eval(), imbalanced(1)
    with pytest.raises(ValueError, match="needs labels="):
        aw.collect(model, batches, per_class=3)
    with pytest.raises(ValueError, match="keep='both'"):
        aw.collect(model, batches, labels=1, keep="stats", per_class=3)
    with pytest.raises(ValueError, match="positive int"):
        aw.collect(model, batches, labels=1, per_class=0)
