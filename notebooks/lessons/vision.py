"""Lesson 2: a small vision transformer (ViT) on scikit-learn's 8x8 digits.

Each image is cut into a 4 x 4 grid of 2 x 2-pixel patches; a learned CLS
token is prepended, and after three self-attention layers the CLS token alone
classifies the digit. Row 0 of each layer's attention is where the CLS token
looks: on a trained model it should fall mostly on the digit's ink, not on the
empty background. Attention rollout follows that through all layers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._blocks import EncoderLayer
from ._fit import fit

PATCH = 2
PATCH_GRID = (4, 4)  # rows, columns of patches
CLASS_NAMES = [str(d) for d in range(10)]


def load_digits(test_size: int = 297):
    """scikit-learn's digits (ships with the package), scaled to [0, 1].

    Returns ``(train_images, train_labels, test_images, test_labels)`` with
    images ``float32 [n, 8, 8]``; the split is fixed (the last ``test_size``).
    """
    from sklearn.datasets import load_digits as _load

    d = _load()
    images = (d.images / 16.0).astype(np.float32)
    labels = d.target.astype(np.int64)
    return images[:-test_size], labels[:-test_size], images[-test_size:], labels[-test_size:]


def patchify(images: torch.Tensor) -> torch.Tensor:
    """``[sample, 8, 8]`` -> ``[sample, 16, 4]``: patches in row-major grid order."""
    n = images.shape[0]
    x = images.reshape(n, PATCH_GRID[0], PATCH, PATCH_GRID[1], PATCH)
    return x.permute(0, 1, 3, 2, 4).reshape(n, PATCH_GRID[0] * PATCH_GRID[1], PATCH * PATCH)


def tokens() -> list[str]:
    """Token strings: ``CLS`` then one ``r,c`` per patch (row, column)."""
    return ["CLS"] + [f"{r},{c}" for r in range(PATCH_GRID[0]) for c in range(PATCH_GRID[1])]


class ViT(nn.Module):
    """``model(images [sample, 8, 8]) -> logits [sample, 10]``; layers ``layers.i.self_attn``."""

    def __init__(self, dim: int = 64, heads: int = 4, depth: int = 3):
        super().__init__()
        n = PATCH_GRID[0] * PATCH_GRID[1]
        self.patch_embed = nn.Linear(PATCH * PATCH, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.positions = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, len(CLASS_NAMES))

    def forward(self, images):
        x = self.patch_embed(patchify(images))
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1) + self.positions
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x[:, 0]))


def train(steps: int = 600, batch_size: int = 64, seed: int = 0, log_every: int = 0):
    """Train a :class:`ViT`. Returns ``(model, report)``; ``report["test_accuracy"]`` on the held-out digits."""
    torch.manual_seed(seed)
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in load_digits())
    model = ViT()

    def batch(gen):
        idx = torch.randint(0, len(xtr), (batch_size,), generator=gen)
        return xtr[idx], ytr[idx]

    report = fit(
        model,
        batch,
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        steps=steps,
        lr=2e-3,
        seed=seed,
        log_every=log_every,
    )
    with torch.no_grad():
        report["test_accuracy"] = float((model(xte).argmax(-1) == yte).float().mean())
    return model, report


# ---------------------------------------------------------------- reading the capture


def self_attention_layers(cap) -> list[str]:
    return [name for name in cap.layers if cap.kinds.get(name) == "self"]


def cls_attention(cap, layer, head="mean", step=0) -> np.ndarray:
    """Where the CLS token looks: ``[sample, 4, 4]`` over the patch grid (CLS column dropped)."""
    w = cap.get(layer, step)[:, :, 0, 1:]  # [sample, head, patch]
    w = w.mean(axis=1) if head == "mean" else w[:, head]
    return w.reshape(len(w), *PATCH_GRID)


def cls_rollout(cap, step=0) -> np.ndarray:
    """Attention rollout of the CLS token through all layers (head mean): ``[sample, 4, 4]``,
    from ``aw.rollout`` (the residual identity included), its CLS row over the patches renormalised."""
    import attnwidget as aw

    flow = aw.rollout(cap, self_attention_layers(cap), step=step)
    cls = flow.get(-1)[:, 0, 0, 1:].astype(np.float64)  # the deepest layer's CLS row, patches only
    return (cls / cls.sum(axis=1, keepdims=True)).reshape(-1, *PATCH_GRID)


def ink_mask(images: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """Patches holding ink: ``bool [sample, 4, 4]``, a patch's mean intensity above ``threshold``."""
    images = np.asarray(images)
    n = images.shape[0]
    p = images.reshape(n, PATCH_GRID[0], PATCH, PATCH_GRID[1], PATCH).mean(axis=(2, 4))
    return p > threshold


def ink_mass(attention: np.ndarray, images: np.ndarray) -> dict:
    """How much of the CLS attention (``[sample, 4, 4]``) lands on ink.

    Returns ``{"on_ink", "ink_area"}``: the mean fraction of attention mass on
    ink patches, and the mean fraction of patches that are ink (what uniform
    attention would give). The lesson's claim: ``on_ink`` is well above
    ``ink_area`` and above one half.
    """
    ink = ink_mask(images)
    a = attention / attention.sum(axis=(1, 2), keepdims=True)
    return {"on_ink": float((a * ink).sum(axis=(1, 2)).mean()), "ink_area": float(ink.mean())}
