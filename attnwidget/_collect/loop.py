"""``aw.collect``: attention over a data set, kept per sample, as streaming statistics, or both.

The common use: run 100-200 evaluation samples through a model, keep each
sample's attention with its label and prediction, then compare classes
(``keep="samples"``, one capture per batch, samples along axis 0). To ask
whether a pattern holds over a whole evaluation set, ``keep="stats"`` streams
per-class mean, variance, min, max and head entropy in memory that does not
grow with the data (:mod:`attnwidget._collect.stats`); ``keep="both"`` does both.

The same call runs under ``torch.distributed`` (each rank reads its shard;
statistics are reduced and kept samples gathered on rank 0, see
:mod:`attnwidget._collect.distributed`) and resumes from a crash-safe checkpoint.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._capture import capture
from .._capture.workspace import Workspace
from ..store import Capture
from .checkpoint import fingerprint, rank_path
from .distributed import batch_indices, rank_world
from .sink import BatchSink
from .state import CollectState, concat_samples

__all__ = ["collect", "default_forward", "batch_part", "concat_samples", "KEEP_CHOICES"]

KEEP_CHOICES = ("samples", "stats", "both")


def default_forward(model: torch.nn.Module, batch: Any):
    """``model(batch)`` for a tensor, ``model(batch[0])`` for a tuple/list, ``model(**batch)`` for a dict."""
    if isinstance(batch, torch.Tensor):
        return model(batch)
    if isinstance(batch, (tuple, list)):
        return model(batch[0])
    if isinstance(batch, dict):
        return model(**batch)
    raise TypeError(
        f"collect() cannot feed a {type(batch).__name__} batch to the model; "
        "pass forward=lambda model, batch: ..."
    )


def batch_part(spec, batch, what: str):
    """Labels from a batch: a callable, an index into a tuple batch, or a key into a dict batch."""
    if spec is None:
        return None
    if callable(spec):
        value = spec(batch)
    elif isinstance(spec, int) and isinstance(batch, (tuple, list)):
        value = batch[spec]
    elif isinstance(spec, str) and isinstance(batch, dict):
        value = batch[spec]
    else:
        raise TypeError(
            f"{what}= must be a callable on the batch, an index into a tuple batch or a "
            f"key into a dict batch; got {spec!r} for a {type(batch).__name__} batch"
        )
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value).reshape(-1)


def collect(
    model: torch.nn.Module,
    batches: Iterable,
    num_samples: int | None = 200,
    *,
    forward: Callable | None = None,
    labels=None,
    predict: Callable | None = None,
    progress: bool = True,
    keep: str = "samples",
    max_samples: int | None = None,
    index: Callable | None = None,
    checkpoint: str | os.PathLike | None = None,
    every: int = 1000,
    per_class: int | None = None,
    **capture_options,
) -> Capture | None:
    """Run ``model`` over ``batches`` and keep each sample's attention, its statistics, or both.

    Parameters
    ----------
    model : torch.nn.Module
    batches : iterable
        A DataLoader or any iterable of batches (under ``torch.distributed``:
        this rank's shard, e.g. a DataLoader with a ``DistributedSampler``).
    num_samples : int or None
        How many samples to keep whole (None: all). With ``keep="samples"``
        collection stops there, exactly as before ``keep`` existed.
    forward : callable, optional
        ``forward(model, batch) -> output``; default :func:`default_forward`.
    labels : callable, int or str, optional
        Per-sample class labels from a batch (``lambda batch: batch[1]``, an
        index into tuple batches, or a key into dict batches) -> ``cap.labels``
        and the classes of the statistics.
    predict : callable, optional
        ``predict(output) -> per-sample predictions`` -> ``cap.predictions``
        (for kept samples; not allowed with ``keep="stats"``). It must return
        one value per sample of the batch, else a ValueError names the batch.
    progress : bool
        Show a progress bar (on rank 0 only).
    keep : "samples", "stats" or "both"
        ``"samples"``: keep the first ``num_samples`` samples whole.
        ``"stats"``: stream per-class statistics over every sample (up to
        ``max_samples``) into ``cap.stats``, keeping no sample; every batch
        must give every sample the same shape (pad to a fixed length).
        ``"both"``: statistics over everything plus the first ``num_samples``
        samples kept whole.
    max_samples : int, optional
        With ``"stats"``/``"both"``: only samples with global index below it
        are counted or kept (default: the whole iterable). Under
        ``DistributedSampler`` pass ``len(dataset)`` so the samples it repeats
        to even out the ranks are not counted twice.
    index : callable, optional
        ``index(batch) -> global sample indices``. Kept samples are ordered by
        it and ``num_samples``/``max_samples`` refer to it. Default: the order
        samples are read in; under ``torch.distributed`` the round-robin order
        of ``DistributedSampler(shuffle=False)`` (rank ``r``'s ``j``-th sample
        is sample ``j * world_size + r``).
    checkpoint : str or path, optional
        Save progress to this ``.npz`` file (atomically) and, if it exists
        from an interrupted call with the same options, resume from it: the
        batches it already consumed are read from the iterable but not run
        (the iterable must yield the same batches in the same order). Under
        ``torch.distributed`` each rank uses ``NAME.rank<r>.npz``. The file
        records a fingerprint of the model (parameter and buffer names,
        shapes, dtypes and a hash of their values) and of the code of
        ``forward``, ``labels``, ``predict``, ``index`` and callable capture
        options; a call that differs in any of them, or in the options, is
        refused with :class:`~attnwidget.errors.CaptureMismatchError` naming the
        difference, instead of mixing two runs' samples. A checkpoint that
        cannot be read raises :class:`attnwidget.CaptureFileError`.
    every : int
        Checkpoint after at least this many more samples.
    per_class : int, optional
        Keep up to this many samples of each label (the first ones read), so
        that an imbalanced evaluation set still gives every class its share:
        the loop reads on until ``num_samples`` are kept (None: to the end of
        the iterable); a class with fewer samples keeps them all. Needs
        ``labels=`` and kept samples (``keep="samples"`` or ``"both"``; with
        ``"both"`` the statistics still count every sample). One process only.
    **capture_options
        As for :func:`attnwidget.capture` (``heads``, ``rows``, ``max_size``, ...).

    Returns
    -------
    Capture or None
        Kept samples concatenated along axis 0 of every site (shorter
        sequences zero-padded), labels, predictions, and ``cap.stats`` for
        ``keep="stats"``/``"both"``. Under ``torch.distributed`` rank 0
        returns everything over all ranks (statistics equal, up to float
        rounding, to one process reading the whole data set) and the other
        ranks return None. Every rank must call ``collect``.
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, not {keep!r}")
    if num_samples is not None and (not isinstance(num_samples, int) or num_samples < 1):
        raise ValueError(f"num_samples must be a positive int or None, not {num_samples!r}")
    if max_samples is not None:
        if keep == "samples":
            raise ValueError(
                "max_samples= caps the statistics of keep='stats' or 'both'; with "
                "keep='samples' use num_samples="
            )
        if not isinstance(max_samples, int) or isinstance(max_samples, bool) or max_samples < 1:
            raise ValueError(f"max_samples must be a positive int or None, not {max_samples!r}")
    if keep == "stats" and predict is not None:
        raise ValueError(
            "predict= records predictions of kept samples, and keep='stats' keeps none; use keep='both'"
        )
    if index is not None and not callable(index):
        raise TypeError(f"index= must be a callable on the batch giving global sample indices, not {index!r}")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be a positive int (samples between checkpoints), not {every!r}")
    _check_per_class(per_class, labels, keep)
    if model.training:
        warnings.warn(
            "collect(): the model is in training mode, so dropout makes attention random; "
            "call model.eval() first",
            stacklevel=2,
        )
    forward = forward or default_forward
    rank, world = rank_world()
    if per_class is not None and world > 1:
        raise ValueError(
            "per_class= balances the samples one process reads and is not supported under "
            "torch.distributed; collect on one process, or use num_samples="
        )
    options = _options(keep, num_samples, max_samples, labels, predict, index, rank, world, capture_options)
    if per_class is not None:  # only then: older checkpoints, without the key, still resume
        options["per_class"] = per_class
    path = rank_path(checkpoint, rank, world) if checkpoint is not None else None
    # what else decides the result: computed once per call, and only where a checkpoint must match it
    prints = None
    if path is not None:
        prints = fingerprint(
            model,
            {
                "forward": forward,
                "labels": labels,
                "predict": predict,
                "index": index,
                **{f"capture option {k}": v for k, v in capture_options.items()},
            },
        )
    state = (
        CollectState.restore(path, options, prints)
        if path is not None and os.path.exists(path)
        else CollectState(options, prints)
    )
    plan = _Plan(
        keep,
        num_samples,
        max_samples,
        forward,
        labels,
        predict,
        index,
        rank,
        world,
        path,
        every,
        progress and rank == 0,
        capture_options,
        per_class,
    )
    _run(state, model, batches, plan)
    return state.finish(keep, rank, world, ordered=world > 1 or index is not None)


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of one collect() call, as the loop needs them."""

    keep: str
    num_samples: int | None
    max_samples: int | None
    forward: Callable
    labels: Any
    predict: Callable | None
    index: Callable | None
    rank: int
    world: int
    path: str | None
    every: int
    progress: bool
    capture_options: dict
    per_class: int | None = None


def _check_per_class(per_class, labels, keep: str) -> None:
    """The errors of ``collect(per_class=...)``, said before anything runs."""
    if per_class is None:
        return
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be a positive int (samples kept per label), not {per_class!r}")
    if labels is None:
        raise ValueError(
            "per_class= keeps samples per label and needs labels=, e.g. labels=lambda batch: batch[1]"
        )
    if keep == "stats":
        raise ValueError(
            "per_class= chooses the samples to keep, and keep='stats' keeps none; use keep='both'"
        )


class _PerClassSink(BatchSink):
    """A sink that keeps a sample only while its label has fewer than ``per_class`` kept
    (and fewer than ``total`` are kept in all); counts come from the kept labels, so a resumed
    checkpoint continues them."""

    def __init__(self, *args, per_class: int, total: int | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.per_class, self.total = per_class, total

    def _start(self, n: int) -> None:
        super()._start(n)
        if self.labels is None or not self.kept.any():
            return
        counts: dict[Any, int] = {}
        for part in self.state.labels:
            for value in np.asarray(part).tolist():
                counts[value] = counts.get(value, 0) + 1
        kept_now = self.state.count
        for i, value in enumerate(np.asarray(self.labels).tolist()):
            if not self.kept[i]:
                continue
            if counts.get(value, 0) >= self.per_class or (self.total is not None and kept_now >= self.total):
                self.kept[i] = False
                continue
            counts[value] = counts.get(value, 0) + 1
            kept_now += 1


def _run(state: CollectState, model: torch.nn.Module, batches: Iterable, plan: _Plan) -> None:
    """The loop: one capture per batch, folded into ``state``; checkpoints on the way."""
    from tqdm.auto import tqdm

    keep, num_samples, max_samples = plan.keep, plan.num_samples, plan.max_samples
    labels, predict, index, rank, world, path = (
        plan.labels,
        plan.predict,
        plan.index,
        plan.rank,
        plan.world,
        plan.path,
    )
    keeping = keep != "stats"
    streaming = keep != "samples"
    limit = num_samples if keep == "samples" else max_samples  # no sample at or past it is needed
    keep_limit = min((v for v in (num_samples, max_samples) if v is not None), default=None)
    ordered_reading = index is None  # global indices grow as we read, so we may stop early
    balanced = plan.per_class is not None
    if balanced:
        # samples are kept by label, not by position: read until num_samples are kept
        limit = None if keep == "samples" else max_samples
        keep_limit = max_samples

    def done() -> bool:
        if balanced and keep == "samples" and num_samples is not None and state.count >= num_samples:
            return True
        return ordered_reading and limit is not None and state.position * world + rank >= limit

    bar = tqdm(
        total=limit if world == 1 else None,
        initial=min(state.position, limit or state.position),
        unit="sample",
        desc="collect",
        disable=not plan.progress,
    )
    saved_at = state.position
    workspace = Workspace()
    warned_padding = False
    try:
        with torch.no_grad():
            for b, batch in enumerate(batches if not done() else ()):
                if b < state.batches:
                    continue  # consumed before the checkpoint was written
                idx = None
                if index is not None:
                    idx = batch_indices(index, batch)
                    if limit is not None and not (idx < limit).any():
                        state.batches += 1
                        state.position += len(idx)
                        continue  # nothing in this batch is needed: do not run the model
                sink_options: dict[str, Any] = dict(
                    keeping=keeping,
                    streaming=streaming,
                    keep_limit=keep_limit,
                    max_samples=max_samples,
                    rank=rank,
                    world=world,
                )
                if balanced:
                    sink: BatchSink = _PerClassSink(
                        state,
                        idx,
                        batch_part(labels, batch, "labels"),
                        per_class=plan.per_class,
                        total=num_samples,
                        **sink_options,
                    )
                else:
                    sink = BatchSink(state, idx, batch_part(labels, batch, "labels"), **sink_options)
                block = capture(model, **plan.capture_options)
                block.sink = sink  # each site is folded in as it is computed, on the model's device
                block.workspace = workspace  # ... so the next site may reuse its buffers
                block.entropy = streaming  # head entropy from the engine's log-weights, where it has them
                with block as cap:
                    output = plan.forward(model, batch)
                if block.padding_seen is not None and not warned_padding:
                    warned_padding = True
                    warnings.warn(padding_warning(b, block.padding_seen), stacklevel=3)
                if state.first_metadata is None:
                    state.first_metadata = cap.metadata
                n = sink.finish(output, None if predict is None else _counted(predict, b, sink))
                state.batches += 1
                state.position += n
                bar.update(n if limit is None else max(0, min(n, limit - bar.n)))
                if path is not None and state.position - saved_at >= plan.every:
                    state.save(path)
                    saved_at = state.position
                if done():
                    break
        if path is not None and (state.position != saved_at or not os.path.exists(path)):
            state.save(path)
    finally:
        state.stats.release()
        bar.close()


def padding_warning(batch: int, site: str) -> str:
    """What ``collect`` says, once, when a batch holds padding: its statistics do not leave it out yet."""
    return (
        f"aw.collect: batch {batch} holds padding (site {site!r}: positions the model's attention mask "
        "leaves out). Kept samples record it (their frames and cap.valid_mask leave it out), but the "
        "streamed statistics (class means, variances, entropies) do not yet leave padded positions "
        "out, so they include the padded rows of shorter samples. For statistics without padding, "
        "collect samples of one length (batches grouped by length, or inputs cut to one length)"
    )


def _counted(predict: Callable, b: int, sink: BatchSink) -> Callable:
    """``predict``, checked to give one value per sample of batch ``b`` (else a ValueError saying so)."""

    def run(output):
        pred = predict(output)
        got = pred.numel() if isinstance(pred, torch.Tensor) else np.asarray(pred).size
        if got != sink.n:
            raise ValueError(
                f"predict= returned {got} value(s) for batch {b}, which has {sink.n} sample(s)"
                + (" and labels" if sink.labels is not None else "")
                + "; it must return one prediction per sample, e.g. lambda out: out.argmax(-1)"
            )
        return pred

    return run


def _options(
    keep, num_samples, max_samples, labels, predict, index, rank, world, capture_options
) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed, JSON-normalised."""
    opts = {
        "keep": keep,
        "num_samples": num_samples,
        "max_samples": max_samples,
        "labels": _describe(labels),
        "predict": predict is not None,
        "index": index is not None,
        "rank": rank,
        "world_size": world,
        "capture": {k: _describe(v) for k, v in sorted(capture_options.items())},
    }
    return json.loads(json.dumps(opts))


def _describe(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if callable(v):
        return "callable " + getattr(v, "__qualname__", type(v).__name__)
    if isinstance(v, (list, tuple)):
        return [_describe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _describe(x) for k, x in v.items()}
    return str(v)
