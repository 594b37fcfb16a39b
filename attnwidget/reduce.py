"""Pure reductions of attention, for torch tensors on any device and numpy arrays.

Axis order is ``[sample, head, query, key]`` unless a docstring says otherwise.
The capture engine calls the torch versions on the model's device, before
anything is copied to the CPU; frames and figures call the numpy versions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["reduce_heads", "pool_axis", "pool_array", "blocks_for", "rollout", "entropy", "head_stats"]


def reduce_heads(w: torch.Tensor, heads) -> torch.Tensor:
    """Reduce the head axis (axis 1) of ``[sample, head, query, key]``.

    ``heads`` is ``"all"`` (unchanged), ``"mean"`` or ``"max"`` (keeps a head
    axis of size 1), or a list of head indices. Output: ``[sample, h, query, key]``.
    """
    if heads == "all" or heads is None:
        return w
    if heads == "mean":
        return w.mean(dim=1, keepdim=True)
    if heads == "max":
        return w.amax(dim=1, keepdim=True)
    n = w.shape[1]
    idx = torch.as_tensor([i % n for i in heads], device=w.device, dtype=torch.long)  # -1: last head
    return w.index_select(1, idx)


def blocks_for(length: int, max_size: int | None) -> int:
    """Pooling factor so that ``length`` fits in ``max_size`` cells."""
    if not max_size or length <= max_size:
        return 1
    return -(-length // max_size)


def pool_axis(w: torch.Tensor, dim: int, block: int, how: str = "mean") -> torch.Tensor:
    """Block-pool one axis of a tensor by ``block`` (a partial last block is pooled over what it holds).

    ``how``: ``"mean"``, ``"max"``, or ``"sum"`` (the block sums, undivided).
    Output length along ``dim`` is ``ceil(n / block)``.
    """
    if block <= 1:
        return w
    dim = dim % w.ndim
    n = w.shape[dim]
    nb = -(-n // block)
    pad = nb * block - n
    if pad:
        fill = float("-inf") if how == "max" else 0.0
        shape = list(w.shape)
        shape[dim] = pad
        w = torch.cat([w, w.new_full(shape, fill)], dim=dim)
    shape = list(w.shape[:dim]) + [nb, block] + list(w.shape[dim + 1 :])
    w = w.reshape(shape)
    if how == "max":
        return w.amax(dim=dim + 1)
    if how not in ("mean", "sum"):
        raise ValueError(f"pool must be 'mean' or 'max', not {how!r}")
    s = w.sum(dim=dim + 1)
    if how == "sum":  # the block sums, for a caller that divides once at the end
        return s
    if pad:
        counts = torch.full((nb,), float(block), device=w.device, dtype=s.dtype)
        counts[-1] = block - pad
        view = [1] * s.ndim
        view[dim] = nb
        s = s / counts.reshape(view)
    else:
        s = s / block
    return s


def pool_array(a: np.ndarray, block: Sequence[int], how: str = "mean") -> np.ndarray:
    """Block-pool the last ``len(block)`` axes of a numpy array (see :func:`pool_axis`).

    Pure numpy (reshape + mean/max), which for display-sized frames is an
    order of magnitude faster than a round trip through torch.
    """
    if how not in ("mean", "max"):
        raise ValueError(f"pool must be 'mean' or 'max', not {how!r}")
    out = np.asarray(a)
    nd = len(block)
    for i, b in enumerate(block):
        b = int(b)
        if b <= 1:
            continue
        axis = out.ndim - nd + i
        n = out.shape[axis]
        full = n // b * b
        pieces = []
        if full:
            head = np.take(out, np.arange(full), axis=axis) if full < n else out
            shape = out.shape[:axis] + (full // b, b) + out.shape[axis + 1 :]
            r = head.reshape(shape)
            pieces.append(r.mean(axis=axis + 1) if how == "mean" else r.max(axis=axis + 1))
        if full < n:  # a partial last block is pooled over what it holds
            tail = np.take(out, np.arange(full, n), axis=axis)
            pieces.append(
                tail.mean(axis=axis, keepdims=True) if how == "mean" else tail.max(axis=axis, keepdims=True)
            )
        out = np.concatenate(pieces, axis=axis) if len(pieces) > 1 else pieces[0]
    return out.astype(np.asarray(a).dtype, copy=False)


def rollout(layers: Sequence[np.ndarray], residual: bool = True) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) over a stack of layers.

    Each element is ``[query, key]`` (heads already reduced) of one layer, in
    model order. With ``residual`` the identity is added and rows renormalised
    before multiplying. Output: ``[query, key]``, how much each output
    position draws on each input position through all layers.
    """
    if not layers:
        raise ValueError("rollout needs at least one layer")
    out = None
    for a in layers:
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"rollout needs square [query, key] self-attention, got shape {a.shape}")
        if residual:
            a = a + np.eye(a.shape[0])
            a = a / a.sum(axis=-1, keepdims=True)
        out = a if out is None else a @ out
    if out is None:
        raise ValueError("rollout needs at least one layer of attention")
    return out.astype(np.float32)


