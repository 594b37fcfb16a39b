"""aw.capture on torch's own attention modules against a direct computation.

The reference is written out here from the module's parameters:
``softmax(Q K^T / sqrt(d) + mask)`` per head, with ``Q`` and ``K`` from
``in_proj_weight`` (or the separate projection weights), in float64. It
covers ``nn.MultiheadAttention`` called with ``need_weights=False`` or with
averaged weights, batch-first and sequence-first layouts, masks, and
``nn.TransformerEncoder``/``nn.TransformerDecoder`` in eval mode, where the
encoder normally takes torch's fused fast path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnwidget as aw

TOL = 1e-5


# --------------------------------------------------------------------------- reference
def projections(mha: nn.MultiheadAttention):
    e = mha.embed_dim
    if mha.in_proj_weight is not None:
        wq, wk = mha.in_proj_weight[:e], mha.in_proj_weight[e : 2 * e]
    else:
        wq, wk = mha.q_proj_weight, mha.k_proj_weight
    bq = bk = None
    if mha.in_proj_bias is not None:
        bq, bk = mha.in_proj_bias[:e], mha.in_proj_bias[e : 2 * e]
    return wq, wk, bq, bk


def additive(mask, shape):
    """A boolean ("True = ignore") or float mask as float64 additive numbers, broadcast to shape."""
    if mask is None:
        return np.zeros(shape)
    m = mask.detach().double().numpy() if mask.dtype != torch.bool else np.where(mask.numpy(), -np.inf, 0.0)
    return np.broadcast_to(m, shape)


def reference_weights(mha, query, key, batch_first, attn_mask=None, key_padding_mask=None, causal=False):
    """Per-head weights [sample, head, query, key] computed from the parameters, in float64."""
    q, k = query.detach(), key.detach()
    if q.is_nested:
        q = torch.nested.to_padded_tensor(q, 0.0)
    if k.is_nested:
        k = torch.nested.to_padded_tensor(k, 0.0)
    if not batch_first:
        q, k = q.transpose(0, 1), k.transpose(0, 1)  # -> [N, L, E]
    wq, wk, bq, bk = (None if t is None else t.detach().double() for t in projections(mha))
    Q = q.double() @ wq.T + (0 if bq is None else bq)
    K = k.double() @ wk.T + (0 if bk is None else bk)
    n, lq, e = Q.shape
    lk = K.shape[1]
    h = mha.num_heads
    d = e // h
    Q = Q.reshape(n, lq, h, d).permute(0, 2, 1, 3).numpy()
    K = K.reshape(n, lk, h, d).permute(0, 2, 1, 3).numpy()
    scores = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(d)
    if attn_mask is not None:
        m = attn_mask
        if m.dim() == 3:  # [N * H, L, S]
            m = m.reshape(n, h, lq, lk)
        scores = scores + additive(m, scores.shape)
    if causal:
        scores = scores + np.where(np.triu(np.ones((lq, lk), bool), 1), -np.inf, 0.0)
    if key_padding_mask is not None:
        scores = scores + additive(key_padding_mask[:, None, None, :], scores.shape)
    scores = scores - scores.max(-1, keepdims=True)
    w = np.exp(scores)
    return w / w.sum(-1, keepdims=True)


def assert_unchanged(plain, out, fast_path=False):
    """Outputs with and without capture: identical, except where torch's fused fast path
    normally runs; capturing takes the unfused path there, which rounds differently
    (see test_fast_path_output_bit_identical)."""
    if fast_path:
        torch.testing.assert_close(out, plain, rtol=0, atol=2e-6)
    else:
        assert torch.equal(plain, out), "capturing changed the output"


def close(got, expected, valid_queries=None, what=""):
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    if valid_queries is not None:
        keep = np.asarray(valid_queries, bool)[:, None, :, None]
        got, expected = np.where(keep, got, 0.0), np.where(keep, expected, 0.0)
    diff = float(np.abs(got - expected).max())
    assert diff <= TOL, f"{what}: differs from the direct computation by {diff:.3g}"


# --------------------------------------------------------------------------- callers
class NoWeights(nn.Module):
    """Calls MHA the way fast inference code does: need_weights=False."""

    def __init__(self, batch_first, embed=24, heads=4):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed, heads, batch_first=batch_first)
        self.out = nn.Linear(embed, embed)

    def forward(self, x, key_padding_mask=None, attn_mask=None):
        y, w = self.attn(x, x, x, need_weights=False, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
        self.returned = w
        return self.out(y)


class Averaged(nn.Module):
    """Calls MHA with the default averaged weights and uses them."""

    def __init__(self, batch_first, embed=24, heads=4, kdim=None):
        super().__init__()
        self.cross = nn.MultiheadAttention(embed, heads, batch_first=batch_first, kdim=kdim, vdim=kdim)

    def forward(self, x, memory, key_padding_mask=None):
        y, w = self.cross(x, memory, memory, key_padding_mask=key_padding_mask)
        return y, w


def seq(n, length, embed, batch_first, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, embed, generator=g)
    return x if batch_first else x.transpose(0, 1).contiguous()


# --------------------------------------------------------------------------- MHA
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("grad", [False, True])
def test_mha_need_weights_false(batch_first, grad):
    torch.manual_seed(0)
    m = NoWeights(batch_first).eval()
    x = seq(3, 7, 24, batch_first, 1)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[1, 5:] = True
    with torch.set_grad_enabled(grad):
        plain = m(x, key_padding_mask=pad)
        with aw.capture(m) as cap:
            out = m(x, key_padding_mask=pad)
    assert m.returned is None, "the caller asked for no weights and must still get None"
    assert_unchanged(plain, out, fast_path=batch_first and not grad)
    assert cap.layers == ["attn"] and cap.kinds == {"attn": "self"}
    got = cap.get("attn")
    assert got.shape == (3, 4, 7, 7)
    close(got, reference_weights(m.attn, x, x, batch_first, key_padding_mask=pad), what="attn")
    assert got[1, :, :, 5:].max() == 0.0


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_need_weights_false_with_masks(batch_first):
    torch.manual_seed(1)
    m = NoWeights(batch_first, embed=16, heads=2).eval()
    x = seq(2, 6, 16, batch_first, 2)
    causal = nn.Transformer.generate_square_subsequent_mask(6)  # float, -inf above the diagonal
    boolean = torch.rand(6, 6, generator=torch.Generator().manual_seed(3)) > 0.7
    boolean.fill_diagonal_(False)
    for mask in (causal, boolean):
        with torch.no_grad():
            plain = m(x, attn_mask=mask)
            with aw.capture(m) as cap:
                out = m(x, attn_mask=mask)
        assert_unchanged(plain, out, fast_path=batch_first)
        close(cap.get(0), reference_weights(m.attn, x, x, batch_first, attn_mask=mask), what=str(mask.dtype))


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_averaged_weights_cross(batch_first):
    torch.manual_seed(2)
    m = Averaged(batch_first, kdim=10).eval()
    x = seq(2, 5, 24, batch_first, 4)
    memory = seq(2, 8, 10, batch_first, 5)
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[0, 6:] = True
    with torch.no_grad():
        y0, w0 = m(x, memory, key_padding_mask=pad)
        with aw.capture(m) as cap:
            y1, w1 = m(x, memory, key_padding_mask=pad)
    assert torch.equal(y0, y1)
    assert w1.shape == (2, 5, 8), "the caller still gets its averaged weights"
    assert torch.equal(w0, w1)
    assert cap.kinds == {"cross": "cross"}
    got = cap.get("cross")
    assert got.shape == (2, 4, 5, 8), "captured per head although the caller averaged them"
    close(got, reference_weights(m.cross, x, memory, batch_first, key_padding_mask=pad), what="cross")
    np.testing.assert_allclose(got.mean(1), w1.numpy(), atol=TOL)
    assert not np.allclose(got[:, 0], got[:, 1], atol=1e-3), "heads must differ"


def test_mha_unbatched_and_training_unchanged():
    torch.manual_seed(3)
    m = Averaged(True, embed=12, heads=3)
    m.train()
    x = torch.randn(4, 12)  # unbatched [L, E]
    torch.manual_seed(9)
    y0, _ = m(x, x)
    y0.sum().backward()
    g0 = m.cross.in_proj_weight.grad.clone()
    m.zero_grad()
    torch.manual_seed(9)
    with aw.capture(m) as cap:
        y1, _ = m(x, x)
    y1.sum().backward()
    assert m.training
    assert torch.equal(y0, y1)
    assert torch.equal(g0, m.cross.in_proj_weight.grad)
    assert cap.get(0).shape == (1, 3, 4, 4)
    close(cap.get(0), reference_weights(m.cross, x[None], x[None], True), what="unbatched")


# --------------------------------------------------------------------------- Transformer
def record_layer_inputs(layers):
    """Forward pre hooks that keep each layer's positional and keyword inputs."""
    seen, handles = [], []
    for layer in layers:
        handles.append(
            layer.register_forward_pre_hook(
                lambda mod, args, kwargs: seen.append((args, kwargs)), with_kwargs=True
            )
        )
    return seen, handles


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_transformer_encoder_fast_path(norm_first, padded):
    torch.manual_seed(4)
    layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True, norm_first=norm_first)
    enc = nn.TransformerEncoder(layer, num_layers=3, enable_nested_tensor=not norm_first).eval()
    x = torch.randn(3, 10, 32)
    pad = None
    if padded:
        pad = torch.zeros(3, 10, dtype=torch.bool)
        pad[0, 7:] = True
        pad[2, 4:] = True
    with torch.inference_mode():
        seen, handles = record_layer_inputs(enc.layers)
        plain = enc(x, src_key_padding_mask=pad)
        for h in handles:
            h.remove()
        with aw.capture(enc) as cap:
            out = enc(x, src_key_padding_mask=pad)
    valid = None if pad is None else ~pad
    if valid is not None:
        # padded rows: nested tensors give zeros there, the unfused path does not
        plain, out = plain[valid], out[valid]
    assert_unchanged(plain, out, fast_path=True)
    assert cap.layers == [f"layers.{i}.self_attn" for i in range(3)]
    assert set(cap.kinds.values()) == {"self"}
    with torch.inference_mode():
        check_encoder_layers(enc, cap, seen, pad, valid, norm_first)


