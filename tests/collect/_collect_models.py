"""A tiny deterministic attention model and data set shared by the collect tests and their worker scripts."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

import attnwidget as aw

VOCAB, LENGTH = 12, 8


class Block(nn.Module):
    """One self-attention block calling ``F.scaled_dot_product_attention``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        return x + self.out(y)


class Tiny(nn.Module):
    """Token ids ``[batch, length]`` -> two class logits, through two attention blocks."""

    def __init__(self, dim: int = 16, heads: int = 2, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.head = nn.Linear(dim, 2)

    def forward(self, ids):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))


class Tapped(Tiny):
    """Tiny plus a tapped per-sample gate, and optionally a tap without a sample axis."""

    def __init__(self, shared_tap: bool = False):
        super().__init__()
        self.shared_tap = shared_tap

    def forward(self, ids):
        x = self.embed(ids)
        aw.tap("gate", torch.softmax(x.mean(-1), -1), axes=("sample", "token"))
        if self.shared_tap:
            aw.tap("prior", torch.ones(4) / 4, axes=("slot",))  # one for the whole batch
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))


def model() -> Tiny:
    torch.manual_seed(0)
    return Tiny().eval()


def data(n: int = 64, length: int = LENGTH, seed: int = 1):
    """``(ids [n, length], labels [n])``: class 1 samples favour high token ids."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    ids = torch.randint(0, VOCAB // 2, (n, length), generator=g) + labels[:, None] * (VOCAB // 2)
    ids[:, 0] = 0  # a shared first token, attended to differently per class
    return ids, labels


def batches(ids, labels, size: int):
    """Tuple batches ``(ids, labels)`` in order."""
    return [(ids[i : i + size], labels[i : i + size]) for i in range(0, len(ids), size)]


def three_steps(m, batch):
    """A forward of three calls per batch (steps 0, 1 and 2), each with other inputs."""
    ids = batch[0]
    return [m(ids), m(torch.flip(ids, [1])), m(ids % 3)]


def stats_captures() -> dict:
    """Statistics captures of 40 samples in 2 classes: ``"stats"`` (keep="stats"), ``"both"`` (one
    kept sample, of class 1: class 0 has statistics and no kept sample) and ``"steps"`` (3 steps)."""
    ids, labels = data(40)
    bs = batches(ids, labels, 8)
    return {
        "stats": aw.collect(model(), bs, labels=1, keep="stats", progress=False),
        "both": aw.collect(model(), bs, num_samples=1, labels=1, keep="both", progress=False),
        "steps": aw.collect(model(), bs, labels=1, keep="stats", progress=False, forward=three_steps),
    }


def slow_forward(model, batch, delay: float = 0.05):
    """``model(batch[0])`` after a short sleep, so a test can kill a collection mid-run."""
    time.sleep(delay)
    return model(batch[0])


def assert_same_stats(got, want, rtol: float, atol: float) -> None:
    """Two captures hold the same sites and, at step 0, the same per-class statistics."""
    import numpy as np

    assert got.layers == want.layers
    for layer in want.layers:
        g, w = got.stats[layer][0], want.stats[layer][0]
        assert g["classes"] == w["classes"]
        np.testing.assert_array_equal(g["count"], w["count"])
        for field in ("mean", "var", "min", "max", "entropy"):
            np.testing.assert_allclose(g[field], w[field], rtol=rtol, atol=atol, err_msg=field)
