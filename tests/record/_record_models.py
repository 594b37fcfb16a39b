"""Real models and captures for the recorder and capture-swap tests (no mocks), imported by name."""

from __future__ import annotations

import numpy as np
from torch import nn

from attnwidget.store import Capture

VOCAB = 11


class TinyTransformer(nn.Module):
    """Token ids ``[sample, position]`` -> logits; dropout in the encoder layer and before the head."""

    def __init__(self, dim: int = 16, heads: int = 2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.2, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(dim, VOCAB)

    def forward(self, x):
        return self.head(self.drop(self.layer(self.embed(x))))


def softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def make_cap(sites, *, heads=4, samples=6, steps=1, tokens=8, labels=None, seed=0) -> Capture:
    """Self-attention at ``sites`` (names), ``[samples, heads, tokens, tokens]`` per step."""
    rng = np.random.default_rng(seed)
    cap = Capture()
    for step in range(steps):
        for name in sites:
            cap.add(
                name, step, softmax_rows(rng.normal(size=(samples, heads, tokens, tokens)) * 2), kind="self"
            )
    if labels is not None:
        cap.labels = np.asarray(labels)
    return cap
