"""Weights that a module computes itself: Hugging Face ``eager`` attention and ``extract=``.

Per-architecture quirks are small functions passed as data: an extractor
takes ``(module, inputs, output)`` and returns attention ``[sample, head,
query, key]`` (a 3D ``[sample, query, key]`` gets a head axis) or None.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import AttnwidgetError


class BandedWeightsError(AttnwidgetError, ValueError):
    """Weights whose axes are not query x key (sliding-window bands)."""


__all__ = ["hf_eager", "make_extractor", "as_attention", "weights_of_softmax", "heads_of", "heads_of_rows"]

Extractor = Callable[[torch.nn.Module, tuple, object], "torch.Tensor | None"]


def as_attention(w, site: str | None = None) -> torch.Tensor | None:
    """``[sample, head, query, key]``, or ``[sample, query, key]`` with as many queries as keys.

    None for what is no tensor of weights (None, integers). With ``site``
    (weights ``extract=`` returned), any other shape is an error that says to
    name its axes: a ``[sample, layer, frame]`` tensor must never be drawn as
    query x key attention.
    """
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        return None
    if w.dim() == 4:
        return w
    if w.dim() == 3 and w.shape[1] == w.shape[2]:
        return w.unsqueeze(1)
    if site is None:
        return None
    raise ValueError(
        f"extract= for {site!r} returned a tensor of shape {tuple(w.shape)}, which is not "
        "[sample, head, query, key] attention; name its axes, e.g. aw.capture(model, include=..., "
        "extract=..., axes=('sample', 'layer', 'frame')), or ('sample', 'query', 'key') for "
        "cross-attention without heads"
    )


_HEAD_ATTRIBUTES = ("num_heads", "num_attention_heads", "n_heads", "n_head", "heads", "h")


def heads_of(module: torch.nn.Module) -> int | None:
    """The number of heads an attention module declares, where it declares one."""
    for attr in _HEAD_ATTRIBUTES:
        n = getattr(module, attr, None)
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
    n = getattr(getattr(module, "config", None), "num_attention_heads", None)
    return n if isinstance(n, int) and n > 0 else None


def heads_of_rows(module: torch.nn.Module, probs: torch.Tensor) -> int | None:
    """Heads of a 3-D ``[batch * heads, query, key]`` softmax (the bmm layout), where the module says."""
    heads = heads_of(module)
    if heads is None or probs.ndim != 3 or probs.shape[0] % heads:
        return None
    return heads


def banded(module: torch.nn.Module) -> bool:
    """Sliding-window attention whose weights are ``[..., 2w+1]`` bands, not query x key."""
    return any(hasattr(module, a) for a in ("one_sided_attn_window_size", "attention_window"))


def weights_of_softmax(module: torch.nn.Module, probs: torch.Tensor, site: str) -> torch.Tensor | None:
    """``probs`` as ``[sample, head, query, key]`` where its axes are those, else None or an error.

    A softmax result is attention only when its second axis is the module's
    heads (where the module says how many). Banded sliding-window weights
    (Longformer) have a key axis of window offsets: drawing them as keys
    would be a wrong picture, so they are refused with an error saying so.
    """
    if banded(module):
        return band_to_matrix(module, probs, site)
    heads = heads_of(module)
    if heads is not None and probs.shape[1] != heads:
        return None
    return probs


def band_to_matrix(module: torch.nn.Module, probs: torch.Tensor, site: str) -> torch.Tensor:
    """Sliding-window weights ``[sample, query, head, 2w+1]`` -> ``[sample, head, query, key]``.

    Offset ``j`` of query ``i`` is key ``i + j - w``; keys outside the window
    get weight 0, which is what the model applied. Bands with global keys in
    front (Longformer with global attention) cannot be placed from the
    softmax alone and are refused with an error that says so.
    """
    w = getattr(module, "one_sided_attn_window_size", None)
    heads = heads_of(module)
    n_samples, n_query, n_heads, width = probs.shape
    if not isinstance(w, int) or width != 2 * w + 1 or (heads is not None and n_heads != heads):
        raise BandedWeightsError(
            f"site {site!r} ({type(module).__name__}) computes sliding-window weights of shape "
            f"{tuple(probs.shape)} (global keys in front of the window, or an unknown layout): their "
            "last axis is not key positions, so they are not a query x key matrix, and attnwidget "
            "refuses them rather than show a wrong picture. Exclude the site (exclude=[...]) or "
            "record them with aw.tap(name, weights, axes=('sample', 'query', 'head', 'offset'))."
        )
    band = probs.detach().permute(0, 2, 1, 3).float()  # [sample, head, query, offset]
    # key i + j - w, shifted by w so that every offset lands inside a padded row
    keys = torch.arange(n_query, device=probs.device)[:, None] + torch.arange(width, device=probs.device)
    full = torch.zeros(n_samples, n_heads, n_query, n_query + 2 * w, device=probs.device)
    full.scatter_(-1, keys.expand(n_samples, n_heads, n_query, width), band)
    return full[..., w : w + n_query]


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
                    f"{[k for k, v in vars(module).items() if isinstance(v, torch.Tensor)]}"
                )
            return getattr(module, attr)

        return from_attribute
    if isinstance(extract, int) and not isinstance(extract, bool):
        index = extract

        def from_output(module, inputs, output):
            if not isinstance(output, (tuple, list)) or len(output) <= index:
                raise IndexError(
                    f"extract={index}: {type(module).__name__} returned "
                    f"{type(output).__name__} without an element {index}"
                )
            return output[index]

        return from_output
    raise TypeError(
        "extract must be a callable (module, inputs, output) -> weights, "
        f"an attribute name or an output index, not {type(extract).__name__}"
    )
