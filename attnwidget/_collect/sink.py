"""Where one batch's attention goes during ``aw.collect``: into the statistics and the kept samples, site by site.

The capture engine hands each site's reduced weights to :class:`BatchSink`
the moment it computes them, still on the model's device. The sink folds them
into the streaming statistics there (only per-cell sums reach the host) and
copies the rows of kept samples to the host (with which of their positions
are padding, as the engine read them from the model's masks), so a batch's weights are never
all alive at once (the engine computes each site in the buffers of the one
before) and ``keep="stats"`` never moves a batch of attention off a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .distributed import round_robin
from .state import CollectState

__all__ = ["BatchSink", "take_rows"]


def take_rows(a, mask: np.ndarray):
    """``a[mask]`` for an array or tensor, as a plain slice when ``mask`` keeps a prefix."""
    k = int(mask.sum())
    if mask[:k].all():
        return a[:k]
    if isinstance(a, torch.Tensor):
        return a[torch.from_numpy(mask).to(a.device)]
    return a[mask]


def limit_mask(idx: np.ndarray, limit: int | None) -> np.ndarray:
    """Which global indices are below ``limit`` (all of them for None)."""
    return np.ones(len(idx), bool) if limit is None else idx < limit


class BatchSink:
    """Receives a batch's sites from the capture engine (see the module docstring).

    Parameters
    ----------
    state : CollectState
        What the collection has gathered so far; updated in place.
    idx : numpy.ndarray or None
        Global sample indices from ``index=``, or None to number samples in
        reading order (known once the first site shows the batch size).
    labels : numpy.ndarray or None
        Class labels of the batch's samples.
    keeping, streaming : bool
        Whether samples are kept whole / statistics are streamed.
    keep_limit, max_samples : int or None
        Kept samples have global index below ``keep_limit``; counted ones
        below ``max_samples``.
    rank, world : int
        This process's place under ``torch.distributed``.
    """

    def __init__(
        self,
        state: CollectState,
        idx: np.ndarray | None,
        labels: np.ndarray | None,
        *,
        keeping: bool,
        streaming: bool,
        keep_limit: int | None,
        max_samples: int | None,
        rank: int,
        world: int,
    ) -> None:
        self.state = state
        self.idx = idx
        self.labels = labels
        self.keeping, self.streaming = keeping, streaming
        self.keep_limit, self.max_samples = keep_limit, max_samples
        self.rank, self.world = rank, world
        self.n: int | None = None  # samples in the batch, from the first site
        self.kept = self.counted = None
        self.counted_labels = None

    def _start(self, n: int) -> None:
        """First site of the batch: number its samples and decide which are kept or counted."""
        self.n = n
        if self.idx is None:
            self.idx = round_robin(self.state.position, n, self.rank, self.world)
        elif len(self.idx) != n:
            raise ValueError(f"index= gave {len(self.idx)} indices for a batch of {n} samples")
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"labels= gave {len(self.labels)} labels for a batch of {n} samples")
        self.kept = limit_mask(self.idx, self.keep_limit) if self.keeping else np.zeros(n, bool)
        self.counted = limit_mask(self.idx, self.max_samples) if self.streaming else np.zeros(n, bool)
        if self.labels is not None and self.counted.any():
            self.counted_labels = take_rows(self.labels, self.counted)

    def __call__(
        self,
        name: str,
        step: int,
        weights: torch.Tensor,
        *,
        kind: str,
        axes: tuple,
        info: dict[str, Any],
        entropy: torch.Tensor | None = None,
        valid: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if self.n is None:
            self._start(int(weights.shape[0]))
        elif weights.shape[0] != self.n:
            raise ValueError(
                f"site {name!r} recorded {weights.shape[0]} samples in a batch where "
                f"others recorded {self.n}; collect() needs the sample axis first at every site"
            )
        state = self.state
        state.meta.setdefault(name, (kind, axes, info))
        if self.counted.any():
            state.stats.update(
                name,
                step,
                take_rows(weights, self.counted),
                self.counted_labels,
                axes=axes,
                entropy=None if entropy is None else take_rows(entropy, self.counted),
            )
        if self.kept.any():
            # a copy: the weights may live in the capture's workspace, which the next site reuses
            rows = take_rows(weights, self.kept).to("cpu", copy=True).numpy()
            state.kept.setdefault((name, step), []).append(rows)
            # which of those rows' positions are padding (None: none is), batch by batch beside them
            kept_valid = None if valid is None else (valid[0][self.kept], valid[1][self.kept])
            state.kept_valid.setdefault((name, step), []).append(kept_valid)

    def finish(self, output: Any, predict: Callable | None) -> int:
        """After the forward: record the kept samples' indices, labels and predictions; the batch size."""
        state = self.state
        if self.n is None:
            return 0
        if self.kept.any():
            state.indices.append(self.idx[self.kept])
            if self.labels is not None:
                state.labels.append(take_rows(self.labels, self.kept))
            if predict is not None:
                pred = predict(output)
                pred = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
                state.preds.append(take_rows(pred.reshape(-1), self.kept))
            state.count += int(self.kept.sum())
        return self.n
