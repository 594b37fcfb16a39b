"""Weights that a module computes itself: Hugging Face ``eager`` attention and ``extract=``.

Per-architecture quirks are small functions passed as data: an extractor
takes ``(module, inputs, output)`` and returns attention ``[sample, head,
query, key]`` (a 3D ``[sample, query, key]`` gets a head axis) or None.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["hf_eager", "make_extractor", "as_attention"]

Extractor = Callable[[torch.nn.Module, tuple, object], "torch.Tensor | None"]


def as_attention(w) -> torch.Tensor | None:
    """Accept ``[sample, head, query, key]`` or ``[sample, query, key]``; anything else -> None."""
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        return None
    if w.dim() == 4:
        return w
    if w.dim() == 3:
        return w.unsqueeze(1)
    return None


def hf_eager(module: torch.nn.Module, inputs, output):
    """Hugging Face attention modules return ``(attn_output, attn_weights, ...)``.

    In ``eager`` mode ``attn_weights`` is the softmaxed ``[sample, head, query,
    key]`` tensor; in ``sdpa`` mode it is None (the sdpa interceptor captures
    those calls instead), so the two never record the same site twice.
    """
    name = type(module).__name__
    if "Attention" not in name and "Attn" not in name:
        return None
    if isinstance(output, (tuple, list)) and len(output) >= 2:
        # T5-style modules return (attn_output, position_bias, attn_weights): the bias
        # (or a mask) is 4D too, but never a non-negative, non-zero tensor like weights
        for w in output[1:3]:
            if isinstance(w, torch.Tensor) and w.dim() == 4 and w.is_floating_point():
                with torch.no_grad():
                    lo, hi = torch.aminmax(w.detach())
                if bool(lo >= 0) and bool(hi > 0):
                    return w
    return None


def make_extractor(extract) -> Extractor:
    """``extract=`` as given by the user: a callable, an attribute name, or an index into the output tuple."""
    if callable(extract):
        return extract
    if isinstance(extract, str):
        attr = extract

        def from_attribute(module, inputs, output):
            if not hasattr(module, attr):
                raise AttributeError(
                    f"extract={attr!r}: {type(module).__name__} has no attribute {attr!r} after its "
                    f"forward; attributes holding tensors: "
                    f"{[k for k, v in vars(module).items() if isinstance(v, torch.Tensor)]}")
            return getattr(module, attr)

        return from_attribute
    if isinstance(extract, int) and not isinstance(extract, bool):
        index = extract

        def from_output(module, inputs, output):
            if not isinstance(output, (tuple, list)) or len(output) <= index:
                raise IndexError(f"extract={index}: {type(module).__name__} returned "
                                 f"{type(output).__name__} without an element {index}")
            return output[index]

        return from_output
    raise TypeError("extract must be a callable (module, inputs, output) -> weights, "
                    f"an attribute name or an output index, not {type(extract).__name__}")
