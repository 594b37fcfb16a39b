"""Attention weights of a ``scaled_dot_product_attention`` call, computed in query tiles.

The fused kernel never returns its weights, so they are recomputed from the
call's own arguments exactly as the kernel defines them (scale, boolean or
additive mask, top-left causal mask, grouped-query heads), then reduced tile
by tile. With ``max_size`` or ``rows`` set the full ``query x key`` matrix is
never materialised: peak extra memory is one tile.
"""

from __future__ import annotations

import math

import torch
from torch.nn.attention import SDPBackend

from .options import Reducer

__all__ = ["SDPA_ARGS", "bind_sdpa", "sdpa_weights", "unpack_gqa"]

SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_DEFAULTS = {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False}
# elements of float32 scores per tile (64 MiB): bounds the extra memory of a long sequence
TILE_ELEMENTS = 1 << 24
_FLASH_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def bind_sdpa(args, kwargs) -> dict:
    """Positional and keyword arguments of a call -> one dict by parameter name."""
    bound = dict(_DEFAULTS)
    for name, value in zip(SDPA_ARGS, args):
        bound[name] = value
    bound.update(kwargs or {})
    return bound


def unpack_gqa(call: dict, module) -> dict:
    """Undo Hugging Face's ``pack_gqa`` for a grouped-query decoding step.

    With a mask and one query token, HF's sdpa path reshapes the query
    ``[b, heads, 1, d]`` to ``[b, kv_heads, groups, d]`` so each kv head sees its
    group of query heads as rows. The weights are per query head
    ``[b, heads, 1, key]``, so the call is read back in that layout (head
    ``h`` uses kv head ``h // groups``, as in ``repeat_kv``).
    """
    groups = getattr(module, "num_key_value_groups", 1)
    q, k, mask = call["query"], call["key"], call["attn_mask"]
    if not isinstance(groups, int) or groups <= 1 or q.ndim != 4 or k.ndim != 4:
        return call
    n_heads = getattr(getattr(module, "config", None), "num_attention_heads", None)
    b, h, n_rows, d = q.shape
    if n_heads != h * groups or k.shape[1] != h or n_rows != groups:
        return call
    if mask is not None and mask.ndim == 4:
        if mask.shape[1] == h and mask.shape[2] == groups:
            mask = mask.reshape(mask.shape[0], h * groups, 1, mask.shape[-1])
        elif mask.shape[2] != 1:
            return call
    return dict(call, query=q.reshape(b, h * groups, 1, d), attn_mask=mask,
                is_causal=False, enable_gqa=True)


def _as4d(t: torch.Tensor) -> torch.Tensor:
    """``[..., L, E]`` -> ``[sample, head, L, E]`` (no batch -> 1 sample; extra dims -> samples)."""
    if t.ndim == 4:
        return t
    if t.ndim == 3:
        return t.unsqueeze(0)
    if t.ndim == 2:
        return t[None, None]
    return t.reshape(-1, *t.shape[-3:])


def _mask4d(mask: torch.Tensor | None) -> torch.Tensor | None:
    if mask is None:
        return None
    if mask.ndim < 4:
        return mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape))
    if mask.ndim > 4:
        return mask.reshape(-1, *mask.shape[-3:])
    return mask


