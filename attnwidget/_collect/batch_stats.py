"""One batch of one site -> per-class moments and per-sample head entropy, computed with torch.

Streaming statistics (:mod:`attnwidget.stats`) read every cell of every
sample of a whole data set, so this is the part of ``collect(keep="stats")``
that competes with the model for time. It runs where the capture computed the
attention (a GPU collection copies a few per-cell vectors per class to the
host, never the batch) in as few passes over the batch as it can. Every
result goes into memory made once (:mod:`attnwidget.workspace`): a fresh
batch-sized buffer per operation costs more in page faults than the
arithmetic, and buffers freed and remade each batch would take the heap space
the model's own activations are served from.

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

from .._capture.workspace import Workspace, allocate
from ..reduce import entropy_from_sums

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
        """The moments of the samples added since the last ``take`` (flat cells), and reset.

        The sum buffers stay for the next batch, which overwrites them."""
        n = self.count
        s1 = self.s1 / n
        mean = s1 + self.shift
        m2 = (self.s2 - s1.mul_(self.s1)).clamp_min_(0)  # s2 - s1**2 / n
        mean, m2 = torch.stack([mean, m2]).cpu().numpy()
        mn, mx = torch.stack([self.min, self.max]).double().cpu().numpy()
        out = ClassMoments(n, mean, m2, mn, mx, self.ent)
        self.count, self.ent = 0, None
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
        """The first ``rows`` of a scratch buffer shaped like ``like`` (a whole batch), the same memory
        each time when it fits: sized by the batch, not by a class's share of it, so it is not remade
        whenever a class has more samples in a batch than before."""
        return self._workspace.get("scratch", tuple(like.shape), like.dtype, like.device)[:rows]

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
        """``owned``: ``x`` is scratch memory and may be overwritten.

        Every result goes into a buffer made once (the class's sums, or this
        summarizer's per-batch scratch), so a batch allocates nothing.
        """
        n, cells = x.shape[0], x.shape[1:]
        if sums.shift is not None and (sums.shift.dtype != x.dtype or sums.shift.device != x.device):
            if sums.count:  # the pending sums are about the shift: work in its type and place
                x, owned = x.to(dtype=sums.shift.dtype, device=sums.shift.device), True
            else:
                sums.shift = sums.s1 = sums.s2 = sums.min = sums.max = None
        if sums.shift is None:
            sums.shift = torch.sum(x, 0, out=allocate(cells, x.dtype, x.device)).div_(n)
            sums.s1, sums.s2 = (allocate(cells, torch.float64, x.device) for _ in range(2))
            sums.min, sums.max = (allocate(cells, x.dtype, x.device) for _ in range(2))
        first = sums.count == 0
        scratch = self._workspace
        mn = torch.amin(x, 0, out=sums.min if first else scratch.get("min", cells, x.dtype, x.device))
        mx = torch.amax(x, 0, out=sums.max if first else scratch.get("max", cells, x.dtype, x.device))
        low = float(mn.min())
        if not first:
            torch.minimum(sums.min, mn, out=sums.min)
            torch.maximum(sums.max, mx, out=sums.max)
        d = x.sub_(sums.shift) if owned else torch.sub(x, sums.shift, out=self._buffer(n, x))
        part = scratch.get("sum", cells, x.dtype, x.device)
        wide = scratch.get("sum64", cells, torch.float64, x.device)  # float32 -> float64 without a temporary
        for total, square in ((sums.s1, False), (sums.s2, True)):
            torch.sum(d.mul_(d) if square else d, 0, out=part)
            if first:
                total.copy_(part)
            else:
                total.add_(wide.copy_(part))
        sums.count += n
        return low

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
