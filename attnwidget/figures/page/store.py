"""How a standalone page stores its data: bytes packed (base64, deflated where smaller), each part once.

:func:`packed` and :func:`unpacked` are the two directions of one byte
string; :class:`Embedded` collects what one page embeds, every panel of it:
its distinct states and the parts states share (frame codes, thumbnails,
images, label lists), each stored once and referred to as
``{"__ref__": i}``; :func:`resolved` puts the parts back in place, as the
page runtime (``js/page-data.js``) does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["packed", "unpacked", "resolved", "Embedded", "jsonable", "plain"]

#: bytes shorter than this are stored as they are; longer ones deflated where that saves a tenth
_DEFLATE_FROM = 4096
#: zlib level: 1 is within a few percent of 6 on attention codes, at a third of the time
_LEVEL = 1
#: deflated bytes are kept only where they take at most this share of the bytes
_WORTH = 0.9


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (anything else as it is)."""
    return value.item() if isinstance(value, np.generic) else value


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars made JSON values, dict keys strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return plain(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def packed(data: bytes, shape: Sequence[int] | None = None) -> dict:
    """Bytes as the page stores them: ``{"__bytes__": base64}``, or deflated where that is smaller.

    ``{"__deflate__": base64, "length": n}`` holds the zlib stream of the bytes;
    with ``"order": "columns"`` (only for a 2-D frame of ``shape``) the stream
    holds the codes column by column, which is often smaller for attention
    (keys that every query attends to make columns of one code). The page
    inflates it with the browser's ``DecompressionStream``. Which order, and
    whether to deflate at all, is judged on a slice of the frame first, so
    codes that do not deflate (near-uniform attention is noise to zlib) cost
    one small trial.
    """
    if len(data) < _DEFLATE_FROM:
        return {"__bytes__": _b64(data)}
    codes = None
    orders: list[str | None]
    if shape is not None and len(shape) == 2 and min(shape) > 1 and shape[0] * shape[1] == len(data):
        codes = np.frombuffer(data, dtype=np.uint8).reshape(shape)
    if codes is not None and codes.size >= 8 * _DEFLATE_FROM:
        band = max(8, codes.shape[0] // 8)  # a band of whole rows, and one of whole columns
        by_rows = len(zlib.compress(codes[:band].tobytes(), _LEVEL)) / codes[:band].size
        by_cols = len(zlib.compress(codes[:, :band].T.tobytes(), _LEVEL)) / codes[:, :band].size
        if min(by_rows, by_cols) > _WORTH:
            return {"__bytes__": _b64(data)}
        orders = ["columns"] if by_cols < by_rows else [None]
    else:
        orders = [None] + (["columns"] if codes is not None else [])
    best, order = None, None
    for o in orders:
        stream = zlib.compress(data if o is None or codes is None else codes.T.tobytes(), _LEVEL)
        if best is None or len(stream) < len(best):
            best, order = stream, o
    assert best is not None
    if len(best) > _WORTH * len(data):  # not worth inflating
        return {"__bytes__": _b64(data)}
    out: dict = {"__deflate__": _b64(best), "length": len(data)}
    if order is not None and shape is not None:
        out.update(order=order, shape=[int(v) for v in shape])
    return out


def unpacked(item: dict) -> bytes:
    """The bytes of :func:`packed`'s form (what the page runtime decodes)."""
    if "__bytes__" in item:
        return base64.b64decode(item["__bytes__"])
    data = zlib.decompress(base64.b64decode(item["__deflate__"]))
    if item.get("order") == "columns":
        rows, cols = item["shape"]
        data = np.frombuffer(data, dtype=np.uint8).reshape(cols, rows).T.tobytes()
    if len(data) != item["length"]:
        raise ValueError(f"inflated {len(data)} bytes where the page says {item['length']}")
    return data


def resolved(data: dict, value: Any) -> Any:
    """``value`` of a page's data with its references resolved: bytes as ``bytes``, labels as lists
    (a white image, ``{"__white__": shape}``, stays as it is: the page draws it)."""
    if isinstance(value, dict):
        if "__ref__" in value:
            return resolved(data, data["shared"][value["__ref__"]])
        if "__bytes__" in value or "__deflate__" in value:
            return unpacked(value)
        return {k: resolved(data, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(data, v) for v in value]
    return value


class Embedded:
    """What one page embeds: its distinct states, and the parts states share, each stored once.

    Byte strings (frame codes, thumbnails, images) and label lists go to
    ``shared`` once per distinct content; a state holds ``{"__ref__": i}`` in
    their place, so two selections whose frames differ only in their title
    (sample 0 of a one-sample class and the mean of that class) store their
    codes once, and the panels of an explorer share what they have in common
    (token labels, images). ``size`` counts the characters embedded so far;
    past ``max_bytes`` a ValueError says how to embed less.
    """

    def __init__(self, max_bytes: int) -> None:
        self.shared: list = []
        self.states: list[dict] = []
        self.size = 0
        self.max_bytes = max_bytes
        self._shared: dict = {}
        self._states: dict[str, int] = {}
        # bytes are deflated in threads (zlib lets go of the GIL) while the next frames are computed
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
        self._packing: list[tuple[int, Future]] = []

    def close(self) -> None:
        """Stop the deflating threads (what is still queued is dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _grow(self, chars: int) -> None:
        self.size += chars
        if self.size > self.max_bytes:
            raise ValueError(
                f"the frames of this view take more than {self.max_bytes / 2**20:.0f} MiB; "
                "embed fewer with layers=, heads=, samples=, steps=, stats= or "
                "differences=False, a smaller view size, or raise max_bytes"
            )

    def _share(self, key: Any, make: Callable[[], Any], *, in_thread: bool = False) -> dict:
        index = self._shared.get(key)
        if index is None:
            index = self._shared[key] = len(self.shared)
            if in_thread:
                self.shared.append(None)
                self._packing.append((index, self._pool.submit(make)))
            else:
                item = make()
                self.shared.append(item)
                self._grow(len(json.dumps(item, ensure_ascii=False)))
        self._packed(wait=False)
        return {"__ref__": index}

    def _packed(self, wait: bool) -> None:
        """Put the bytes deflated so far (all of them: ``wait``) in place, counting their size."""
        left = []
        for index, job in self._packing:
            if wait or job.done():
                item = self.shared[index] = job.result()
                self._grow(len(item["__bytes__"] if "__bytes__" in item else item["__deflate__"]) + 64)
            else:
                left.append((index, job))
        self._packing = left

    def finish(self) -> None:
        """Wait for the bytes still being deflated (a ValueError past ``max_bytes``)."""
        self._packed(wait=True)

    def data(self, data: bytes, shape: Sequence[int] | None = None) -> dict:
        """A reference to these bytes (``shape``: of a 2-D frame, which may be stored by columns)."""
        key = ("bytes", tuple(shape or ()), hashlib.sha1(data).digest())
        return self._share(key, lambda: packed(data, shape), in_thread=True)

    def labels(self, labels: Sequence[str]) -> dict:
        """A reference to a list of row or column labels."""
        labels = tuple(labels)
        return self._share(("labels", labels), lambda: list(labels))

    def stored(self, sent: dict) -> dict:
        """A view's synced data with its bytes and labels replaced by references."""
        out = {}
        for name, value in sent.items():
            if isinstance(value, (bytes, bytearray, memoryview)):
                # a 2-D frame's codes (an overlay's query rows too) may be stored by columns
                meta = sent.get({"_frame": "_frame_meta", "_rows": "_rows_meta"}.get(name, ""))
                out[name] = self.data(bytes(value), (meta or {}).get("shape"))
            elif name == "_frame_meta" and isinstance(value, dict):
                out[name] = {
                    k: self.labels(v) if k in ("row_labels", "col_labels") else jsonable(v)
                    for k, v in value.items()
                    if k != "compute_ms"  # differs run to run; it must not split equal frames
                }
            else:
                out[name] = jsonable(value)
        return out

    def amend(self, index: int, more: dict) -> None:
        """Add entries to a state already stored (``more`` as :meth:`stored` stores them)."""
        old = json.dumps(self.states[index], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self._states.pop(old, None)
        self.states[index] = {**self.states[index], **self.stored(more)}
        text = json.dumps(self.states[index], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self._grow(len(text) - len(old))
        self._states.setdefault(text, index)

    def state(self, sent: dict) -> int:
        """The index of a state (stored once per distinct content)."""
        stored = self.stored(sent)
        text = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        index = self._states.get(text)
        if index is None:
            self._grow(len(text))
            index = self._states[text] = len(self.states)
            self.states.append(stored)
        return index
