"""A capture's attention sites by stack, and ``--layer`` counted within each stack.

A translation model has a decoder whose layers each hold a cross-attention
site and a self-attention site, and an encoder whose layers hold one
self-attention site; a text encoder, a decoder-only model or a ViT has one
stack of self-attention. "Layer N" of the guides (``cross_attention_layer5.png``,
``attn_map_layer_0_...``) is the N-th layer of its stack, so ``--layer -1``
is the last decoder layer of a translation model and the last block of a ViT.

A decoder layer's self-attention is the self-attention site nearest its
cross-attention by module path (``model.decoder.layers.0.self_attn`` for
``model.decoder.layers.0.encoder_attn``), as :mod:`attnwidget._assembled`
pairs them; the self-attention sites no cross-attention claims are the encoder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .._assembled import nearest_self_sites
from ..cli import CommandError
from ..store import Capture

__all__ = ["Stacks", "stacks", "chosen_layers", "check_layers"]


@dataclass
class Stacks:
    """Site names per stack, in layer order.

    ``cross[n]`` and ``decoder[n]`` are layer ``n`` of a decoder (``decoder[n]``
    is None where no self-attention site pairs with it); ``encoder`` holds
    every other self-attention site (all of them, for a model without cross-attention).
    """

    cross: list[str]
    decoder: list[str | None]
    encoder: list[str]

    def describe(self) -> str:
        parts = []
        if self.cross:
            parts.append(f"the decoder has {len(self.cross)} layer(s)")
        if self.encoder:
            parts.append(f"{'the encoder' if self.cross else 'the model'} has {len(self.encoder)} layer(s)")
        return " and ".join(parts) or "the capture has no attention site"


def stacks(cap: Capture) -> Stacks:
    """The attention sites of ``cap`` by stack (see the module docstring)."""
    cross = [s for s in cap.sites if cap.kinds[s] == "cross"]
    decoder: list[str | None] = []
    for c in cross:
        near = [s for s in nearest_self_sites(cap, c) if s not in decoder]
        decoder.append(near[0] if near and _shares_parent(c, near[0]) else None)
    encoder = [s for s in cap.sites if cap.kinds[s] == "self" and s not in decoder]
    return Stacks(cross, decoder, encoder)


def _shares_parent(a: str, b: str) -> bool:
    """Whether two module paths share everything but their last part (one layer's two attentions)."""
    pa, pb = a.split("."), b.split(".")
    return (len(pa) > 1 and pa[:-1] == pb[:-1]) or (len(pa) > 2 and pa[:-2] == pb[:-2])


def chosen_layers(values: Sequence[str] | None, count: int) -> list[int]:
    """The layer numbers of one stack that ``--layer`` picks (all without ``--layer``).

    A value is a layer number (negative counts from the end); a value out of
    range for this stack is skipped here, and :func:`check_layers` refuses
    one that fits no stack.
    """
    if not values:
        return list(range(count))
    out = []
    for v in values:
        n = _number(v)
        if n is not None and -count <= n < count:
            out.append(n % count)
    return sorted(set(out))


def _number(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def check_layers(values: Sequence[str] | None, what: Stacks) -> None:
    """Refuse ``--layer`` values that are not numbers, or that no stack of the capture has."""
    sizes = [len(what.cross), len(what.encoder)]
    for v in values or []:
        n = _number(v)
        if n is None:
            raise CommandError(f"--layer {v!r} is not a layer number; {what.describe()}")
        if not any(-k <= n < k for k in sizes if k):
            raise CommandError(
                f"--layer {v} is out of range: {what.describe()} (numbered from 0; -1 is the last)"
            )
