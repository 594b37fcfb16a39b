"""One batch of one site -> per-class moments and per-sample head entropy, computed with torch.

Streaming statistics (:mod:`attnwidget.stats`) read every cell of every
sample of a whole data set, so this is the part of ``collect(keep="stats")``
that competes with the model for time. It runs where the capture computed the
attention (a GPU collection copies a few per-cell vectors per class to the
host, never the batch) in as few passes over the batch as it can, and on the
CPU in one reusable scratch buffer: a fresh batch-sized buffer per operation
costs more in page faults than the arithmetic.

Each class keeps running sums on the device between two reads
(:class:`ClassSums`): with a fixed shift ``k`` per class (the mean of its
first batch, rounded to the work type: float32, or float64 for float64 data)
``d = x - k`` is small, so the float32 per-batch sums of ``d`` and ``d**2``
lose nothing to cancellation. They add up in float64, and a read turns them
into ``mean = k + sum(d) / n`` and ``M2 = sum(d**2) - sum(d)**2 / n`` (~1e-7
relative however small the variance is next to the mean), merged into the
float64 host state by :mod:`attnwidget.stats`. A batch thus costs a handful
of passes over it and no host work per cell.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .capture.sdpa import Workspace
from .reduce import entropy_from_sums

__all__ = ["ClassMoments", "ClassSums", "BatchSummarizer", "as_work_tensor"]


class ClassMoments(NamedTuple):
    """Count, float64 per-cell mean, M2 (sum of squared deviations), min and max, and the
    float64 sum over samples of the head entropies (or None) of one class."""

    count: int
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray
    ent: np.ndarray | None


class ClassSums:
    """One class's running sums of one site, on the batch's device, since they were last read."""

    __slots__ = ("count", "shift", "s1", "s2", "min", "max", "ent")

    def __init__(self) -> None:
        self.count = 0
        self.shift = self.s1 = self.s2 = self.min = self.max = None
        self.ent: np.ndarray | None = None

    def take(self) -> ClassMoments:
        """The moments of the samples added since the last ``take`` (flat cells), and reset."""
        n = self.count
        s1 = self.s1 / n
        mean = s1 + self.shift
        m2 = self.s2.sub_(s1.mul_(self.s1)).clamp_min_(0)  # s2 - s1**2 / n
        mean, m2 = torch.stack([mean, m2]).cpu().numpy()
        mn, mx = torch.stack([self.min, self.max]).double().cpu().numpy()
        out = ClassMoments(n, mean, m2, mn, mx, self.ent)
        self.count, self.s1, self.s2, self.min, self.max, self.ent = 0, None, None, None, None, None
        return out  # the shift stays: later batches of the class are near it too


def as_work_tensor(array) -> torch.Tensor:
    """A batch as a contiguous float32 (float64 kept) tensor on its own device, without a copy when possible."""
    if isinstance(array, torch.Tensor):
        x = array.detach()
    else:
        a = np.asarray(array)
        if not (a.flags.writeable and a.flags.c_contiguous):
            a = a.copy()  # torch.from_numpy shares memory and wants a writeable, contiguous array
        x = torch.from_numpy(a)
    if not x.dtype.is_floating_point:
        x = x.double()  # integer counts and the like: exact in float64
    elif x.dtype not in (torch.float32, torch.float64):
        x = x.float()  # float16 / bfloat16: sums and squares in float32
    return x.contiguous()


class BatchSummarizer:
    """Summarises batches; holds one scratch buffer between them (one per collection)."""

    def __init__(self) -> None:
        self._workspace = Workspace()

    def _buffer(self, rows: int, like: torch.Tensor) -> torch.Tensor:
        """A ``[rows, *like.shape[1:]]`` scratch buffer, the same memory each time when it fits."""
        return self._workspace.get("scratch", (rows,) + tuple(like.shape[1:]), like.dtype, like.device)

    def release(self) -> None:
        """Drop the scratch buffer."""
        self._workspace = Workspace()

    # ------------------------------------------------------------------ moments
    def add(self, flat: torch.Tensor, groups: list[np.ndarray] | None, sums: list[ClassSums]) -> float:
        """Add the rows of ``flat`` ``[n, cells]`` of each group (row indices; None: every row is one
        group) to that group's :class:`ClassSums`. Returns the smallest value in the batch."""
        if groups is None or len(groups) == 1:
            return self._add(flat, sums[0], owned=False)
        low = float("inf")
        for rows, into in zip(groups, sums):
            index = torch.from_numpy(rows).to(flat.device)
            part = torch.index_select(flat, 0, index, out=self._buffer(len(rows), flat))
            low = min(low, self._add(part, into, owned=True))
        return low

    def _add(self, x: torch.Tensor, sums: ClassSums, owned: bool) -> float:
        """``owned``: ``x`` is scratch memory and may be overwritten."""
        n = x.shape[0]
        if sums.shift is None or sums.shift.dtype != x.dtype or sums.shift.device != x.device:
            sums.shift = x.sum(dim=0).div_(n)
        mn, mx = x.amin(dim=0), x.amax(dim=0)
        d = x.sub_(sums.shift) if owned else torch.sub(x, sums.shift, out=self._buffer(n, x))
        s1 = d.sum(dim=0)
        s2 = d.mul_(d).sum(dim=0)
        if sums.count == 0:
            sums.s1, sums.s2, sums.min, sums.max = s1.double(), s2.double(), mn, mx
        else:
            sums.s1.add_(s1)
            sums.s2.add_(s2)
            torch.minimum(sums.min, mn, out=sums.min)
            torch.maximum(sums.max, mx, out=sums.max)
        sums.count += n
        return float(mn.min())

    # ------------------------------------------------------------------ entropy
    def head_entropy(self, x: torch.Tensor, clip: bool | None = None) -> np.ndarray:
        """Mean row entropy (nats) of each head of each sample of ``[sample, head, query, key]``: ``[sample, head]``.

        The definition of :func:`attnwidget.reduce.entropy` (negative weights
        clipped, rows renormalised, 0 log 0 = 0), as ``log(s) - sum(x log x) / s``
        with float32 row sums (~1e-7 relative: the rows are short and their
        terms share one sign); float64 result. ``clip``: whether ``x`` has
        negative weights (None: look).
        """
        if clip is None:
            clip = bool(x.numel()) and bool(x.amin() < 0)
        if clip:
            x = x.clamp_min(0)
        xlogx = torch.clamp(x, min=torch.finfo(x.dtype).tiny, out=self._buffer(x.shape[0], x))
        xlogx = xlogx.log_().mul_(x).sum(dim=-1)
        return entropy_from_sums(x.sum(dim=-1), xlogx).mean(dim=-1).cpu().numpy()
