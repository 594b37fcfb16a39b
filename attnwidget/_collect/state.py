"""What a running ``collect`` has gathered so far, and how it is saved, restored and finished.

:class:`CollectState` holds the kept samples (per site, per batch), their
global indices, labels and predictions, the streaming statistics and the
number of batches and samples consumed. It round-trips through a checkpoint
file (:mod:`attnwidget._collect.checkpoint`) so a restarted collection
continues where the last checkpoint left off, and it turns into the final
:class:`Capture`, gathering every rank's part on rank 0 under
``torch.distributed``. A checkpoint is resumed only by a call with the same
options and the same fingerprint (model parameters, the code of the callables):
anything else would mix two runs' samples, and is refused with
:class:`~attnwidget.errors.CaptureMismatchError` naming what differs.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import CaptureFileError, CaptureMismatchError
from ..store import Capture
from .checkpoint import (
    check_fields,
    checkpoint_error,
    fingerprint_differences,
    member,
    read_checkpoint,
    write_checkpoint,
)
from .distributed import gather_to_root
from .stats import StreamingStats

__all__ = ["CollectState", "concat_samples", "concat_valid"]

Validity = tuple[np.ndarray, np.ndarray]


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


def concat_valid(arrays: list[np.ndarray], valids: list[Validity | None]) -> Validity | None:
    """Which positions of the samples :func:`concat_samples` stacks are not padding.

    ``valids``: per part, bool ``(query [n, query], key [n, key])`` as the engine read
    them from the model's masks, or None where none of its positions is padding. The
    positions ``concat_samples`` adds to fit a longer part are padding too. None where
    no part recorded any (a stack of one-sample batches is then read from its zeros,
    :meth:`attnwidget.Capture.valid_mask`).
    """
    if all(v is None for v in valids) or any(a.ndim != 4 for a in arrays):
        return None
    rows, keys = max(a.shape[2] for a in arrays), max(a.shape[3] for a in arrays)
    n = sum(a.shape[0] for a in arrays)
    query, key = np.zeros((n, rows), bool), np.zeros((n, keys), bool)
    i = 0
    for a, v in zip(arrays, valids, strict=True):
        m = a.shape[0]
        if v is None:
            query[i : i + m, : a.shape[2]] = True
            key[i : i + m, : a.shape[3]] = True
        else:
            query[i : i + m, : v[0].shape[1]] = v[0]
            key[i : i + m, : v[1].shape[1]] = v[1]
        i += m
    return query, key


class CollectState:
    """Everything one process of ``collect`` has gathered; see the module docstring."""

    def __init__(self, options: dict[str, Any], fingerprint: dict[str, Any] | None = None) -> None:
        self.options = options  # JSON-normalised; a checkpoint must match it
        self.fingerprint = fingerprint  # model and callables (checkpoint.fingerprint); must match too
        self.batches = 0  # batches consumed from the iterable
        self.position = 0  # samples read by this process
        self.count = 0  # samples kept whole
        self.meta: dict[str, tuple] = {}  # site -> (kind, axes, info) where it first ran
        self.first_metadata: dict | None = None
        self.kept: dict[tuple[str, int], list[np.ndarray]] = {}
        self.padded: dict[tuple[str, int], bool] = {}  # padding already applied before a restart
        # beside each part of ``kept``: its samples' (query, key) validity, None where nothing is padding
        self.kept_valid: dict[tuple[str, int], list[Validity | None]] = {}
        self.indices: list[np.ndarray] = []  # global index of each kept sample, per batch
        self.labels: list[np.ndarray] = []
        self.preds: list[np.ndarray] = []
        self.stats = StreamingStats()

    # ------------------------------------------------------------------ files
    def save(self, path: str) -> None:
        """Write a checkpoint (atomically) of everything gathered so far."""
        stats_header, arrays = self.stats.state()
        kept = []
        for i, (key, parts) in enumerate(self.kept.items()):
            valid = concat_valid(parts, self._valids(key))
            array, padded = concat_samples(parts)
            self.kept[key] = [array]  # compact: the next save need not concatenate again
            self.kept_valid[key] = [valid]
            self.padded[key] = self.padded.get(key, False) or padded
            arrays[f"k{i}"] = array
            if valid is not None:
                arrays[f"v{i}q"], arrays[f"v{i}k"] = valid
            kept.append([key[0], key[1], f"k{i}", self.padded[key], valid is not None])
        for name, parts in (("indices", self.indices), ("labels", self.labels), ("preds", self.preds)):
            if parts:
                arrays[name] = np.concatenate(parts)
                parts[:] = [arrays[name]]
        header = {
            "options": self.options,
            "batches": self.batches,
            "position": self.position,
            "count": self.count,
            "first_metadata": self.first_metadata,
            "meta": [[name, kind, list(axes), info] for name, (kind, axes, info) in self.meta.items()],
            "stats": stats_header,
            "kept": kept,
        }
        if self.fingerprint is not None:
            header["fingerprint"] = self.fingerprint
        write_checkpoint(path, header, arrays)

    @classmethod
    def restore(
        cls, path: str, options: dict[str, Any], fingerprint: dict[str, Any] | None = None
    ) -> CollectState:
        """Read a checkpoint written by a call with the same ``options`` and ``fingerprint``.

        Raises
        ------
        attnwidget.CaptureFileError
            The file is not a readable checkpoint.
        attnwidget.errors.CaptureMismatchError
            (a ``ValueError``) It was written by a call with other options, another
            model or other functions; the message names each difference.
        """
        header, arrays = read_checkpoint(path)
        state = cls._parse(path, header, arrays, options, fingerprint)
        problems = []
        theirs = header["options"]
        if theirs != options:
            diff = sorted(k for k in set(theirs) | set(options) if theirs.get(k) != options.get(k))
            pairs = ", ".join(f"{k}: {theirs.get(k)!r} there, {options.get(k)!r} now" for k in diff)
            problems.append(f"it used other options ({pairs})")
        if fingerprint is not None:
            if "fingerprint" in header:
                problems += fingerprint_differences(header["fingerprint"], fingerprint)
            else:
                warnings.warn(
                    f"checkpoint {path!r} was written by an older attnwidget that did not record "
                    "the model and functions it ran with, so resuming cannot check them; if "
                    "either changed, delete the file to start over",
                    stacklevel=3,
                )
        if problems:
            raise CaptureMismatchError(
                f"checkpoint {path!r} was written by another collect() run: "
                + "; ".join(problems)
                + ". Resuming would mix the samples of two runs: pass the same model, functions and options "
                "to resume, or delete the file to start over, or pass another checkpoint= path"
            )
        return state

    @classmethod
    def _parse(
        cls,
        path: str,
        header: dict,
        arrays: dict[str, np.ndarray],
        options: dict[str, Any],
        fingerprint: dict[str, Any] | None,
    ) -> CollectState:
        """The state a checkpoint's header and arrays describe, else a ``CaptureFileError`` saying why not."""
        check_fields(
            path,
            header,
            {
                "options": dict,
                "batches": int,
                "position": int,
                "count": int,
                "meta": list,
                "stats": list,
                "kept": list,
            },
        )
        if not (header.get("first_metadata") is None or isinstance(header["first_metadata"], dict)):
            raise checkpoint_error(path, "its header's 'first_metadata' is not an object")
        state = cls(options, fingerprint)
        state.batches, state.position, state.count = header["batches"], header["position"], header["count"]
        if min(state.batches, state.position, state.count) < 0 or state.count > state.position:
            raise checkpoint_error(
                path,
                f"its counts do not add up (batches {state.batches}, samples "
                f"{state.position}, kept {state.count})",
            )
        state.first_metadata = header.get("first_metadata")
        try:
            state.meta = {name: (kind, tuple(axes), info) for name, kind, axes, info in header["meta"]}
            state.stats = StreamingStats.from_state(header["stats"], arrays)
            for entry in header["kept"]:
                name, step, key, padded = entry[:4]  # a fifth: whether its validity was saved
                where = (name, int(step))
                state.kept[where] = [member(path, arrays, key, f"kept samples of {name!r}")]
                state.padded[where] = bool(padded)
                state.kept_valid[where] = [None]
                if len(entry) > 4 and entry[4]:
                    state.kept_valid[where] = [state._read_valid(path, arrays, key, name)]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            if isinstance(e, CaptureFileError):  # from member(): already says what is wrong
                raise
            raise checkpoint_error(
                path, f"its header does not describe a collection ({type(e).__name__}: {e})"
            ) from None
        for name in ("indices", "labels", "preds"):
            if name in arrays:
                shape = arrays[name].shape
                if len(shape) != 1 or shape[0] != state.count:
                    raise checkpoint_error(
                        path, f"it holds {name} of shape {shape} for {state.count} kept samples"
                    )
                getattr(state, name).append(arrays[name])
        return state

    def _valids(self, key: tuple[str, int]) -> list[Validity | None]:
        """The validity of each part of ``kept[key]`` (None for parts from before it was recorded)."""
        parts = self.kept_valid.get(key, [])
        return parts + [None] * (len(self.kept[key]) - len(parts))

    def _read_valid(self, path: str, arrays: dict[str, np.ndarray], key: str, name: str) -> Validity:
        """A kept site's saved validity, checked against its kept samples."""
        q = member(path, arrays, f"v{key[1:]}q", f"which positions of {name!r} are padding")
        k = member(path, arrays, f"v{key[1:]}k", f"which positions of {name!r} are padding")
        shape = arrays[key].shape
        if (
            q.dtype != bool
            or k.dtype != bool
            or q.shape != (shape[0], shape[2])
            or k.shape != (shape[0], shape[3])
        ):
            raise checkpoint_error(
                path, f"its validity of {name!r} is {q.shape} x {k.shape}, not that of its samples {shape}"
            )
        return q, k

    # ------------------------------------------------------------------ finish
    def finish(self, keep: str, rank: int, world: int, ordered: bool) -> Capture | None:
        """The final Capture: statistics reduced over ranks, kept samples gathered on rank 0.

        ``ordered``: sort kept samples by their global index (not needed for
        one process reading in order, which keeps today's exact output).
        Returns None on ranks other than 0.
        """
        if keep != "samples" and world > 1:
            self.stats.reduce_across_ranks()
        part = {
            "meta": self.meta,
            "first_metadata": self.first_metadata,
            "count": self.count,
            "kept": {k: concat_samples(v) for k, v in self.kept.items()},
            "kept_valid": {k: concat_valid(v, self._valids(k)) for k, v in self.kept.items()},
            "padded": self.padded,
            "indices": np.concatenate(self.indices) if self.indices else np.zeros(0, np.int64),
            "labels": self.labels,
            "preds": self.preds,
        }
        parts = gather_to_root(part, rank, world)
        if parts is None:
            return None
        first = next((p["first_metadata"] for p in parts if p["first_metadata"] is not None), None)
        if first is None:
            raise ValueError("collect() got no batches: the iterable was empty")
        meta: dict[str, tuple] = {}
        for p in parts:
            for name, m in p["meta"].items():
                meta.setdefault(name, m)
        out = Capture()
        out.metadata = dict(first, num_samples=sum(p["count"] for p in parts))
        if keep != "samples":
            out.metadata.update(keep=keep, stats_samples=self.stats.num_samples)
        order = None
        if ordered:
            order = np.argsort(np.concatenate([p["indices"] for p in parts]), kind="stable")
        keys: list[tuple[str, int]] = []
        for p in parts:
            keys.extend(k for k in p["kept"] if k not in keys)
        for name, step in keys:
            arrays = [p["kept"][(name, step)][0] for p in parts if (name, step) in p["kept"]]
            array, padded = concat_samples(arrays)
            padded = padded or any(
                p["kept"][(name, step)][1] or p["padded"].get((name, step), False)
                for p in parts
                if (name, step) in p["kept"]
            )
            valid = concat_valid(
                arrays, [p["kept_valid"].get((name, step)) for p in parts if (name, step) in p["kept"]]
            )
            if order is not None and len(order) == len(array):
                array = array[order]
                valid = None if valid is None else (valid[0][order], valid[1][order])
            kind, axes, info = meta[name]
            out.add(name, step, array, kind=kind, axes=axes, info=dict(info, padded=padded))
            if valid is not None and not (valid[0].all() and valid[1].all()):
                out.add_valid(name, step, *valid)
        for attr, field in (("labels", "labels"), ("predictions", "preds")):
            values = [a for p in parts for a in p[field]]
            if values:
                values = np.concatenate(values)
                if order is not None and len(order) == len(values):
                    values = values[order]
                setattr(out, attr, values)
        for layer, per_step in self.stats.result().items():
            kind, axes, info = meta[layer]
            for step, st in per_step.items():
                out.add_stats(layer, step, st, kind=kind, axes=axes, info=info)
        return out