def check_encoder_layers(enc, cap, seen, pad, valid, norm_first):
    for i, (args, _kwargs) in enumerate(seen):
        src = args[0]
        if src.is_nested:
            src = torch.nested.to_padded_tensor(src, 0.0, (3, 10, 32))
        inp = enc.layers[i].norm1(src) if norm_first else src
        expected = reference_weights(enc.layers[i].self_attn, inp, inp, True, key_padding_mask=pad)
        close(cap.get(i), expected, valid_queries=valid, what=f"layer {i}")
        if pad is not None:
            assert cap.get(i)[2, :, :, 4:].max() == 0.0


def test_transformer_encoder_sequence_first_causal():
    torch.manual_seed(5)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32)  # batch_first=False
    enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
    x = torch.randn(6, 2, 16)  # [L, N, E]
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    with torch.no_grad():
        seen, handles = record_layer_inputs(enc.layers)
        plain = enc(x, mask=mask, is_causal=True)
        for h in handles:
            h.remove()
        with aw.capture(enc) as cap:
            out = enc(x, mask=mask, is_causal=True)
    assert torch.equal(plain, out)
    for i, (args, _kwargs) in enumerate(seen):
        expected = reference_weights(enc.layers[i].self_attn, args[0], args[0], False, causal=True)
        got = cap.get(i)
        assert got.shape == (2, 2, 6, 6)
        close(got, expected, what=f"layer {i}")
        assert np.abs(got[..., np.triu(np.ones((6, 6), bool), 1)]).max() == 0.0


