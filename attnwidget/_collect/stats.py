"""Streaming attention statistics per site, step and class, in memory that does not grow.

:class:`StreamingStats` keeps, for every (site, step) and every class (the
label value, plus ``"all"`` for every sample), the running count, mean,
variance (Welford/Chan merge of whole-batch moments), min and max of each
cell of the reduced attention, and the mean row entropy of each head. All
state is float64 and has the shape of one sample's attention, however many
samples pass through. A batch is summarised with torch on the device it is on
(the capture's device, so a GPU collection moves only a few per-cell sums per
class to the host) and folded into the float64 state on the host. Partial
results combine with :meth:`StreamingStats.merge` (same process) or
:meth:`StreamingStats.reduce_across_ranks` (``torch.distributed``
collectives, any backend).

The finished statistics live in ``Capture.stats``::

    {layer: {step: {"classes": ["all", 0, 1],      # class keys, "all" first
                    "count": int64 [C],
                    "mean", "var", "min", "max": float64 [C, *sample_shape],
                    "entropy": float64 [C, head]}}}   # attention sites only

``var`` is the population variance (``ddof=0``); ``entropy`` is the mean over
samples and query rows of the row entropy along the key axis (as
:func:`attnwidget.reduce.entropy` defines it). This module only accumulates;
the capture answers questions about the result (:meth:`~attnwidget.Capture.classes`,
:meth:`~attnwidget.Capture.class_count`, :meth:`~attnwidget.Capture.stat`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..store import ALL, ATTENTION_AXES, FIELDS, class_key
from .batch_stats import BatchSummarizer, ClassMoments, ClassSums, as_work_tensor

__all__ = ["ALL", "FIELDS", "Moments", "SiteStats", "StreamingStats", "head_entropy"]

_STATE = ("count", "mean", "m2", "min", "max", "ent")  # raw per-class state (checkpoints)


def _sort_classes(keys):
    return sorted(keys, key=lambda k: (type(k).__name__, k))


class Moments:
    """Count, mean, M2 (sum of squared deviations), min, max and entropy sum of one class.

    Arrays are float64 with the shape of one sample (``ent``: ``[head]`` or None).
    """

    __slots__ = _STATE

    def __init__(self, count, mean, m2, mn, mx, ent):
        self.count, self.mean, self.m2, self.min, self.max, self.ent = int(count), mean, m2, mn, mx, ent

    @classmethod
    def empty(cls, shape, heads: int | None) -> Moments:
        return cls(
            0,
            np.zeros(shape),
            np.zeros(shape),
            np.full(shape, np.inf),
            np.full(shape, -np.inf),
            None if heads is None else np.zeros(heads),
        )

    @classmethod
    def of_class(cls, part: ClassMoments, shape: tuple[int, ...]) -> Moments:
        """From :meth:`~attnwidget.batch_stats.ClassSums.take` (flat cells, reshaped to ``shape``)."""
        return cls(
            part.count,
            part.mean.reshape(shape),
            part.m2.reshape(shape),
            part.min.reshape(shape),
            part.max.reshape(shape),
            part.ent,
        )

    def copy(self) -> Moments:
        return Moments(
            self.count,
            self.mean.copy(),
            self.m2.copy(),
            self.min.copy(),
            self.max.copy(),
            None if self.ent is None else self.ent.copy(),
        )

    def merge(self, other: Moments) -> None:
        """Fold ``other`` into ``self`` in place (Chan et al.'s parallel variance)."""
        if other.count == 0:
            return
        if self.count == 0:
            o = other.copy()
            self.count, self.mean, self.m2, self.min, self.max, self.ent = (
                o.count,
                o.mean,
                o.m2,
                o.min,
                o.max,
                o.ent,
            )
            return
        na, nb = self.count, other.count
        n = na + nb
        delta = other.mean - self.mean
        self.mean += delta * (nb / n)
        self.m2 += other.m2
        self.m2 += np.square(delta, out=delta) * (na * nb / n)
        np.minimum(self.min, other.min, out=self.min)
        np.maximum(self.max, other.max, out=self.max)
        if self.ent is not None:
            self.ent += other.ent
        self.count = n


class SiteStats:
    """Per-class :class:`Moments` of one site at one step.

    New batches go into per-class :class:`~attnwidget.batch_stats.ClassSums`
    on the batch's device (``pending``; key ``ALL`` there: samples without a
    label); reading :attr:`classes` first folds them into the float64 state.
    """

    def __init__(self, shape: tuple[int, ...], heads: int | None):
        self.shape = tuple(int(s) for s in shape)
        self.heads = heads  # number of heads for entropy, None for sites without one
        self._classes: dict[Any, Moments] = {ALL: Moments.empty(self.shape, heads)}
        self.pending: dict[Any, ClassSums] = {}

    @property
    def classes(self) -> dict[Any, Moments]:
        """Class key -> :class:`Moments` (``ALL``: every sample), up to date."""
        self.flush()
        return self._classes

    @classes.setter
    def classes(self, value: dict[Any, Moments]) -> None:
        self.flush()
        self._classes = value

    def flush(self) -> None:
        """Fold the pending sums into the per-class and every-sample moments."""
        for key, sums in self.pending.items():
            if sums.count:
                part = Moments.of_class(sums.take(), self.shape)
                if key != ALL:
                    self._moments(key).merge(part)
                self._moments(ALL).merge(part)

    def sums(self, key) -> ClassSums:
        if key not in self.pending:
            self.pending[key] = ClassSums()
        return self.pending[key]

    def moments(self, key) -> Moments:
        self.flush()
        return self._moments(key)

    def _moments(self, key) -> Moments:
        if key not in self._classes:
            self._classes[key] = Moments.empty(self.shape, self.heads)
        return self._classes[key]

    def result(self) -> dict[str, Any]:
        """The finished statistics (see the module docstring); classes with no sample are left out."""
        keys = [ALL] + _sort_classes(k for k in self.classes if k != ALL)
        keys = [k for k in keys if self.classes[k].count > 0 or k == ALL]
        ms = [self.classes[k] for k in keys]
        count = np.array([m.count for m in ms], dtype=np.int64)
        safe = np.maximum(count, 1).reshape((-1,) + (1,) * len(self.shape)).astype(np.float64)
        out = {
            "classes": keys,
            "count": count,
            "mean": np.stack([m.mean for m in ms]),
            "var": np.stack([m.m2 for m in ms]) / safe,
            "min": np.stack([m.min for m in ms]),
            "max": np.stack([m.max for m in ms]),
        }
        if self.heads is not None:
            out["entropy"] = np.stack([m.ent for m in ms]) / np.maximum(count, 1)[:, None]
        return out


class StreamingStats:
    """Running statistics of every (site, step) and class; see the module docstring.

    Examples
    --------
    >>> acc = StreamingStats()
    >>> acc.update("layers.0", 0, attention, labels, axes=("sample", "head", "query", "key"))
    >>> acc.result()["layers.0"][0]["mean"].shape   # [class, head, query, key]
    """

    def __init__(self) -> None:
        self.sites: dict[tuple[str, int], SiteStats] = {}
        self._summarizer = BatchSummarizer()

    # ------------------------------------------------------------------ update
    def update(self, layer: str, step: int, array, labels=None, *, axes=ATTENTION_AXES, entropy=None) -> None:
        """Fold a batch ``[sample, ...]`` of one site into the statistics.

        Parameters
        ----------
        layer, step : str, int
            The site and forward step.
        array : numpy.ndarray or torch.Tensor
            The batch, samples along axis 0.
        labels : array-like, optional
            One class label per sample.
        axes : tuple of str
            Axis names of ``array``; per-head entropy is kept when they are
            ``("sample", "head", "query", "key")``.
        entropy : array-like or torch.Tensor, optional
            The batch's per-sample head entropies ``[sample, head]`` if known
            (the capture engine computes them from log-weights); else they
            are computed from ``array``.
        """
        x = as_work_tensor(array)
        n = x.shape[0]
        if n == 0:
            return
        shape = tuple(x.shape[1:])
        site = self.site(layer, step, shape, axes)
        keys, groups = [ALL], None
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if labels.shape[0] != n:
                raise ValueError(f"site {layer!r}: {labels.shape[0]} labels for a batch of {n} samples")
            values, inverse = np.unique(labels, return_inverse=True)
            inverse = inverse.reshape(-1)
            keys = [class_key(v) for v in values]
            groups = [np.flatnonzero(inverse == i) for i in range(len(values))]
        sums = [site.sums(key) for key in keys]
        low = self._summarizer.add(x.reshape(n, -1), groups, sums)
        if site.heads is not None:
            if entropy is not None:
                ent = (
                    entropy.detach().double().cpu().numpy()
                    if isinstance(entropy, torch.Tensor)
                    else np.asarray(entropy, dtype=np.float64)
                )
                if ent.shape != (n, site.heads):
                    raise ValueError(
                        f"site {layer!r}: entropy has shape {ent.shape}, not (samples, heads) "
                        f"= {(n, site.heads)}"
                    )
            else:
                ent = self._summarizer.head_entropy(x, clip=low < 0)
            for i, into in enumerate(sums):
                part = (ent if groups is None else ent[groups[i]]).sum(axis=0)
                into.ent = part if into.ent is None else into.ent + part

    def release(self) -> None:
        """Fold the pending sums in and free the memory kept between updates (the statistics stay).

        A later update starts new sums: nothing is lost, only buffers are remade."""
        for site in self.sites.values():
            site.flush()
            site.pending.clear()
        self._summarizer.release()

    def site(self, layer: str, step: int, shape: tuple[int, ...], axes=ATTENTION_AXES) -> SiteStats:
        """The statistics of a site, made on first use; a ValueError if ``shape`` changed."""
        shape = tuple(int(s) for s in shape)
        site = self.sites.get((layer, step))
        if site is None:
            heads = shape[0] if tuple(axes) == ATTENTION_AXES else None
            site = self.sites[(layer, step)] = SiteStats(shape, heads)
        elif site.shape != shape:
            raise ValueError(
                f"site {layer!r} (step {step}): a batch has per-sample shape {shape} but earlier "
                f"batches had {site.shape}. Streaming statistics need one shape for every sample: "
                "pad inputs to a fixed length (e.g. padding='max_length' in the tokenizer) or use "
                "keep='samples', which zero-pads the samples it keeps"
            )
        return site

    def merge(self, other: StreamingStats) -> StreamingStats:
        """Fold another accumulator (e.g. of another part of the data) into this one; returns self."""
        for key, theirs in other.sites.items():
            mine = self.sites.get(key)
            if mine is None:
                mine = self.sites[key] = SiteStats(theirs.shape, theirs.heads)
            elif mine.shape != theirs.shape:
                raise ValueError(
                    f"site {key[0]!r} (step {key[1]}): cannot merge per-sample shape "
                    f"{theirs.shape} into {mine.shape}"
                )
            for c, m in theirs.classes.items():
                mine.moments(c).merge(m)
        return self

    # ------------------------------------------------------------------ output
    def result(self) -> dict[str, dict[int, dict[str, Any]]]:
        """``{layer: {step: statistics}}`` in the order sites were first seen."""
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for (layer, step), site in self.sites.items():
            out.setdefault(layer, {})[step] = site.result()
        return out

    @property
    def num_samples(self) -> int:
        """Samples counted (the largest ``"all"`` count over sites)."""
        return max((s.classes[ALL].count for s in self.sites.values()), default=0)

    # ------------------------------------------------------------------ state
    def state(self) -> tuple[list[dict], dict[str, np.ndarray]]:
        """Raw state for a checkpoint: a JSON-able description and float64 arrays."""
        header, arrays = [], {}
        for i, ((layer, step), site) in enumerate(self.sites.items()):
            classes = list(site.classes)
            header.append(
                {
                    "layer": layer,
                    "step": step,
                    "shape": list(site.shape),
                    "heads": site.heads,
                    "classes": classes,
                }
            )
            for j, c in enumerate(classes):
                m = site.classes[c]
                arrays[f"st{i}_c{j}_count"] = np.array(m.count, dtype=np.int64)
                for f in _STATE[1:]:
                    if getattr(m, f) is not None:
                        arrays[f"st{i}_c{j}_{f}"] = getattr(m, f)
        return header, arrays

    @classmethod
    def from_state(cls, header: list[dict], arrays) -> StreamingStats:
        """Rebuild an accumulator from :meth:`state`."""
        acc = cls()
        for i, entry in enumerate(header):
            site = SiteStats(tuple(entry["shape"]), entry["heads"])
            site.classes = {}
            for j, c in enumerate(entry["classes"]):
                pre = f"st{i}_c{j}_"
                site.classes[c] = Moments(
                    int(arrays[pre + "count"]),
                    *(np.array(arrays[pre + f], dtype=np.float64) for f in ("mean", "m2", "min", "max")),
                    np.array(arrays[pre + "ent"], dtype=np.float64) if site.heads is not None else None,
                )
            acc.sites[(entry["layer"], int(entry["step"]))] = site
        return acc

    # ------------------------------------------------------------------ ranks
    def reduce_across_ranks(self, group=None) -> StreamingStats:
        """Combine the statistics of every rank, in place on every rank; returns self.

        Uses ``torch.distributed`` collectives only: ``all_gather_object`` to
        agree on sites and classes (a rank may not have seen every class),
        then ``all_reduce`` SUM of counts, sums and entropy sums, SUM of the
        M2 terms corrected to the global mean, MIN and MAX. Works with any
        backend (tensors go to the current CUDA device for NCCL).
        """
        import torch.distributed as dist

        layout = [(key, site.shape, site.heads, list(site.classes)) for key, site in self.sites.items()]
        everyone: list = [None] * dist.get_world_size(group)
        dist.all_gather_object(everyone, layout, group=group)
        order: dict[tuple[str, int], list] = {}
        for rank_layout in everyone:  # same order on every rank: rank 0's sites first
            for key, shape, heads, classes in rank_layout:
                entry = order.setdefault(key, [tuple(shape), heads, []])
                if entry[0] != tuple(shape):
                    raise ValueError(
                        f"site {key[0]!r} (step {key[1]}) has per-sample shape {entry[0]} "
                        f"on one rank and {tuple(shape)} on another; pad inputs to one length"
                    )
                entry[2].extend(c for c in classes if c not in entry[2])
        sites: dict[tuple[str, int], SiteStats] = {}
        for key, (shape, heads, classes) in order.items():
            site = self.sites.get(key) or SiteStats(shape, heads)
            for c in classes:
                site.moments(c)
            site.classes = {c: site.classes[c] for c in classes}
            sites[key] = site
        self.sites = sites
        ms = [m for site in sites.values() for m in site.classes.values()]
        if not ms:
            return self
        device = torch.device("cpu")
        if "nccl" in str(dist.get_backend(group)).lower():
            device = torch.device("cuda", torch.cuda.current_device())

        def reduce(parts, op):
            flat = torch.from_numpy(np.concatenate([np.ravel(p) for p in parts])).to(device)
            dist.all_reduce(flat, op=op, group=group)
            return _split(flat.cpu().numpy(), parts)

        def with_ent(m, fn):
            return [] if m.ent is None else [fn(m)]

        sums = reduce(
            [
                p
                for m in ms
                for p in ([np.array([float(m.count)]), m.mean * m.count] + with_ent(m, lambda m: m.ent))
            ],
            dist.ReduceOp.SUM,
        )
        mins = reduce([m.min for m in ms], dist.ReduceOp.MIN)
        maxs = reduce([m.max for m in ms], dist.ReduceOp.MAX)
        k = 0
        means = []
        for m in ms:
            count = int(round(sums[k][0]))
            mean = sums[k + 1] / max(count, 1)
            means.append((count, mean))
            k += 2
            if m.ent is not None:
                m.ent = sums[k]
                k += 1
        m2s = reduce(
            [m.m2 + m.count * np.square(m.mean - mean) for m, (_, mean) in zip(ms, means)], dist.ReduceOp.SUM
        )
        for m, (count, mean), m2, mn, mx in zip(ms, means, m2s, mins, maxs):
            m.count, m.mean, m.m2, m.min, m.max = count, mean, m2, mn, mx
        return self


def head_entropy(x) -> np.ndarray:
    """Mean row entropy (nats) of each head of each sample of ``[sample, head, query, key]``: ``[sample, head]``.

    ``x``: a numpy array or a tensor on any device; float64 numpy result. See
    :meth:`attnwidget.batch_stats.BatchSummarizer.head_entropy`.
    """
    return BatchSummarizer().head_entropy(as_work_tensor(x))


def _split(flat: np.ndarray, parts: list[np.ndarray]) -> list[np.ndarray]:
    out, i = [], 0
    for p in parts:
        n = int(np.size(p))
        out.append(flat[i : i + n].reshape(np.shape(p)).astype(np.float64, copy=True))
        i += n
    return out
