"""Captures for the widget tests, built by hand with Capture.add or from real
torch attention (nn.MultiheadAttention), never from mocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnwidget.store import Capture

HOSTILE = "<img src=x onerror=alert(1)>"


def softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def cap() -> Capture:
    """3 self-attention layers, 6 samples (labels 0,1,0,1,1,0), 4 heads, 10 tokens."""
    rng = np.random.default_rng(0)
    c = Capture()
    for layer in range(3):
        c.add(
            f"encoder.layer.{layer}.attention",
            0,
            softmax_rows(rng.normal(size=(6, 4, 10, 10)) * 2),
            kind="self",
        )
    c.labels = np.array([0, 1, 0, 1, 1, 0])
    c.tokens = [HOSTILE, "the", "cat", "&amp;", "sat", "on", "the", "mat", "</script>", "[SEP]"]
    return c


@pytest.fixture
def torch_cap() -> Capture:
    """Real attention from two nn.MultiheadAttention layers over 3 steps of 12 tokens."""
    torch.manual_seed(0)
    layers = [torch.nn.MultiheadAttention(16, 4, batch_first=True) for _ in range(2)]
    c = Capture()
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        for step in range(3):
            h = x + step * 0.1
            for i, mha in enumerate(layers):
                h, w = mha(h, h, h, need_weights=True, average_attn_weights=False)
                c.add(f"blocks.{i}.attn", step, w.numpy(), kind="self")
    return c


@pytest.fixture
def big_cap() -> Capture:
    """One layer, 1 sample, 2 heads, 600 x 600: bigger than the default canvas size."""
    rng = np.random.default_rng(1)
    c = Capture()
    c.add("layer", 0, rng.random((1, 2, 600, 600)).astype(np.float32), kind="self")
    return c


@pytest.fixture
def weights_cap() -> Capture:
    """A tapped weights site [sample, group, layer] with labels, plus one attention site."""
    rng = np.random.default_rng(2)
    c = Capture()
    c.add("encoder.attn", 0, softmax_rows(rng.normal(size=(4, 2, 5, 5))), kind="self")
    c.add(
        "pool.layer_weights",
        0,
        rng.random((4, 3, 7)).astype(np.float32),
        kind="weights",
        axes=("sample", "group", "layer"),
    )
    c.labels = np.array([0, 0, 1, 1])
    return c


@pytest.fixture
def vit_cap() -> Capture:
    """ViT-like: 1 CLS + 4x4 patches = 17 tokens, 3 heads, 2 samples."""
    rng = np.random.default_rng(3)
    c = Capture()
    c.add("vit.block.0.attn", 0, softmax_rows(rng.normal(size=(2, 3, 17, 17))), kind="self")
    return c
