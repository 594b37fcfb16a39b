"""What ``nn.TransformerEncoder``'s nested-tensor fast path does to outputs, kept inside a capture.

In eval mode with a ``src_key_padding_mask``, ``nn.TransformerEncoder`` packs
its input into a nested tensor, runs the layers' fused kernels, and pads the
result back with zeros: padded positions come out 0 (before the final norm).
Inside a capture the engine's function mode makes torch take the standard
path instead (the fused kernels never compute weights), which computes values
at padded positions too. These hooks put back what the fast path would have
given: where the encoder would have nested its input, padded positions of
the layers' output are set to 0 before the encoder's final norm (or in its
output, without a norm). Values at valid positions differ from the fast path
only by float rounding (the fused kernels sum in another order).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["FastPathOutputs"]


def would_nest(encoder: nn.TransformerEncoder, src, padding, mask) -> bool:
    """Whether ``encoder`` outside a capture would run this call as a nested tensor.

    The checks of ``nn.TransformerEncoder.forward`` (torch 2.x) other than
    ``has_torch_function``, which is true only because the capture is open.
    """
    if not isinstance(src, torch.Tensor) or not isinstance(padding, torch.Tensor):
        return False
    first = encoder.layers[0] if len(encoder.layers) else None
    if not isinstance(first, nn.TransformerEncoderLayer) or mask is not None:
        return False
    if not (torch.backends.mha.get_fastpath_enabled() and getattr(encoder, "use_nested_tensor", False)):
        return False
    if first.training or src.dim() != 3 or src.is_nested or torch.is_autocast_enabled():
        return False
    if src.device.type not in ("cpu", "cuda", "xpu"):
        return False
    params = [p for p in first.parameters()]
    if torch.is_grad_enabled() and (src.requires_grad or any(p.requires_grad for p in params)):
        return False
    if getattr(encoder, "mask_check", True):
        keep = padding.logical_not() if padding.dtype == torch.bool else padding == 0
        if not torch._nested_tensor_from_mask_left_aligned(src, keep):
            return False
    return True


class FastPathOutputs:
    """Per-module hooks on every ``nn.TransformerEncoder`` of a model; ``remove()`` takes them off."""

    def __init__(self, modules: Iterable[nn.Module]):
        """``modules``: the model's modules (``model.modules()``, or the block's own map of them)."""
        self._handles = []
        self._padding: dict[int, torch.Tensor | None] = {}  # encoder -> padded positions of this call
        for module in modules:
            if isinstance(module, nn.TransformerEncoder):
                self._handles.append(module.register_forward_pre_hook(self._before, with_kwargs=True))
                self._handles.append(
                    module.register_forward_hook(self._after, with_kwargs=True, always_call=True)
                )
                if module.norm is not None:
                    self._handles.append(module.norm.register_forward_pre_hook(self._zero_norm_input(module)))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._padding.clear()

    def _before(self, encoder, args, kwargs):
        names = ("src", "mask", "src_key_padding_mask", "is_causal")
        bound = dict(zip(names, args)) | kwargs
        padding = bound.get("src_key_padding_mask")
        src = bound.get("src")
        if would_nest(encoder, src, padding, bound.get("mask")):
            padded = padding if padding.dtype == torch.bool else padding != 0
            batch_first = encoder.layers[0].self_attn.batch_first
            # [batch, seq] -> the output's layout, to broadcast over features
            self._padding[id(encoder)] = padded[..., None] if batch_first else padded.t()[..., None]
        else:
            self._padding[id(encoder)] = None

    def _zero_norm_input(self, encoder):
        def hook(norm, args):
            padded = self._padding.get(id(encoder))
            if padded is None or not args or not isinstance(args[0], torch.Tensor):
                return None
            return (args[0].masked_fill(padded, 0.0),) + tuple(args[1:])

        return hook

    def _after(self, encoder, args, kwargs, output):
        padded = self._padding.pop(id(encoder), None)
        if padded is None or encoder.norm is not None or not isinstance(output, torch.Tensor):
            return None
        return output.masked_fill(padded, 0.0)