def entropy(w: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of attention distributions along ``axis``."""
    p = np.clip(np.asarray(w, dtype=np.float64), 0, None)
    s = p.sum(axis=axis, keepdims=True)
    p = np.divide(p, s, out=np.zeros_like(p), where=s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=axis)
    return h.astype(np.float32)


def entropy_from_sums(row_sum: torch.Tensor, xlogx_sum: torch.Tensor, out=None) -> torch.Tensor:
    """:func:`entropy` of rows given ``s = sum(w)`` and ``sum(w log w)`` along each row (float64).

    ``log(s) - sum(w log w) / s``: the entropy of the row renormalised to sum 1,
    and 0 for a row that sums to 0. Lets streaming code get the entropy from
    sums it computes anyway, without a normalised copy of the weights.
    ``out``: two float64 tensors shaped like the rows to compute in (the
    result is the first), so that nothing is allocated.
    """
    if out is None:
        s, xlogx = row_sum.to(torch.float64, copy=True), xlogx_sum.to(torch.float64, copy=True)
    else:
        s, xlogx = out[0].copy_(row_sum), out[1].copy_(xlogx_sum)
    s.masked_fill_(s <= 0, 1.0)  # a row of zeros: log 1 - 0 / 1 = 0
    xlogx.div_(s)
    return s.log_().sub_(xlogx)


def head_stats(
    w: np.ndarray, samples: np.ndarray | None = None, chunk_bytes: int = 32 << 20
) -> dict[str, np.ndarray]:
    """Per-head diagnostics of ``[sample, head, query, key]`` attention.

    Returns ``{"entropy", "max", "sparsity"}``, each of shape ``[head]``:
    mean row entropy normalised by ``log(key)`` (1 = uniform), mean of each
    row's largest weight (near 1 = collapse onto one key), and the fraction of
    weights below ``1 / key`` / 10 (near 1 = sparse). ``samples``: the
    sample indices to average over (all by default).

    Memory: the samples are read in chunks of about ``chunk_bytes`` of
    float32, so a view over a large capture needs a fixed amount beside it,
    never a float64 copy of it.
    """
    if w.ndim != 4:
        raise ValueError(f"head_stats needs [sample, head, query, key], got shape {w.shape}")
    idx = np.arange(w.shape[0]) if samples is None else np.asarray(samples)
    n_heads, nq, nk = w.shape[1:]
    per_sample = max(1, n_heads * nq * nk * 4)
    step = max(1, chunk_bytes // per_sample)
    ent = np.zeros(n_heads)
    mx = np.zeros(n_heads)
    sparse = np.zeros(n_heads)
    for start in range(0, len(idx), step):
        c = np.asarray(w[idx[start : start + step]], dtype=np.float32)  # a copy of the chunk (fancy index)
        np.clip(c, 0, None, out=c)
        s = c.sum(axis=-1, keepdims=True)
        p = np.divide(c, s, out=np.zeros_like(c), where=s > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.log(p, out=np.zeros_like(p), where=p > 0)
        ent -= (p * logp).sum(axis=(0, 2, 3), dtype=np.float64)
        mx += c.max(axis=-1).sum(axis=(0, 2), dtype=np.float64)
        sparse += (c < (0.1 / nk)).sum(axis=(0, 2, 3), dtype=np.float64)
        del c, p, logp
    rows = max(1, len(idx) * nq)
    ent = ent / rows
    if nk > 1:
        ent = ent / np.log(nk)
    return {
        "entropy": ent.astype(np.float32),
        "max": (mx / rows).astype(np.float32),
        "sparsity": (sparse / max(1, rows * nk)).astype(np.float32),
    }
