"""collect() folds each site as the engine computes it: kept samples are copies, taps and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _collect_models import Tapped, Tiny, batches, data, model

import attnwidget as aw


def test_kept_samples_are_copies_of_each_site_not_the_reused_buffer():
    # the engine computes every site in the same workspace; a kept sample must not change when the
    # next site (or batch) overwrites it
    torch.manual_seed(0)
    net = Tiny(layers=3).eval()
    ids, labels = data(20)
    cap = aw.collect(net, batches(ids, labels, 7), num_samples=12, labels=1, keep="both", progress=False)
    with torch.no_grad(), aw.capture(net) as direct:
        net(ids[:12])
    assert cap.layers == direct.layers == ["blocks.0", "blocks.1", "blocks.2"]
    for layer in cap.layers:
        np.testing.assert_allclose(cap.get(layer), direct.get(layer), rtol=1e-5, atol=1e-7)
    a, b = cap.get("blocks.0"), cap.get("blocks.2")
    assert not np.shares_memory(a, b) and not np.allclose(a, b)


def test_tapped_weights_sites_stream_without_entropy():
    torch.manual_seed(0)
    net = Tapped().eval()
    ids, labels = data(18)
    cap = aw.collect(net, batches(ids, labels, 5), num_samples=None, labels=1, keep="both", progress=False)
    st = cap.stats["gate"][0]
    assert "entropy" not in st and st["mean"].shape == (3, 8)
    gate = cap.get("gate")
    np.testing.assert_allclose(st["mean"][0], gate.mean(0), rtol=1e-6)
    np.testing.assert_allclose(st["max"][2], gate[cap.labels == 1].max(0), rtol=1e-6)


def test_a_site_with_another_sample_count_is_a_clear_error():
    torch.manual_seed(0)
    net = Tapped(shared_tap=True).eval()
    ids, labels = data(8)
    with pytest.raises(ValueError, match=r"site 'prior' recorded 1 samples .* others recorded 4"):
        aw.collect(net, batches(ids, labels, 4), keep="stats", labels=1, progress=False)
    # the failed collection left no hooks or modes behind
    plain = model()
    with torch.no_grad(), aw.capture(plain) as cap:
        plain(ids)
    assert cap.layers == ["blocks.0", "blocks.1"]
    net.shared_tap = False  # and the same model collects once its taps agree
    ok = aw.collect(net, batches(ids, labels, 4), keep="stats", labels=1, progress=False)
    assert ok.layers == ["gate", "blocks.0", "blocks.1"]
