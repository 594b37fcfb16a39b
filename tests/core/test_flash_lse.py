"""The CPU flash kernel's log-sum-exp path: same output as F.sdpa, weights equal to softmax."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnwidget._capture.options import Reducer
from attnwidget._capture.sdpa import bind_sdpa, flash_with_lse, sdpa_weights


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
        w, _, _ = sdpa_weights(call, Reducer(), "site", lse=fast[1])
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


def _entropy_reference(w: torch.Tensor) -> torch.Tensor:
    from attnwidget.reduce import entropy

    return torch.from_numpy(entropy(w.double().numpy(), axis=-1).astype(np.float64).mean(axis=-1))


@pytest.mark.parametrize("which", list(masks()))
def test_head_entropy_from_the_log_weights_equals_the_entropy_of_the_weights(which):
    q, k, v = inputs(transposed=True)
    mask, causal = masks()[which]
    if mask is not None and mask.dtype == torch.bool:
        mask = mask.clone()
        mask[0, :, 3] = False  # a query row that sees no key: its weights and entropy are 0
    with torch.no_grad():
        call = bind_sdpa((q, k, v), {"attn_mask": mask, "is_causal": causal})
        fast = flash_with_lse(call)
        w, _, ent = sdpa_weights(call, Reducer(), "site", lse=fast[1], entropy=True)
        assert ent is not None and ent.shape == (2, 4) and ent.dtype == torch.float64
        torch.testing.assert_close(ent, _entropy_reference(w), rtol=1e-6, atol=1e-7)
        # kept rows and a head list: the entropy of exactly what is kept
        w2, _, ent2 = sdpa_weights(
            call, Reducer(heads=[3, 0], rows=[0, 5, 36]), "site", lse=fast[1], entropy=True
        )
        assert w2.shape == (2, 2, 3, 37)
        torch.testing.assert_close(ent2, _entropy_reference(w2), rtol=1e-6, atol=1e-7)


def test_head_entropy_is_left_to_the_caller_where_it_is_not_free():
    q, k, v = inputs()
    with torch.no_grad():
        call = bind_sdpa((q, k, v), {})
        lse = flash_with_lse(call)[1]
        assert sdpa_weights(call, Reducer(), "site", entropy=True)[2] is None  # no log-sum-exp
        assert sdpa_weights(call, Reducer(), "site", lse=lse)[2] is None  # not asked
        for reducer in (Reducer(heads="mean"), Reducer(max_size=8), Reducer(dtype=torch.float16)):
            assert sdpa_weights(call, reducer, "site", lse=lse, entropy=True)[2] is None


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("which", list(masks()) + ["large logits", "one column"])
@pytest.mark.parametrize(
    "options",
    [
        {"heads": "mean", "max_size": 13},
        {"heads": [3, 1], "max_size": 9, "pool": "max"},
        {"heads": "mean"},
        {"heads": "all", "max_size": 5, "rows": [0, 4, 5, 6, 30, 36]},
    ],
    ids=["mean-pooled", "heads-max-pooled", "mean-full", "rows-pooled"],
)
def test_reduced_weights_in_key_blocks_equal_the_reduced_softmax(monkeypatch, which, transposed, options):
    """Reduced weights are computed in blocks of keys (and rows): every block boundary, mask and
    reduction gives what reducing the whole softmax gives."""
    import attnwidget._capture.sdpa as sdpa_module

    monkeypatch.setattr(sdpa_module, "KEY_BLOCK", 7)  # blocks of 6 or 7 keys; 37 keys cut ragged
    monkeypatch.setattr(sdpa_module, "BLOCK_ELEMENTS", 2 * 4 * 9 * 7)  # a few rows per block
    q, k, v = inputs(transposed)
    mask, causal = masks()["none" if which in ("large logits", "one column") else which]
    if which == "large logits":  # |log-sum-exp| above 64: whole rows, renormalised
        q = q * 40
    if which == "one column":  # an additive mask broadcast over the keys: one column for every block
        mask = torch.linspace(-2, 2, 37).reshape(1, 1, 37, 1).expand(2, 1, 37, 1)
    with torch.no_grad():
        call = bind_sdpa((q, k, v), {"attn_mask": mask, "is_causal": causal})
        fast = flash_with_lse(call)
        assert fast is not None
        reducer = Reducer(**options)
        got, info, _ = sdpa_weights(call, reducer, "site", lse=fast[1])
        scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(16)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        if causal:
            scores = scores.masked_fill(torch.ones(37, 37, dtype=torch.bool).triu(1), float("-inf"))
        expected, expected_info = Reducer(**options).reduce(torch.softmax(scores, -1).float(), "site")
    assert info == expected_info
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=2e-6, rtol=1e-5)
