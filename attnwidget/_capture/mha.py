"""``nn.MultiheadAttention`` weights per head, whatever its caller asked for.

Inside a capture, torch's function mode makes ``nn.MultiheadAttention`` and
``nn.TransformerEncoderLayer`` skip their fused fast path (it checks
``has_torch_function``) and call ``F.multi_head_attention_forward``, which the
engine intercepts. The call runs unchanged; the weights are computed beside
it from the same projections and masks, per head and before dropout, by the
same tiled code as ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F

from .options import Reducer
from .sdpa import sdpa_weights

__all__ = ["bind_mha", "mha_weights"]

_SIGNATURE = inspect.signature(F.multi_head_attention_forward)


def bind_mha(args, kwargs) -> dict:
    bound = _SIGNATURE.bind(*args, **(kwargs or {}))
    bound.apply_defaults()
    return dict(bound.arguments)


def _projections(call: dict):
    q_in, k_in = call["query"], call["key"]
    if call["use_separate_proj_weight"]:
        wq, wk = call["q_proj_weight"], call["k_proj_weight"]
    else:
        wq, wk, _ = call["in_proj_weight"].chunk(3)
    bq = bk = None
    if call["in_proj_bias"] is not None:
        bq, bk, _ = call["in_proj_bias"].chunk(3)
    return F.linear(q_in, wq, bq), F.linear(k_in, wk, bk)


@torch.no_grad()
def mha_weights(call: dict, reducer: Reducer, site: str) -> tuple[torch.Tensor, dict]:
    """Reduced weights ``[sample, head, query, key]`` of one ``multi_head_attention_forward`` call."""
    batched = call["query"].dim() == 3
    if call["bias_k"] is not None or call["add_zero_attn"] or call["static_k"] is not None:
        # rare options: let torch compute the full weights, then reduce them
        kw = dict(call, need_weights=True, average_attn_weights=False, dropout_p=0.0, training=False)
        _, w = F.multi_head_attention_forward(**kw)
        return reducer.reduce(w if batched else w.unsqueeze(0), site)

    q, k = _projections(call)  # [L, N, E] (or [L, E] unbatched)
    if not batched:
        q, k = q.unsqueeze(1), k.unsqueeze(1)
    n_query, n_samples, embed = q.shape
    n_key = k.shape[0]
    n_heads = call["num_heads"]
    head_dim = embed // n_heads
    q = q.reshape(n_query, n_samples, n_heads, head_dim).permute(1, 2, 0, 3)
    k = k.reshape(n_key, n_samples, n_heads, head_dim).permute(1, 2, 0, 3)

    # one additive mask [sample or 1, head or 1, query or 1, key]; MHA's boolean masks mean "ignore"
    mask = None
    attn_mask, padding = call["attn_mask"], call["key_padding_mask"]
    if attn_mask is not None:
        m = attn_mask
        if m.dtype == torch.bool:
            m = torch.zeros(m.shape, dtype=torch.float32, device=m.device).masked_fill_(m, float("-inf"))
        m = m.float()
        mask = (
            m.reshape(1, 1, n_query, n_key) if m.dim() == 2 else m.reshape(n_samples, n_heads, n_query, n_key)
        )
    elif call["is_causal"]:
        causal = torch.ones(n_query, n_key, dtype=torch.bool, device=q.device).triu_(1)
        mask = torch.zeros(1, 1, n_query, n_key, device=q.device).masked_fill_(causal, float("-inf"))
    if padding is not None:
        p = padding.reshape(n_samples, 1, 1, n_key)
        if p.dtype == torch.bool:
            p = torch.zeros(p.shape, dtype=torch.float32, device=p.device).masked_fill_(p, float("-inf"))
        mask = p.float() if mask is None else mask + p.float()
    sdpa_call = {
        "query": q,
        "key": k,
        "attn_mask": mask,
        "is_causal": False,
        "scale": None,
        "enable_gqa": False,
    }
    weights, info, _ = sdpa_weights(sdpa_call, reducer, site)
    return weights, info
