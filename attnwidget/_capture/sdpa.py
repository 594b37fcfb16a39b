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

from ..reduce import entropy_from_sums
from .options import Reducer
from .workspace import Workspace

__all__ = ["SDPA_ARGS", "bind_sdpa", "sdpa_weights", "unpack_gqa"]

SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_DEFAULTS = {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False}
# elements of float32 scores per tile (64 MiB): bounds the extra memory of a long sequence
TILE_ELEMENTS = 1 << 24
# reduced weights are computed in blocks of at most this many keys and about this many elements
# (12 MiB of float32: all heads of a few hundred rows, within the last-level cache)
KEY_BLOCK = 1024
BLOCK_ELEMENTS = 3 << 20
_FLASH_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def _empty(workspace: Workspace | None, role: str, shape, device, dtype=torch.float32) -> torch.Tensor:
    if workspace is None:
        return torch.empty(shape, dtype=dtype, device=device)
    return workspace.get(role, shape, dtype, device)


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
    return dict(call, query=q.reshape(b, h * groups, 1, d), attn_mask=mask, is_causal=False, enable_gqa=True)


def _as4d(t: torch.Tensor) -> torch.Tensor:
    """``[..., L, E]`` -> ``[sample, head, L, E]`` (no batch -> 1 sample; extra dims -> samples)."""
    if t.ndim == 4:
        return t
    if t.ndim == 3:
        return t.unsqueeze(0)
    if t.ndim == 2:
        return t[None, None]
    return t.reshape(-1, *t.shape[-3:])


def _mask4d(mask: torch.Tensor | None, batch: tuple[int, ...]) -> torch.Tensor | None:
    """The mask as ``[sample or 1, head or 1, query or 1, key]`` for queries with leading dims ``batch``.

    A mask broadcasts against the query's leading dims as sdpa broadcasts it; with more
    than two leading dims (5-D inputs) those are flattened into samples, so the mask is
    expanded over them first (a view) wherever it does not already span them.
    """
    if mask is None:
        return None
    if mask.ndim < 4 and len(batch) <= 2:
        return mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape))
    if len(batch) <= 2:
        return mask
    lead = (1,) * (len(batch) + 2 - mask.ndim) + tuple(mask.shape)
    m = mask.reshape(lead)
    head = batch[-1] if m.shape[len(batch) - 1] != 1 else 1
    m = m.expand(*batch[:-1], m.shape[len(batch) - 1], *m.shape[-2:])
    return m.reshape(-1, head, *m.shape[-2:])


def result_bytes(call: dict, reducer: Reducer) -> int:
    """Bytes the reduced weights of one call will take, from its shapes alone."""
    q, k = call["query"], call["key"]
    n_samples = math.prod(q.shape[:-3]) if q.ndim > 3 else 1
    n_heads = q.shape[-3] if q.ndim >= 3 else 1
    n_query = len(reducer.rows) if reducer.rows is not None else q.shape[-2]
    n_key = k.shape[-2]
    bq, bk = reducer.blocks(n_query, n_key)
    kept_heads = (
        n_heads if reducer.heads == "all" else 1 if isinstance(reducer.heads, str) else len(reducer.heads)
    )
    cell = torch.empty((), dtype=reducer.dtype).element_size()
    return n_samples * kept_heads * -(-n_query // bq) * -(-n_key // bk) * cell


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
            mask.logical_not(), float("-inf")
        )
    return _FLASH_CPU(q, k, v, 0.0, is_causal, attn_mask=mask, scale=call["scale"])


