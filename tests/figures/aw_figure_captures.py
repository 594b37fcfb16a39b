"""Captures for the figure, CLI and static-page tests: built by hand, attention computed by torch.

``make_audio_capture`` mimics seed 000's tapped weights (an SSL front end with 25
layers, grouped in threes): axes ("sample", "layer"), ("sample", "layer",
"frame"), ("sample", "group", "member") and ("sample", "group"), with labels
0 = spoof and 1 = bonafide. ``make_text_capture`` holds real softmax attention
from ``torch.nn.MultiheadAttention`` (self and cross), over several steps,
with token strings that look like markup and math.
"""

from __future__ import annotations

import numpy as np
import torch

from attnwidget.store import Capture

CLASS_NAMES = {0: "spoof", 1: "bonafide"}


def make_audio_capture(
    n: int = 12, layers: int = 25, frames: int = 50, group: int = 3, seed: int = 0
) -> Capture:
    g = torch.Generator().manual_seed(seed)
    labels = np.array([i % 2 for i in range(n)])
    groups = -(-layers // group)
    # spoof samples lean on early layers, bonafide on late ones, so the classes differ
    bias = torch.linspace(-1.5, 1.5, layers)
    logits = (
        torch.randn(n, layers, generator=g)
        + torch.from_numpy(np.where(labels[:, None] == 0, -1.0, 1.0)).float() * bias
    )
    layer_w = torch.softmax(logits, dim=-1).numpy()
    t_logits = torch.randn(n, layers, frames, generator=g) * 0.5
    t_logits[labels == 0, :, :8] += 2.0  # spoof: attention to the start of the clip
    temporal = torch.softmax(t_logits, dim=-1).numpy()
    intra = torch.softmax(torch.randn(n, groups, group, generator=g), dim=-1).numpy()
    inter = torch.softmax(torch.randn(n, groups, generator=g) + torch.arange(groups) * 0.2, dim=-1).numpy()
    cap = Capture()
    cap.add("model.layer_weights", 0, layer_w, kind="weights", axes=("sample", "layer"))
    cap.add("model.intra_attn", 0, temporal, kind="weights", axes=("sample", "layer", "frame"))
    cap.add("model.group_intra", 0, intra, kind="weights", axes=("sample", "group", "member"))
    cap.add("model.group_inter", 0, inter, kind="weights", axes=("sample", "group"))
    cap.labels = labels
    cap.predictions = labels.copy()
    cap.metadata = {"class_names": {str(k): v for k, v in CLASS_NAMES.items()}}
    return cap


def mha_weights(
    q_len: int, k_len: int, heads: int = 4, batch: int = 2, dim: int = 32, causal: bool = False, seed: int = 0
) -> np.ndarray:
    """Real attention weights ``[sample, head, query, key]`` from nn.MultiheadAttention."""
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    q = torch.randn(batch, q_len, dim) * 3
    kv = torch.randn(batch, k_len, dim) * 3
    mask = torch.triu(torch.ones(q_len, k_len, dtype=torch.bool), 1) if causal else None
    with torch.no_grad():
        _, w = mha(q, kv, kv, attn_mask=mask, need_weights=True, average_attn_weights=False)
    return w.numpy()


def make_text_capture(steps: int = 3) -> Capture:
    src = ["안녕", "하", "세요", "$5", "<b>", "</s>"]
    tgt = ["<s>", "Hello", "&", "$x$", "!", "</s>"]
    cap = Capture()
    for s in range(steps):
        cap.add("decoder.layers.0.self_attn", s, mha_weights(6, 6, causal=True, seed=s), kind="self")
        cap.add("decoder.layers.0.cross_attn", s, mha_weights(6, 6, seed=10 + s), kind="cross")
        cap.add("decoder.layers.1.cross_attn", s, mha_weights(6, 6, seed=20 + s), kind="cross")
    cap.tokens = {
        "decoder.layers.0.self_attn": {"query": tgt, "key": tgt},
        "decoder.layers.0.cross_attn": {"query": tgt, "key": src},
        "decoder.layers.1.cross_attn": {"query": tgt, "key": src},
    }
    cap.labels = np.array([0, 1])
    return cap
