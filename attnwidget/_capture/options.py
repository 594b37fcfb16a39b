"""Capture options, checked once: which sites to keep and how to reduce them on device.

``Reducer`` applies ``rows`` -> ``heads`` -> block pooling (``max_size``,
``pool``) -> ``dtype`` to attention ``[sample, head, query, key]`` and
describes what it did (the ``info`` stored with each site).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..reduce import blocks_for, pool_axis, reduce_heads

__all__ = ["Reducer", "site_filter"]

_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def site_filter(include=None, exclude=None) -> Callable[[str], bool]:
    """Normalise ``include``/``exclude`` (glob, list of globs, or callable) into one predicate."""

    def as_pred(spec, what):
        if spec is None:
            return None
        if callable(spec):
            return spec
        if isinstance(spec, str):
            spec = [spec]
        if not isinstance(spec, (list, tuple, set)) or not all(isinstance(p, str) for p in spec):
            raise TypeError(
                f"{what} must be a glob string, a list of globs or a callable on "
                f"site names, not {type(spec).__name__}"
            )
        pats = list(spec)
        return lambda name: any(fnmatch.fnmatchcase(name, p) for p in pats)

    inc, exc = as_pred(include, "include"), as_pred(exclude, "exclude")

    def keep(name: str) -> bool:
        if inc is not None and not inc(name):
            return False
        if exc is not None and exc(name):
            return False
        return True

    return keep


def patterns(spec) -> list[str]:
    """The glob strings of an include/exclude spec (empty for callables)."""
    if spec is None or callable(spec):
        return []
    return [spec] if isinstance(spec, str) else list(spec)


@dataclass
class Reducer:
    """How attention is reduced on the model's device before it is copied."""

    heads: Any = "all"
    rows: Sequence[int] | None = None
    max_size: int | None = None
    pool: str = "mean"
    dtype: torch.dtype = torch.float32

    def __post_init__(self):
        h = self.heads
        if not (
            h in ("all", "mean", "max")
            or (isinstance(h, (list, tuple)) and h and all(isinstance(i, int) for i in h))
        ):
            raise ValueError(
                f"heads must be 'all', 'mean', 'max' or a non-empty list of head indices, not {h!r}"
            )
        if self.rows is not None:
            if isinstance(self.rows, int):
                self.rows = [self.rows]
            if not all(isinstance(r, int) for r in self.rows) or not len(self.rows):
                raise ValueError(f"rows must be a non-empty list of query positions, not {self.rows!r}")
            self.rows = list(self.rows)
        if self.max_size is not None and (not isinstance(self.max_size, int) or self.max_size < 1):
            raise ValueError(f"max_size must be a positive int, not {self.max_size!r}")
        if self.pool not in ("mean", "max"):
            raise ValueError(f"pool must be 'mean' or 'max', not {self.pool!r}")
        if isinstance(self.dtype, str):
            if self.dtype not in _DTYPES:
                raise ValueError(f"dtype must be one of {list(_DTYPES)}, not {self.dtype!r}")
            self.dtype = _DTYPES[self.dtype]
        if self.dtype not in _DTYPES.values():
            raise ValueError(f"dtype must be torch.float32 or torch.float16, not {self.dtype}")

    # -- pieces the sdpa tiler uses as well ---------------------------------
    def row_index(self, n_query: int, site: str) -> torch.Tensor | None:
        """Positions of the kept query rows (negative counts from the end)."""
        if self.rows is None:
            return None
        bad = [r for r in self.rows if not -n_query <= r < n_query]
        if bad:
            raise IndexError(
                f"rows={self.rows}: site {site!r} has {n_query} query positions, so rows {bad} do not exist"
            )
        return torch.tensor([r % n_query for r in self.rows], dtype=torch.long)

    def check_heads(self, n_heads: int, site: str) -> None:
        if isinstance(self.heads, (list, tuple)):
            bad = [i for i in self.heads if not -n_heads <= i < n_heads]
            if bad:
                raise IndexError(
                    f"heads={list(self.heads)}: site {site!r} has {n_heads} heads, "
                    f"so heads {bad} do not exist"
                )

    def blocks(self, n_query: int, n_key: int) -> tuple[int, int]:
        return blocks_for(n_query, self.max_size), blocks_for(n_key, self.max_size)

    def finish_tile(self, w: torch.Tensor, bq: int, bk: int) -> torch.Tensor:
        """heads -> pool query -> pool key -> dtype for a tile ``[sample, head, rows, key]``."""
        heads = self.heads
        if isinstance(heads, (list, tuple)):
            heads = [i % w.shape[1] for i in heads]  # negative indices count from the end
        # heads first, then the query axis, then the key axis: each pass reads what the last left.
        # Summing whole [row, key] slabs (heads, then the rows of a query block) runs at memory
        # speed; pooling the key axis first (a reduction over a short innermost axis) was 5-20x
        # slower on a 1,024 x 4,096 tile, and it now reads the fewest cells
        w = reduce_heads(w, heads)
        w = pool_axis(w, -2, bq, self.pool)
        w = pool_axis(w, -1, bk, self.pool)
        return w.to(self.dtype)

    def sums_tile(self, w: torch.Tensor, bq: int, bk: int) -> torch.Tensor:
        """:meth:`finish_tile` without its divisions, for mean pooling in the result's dtype:
        heads summed (``"mean"``), then the cells of each block summed. Tiles written into
        one result are made means by one :meth:`divide` of that result, so a tile costs
        no division pass (the tiles of a long sequence are many and small)."""
        heads = self.heads
        if heads == "mean":
            w = w.sum(dim=1, keepdim=True)
        else:
            if isinstance(heads, (list, tuple)):
                heads = [i % w.shape[1] for i in heads]
            w = reduce_heads(w, heads)
        return pool_axis(pool_axis(w, -2, bq, "sum"), -1, bk, "sum")

    def sums_ok(self, work: torch.dtype) -> bool:
        """Whether :meth:`sums_tile` and :meth:`divide` give this reduction (mean pooling,
        stored in the dtype it is computed in)."""
        return self.pool == "mean" and self.dtype == work

    def divide(self, out: torch.Tensor, n_heads: int, rows: int, keys: int, bq: int, bk: int) -> torch.Tensor:
        """Turn :meth:`sums_tile` sums written into one ``[sample, head, rows/bq, keys/bk]`` result
        into means, in place: each block over the cells it holds (a partial last block over fewer)."""
        per = float(n_heads if self.heads == "mean" else 1)
        if rows % bq == 0 and keys % bk == 0:
            return out.div_(per * bq * bk)
        row_counts = torch.full((out.shape[-2], 1), float(bq), device=out.device, dtype=out.dtype)
        row_counts[-1] = rows - (out.shape[-2] - 1) * bq
        key_counts = torch.full((out.shape[-1],), float(bk), device=out.device, dtype=out.dtype)
        key_counts[-1] = keys - (out.shape[-1] - 1) * bk
        return out.div_(row_counts * key_counts * per)

    def info(self, n_heads, n_query, n_key, bq, bk) -> dict:
        return {
            "heads": self.heads if isinstance(self.heads, str) else list(self.heads),
            "num_heads": int(n_heads),
            "rows": self.rows,
            "block": [bq, bk],
            "query_len": int(n_query),
            "key_len": int(n_key),
            "pool": self.pool,
        }

    def reduce(self, w: torch.Tensor, site: str) -> tuple[torch.Tensor, dict]:
        """Reduce materialised attention ``[sample, head, query, key]``."""
        n_heads, n_query, n_key = w.shape[1], w.shape[2], w.shape[3]
        self.check_heads(n_heads, site)
        idx = self.row_index(n_query, site)
        if idx is not None:
            w = w.index_select(2, idx.to(w.device))
        bq, bk = self.blocks(w.shape[2], n_key)
        out = self.finish_tile(w.float() if w.dtype != torch.float32 else w, bq, bk)
        return out, self.info(n_heads, n_query, n_key, bq, bk)