def flash_with_lse(call: dict):
    """Run the call's own CPU flash kernel and keep its log-sum-exp, when that is what it runs.

    ``F.scaled_dot_product_attention`` on the CPU dispatches to
    ``aten._scaled_dot_product_flash_attention_for_cpu`` (a boolean mask
    turned into ``0``/``-inf`` first), which also returns each query row's
    log-sum-exp and then throws it away. Calling the kernel directly gives the
    very same output plus the log-sum-exp, so the weights become
    ``exp(scores - lse)``: no max, sum or division passes over the scores.

    Returns ``(output, lse)``, or None where the dispatcher would pick another
    backend or autograd, dropout or grouped heads are involved (then the call
    runs as usual and the weights are normalised by softmax).
    """
    q, k, v = call["query"], call["key"], call["value"]
    mask = call["attn_mask"]
    if q.device.type != "cpu" or not (q.dim() == k.dim() == v.dim() == 4):
        return None
    if call["dropout_p"] or call["enable_gqa"]:
        return None
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (q, k, v, mask)):
        return None
    is_causal = bool(call["is_causal"])
    try:
        choice = torch._fused_sdp_choice(q, k, v, mask, 0.0, is_causal, scale=call["scale"])
    except (RuntimeError, TypeError):
        return None
    if choice != int(SDPBackend.FLASH_ATTENTION):
        return None
    if mask is not None and mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill_(
            mask.logical_not(), float("-inf"))
    return _FLASH_CPU(q, k, v, 0.0, is_causal, attn_mask=mask, scale=call["scale"])


@torch.no_grad()
def sdpa_weights(call: dict, reducer: Reducer, site: str,
                 lse: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Reduced weights ``[sample, head, query, key]`` of one sdpa call (on its device).

    ``lse``: the kernel's per-row log-sum-exp ``[sample, head, query]`` (see
    :func:`flash_with_lse`); without it the rows are normalised by softmax.
    """
    q, k = _as4d(call["query"]), _as4d(call["key"])
    mask = _mask4d(call["attn_mask"])
    n_samples, n_heads, n_query, dim = q.shape
    n_key = k.shape[-2]
    if call["enable_gqa"] and k.shape[1] != n_heads:
        k = k.repeat_interleave(n_heads // k.shape[1], dim=1)
    scale = call["scale"] if call["scale"] is not None else 1.0 / math.sqrt(dim)
    reducer.check_heads(n_heads, site)

    rows = reducer.row_index(n_query, site)
    if rows is not None:
        rows = rows.to(q.device)
        q = q.index_select(2, rows)
        if lse is not None:
            lse = lse.index_select(2, rows)
        if mask is not None and mask.shape[2] != 1:
            mask = mask.index_select(2, rows)
        positions = rows  # the kept rows' places, for the causal mask
    else:
        positions = torch.arange(n_query, device=q.device) if call["is_causal"] else None
    kept = q.shape[2]
    bq, bk = reducer.blocks(kept, n_key)

    # rows per tile: a multiple of the query block, so pooling never straddles tiles
    per_row = max(1, n_samples * n_heads * n_key)
    tile = max(bq, (TILE_ELEMENTS // per_row) // bq * bq)
    key_t = k.transpose(-2, -1)
    if key_t.dtype != torch.float32:
        key_t = key_t.float()
    key_pos = torch.arange(n_key, device=q.device) if call["is_causal"] else None
    parts = []
    for start in range(0, kept, tile):
        qt = q[:, :, start:start + tile]
        # scale the (small) query tile rather than the (large) scores
        scores = torch.matmul(qt.float() * scale, key_t)
        masked = False
        if mask is not None:
            mt = mask if mask.shape[2] == 1 else mask[:, :, start:start + tile]
            if mt.dtype == torch.bool:
                scores.masked_fill_(~mt, float("-inf"))
            else:
                scores.add_(mt)
            masked = True
        if call["is_causal"]:
            # the kernel's causal mask is top-left aligned: key j is seen by query i iff j <= i
            future = key_pos[None, :] > positions[start:start + tile, None]
            scores.masked_fill_(future, float("-inf"))
            masked = True
        # softmax in place: no second tile-sized buffer, and fewer passes than torch.softmax on CPU
        if lse is not None:
            weights = scores.sub_(lse[:, :, start:start + tile].unsqueeze(-1)).exp_()
        else:
            weights = scores.sub_(scores.amax(dim=-1, keepdim=True)).exp_()
            weights.div_(weights.sum(dim=-1, keepdim=True))
        del scores
        if masked:
            weights = torch.nan_to_num_(weights, nan=0.0)  # rows with every key masked
        parts.append(reducer.finish_tile(weights, bq, bk))
        del weights
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
    return out, reducer.info(n_heads, n_query, n_key, bq, bk)
