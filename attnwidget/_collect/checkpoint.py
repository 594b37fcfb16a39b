"""Crash-safe ``.npz`` files for ``collect(..., checkpoint=...)``: one JSON header plus arrays.

A checkpoint is written to a temporary file in the same folder, flushed and
fsynced, then moved over the old one with ``os.replace`` (atomic on POSIX and
Windows), and the folder is fsynced: a crash at any moment leaves either the
previous checkpoint or the new one, never a torn file. Reading never unpickles.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

__all__ = ["write_checkpoint", "read_checkpoint", "rank_path"]

_FORMAT = "attnwidget-collect-checkpoint"
_VERSION = 1


def rank_path(path: str | os.PathLike, rank: int, world: int) -> str:
    """The checkpoint file of one rank: ``run.npz`` -> ``run.rank1.npz`` when ``world > 1``."""
    path = os.fspath(path)
    if world <= 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.rank{rank}{ext or '.npz'}"


def write_checkpoint(path: str, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``header`` (JSON-able) and ``arrays`` to ``path`` atomically and durably."""
    body = dict(arrays)
    body["header"] = np.array(json.dumps(dict(header, format=_FORMAT, version=_VERSION),
                                         default=_json_default))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def read_checkpoint(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_checkpoint`: ``(header, arrays)``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            arrays = {k: z[k] for k in z.files if k != "header"}
    except (ValueError, KeyError, OSError, EOFError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r} is not a readable collect() checkpoint ({e}); delete it to "
                         "start over") from None
    if header.get("format") != _FORMAT:
        raise ValueError(f"{path!r} is not a collect() checkpoint (format {header.get('format')!r})")
    return header, arrays


def _fsync_folder(folder: str) -> None:
    # makes the rename itself durable; not possible on every platform (e.g. Windows)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in a checkpoint header")
