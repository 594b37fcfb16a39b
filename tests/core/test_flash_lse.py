"""The CPU flash kernel's log-sum-exp path: same output as F.sdpa, weights equal to softmax."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnwidget.capture.options import Reducer
from attnwidget.capture.sdpa import bind_sdpa, flash_with_lse, sdpa_weights


def inputs(transposed=False):
    g = torch.Generator().manual_seed(0)
    if transposed:  # [sample, query, head, dim] views, as Hugging Face passes them
        return [torch.randn(2, 37, 4, 16, generator=g).transpose(1, 2) for _ in range(3)]
    return [torch.randn(2, 4, 37, 16, generator=g) for _ in range(3)]


def masks():
    keep = torch.ones(2, 1, 37, 37, dtype=torch.bool)
    keep[1, :, :, 30:] = False
    add = torch.zeros(2, 1, 37, 37).masked_fill(~keep, torch.finfo(torch.float32).min)
    return {"none": (None, False), "bool": (keep, False), "float": (add, False), "causal": (None, True)}


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("which", list(masks()))
def test_output_is_bit_identical_and_weights_match_softmax(which, transposed):
    q, k, v = inputs(transposed)
    mask, causal = masks()[which]
    with torch.no_grad():
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        call = bind_sdpa((q, k, v), {"attn_mask": mask, "is_causal": causal})
        fast = flash_with_lse(call)
        assert fast is not None, "the CPU flash kernel should serve this call"
        assert torch.equal(fast[0], expected)
        w, _ = sdpa_weights(call, Reducer(), "site", lse=fast[1])
        scores = q @ k.transpose(-1, -2) / math.sqrt(16)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        if causal:
            scores = scores.masked_fill(torch.ones(37, 37, dtype=torch.bool).triu(1), float("-inf"))
        assert torch.allclose(w, torch.softmax(scores, -1), atol=1e-6)


def test_falls_back_where_the_kernel_is_not_what_runs():
    q, k, v = inputs()
    assert flash_with_lse(bind_sdpa((q, k, v), {"dropout_p": 0.1})) is None
    assert flash_with_lse(bind_sdpa((q, k[:, :2], v[:, :2]), {"enable_gqa": True})) is None
    qg = q.clone().requires_grad_()
    with torch.enable_grad():
        assert flash_with_lse(bind_sdpa((qg, k, v), {})) is None
    assert flash_with_lse(bind_sdpa((q[0], k[0], v[0]), {})) is None  # 3D: not 4D