@torch.no_grad()
def sdpa_weights(
    call: dict,
    reducer: Reducer,
    site: str,
    lse: torch.Tensor | None = None,
    workspace: Workspace | None = None,
    entropy: bool = False,
    scratch: Workspace | None = None,
) -> tuple[torch.Tensor, dict, torch.Tensor | None]:
    """Reduced weights ``[sample, head, query, key]`` of one sdpa call (on its device).

    ``lse``: the kernel's per-row log-sum-exp ``[sample, head, query]`` (see
    :func:`flash_with_lse`); without it the rows are normalised by softmax.
    ``workspace``: compute in reused buffers; the result may then live in
    the workspace, valid until the next call with it.
    ``scratch``: buffers to reuse for temporaries only (never for the result): a
    capture block keeps one between sites, so tiles are not faulted in anew.
    ``entropy``: also return each kept head's mean row entropy ``[sample, head]``
    (float64, :func:`attnwidget.reduce.entropy`'s definition) where it comes
    almost free: with ``lse`` the log-weights ``scores - lse`` exist before
    the exponential, so no logarithm pass is needed. None where it does not
    (no ``lse``, heads averaged, pooling, float16 storage).

    Returns ``(weights, info, entropy or None)``.
    """
    mask = _mask4d(call["attn_mask"], tuple(call["query"].shape[:-2]))
    q, k = _as4d(call["query"]), _as4d(call["key"])
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
    if kept == 0 or n_key == 0:  # no query or no key: an empty matrix, as the call's empty output
        empty = torch.zeros(n_samples, n_heads, kept, n_key, device=q.device)
        return reducer.finish_tile(empty, bq, bk), reducer.info(n_heads, n_query, n_key, bq, bk), None

    # float64 calls are recomputed in float64: a -1e9 mask keeps the scores' spread there, and
    # float32 would lose it (every other dtype computes in float32, as the kernels accumulate)
    work = torch.float64 if q.dtype == torch.float64 else torch.float32
    want_entropy = (
        entropy
        and lse is not None
        and bq == bk == 1
        and reducer.dtype == torch.float32
        and work == torch.float32
        and not (isinstance(reducer.heads, str) and reducer.heads != "all")
    )
    reduces = bq > 1 or bk > 1 or reducer.heads != "all" or reducer.dtype != work
    # rows whose float32 log-sum-exp lost their spread are renormalised over whole rows (see
    # _renormalise); decided once per call, from the log-sum-exp alone. So are float16 and
    # bfloat16 calls: the kernel divides by its own row sums, but the log-sum-exp it returns
    # for them was 4.9e-5 off the exact one on an AVX2-only CPU (Zen 3), so rows of
    # exp(scores - lse) summed to 1 +- 5e-5 there (within 1e-5 on the CPU of earlier runs).
    # Their pooled captures take whole rows, not the cached blocks below
    low = q.dtype in (torch.float16, torch.bfloat16)
    renormalise = lse is not None and (low or bool((lse.abs() > _LSE_EXACT).any()))
    # reduced weights with the kernel's log-sum-exp need no pass over whole rows: blocks of
    # KEY_BLOCK keys, with all heads and a few hundred rows, stay in the cache from the matrix
    # product to the pooled sums (a row of 8,192 keys per head does not; the product alone ran
    # 1.5x slower)
    cut = reduces and lse is not None and not renormalise and not want_entropy and n_key > KEY_BLOCK
    cols = max(bk, KEY_BLOCK // bk * bk) if cut else n_key
    # blocks of a cut call keep sums; the one result is divided once at the end
    summed = cut and reducer.sums_ok(work)
    # rows per tile: a multiple of the query block, so pooling never straddles tiles
    per_row = max(1, n_samples * n_heads * cols)
    tile = max(bq, ((BLOCK_ELEMENTS if cut else TILE_ELEMENTS) // per_row) // bq * bq)
    # contiguous [sample, head, token, dim] operands: models usually hand over permuted views of
    # one qkv projection, and a batched matmul on those is ~1.5x slower than the copy and the matmul
    # [sample, head] broadcast by hand: torch.broadcast_shapes imports sympy (~40 MiB, ~1 s) on first use
    lead = tuple(a if b == 1 else b for a, b in zip(q.shape[:2], k.shape[:2]))
    # the log-sum-exp subtracted inside the matrix product, where no additive mask comes between
    # (with one, the order stays scores + mask - lse, which keeps a finite mask's cancellation
    # where the kernel has it): the query gains a column -lse and the key a column of ones, so
    # the product ends in fma(-lse, 1, q.k) = round(q.k - lse), bit for bit the product followed
    # by a subtraction in float32 tiles of 4 rows or more (1 ulp of the log-sum-exp otherwise, as
    # baddbmm). The product with 65 inner terms cost 1.03x the one with 64; baddbmm with the
    # log-sum-exp as its input cost 2x, as it first copied the broadcast column over the block
    fused = lse is not None and q.shape[:2] == k.shape[:2] and (mask is None or mask.dtype == torch.bool)
    width_in = dim + 1 if fused else dim
    # fused scores are in base 2 (query and log-sum-exp times log2(e)): exp2 is 2x faster than
    # exp on the CPU, where each element goes through the vector loop (see _exp2_whole_vectors);
    # the entropy reads the base-2 log-weights times ln(2)
    query_scale = scale * _LOG2E if fused else scale
    if fused:
        key_aug = _empty(workspace, "key and ones", k.shape[:3] + (width_in,), k.device, work)
        key_aug[..., :dim].copy_(k)
        key_aug[..., dim] = 1.0
        key_t = key_aug.transpose(-2, -1)
    elif k.dtype == work and k.is_contiguous():
        key_t = k.transpose(-2, -1)
    else:
        key_t = _empty(workspace, "key", k.shape, k.device, work).copy_(k).transpose(-2, -1)
    key_pos = torch.arange(n_key, device=q.device) if call["is_causal"] else None
    out: torch.Tensor | None = None
    entropies = []
    one_tile = kept <= tile and cols == n_key  # one block is the result itself; else copied into one
    if workspace is None and (reduces or not one_tile):
        # tiles reuse one set of buffers (``scratch``: the capture block's, kept between sites):
        # a fresh tile-sized buffer each time is faulted in anew (glibc maps large blocks and unmaps
        # them on free), which halved the matrix product's speed. Not where the result would be
        # the buffer itself (one tile at full resolution)
        workspace = scratch if scratch is not None else Workspace()
    for start in range(0, kept, tile):
        qt = q[:, :, start : start + tile]
        rows_here = qt.shape[2]
        lse_tile = lse[:, :, start : start + tile] if lse is not None else None
        # scale the (small) query tile rather than the (large) scores
        query = _empty(workspace, "query", qt.shape[:3] + (width_in,), qt.device, work)
        scaled = torch.mul(qt if qt.dtype == work else qt.to(work), query_scale, out=query[..., :dim])
        if fused:
            query[..., dim].copy_(lse_tile).mul_(-_LOG2E)
            scaled = query
        for first in range(0, n_key, cols):
            width = min(cols, n_key - first)
            shape = lead + (rows_here, width)
            whole = _empty(workspace, "scores", (_whole_vectors(math.prod(shape)),), qt.device, work)
            buffer = whole[: math.prod(shape)].view(shape)
            if fused:
                flat = lead[0] * lead[1]
                scores = torch.bmm(
                    scaled.view(flat, rows_here, width_in),
                    key_t[..., first : first + width].reshape(flat, width_in, width),
                    out=buffer.view(flat, rows_here, width),
                ).view(shape)
            else:
                scores = torch.matmul(scaled, key_t[..., first : first + width], out=buffer)
            masked = False
            if mask is not None:
                mt = mask if mask.shape[2] == 1 else mask[:, :, start : start + tile]
                if mt.shape[-1] != 1:  # a mask broadcast over the keys holds one column for all
                    mt = mt[..., first : first + width]
                if mt.dtype == torch.bool:
                    scores.masked_fill_(~mt, float("-inf"))
                else:
                    scores.add_(mt)
                masked = True
            if call["is_causal"]:
                # the kernel's causal mask is top-left aligned: key j is seen by query i iff j <= i
                future = key_pos[None, first : first + width] > positions[start : start + tile, None]
                scores.masked_fill_(future, float("-inf"))
                masked = True
            # softmax in place: no second tile-sized buffer, and fewer passes than torch.softmax on CPU
            if lse_tile is not None:
                log_weights = scores if fused else scores.sub_(lse_tile.unsqueeze(-1))
                if want_entropy and fused:  # keep the log-weights for the entropy
                    exps = _empty(workspace, "weights", whole.shape, qt.device, work)
                    _exp2_whole_vectors(whole, out=exps)
                    weights = exps[: math.prod(shape)].view(shape)
                elif want_entropy:
                    weights = torch.exp(log_weights, out=_empty(workspace, "weights", shape, qt.device, work))
                elif fused:
                    _exp2_whole_vectors(whole)
                    weights = log_weights
                else:
                    weights = log_weights.exp_()
            else:
                weights = scores.sub_(scores.amax(dim=-1, keepdim=True)).exp_()
                weights.div_(weights.sum(dim=-1, keepdim=True))
            del scores
            if masked and (lse_tile is None or bool(torch.isneginf(lse_tile).any())):
                # rows with every key masked by -inf: exp(-inf - -inf) is NaN where the kernel gave 0
                weights = torch.nan_to_num_(weights, nan=0.0)
            if want_entropy:  # before renormalising: the formula holds for rows that do not sum to 1
                entropies.append(
                    _row_entropy(weights, log_weights, masked, workspace if one_tile else None, fused)
                )
                del log_weights
            if renormalise:
                _renormalise(weights, every=low)
            part = reducer.sums_tile(weights, bq, bk) if summed else reducer.finish_tile(weights, bq, bk)
            del weights
            if one_tile:
                out = part
                continue
            if out is None:  # blocks are written into one result: no concatenation, no second copy
                out = torch.empty(
                    part.shape[:2] + (-(-kept // bq), -(-n_key // bk)), dtype=part.dtype, device=part.device
                )
            row, col = start // bq, first // bk
            out[:, :, row : row + part.shape[2], col : col + part.shape[3]] = part
            del part
    if summed:
        reducer.divide(out, n_heads, kept, n_key, bq, bk)
    ent = None
    if want_entropy:
        ent = (entropies[0] if len(entropies) == 1 else torch.cat(entropies, dim=2)).mean(dim=-1)
        if not isinstance(reducer.heads, str):
            ent = ent[:, [i % n_heads for i in reducer.heads]]
    return out, reducer.info(n_heads, n_query, n_key, bq, bk), ent


_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
# elements the unary kernels' vector loop takes per step: two vectors of 16 float32 (AVX-512), with
# room for wider ones; and ATen's grain (at::internal::GRAIN_SIZE): ranges below it are not split
_VECTOR_STEP = 64
_GRAIN = 32768


def _whole_vectors(numel: int) -> int:
    """``numel`` rounded up so that each thread's part of an elementwise pass is whole vector steps.

    ATen splits an elementwise pass over ``min(threads, ceil(n / grain))`` threads in equal
    parts of ``ceil(n / parts)`` elements; each part runs its vector loop, then its last
    ``< 2 vectors`` elements one by one. Where ``n`` is a multiple of ``step x parts``
    no element takes the scalar path.
    """
    threads = max(1, torch.get_num_threads())

    def parts(n: int) -> int:
        return max(1, min(threads, -(-n // _GRAIN)))

    for p in range(parts(numel), threads + 1):
        n = -(-numel // (_VECTOR_STEP * p)) * _VECTOR_STEP * p
        if parts(n) == p:
            return n
    # at least a grain per thread: split in ``threads`` parts whatever the rounding
    n = max(numel, threads * _GRAIN)
    return -(-n // (_VECTOR_STEP * threads)) * _VECTOR_STEP * threads


def _exp2_whole_vectors(whole: torch.Tensor, out: torch.Tensor | None = None) -> None:
    """``exp2`` in place over a flat buffer sized by :func:`_whole_vectors` (beyond the scores: garbage).

    torch's CPU exp2 rounds the vector loop's elements and the scalar tail's differently
    (123 of 2,000 float32 values differ by 1 ulp), so on a tensor of just its size a
    weight would depend on where it falls: on the tensor's size, the batch, the threads
    (a resumed collect differed by 1 ulp). Over whole vector steps every element takes the
    vector path. (exp rounds both paths alike but costs 2x.) In place, or into ``out`` (as large).
    """
    if out is None:
        whole.exp2_()
    else:
        torch.exp2(whole, out=out)


# below this |log-sum-exp|, float32 keeps exp(scores - lse) within 4e-6 of the kernel's weights,
# so rows need no renormalising (and their sums no pass over the tile)
_LSE_EXACT = 64.0


def _renormalise(weights: torch.Tensor, every: bool = False) -> None:
    """Make rows sum to 1 where ``exp(scores - lse)`` did not, as the kernel's own weights do.

    The kernel subtracts each row's maximum before the exponential; ``scores - lse``
    does not. Where a finite mask (``-1e9``, ``finfo.min``) covers every key of a row,
    or logits are in the thousands, the float32 ``lse`` has lost the row's spread and
    ``exp`` gives 1 on every key (or weights above 1) while the kernel applied 1/n
    (or a distribution). Rows summing to 0 (every key masked by ``-inf``) stay 0, as
    the kernel's output row is 0. Costs one read pass (the row sums); rows are
    rewritten only where some row is off, or all of them with ``every`` (a
    float16 or bfloat16 call, whose log-sum-exp is only near the kernel's sums).
    """
    sums = weights.sum(dim=-1, keepdim=True)
    if every:
        weights.div_(torch.where(sums > 0, sums, torch.ones_like(sums)))
        return
    off = (sums - 1).abs_() > 1e-5
    if bool(off.any()):
        weights.div_(torch.where(off & (sums > 0), sums, torch.ones_like(sums)))


def _row_entropy(
    weights: torch.Tensor,
    log_weights: torch.Tensor,
    masked: bool,
    workspace: Workspace | None,
    base2: bool = False,
) -> torch.Tensor:
    """Row entropies ``log(s) - sum(w log w) / s`` (float64 ``[..., rows]``); overwrites ``log_weights``
    (natural logarithms, or base 2 with ``base2``)."""
    rows = weights.shape[:-1]
    s = torch.sum(weights, -1, out=_empty(workspace, "row sum", rows, weights.device))
    xlogx = log_weights.mul_(weights)
    if masked:  # masked keys: 0 * -inf; rows with every key masked: nan
        xlogx.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
    xlogx = torch.sum(xlogx, -1, out=_empty(workspace, "row xlogx", rows, weights.device))
    if base2:
        xlogx.mul_(_LN2)
    wide = (
        None
        if workspace is None
        else [
            workspace.get(role, rows, torch.float64, weights.device)
            for role in ("row entropy", "row xlogx64")
        ]
    )
    return entropy_from_sums(s, xlogx, out=wide)