@pytest.mark.parametrize("batch_first", [True, False])
def test_transformer_decoder(batch_first):
    torch.manual_seed(6)
    layer = nn.TransformerDecoderLayer(32, 4, dim_feedforward=64, batch_first=batch_first)
    dec = nn.TransformerDecoder(layer, num_layers=2).eval()
    tgt = seq(2, 5, 32, batch_first, 7)
    memory = seq(2, 9, 32, batch_first, 8)
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    mem_pad = torch.zeros(2, 9, dtype=torch.bool)
    mem_pad[1, 6:] = True
    calls, handles = [], []
    for i, lay in enumerate(dec.layers):
        for which in ("self_attn", "multihead_attn"):
            mha = getattr(lay, which)
            handles.append(
                mha.register_forward_pre_hook(
                    lambda mod, args, kwargs, i=i, which=which: calls.append((i, which, mod, args, kwargs)),
                    with_kwargs=True,
                )
            )
    with torch.no_grad():
        plain = dec(tgt, memory, tgt_mask=causal, memory_key_padding_mask=mem_pad)
        for h in handles:
            h.remove()
        with aw.capture(dec) as cap:
            out = dec(tgt, memory, tgt_mask=causal, memory_key_padding_mask=mem_pad)
    assert torch.equal(plain, out)
    assert cap.layers == [
        "layers.0.self_attn",
        "layers.0.multihead_attn",
        "layers.1.self_attn",
        "layers.1.multihead_attn",
    ]
    assert [cap.kinds[n] for n in cap.layers] == ["self", "cross", "self", "cross"]
    assert len(calls) == 4
    for i, which, mha, args, kwargs in calls:
        query, key = args[0], args[1]
        expected = reference_weights(
            mha,
            query,
            key,
            batch_first,
            attn_mask=kwargs.get("attn_mask"),
            key_padding_mask=kwargs.get("key_padding_mask"),
        )
        got = cap.get(f"layers.{i}.{which}")
        assert got.shape == ((2, 4, 5, 5) if which == "self_attn" else (2, 4, 5, 9))
        close(got, expected, what=f"layers.{i}.{which}")
    assert cap.get("layers.1.multihead_attn")[1, :, :, 6:].max() == 0.0


