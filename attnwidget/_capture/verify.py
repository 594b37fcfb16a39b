"""``capture(verify=True)``: the captured weights must reproduce the call's own output.

For a full-resolution ``scaled_dot_product_attention`` site the weights are
the ones the kernel applied, so ``weights @ value`` equals the call's output
row by row (fully masked rows included) up to the rounding of the call's
dtype. This module recomputes that product and raises, naming the site,
where it does not hold.
"""

from __future__ import annotations

import torch

from ..errors import VerificationError

__all__ = ["check_output", "reproduces", "TOLERANCE"]

# max |weights @ value - output| allowed, relative to max |value|, by the dtype the kernel ran in
TOLERANCE = {torch.float64: 1e-4, torch.float32: 1e-4, torch.bfloat16: 4e-2, torch.float16: 1e-2}


def _full_resolution(info: dict) -> bool:
    return (
        info.get("heads") == "all" and info.get("rows") is None and list(info.get("block", [1, 1])) == [1, 1]
    )


def reproduces(weights: torch.Tensor, value: torch.Tensor, output: torch.Tensor) -> tuple[float, float]:
    """``(max |weights @ value - output|, allowed)`` for weights ``[sample, head, query, key]``."""
    v = value.reshape(-1, *value.shape[-3:]) if value.ndim > 4 else value
    while v.ndim < 4:
        v = v.unsqueeze(0)
    out = output.reshape(-1, *output.shape[-3:]) if output.ndim > 4 else output
    while out.ndim < 4:
        out = out.unsqueeze(0)
    if v.shape[1] != weights.shape[1]:  # grouped-query heads share a value head
        v = v.repeat_interleave(weights.shape[1] // v.shape[1], dim=1)
    recon = torch.matmul(weights.float(), v.float())
    diff = (recon - out.float()).nan_to_num_(0.0).abs_()
    scale = float(v.abs().max()) if v.numel() else 1.0
    allowed = TOLERANCE.get(output.dtype, 1e-4) * max(1.0, scale)
    return (float(diff.max()) if diff.numel() else 0.0), allowed


def check_output(site: str, weights: torch.Tensor, info: dict, call: dict, value, output) -> None:
    """Raise :class:`VerificationError` if a full-resolution site's weights do not give its output."""
    if not (_full_resolution(info) and isinstance(output, torch.Tensor) and isinstance(value, torch.Tensor)):
        return
    with torch.no_grad():
        worst, allowed = reproduces(weights, value, output)
    if worst > allowed:
        raise VerificationError(
            f"site {site!r}: weights @ value differs from the call's output by {worst:.3g} "
            f"(allowed {allowed:.3g} for {output.dtype}); the captured weights are not the ones the "
            "kernel applied. Please report this with the model and its inputs."
        )
