"""Transformer building blocks shared by the lesson models.

Attention calls ``torch.nn.functional.scaled_dot_product_attention`` (the fused
path), so ``aw.capture`` records it under the name of the module that calls it,
e.g. ``decoder.layers.1.cross_attn``. No weights are stored by hand.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention: ``queries`` attend to ``keys`` (self-attention when they are the same).

    Shapes: queries ``[sample, query, dim]``, keys ``[sample, key, dim]``;
    ``mask`` is boolean, broadcastable to ``[sample, head, query, key]``, True = may attend.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, queries, keys=None, mask=None, causal=False):
        keys = queries if keys is None else keys
        q = self._split(self.to_q(queries))
        k, v = (self._split(t) for t in self.to_kv(keys).chunk(2, dim=-1))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.out(y.transpose(1, 2).flatten(2))

    def _split(self, x):
        # [sample, n, dim] -> [sample, head, n, dim / head]
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int | None = None):
        hidden = hidden or 2 * dim
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention + feed-forward."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.ff = FeedForward(dim)

    def forward(self, x, mask=None):
        x = x + self.self_attn(self.norm1(x), mask=mask)
        return x + self.ff(self.norm2(x))


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention, cross-attention to a memory, feed-forward."""

    def __init__(self, dim: int, heads: int, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(dim) for _ in range(3))
        self.self_attn = Attention(dim, heads)
        self.cross_attn = Attention(dim, heads)
        self.ff = FeedForward(dim)

    def forward(self, x, memory, memory_mask=None):
        x = x + self.self_attn(self.norm1(x), causal=self.causal)
        x = x + self.cross_attn(self.norm2(x), memory, mask=memory_mask)
        return x + self.ff(self.norm3(x))


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """Fixed sinusoidal position codes ``[length, dim]``."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-9.21 / dim))
    out = torch.zeros(length, dim)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out
