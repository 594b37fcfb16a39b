"""``aw.collect``: attention over a data set, one capture per batch, samples along axis 0.

Seed 000's use: run 100-200 evaluation samples through a model, keep each
sample's attention with its label and prediction, then compare classes.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

import numpy as np
import torch

from .capture import capture
from .store import Capture

__all__ = ["collect", "default_forward", "batch_part", "concat_samples"]


def default_forward(model: torch.nn.Module, batch: Any):
    """``model(batch)`` for a tensor, ``model(batch[0])`` for a tuple/list, ``model(**batch)`` for a dict."""
    if isinstance(batch, torch.Tensor):
        return model(batch)
    if isinstance(batch, (tuple, list)):
        return model(batch[0])
    if isinstance(batch, dict):
        return model(**batch)
    raise TypeError(f"collect() cannot feed a {type(batch).__name__} batch to the model; "
                    "pass forward=lambda model, batch: ...")


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
        raise TypeError(f"{what}= must be a callable on the batch, an index into a tuple batch or a "
                        f"key into a dict batch; got {spec!r} for a {type(batch).__name__} batch")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value).reshape(-1)


def concat_samples(arrays: list[np.ndarray]) -> tuple[np.ndarray, bool]:
    """Concatenate along axis 0, zero-padding trailing axes that differ between batches."""
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) == 1:
        return np.concatenate(arrays, axis=0), False
    ndim = arrays[0].ndim
    if any(a.ndim != ndim for a in arrays):
        raise ValueError(f"batches recorded arrays with different numbers of axes: {sorted(shapes)}")
    big = tuple(max(a.shape[i] for a in arrays) for i in range(1, ndim))
    out = np.zeros((sum(a.shape[0] for a in arrays),) + big, dtype=arrays[0].dtype)
    i = 0
    for a in arrays:
        out[(slice(i, i + a.shape[0]),) + tuple(slice(0, s) for s in a.shape[1:])] = a
        i += a.shape[0]
    return out, True


def collect(model: torch.nn.Module, batches: Iterable, num_samples: int | None = 200, *,
            forward: Callable | None = None, labels=None, predict: Callable | None = None,
            progress: bool = True, **capture_options) -> Capture:
    """Run ``model`` over ``batches`` and keep each sample's attention.

    Parameters
    ----------
    model : torch.nn.Module
    batches : iterable
        A DataLoader or any iterable of batches.
    num_samples : int or None
        Stop after this many samples (None: the whole iterable).
    forward : callable, optional
        ``forward(model, batch) -> output``; default :func:`default_forward`.
    labels : callable, int or str, optional
        Per-sample class labels from a batch (``lambda batch: batch[1]``, an
        index into tuple batches, or a key into dict batches) -> ``cap.labels``.
    predict : callable, optional
        ``predict(output) -> per-sample predictions`` -> ``cap.predictions``.
    progress : bool
        Show a progress bar.
    **capture_options
        As for :func:`attnwidget.capture` (``heads``, ``rows``, ``max_size``, ...).

    Returns
    -------
    Capture
        Samples concatenated along axis 0 of every site (shorter sequences zero-padded).
    """
    if num_samples is not None and (not isinstance(num_samples, int) or num_samples < 1):
        raise ValueError(f"num_samples must be a positive int or None, not {num_samples!r}")
    if model.training:
        warnings.warn("collect(): the model is in training mode, so dropout makes attention random; "
                      "call model.eval() first", stacklevel=2)
    forward = forward or default_forward
    from tqdm.auto import tqdm

    per_site: dict[tuple[str, int], list[np.ndarray]] = {}
    first: Capture | None = None
    meta: dict[str, tuple] = {}  # site -> (kind, axes, info) where it first ran
    all_labels, all_preds = [], []
    count = 0
    bar = tqdm(total=num_samples, unit="sample", desc="collect", disable=not progress)
    try:
        with torch.no_grad():
            for batch in batches:
                with capture(model, **capture_options) as cap:
                    output = forward(model, batch)
                n = cap.num_samples
                take = n if num_samples is None else min(n, num_samples - count)
                if first is None:
                    first = cap
                for name in cap.layers:
                    meta.setdefault(name, (cap.kinds[name], cap.axes[name], cap.info[name]))
                    for step in cap.steps_of(name):
                        per_site.setdefault((name, step), []).append(cap.get(name, step)[:take])
                lab = batch_part(labels, batch, "labels")
                if lab is not None:
                    all_labels.append(lab[:take])
                if predict is not None:
                    pred = predict(output)
                    pred = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
                    all_preds.append(pred.reshape(-1)[:take])
                count += take
                bar.update(take)
                if num_samples is not None and count >= num_samples:
                    break
    finally:
        bar.close()
    if first is None:
        raise ValueError("collect() got no batches: the iterable was empty")

    out = Capture()
    out.metadata = dict(first.metadata, num_samples=count)
    for (name, step), arrays in per_site.items():
        array, padded = concat_samples(arrays)
        kind, axes, info = meta[name]
        out.add(name, step, array, kind=kind, axes=axes, info=dict(info, padded=padded))
    if all_labels:
        out.labels = np.concatenate(all_labels)
    if all_preds:
        out.predictions = np.concatenate(all_preds)
    return out
