"""What a capture knows about each sample: its tokens, its valid positions, its name.

Three facts, per site, that every view and figure reads through the frame:

- **tokens per sample**: ``cap.tokens`` may hold one token list per sample
  (``[["[CLS]", "the", ...], ["[CLS]", "a", ...]]``), at the top or inside the
  ``{"query": ..., "key": ...}`` and per-site forms; :func:`pick_tokens` gives
  one sample's list.
- **valid positions**: the engine records, per site and step, which query and
  key positions of each sample are padding (from the mask the model passed);
  :func:`valid_mean` is the mean over samples taken position by position over
  the samples where the position is valid.
- **sample structure**: a flattened sample axis named by its factors
  (``recording x epoch x channel``); :func:`sample_factors` checks a naming and
  :func:`sample_text` says which sample an index is ("recording 3 · epoch 5 · EEG2").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "is_per_sample",
    "pick_tokens",
    "sample_factors",
    "sample_text",
    "sample_position",
    "valid_mean",
    "mask_rows",
]


# ------------------------------------------------------------------ tokens per sample
def is_per_sample(seq: Any) -> bool:
    """Whether a token form is one list per sample (a list whose items are lists), not one list."""
    if isinstance(seq, np.ndarray):
        return seq.ndim == 2
    return (
        isinstance(seq, (list, tuple))
        and len(seq) > 0
        and all(isinstance(t, (list, tuple, np.ndarray)) for t in seq)
    )


def pick_tokens(seq: Any, sample: int | None) -> Any:
    """One sample's tokens from a form that may hold one list per sample.

    ``sample`` is the absolute sample index (None: a frame of several samples,
    whose per-sample tokens do not name one position each: None is returned).
    A sample beyond the lists given has no tokens (None), never another's.
    """
    if not is_per_sample(seq):
        return seq
    if sample is None or not 0 <= int(sample) < len(seq):
        return None
    return list(seq[int(sample)])


# ------------------------------------------------------------------ sample structure
def sample_factors(site: str, count: int, factors: dict[str, Any]) -> list[list]:
    """Check a naming of a site's flattened sample axis; returns ``[[factor, [value names]], ...]``.

    Each factor is a count (values named ``0..n-1``) or a list of value names;
    their sizes multiply to the site's sample count, the last varying fastest
    (the order ``reshape`` uses).
    """
    if not factors:
        raise ValueError(f"name at least one factor of site {site!r}'s samples, e.g. recording=16")
    out: list[list] = []
    size = 1
    for name, values in factors.items():
        if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
            if values < 1:
                raise ValueError(f"factor {name!r} of site {site!r} has {values} values; give a count >= 1")
            names = [str(i) for i in range(int(values))]
        elif isinstance(values, (list, tuple, np.ndarray, range)):
            names = [str(v) for v in values]
            if not names:
                raise ValueError(f"factor {name!r} of site {site!r} has no values")
        else:
            raise TypeError(
                f"factor {name!r} of site {site!r} is a {type(values).__name__}: give a count "
                "or a list of value names"
            )
        out.append([str(name), names])
        size *= len(names)
    if size != count:
        shape = " x ".join(f"{n} {len(v)}" for n, v in out)
        raise ValueError(
            f"site {site!r} holds {count} samples, but {shape} makes {size}: the factors' sizes "
            f"must multiply to {count} (the last factor varies fastest)"
        )
    return out


def sample_position(factors: Sequence[Sequence], index: int) -> list[int]:
    """The value index of each factor for a flat sample index (last factor fastest)."""
    sizes = [len(values) for _, values in factors]
    return [int(i) for i in np.unravel_index(int(index), sizes)]


def sample_text(factors: Sequence[Sequence] | None, index: int) -> str:
    """``"recording 3 · epoch 5 · EEG2"`` for a named axis, else ``"sample 7"``.

    A factor whose value names are its counts reads ``"epoch 5"``; one with
    names of its own reads just the name (``"EEG2"``).
    """
    if not factors:
        return f"sample {index}"
    parts = []
    for (name, values), i in zip(factors, sample_position(factors, index)):
        value = values[i]
        parts.append(f"{name} {value}" if value == str(i) else value)
    return " · ".join(parts)


# ------------------------------------------------------------------ valid positions
def mask_rows(values: np.ndarray, query_valid: np.ndarray | None, key_valid: np.ndarray | None):
    """``[sample, ..., query, key]`` values and the per-sample validity of each cell ``[sample, query, key]``."""
    n, q, k = values.shape[0], values.shape[-2], values.shape[-1]
    qv = np.ones((n, q), bool) if query_valid is None else np.asarray(query_valid, bool)
    kv = np.ones((n, k), bool) if key_valid is None else np.asarray(key_valid, bool)
    return qv[:, :, None] & kv[:, None, :]


def valid_mean(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Mean over samples of ``[sample, ..., query, key]`` values, cell by cell over the samples where
    the cell is valid (``cells``: ``[sample, query, key]`` bools). A cell valid in no sample is NaN."""
    extra = values.ndim - 3
    w = cells.reshape(cells.shape[:1] + (1,) * extra + cells.shape[1:]).astype(np.float64)
    total = (np.asarray(values, np.float64) * w).sum(axis=0)
    count = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
