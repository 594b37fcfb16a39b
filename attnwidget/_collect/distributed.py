"""``collect`` under ``torch.distributed``: who am I, which samples are mine, gather to rank 0.

Nothing here talks to other processes except through ``torch.distributed``
collectives (``all_gather_object``, ``gather_object``, ``all_reduce``), so it
works with any backend and launcher (torchrun, SLURM, ...).

Sample order: the global index of a sample is ``index(batch)`` when the user
gives ``index=``; otherwise each rank is assumed to read its shard the way
``DistributedSampler(shuffle=False)`` deals it out, round-robin, so the
``j``-th sample a rank sees has global index ``j * world_size + rank``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["rank_world", "round_robin", "batch_indices", "gather_to_root"]


def rank_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when no process group is initialised."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def round_robin(position: int, n: int, rank: int, world: int) -> np.ndarray:
    """Global indices of ``n`` samples read after the rank's first ``position``, in round-robin order.

    Returns
    -------
    numpy.ndarray of int64, shape ``[n]``: ``(position + j) * world + rank``.
    """
    return (position + np.arange(n, dtype=np.int64)) * world + rank


def batch_indices(index: Callable, batch: Any) -> np.ndarray:
    """Global sample indices of a batch from the user's ``index(batch)`` (int64, shape ``[n]``)."""
    idx = index(batch)
    if isinstance(idx, torch.Tensor):
        idx = idx.detach().cpu().numpy()
    idx = np.asarray(idx).reshape(-1)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"index= must give integer global sample indices, not {idx.dtype} values")
    return idx.astype(np.int64)


def gather_to_root(obj: Any, rank: int, world: int) -> list[Any] | None:
    """Every rank's ``obj`` as a list on rank 0 (``gather_object``), None elsewhere; ``[obj]`` alone."""
    if world == 1:
        return [obj]
    dist = torch.distributed
    if "nccl" in str(dist.get_backend()).lower():
        # NCCL's gather_object needs the current device set; all_gather_object works as is
        out: list = [None] * world
        dist.all_gather_object(out, obj)
        return out if rank == 0 else None
    out = [None] * world if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out
