"""Memory that streaming collection reuses, kept off the heap the model allocates from.

``aw.collect`` computes every site of every batch in the same few buffers
(:class:`Workspace`), and keeps its running sums in buffers made once per
class (:func:`allocate`). On the CPU both come from anonymous mappings of
their own rather than from ``malloc``: glibc serves a model's large
activations from free space in its heap and maps fresh memory (a page fault
per 4 KiB, about as slow as filling it) when none is left. Buffers that
lived in that heap would take space the model's next batch needs, so a
collection would page-fault more than the bare model does; mapped
separately, they take none of it. On other devices they are ordinary
``torch.empty`` tensors (the CUDA caching allocator already reuses memory).
"""

from __future__ import annotations

import math
import mmap

import torch

__all__ = ["Workspace", "allocate"]


# smaller CPU buffers come from torch's allocator: glibc's own first threshold for mapping memory,
# and a bound on the number of mappings (Linux allows about 65,000 per process) of a collection with
# many sites, steps and classes
MAPPED_BYTES = 128 << 10


def allocate(shape, dtype=torch.float32, device=None) -> torch.Tensor:
    """An uninitialised tensor; on the CPU, from 128 KiB, in an anonymous mapping of its own
    (unmapped when the tensor is freed)."""
    shape = tuple(int(s) for s in shape)
    device = torch.device("cpu" if device is None else device)
    itemsize = torch.empty((), dtype=dtype).element_size()
    numel = math.prod(shape)
    if device.type != "cpu" or numel * itemsize < MAPPED_BYTES:
        return torch.empty(shape, dtype=dtype, device=device)
    # private, as malloc's own mappings are (Python's default for an anonymous map is shared memory);
    # the tensor holds a reference to the mapping, which is unmapped when the tensor is freed
    private = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}
    return torch.frombuffer(mmap.mmap(-1, numel * itemsize, **private), dtype=dtype, count=numel).view(shape)


class Workspace:
    """Buffers, one per role, that each use reuses: the memory of the last use is overwritten.

    For the weights of one sdpa call, only with a consumer that is done with a
    site's weights before the next call (``aw.collect``'s sink): the
    identity-reduced weights then live in the workspace. Also the scratch and
    per-batch sums of :class:`attnwidget.batch_stats.BatchSummarizer`.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, role: str, shape, dtype=torch.float32, device=None) -> torch.Tensor:
        """An uninitialised ``shape`` tensor, the same memory each time for ``role`` when it fits."""
        shape = tuple(int(s) for s in shape)
        need = math.prod(shape)
        device = torch.device("cpu" if device is None else device)
        buf = self._buffers.get(role)
        if buf is None or buf.numel() < need or buf.dtype != dtype or buf.device != device:
            buf = self._buffers[role] = allocate((need,), dtype, device)
        return buf[:need].view(shape)
