"""collect(keep="samples"), the default: what it always did, checked against direct captures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _collect_models import batches, data, model

import attnwidget as aw


def test_samples_equal_one_capture_per_batch_with_labels_and_predictions():
    net = model()
    ids, labels = data(30)
    cap = aw.collect(
        net,
        batches(ids, labels, 8),
        num_samples=None,
        labels=1,
        predict=lambda out: out.argmax(-1),
        progress=False,
    )
    assert cap.layers == ["blocks.0", "blocks.1"]
    assert cap.num_samples == 30 and cap.metadata["num_samples"] == 30
    assert cap.metadata["model"] == "Tiny" and "keep" not in cap.metadata
    assert cap.stats == {}
    with torch.no_grad(), aw.capture(net) as direct:
        logits = net(ids)
    for layer in cap.layers:
        assert cap.get(layer).shape == (30, 2, 8, 8)
        assert cap.info[layer]["padded"] is False
        np.testing.assert_allclose(cap.get(layer), direct.get(layer), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(cap.labels, labels.numpy())
    np.testing.assert_array_equal(cap.predictions, logits.argmax(-1).numpy())


def test_num_samples_truncates_and_stops_reading():
    ids, labels = data(40)
    read = []

    def gen():
        for b in batches(ids, labels, 8):
            read.append(len(b[0]))
            yield b

    cap = aw.collect(model(), gen(), num_samples=19, labels=1, predict=lambda o: o.argmax(-1), progress=False)
    assert cap.num_samples == 19 and len(cap.labels) == 19 and len(cap.predictions) == 19
    assert read == [8, 8, 8]  # the fourth batch is never fetched
    np.testing.assert_array_equal(cap.labels, labels[:19].numpy())


def test_label_spec_forms():
    net = model()
    ids, labels = data(12)
    tup = batches(ids, labels, 6)
    dicts = [{"ids": b[0], "y": b[1]} for b in tup]
    a = aw.collect(net, tup, labels=lambda b: b[1], progress=False)
    b = aw.collect(net, dicts, labels="y", forward=lambda m, b: m(b["ids"]), progress=False)
    np.testing.assert_array_equal(a.labels, labels.numpy())
    np.testing.assert_array_equal(b.labels, labels.numpy())
    with pytest.raises(TypeError, match="labels= must be a callable"):
        aw.collect(net, tup, labels="y", progress=False)


def test_variable_lengths_are_zero_padded():
    net = model()
    short, _ = data(4, length=5)
    long, _ = data(3, length=8)
    cap = aw.collect(net, [short, long], num_samples=None, progress=False)
    a = cap.get("blocks.0")
    assert a.shape == (7, 2, 8, 8) and cap.info["blocks.0"]["padded"] is True
    assert np.all(a[:4, :, 5:, :] == 0) and np.all(a[:4, :, :, 5:] == 0)
    np.testing.assert_allclose(a[:4, :, :5, :5].sum(-1), 1, rtol=1e-5)  # the real rows are whole


def test_progress_off_prints_nothing(capsys):
    ids, labels = data(8)
    aw.collect(model(), batches(ids, labels, 4), progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    aw.collect(model(), batches(ids, labels, 4), progress=True)
    assert "collect" in capsys.readouterr().err


def test_bad_input_is_a_clear_error():
    net = model()
    ids, labels = data(8)
    with pytest.raises(ValueError, match="iterable was empty"):
        aw.collect(net, [], progress=False)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        aw.collect(net, [ids], num_samples=0, progress=False)
    with pytest.raises(ValueError, match="keep must be one of"):
        aw.collect(net, [ids], keep="everything", progress=False)
    with pytest.raises(ValueError, match="max_samples= caps the statistics"):
        aw.collect(net, [ids], max_samples=5, progress=False)
    with pytest.raises(ValueError, match="keep='stats' keeps none"):
        aw.collect(net, [ids], keep="stats", predict=lambda o: o, progress=False)
    with pytest.raises(ValueError, match="every must be a positive int"):
        aw.collect(net, [ids], every=0, progress=False)
    with pytest.raises(TypeError, match="cannot feed a str batch"):
        aw.collect(net, ["text"], progress=False)
    net.train()
    with pytest.warns(UserWarning, match="training mode"):
        aw.collect(net, [ids], progress=False)


def test_index_orders_kept_samples():
    net = model()
    ids, labels = data(24)
    bs = batches(ids, labels, 6)
    starts = {id(b): i * 6 for i, b in enumerate(bs)}
    shuffled = [bs[2], bs[0], bs[3], bs[1]]
    cap = aw.collect(
        net,
        shuffled,
        num_samples=10,
        labels=1,
        keep="both",
        index=lambda b: np.arange(starts[id(b)], starts[id(b)] + len(b[0])),
        progress=False,
    )
    want = aw.collect(net, bs, num_samples=10, labels=1, keep="both", progress=False)
    np.testing.assert_array_equal(cap.labels, want.labels)
    np.testing.assert_allclose(cap.get(0), want.get(0), rtol=1e-6)
    # the same samples in another order of batches: equal up to float32 rounding of batch sums
    np.testing.assert_allclose(cap.stats["blocks.0"][0]["mean"], want.stats["blocks.0"][0]["mean"], rtol=1e-6)
    with pytest.raises(ValueError, match="integer global sample indices"):
        aw.collect(net, bs, index=lambda b: np.zeros(len(b[0])) + 0.5, progress=False)