def test_fast_path_is_replaced_by_the_standard_path():
    """Inside a capture the encoder runs torch's standard (non-fused) path, exactly.

    The fused fast path hides the weights, so the capture turns it off for the
    block: outputs equal the standard path bit for bit and differ from an
    uncaptured eval run only by float rounding. (Keeping the fused kernel for
    the output would mean rebuilding each layer's inputs, nested tensors
    included, in hooks; see the README's note on the Transformer fast path.)
    """
    from torch.overrides import TorchFunctionMode

    class Standard(TorchFunctionMode):  # any mode makes the modules take the standard path
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    torch.manual_seed(7)
    layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2).eval()
    x = torch.randn(2, 9, 32)
    with torch.inference_mode():
        fused = enc(x)
        with Standard():
            standard = enc(x)
        with aw.capture(enc):
            out = enc(x)
    assert torch.equal(out, standard)
    assert (out - fused).abs().max() < 2e-6


# --------------------------------------------------------------------------- F.scaled_dot_product_attention
def sdpa_reference(q, k, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """The weights as torch's documentation defines the kernel, in float64."""
    q, k = q.double(), k.double()
    n_query, n_key = q.shape[-2], k.shape[-2]
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    bias = torch.zeros(n_query, n_key, dtype=torch.float64)
    if is_causal:
        bias.masked_fill_(~torch.ones(n_query, n_key, dtype=torch.bool).tril(0), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            bias = bias.masked_fill(~attn_mask, float("-inf"))
        else:
            bias = attn_mask.double() + bias
    if enable_gqa:
        k = k.repeat_interleave(q.size(-3) // k.size(-3), -3)
    w = torch.softmax(q @ k.transpose(-2, -1) * scale + bias, dim=-1)
    return torch.nan_to_num(w, nan=0.0).numpy()


class Caller(nn.Module):
    """Calls the fused kernel directly with whatever arguments a test gives it."""

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **self.kwargs)


def _rand(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


SDPA_CASES = {
    "plain": (dict(), (2, 3, 5, 8), (2, 3, 5, 8)),
    "scale": (dict(scale=0.37), (2, 3, 5, 8), (2, 3, 7, 8)),
    "causal_square": (dict(is_causal=True), (1, 2, 6, 4), (1, 2, 6, 4)),
    "causal_fewer_queries": (dict(is_causal=True), (1, 2, 3, 4), (1, 2, 7, 4)),
    "bool_mask": (dict(attn_mask=_rand(5, 7, seed=1) > -0.5), (2, 3, 5, 8), (2, 3, 7, 8)),
    "float_mask_per_head": (dict(attn_mask=_rand(2, 3, 5, 7, seed=2)), (2, 3, 5, 8), (2, 3, 7, 8)),
    "gqa": (dict(enable_gqa=True), (2, 6, 5, 8), (2, 2, 5, 8)),
    "gqa_causal": (dict(enable_gqa=True, is_causal=True), (1, 4, 5, 8), (1, 2, 5, 8)),
    "no_batch": (dict(), (3, 5, 8), (3, 6, 8)),
}


@pytest.mark.parametrize("case", sorted(SDPA_CASES))
def test_sdpa_call_semantics(case):
    kwargs, q_shape, k_shape = SDPA_CASES[case]
    q, k = _rand(*q_shape, seed=3), _rand(*k_shape, seed=4)
    v = _rand(*k_shape, seed=5)
    m = Caller(**kwargs)
    plain = m(q, k, v)
    with aw.capture(m) as cap:
        out = m(q, k, v)
    assert torch.equal(plain, out)
    assert len(cap.layers) == 1, cap.layers
    expected = sdpa_reference(q, k, **kwargs)
    if expected.ndim == 3:
        expected = expected[None]  # no batch: one sample
    got = cap.get(0)
    close(got, expected, what=case)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)


def test_sdpa_dropout_in_training_draws_the_same_numbers():
    q, k, v = (_rand(2, 2, 6, 4, seed=s) for s in (6, 7, 8))
    m = Caller(dropout_p=0.5)
    torch.manual_seed(0)
    plain = m(q, k, v)
    rng = torch.get_rng_state()
    torch.manual_seed(0)
    with aw.capture(m) as cap:
        out = m(q, k, v)
    assert torch.equal(plain, out), "the capture changed which elements dropout drops"
    assert torch.equal(rng, torch.get_rng_state())
    # weights are those before dropout: proper distributions
    close(cap.get(0), sdpa_reference(q, k), what="dropout")
