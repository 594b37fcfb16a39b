"""``aw.tap``: record any tensor from model code; a no-op costing nothing outside a capture."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..store import ATTENTION_AXES

__all__ = ["tap", "ACTIVE"]

# the session of the capture block that is open, if any (one at a time)
ACTIVE: list = []


def tap(
    name: str, weights: torch.Tensor, axes: Sequence[str] | None = None, kind: str | None = None
) -> torch.Tensor:
    """Record ``weights`` under ``name`` when a capture is open; return them unchanged.

    Parameters
    ----------
    name : str
        Site name. Inside a module's forward it is prefixed with that
        module's path (``encoder.layers.3.temporal``), so one line in a
        layer class names every layer's site.
    weights : torch.Tensor
        Any shape. Its first axis should be ``sample``; if ``axes`` has no
        ``"sample"``, a sample axis of size 1 is added.
    axes : sequence of str, optional
        One name per axis of ``weights``. Default: ``("sample", "head",
        "query", "key")`` for 4D tensors, ``("sample", "weight")`` for 2D.
    kind : {"self", "cross", "weights"}, optional
        Default: ``"self"`` for query x key attention (the 4D default axes),
        else ``"weights"``.
    """
    if not ACTIVE:
        return weights
    ACTIVE[-1].record_tap(name, weights, axes, kind)
    return weights


def tap_axes(weights: torch.Tensor, axes, name: str) -> tuple[str, ...]:
    if axes is None:
        if weights.dim() == 4:
            return ATTENTION_AXES
        if weights.dim() == 2:
            return ("sample", "weight")
        raise ValueError(
            f"aw.tap({name!r}, ...): a {weights.dim()}D tensor of shape {tuple(weights.shape)} needs "
            f"axes=(...) naming each axis, e.g. axes=('sample', 'layer', 'frame')"
        )
    if isinstance(axes, str):
        axes = (axes,)
    axes = tuple(axes)
    if not all(isinstance(a, str) and a for a in axes):
        raise TypeError(f"aw.tap({name!r}, ...): axes must be non-empty strings, got {axes!r}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"aw.tap({name!r}, ...): axis names repeat in {axes}")
    if len(axes) != weights.dim():
        raise ValueError(
            f"aw.tap({name!r}, ...): {len(axes)} axis names {axes} for a tensor with "
            f"{weights.dim()} axes, shape {tuple(weights.shape)}; give one name per axis"
        )
    return axes
