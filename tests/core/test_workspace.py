"""Collection buffers: reused per role, and on the CPU kept out of the malloc heap the model uses."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import mmap

import pytest
import torch

from attnwidget._capture.workspace import MAPPED_BYTES, Workspace, allocate


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo2():
    """glibc's heap counters, or None where the C library has no ``mallinfo2`` (glibc < 2.33, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    return fn


def test_allocate_gives_page_aligned_writable_memory_of_the_asked_shape():
    t = allocate((3, 64, 128), torch.float64)  # 192 KiB: a mapping of its own
    assert t.shape == (3, 64, 128) and t.dtype == torch.float64 and t.device.type == "cpu"
    assert t.data_ptr() % mmap.PAGESIZE == 0
    t.fill_(2.5)
    assert float(t.sum()) == 2.5 * t.numel()
    small = allocate((3, 5))  # below MAPPED_BYTES: torch's own allocator
    assert small.shape == (3, 5) and small.nbytes < MAPPED_BYTES
    assert allocate((0, 4)).shape == (0, 4)
    meta = allocate((2, 3), device="meta")  # other devices: plain torch.empty
    assert meta.device.type == "meta" and meta.shape == (2, 3)


def test_workspace_reuses_a_role_when_it_fits_and_keeps_roles_apart():
    ws = Workspace()
    a = ws.get("scores", (4, 8))
    assert ws.get("scores", (2, 8)).data_ptr() == a.data_ptr()  # smaller: same memory
    assert ws.get("weights", (4, 8)).data_ptr() != a.data_ptr()  # another role: its own
    b = ws.get("scores", (8, 8))  # larger: a new buffer
    assert b.shape == (8, 8) and ws.get("scores", (8, 8)).data_ptr() == b.data_ptr()
    assert ws.get("scores", (8, 8), torch.float64).dtype == torch.float64  # another type: remade


def test_collection_buffers_do_not_come_from_the_malloc_heap():
    info = _mallinfo2()
    if info is None:
        pytest.skip("needs glibc's mallinfo2 to read the malloc heap; this C library has none")
    size = (8, 1 << 20)  # 32 MiB of float32: more than glibc ever serves from its heap top
    gc.collect()
    before = info()
    kept = allocate(size)
    kept.fill_(1.0)
    after = info()
    assert after.hblkhd == before.hblkhd  # malloc mapped nothing for it
    assert after.arena - before.arena < (1 << 20)  # and its heap did not grow by the buffer
    control = torch.empty(size)  # the counters do see a tensor from torch's allocator
    control.fill_(1.0)
    seen = info()
    assert seen.hblkhd + seen.uordblks >= after.hblkhd + after.uordblks + control.nbytes
    del control, kept
