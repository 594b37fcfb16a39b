"""The picture is what the model computed: one test per way the engine was found wrong.

Each test here failed before the engine fix it names (issue "Trust"): the
weights are the ones the kernel applied (``weights @ value`` gives the
call's output), outputs are those of an uncaptured run, and a capture
records its own model's calls in its own thread, and nothing else.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnwidget as aw
from attnwidget._capture.verify import reproduces
from attnwidget.errors import VerificationError


class Attend(nn.Module):
    """A bare sdpa call, as fused attention code makes it."""

    def forward(self, q, k, v, mask=None, **kw):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kw)


def qkv(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g).to(dtype) for _ in range(3)]


def captured(model, *args, **kwargs):
    with torch.no_grad():
        with aw.capture(model, verify=True) as cap:
            out = model(*args, **kwargs)
    return cap, out


# -- 1. fully masked rows and large logits: the weights the kernel applied ------------------------
@pytest.mark.parametrize("fill", [-1e9, torch.finfo(torch.float32).min, float("-inf")])
def test_fully_masked_rows_get_the_weights_the_kernel_applied(fill):
    q, k, v = qkv(2, 3, 5, 8)
    mask = torch.zeros(2, 1, 5, 5)
    mask[0, :, 1, :] = fill  # query 1 of sample 0 sees no key
    mask[1, :, :, 3:] = fill  # sample 1: keys 3.. are padding
    cap, out = captured(Attend(), q, k, v, mask)
    w = torch.from_numpy(cap.get(0))
    worst, allowed = reproduces(w, v, out)
    assert worst <= 1e-5, worst
    if fill == float("-inf"):
        assert torch.all(w[0, :, 1] == 0)  # the kernel's output row is 0
    else:
        assert torch.allclose(w[0, :, 1], torch.full((3, 5), 0.2))  # a finite mask: 1/n each
    assert torch.allclose(w[1].sum(-1), torch.ones(3, 5))
    assert torch.all(w[1, :, :, 3:] < 1e-30)


def test_logits_in_the_thousands_never_give_weights_above_one():
    q, k, v = qkv(1, 2, 6, 8)
    cap, out = captured(Attend(), q * 300, k, v)
    w = torch.from_numpy(cap.get(0))
    assert float(w.max()) <= 1.0
    assert torch.allclose(w.sum(-1), torch.ones(1, 2, 6), atol=1e-6)
    assert reproduces(w, v, out)[0] <= 1e-4


def test_verify_names_the_site_whose_weights_do_not_reproduce_its_output():
    q, k, v = qkv(1, 2, 4, 8)
    w = torch.full((1, 2, 4, 4), 0.25)
    worst, allowed = reproduces(w, v, F.scaled_dot_product_attention(q, k, v))
    assert worst > allowed  # uniform weights are not what the kernel applied
    from attnwidget._capture.verify import check_output

    with pytest.raises(VerificationError, match="site 'blocks.0.attn'"):
        check_output(
            "blocks.0.attn",
            w,
            {"heads": "all", "rows": None, "block": [1, 1]},
            {},
            v,
            F.scaled_dot_product_attention(q, k, v),
        )


# -- 2. autocast and dtypes: outputs bit-identical -------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("autocast", [None, torch.bfloat16, torch.float16])
def test_outputs_bit_identical_under_every_autocast_and_dtype(dtype, autocast):
    q, k, v = qkv(2, 2, 6, 8, dtype=dtype)
    mask = torch.ones(6, 6, dtype=torch.bool).tril()

    m = Attend()

    def context():
        return torch.autocast("cpu", dtype=autocast) if autocast else torch.autocast("cpu", enabled=False)

    with torch.no_grad(), context():
        ref = m(q, k, v, mask)
    with torch.no_grad(), context():
        with aw.capture(m, verify=True) as cap:
            out = m(q, k, v, mask)
    assert out.dtype == ref.dtype
    assert torch.equal(out, ref)
    assert np.allclose(cap.get(0).sum(-1), 1, atol=1e-2)


# -- 3. nn.TransformerEncoder's nested fast path ---------------------------------------------------
@pytest.mark.parametrize("norm", [False, True])
def test_transformer_encoder_padded_positions_stay_as_on_the_fast_path(norm):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
    model = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16) if norm else None).eval()
    x = torch.randn(3, 6, 16)
    pad = torch.zeros(3, 6, dtype=torch.bool)
    pad[1, 4:] = True
    pad[2, 2:] = True
    with torch.no_grad():
        ref = model(x, src_key_padding_mask=pad)
        with aw.capture(model) as cap:
            out = model(x, src_key_padding_mask=pad)
    assert torch.equal(out[pad], ref[pad])  # 0 (or the norm of 0), exactly as uncaptured
    assert float((out - ref).abs().max()) <= 2e-6  # the rest: float rounding of the standard path
    assert cap.layers == ["layers.0.self_attn", "layers.1.self_attn"]


# -- 4-5. weights only when asked, and weights that are not query x key ---------------------------
def _tiny_hf(config_cls, model_cls, **extra):
    torch.manual_seed(0)
    config = config_cls(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        **extra,
    )
    return model_cls(config).eval()


@pytest.mark.parametrize("name", ["DebertaV2", "MPNet", "Longformer"])
def test_attention_returned_only_when_asked_is_found_and_outputs_do_not_gain_it(name):
    transformers = pytest.importorskip("transformers")
    extra = {"attention_window": 4} if name == "Longformer" else {}
    model = _tiny_hf(getattr(transformers, f"{name}Config"), getattr(transformers, f"{name}Model"), **extra)
    ids = torch.randint(0, 100, (2, 8), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 6:] = 0
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask)
        with aw.capture(model) as cap:
            out = model(input_ids=ids, attention_mask=mask)
        eager = model(input_ids=ids, attention_mask=mask, output_attentions=True).attentions
    assert list(out.keys()) == list(ref.keys())  # no attentions added to the outputs
    assert torch.equal(out.last_hidden_state, ref.last_hidden_state)
    assert len(cap.layers) == 2 and all(cap.kinds[s] == "self" for s in cap.layers)
    for i, site in enumerate(cap.layers):
        w = cap.get(site)
        assert w.shape[-1] == w.shape[-2], w.shape  # query x key, also for Longformer's bands
        sums = w.sum(-1)
        assert np.all(np.isclose(sums, 1, atol=1e-5) | (sums == 0))
        if name != "Longformer":
            assert np.allclose(w, eager[i].numpy(), atol=1e-6)
        else:  # the band [sample, head, query, 2w+1] placed on the key axis, after the model's own
            # masked_fill of padded queries (the capture follows its softmax to the module's return)
            band, n = eager[i].numpy(), w.shape[-1]
            assert np.all(w[1, :, 6:] == 0)
            for q in range(n):
                for j in range(band.shape[-1]):
                    key = q + j - 2
                    if 0 <= key < n:
                        assert np.allclose(w[:, :, q, key], band[:, :, q, j], atol=1e-6)


class _Pool(nn.Module):
    def forward(self, x):
        self.frames = torch.softmax(x.mean(-1), dim=-1)  # [sample, frame]: not query x key
        self.layers = torch.softmax(x, dim=1)  # [sample, layer, frame]: 3-D, not query x key either
        return x


class _PoolNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = _Pool()

    def forward(self, x):
        return self.pool(x)


def test_extract_refuses_weights_whose_axes_it_cannot_name():
    net = _PoolNet()
    for attribute in ("frames", "layers"):
        with pytest.raises(ValueError, match="name its axes"):
            with aw.capture(net, include=["pool"], extract=attribute):
                net(torch.randn(2, 5, 3))


def test_extract_with_named_axes_stores_them_as_weights():
    net = _PoolNet()
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        with aw.capture(net, include=["pool"], extract="layers", axes=("sample", "layer", "frame")) as cap:
            net(x)
        with aw.capture(net, include=["pool"], extract="frames", axes=("sample", "frame")) as cap2:
            net(x)
    assert cap.kinds == {"pool": "weights"} and cap.axes["pool"] == ("sample", "layer", "frame")
    assert np.allclose(cap.get("pool"), torch.softmax(x, dim=1).numpy())
    assert cap2.axes["pool"] == ("sample", "frame") and cap2.get("pool").shape == (2, 5)
    with pytest.raises(TypeError, match="axes= names the axes of what extract= returns"):
        aw.capture(net, axes=("sample", "frame"))


# -- 6. self or cross, from the call ---------------------------------------------------------------
class CrossBlock(nn.Module):
    """Queries from x, keys and values from a context as long as x: cross-attention."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)

    def split(self, t):
        return t.view(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

    def forward(self, x, context=None):
        source = x if context is None else context
        q, k, v = self.split(self.to_q(x)), self.split(self.to_k(source)), self.split(self.to_v(source))
        out = F.scaled_dot_product_attention(q, k, v)
        return out.transpose(1, 2).reshape(x.shape)


class TwoBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.mix, self.look = CrossBlock(), CrossBlock()

    def forward(self, x, context):
        return self.look(self.mix(x), context=context)


def test_self_or_cross_is_decided_by_where_keys_come_from_not_by_lengths():
    torch.manual_seed(0)
    model = TwoBlocks().eval()
    x, context = torch.randn(2, 6, 16), torch.randn(2, 6, 16)  # same length
    cap, _ = captured(model, x, context)
    assert cap.kinds == {"mix": "self", "look": "cross"}


# -- 7. torch.compile ------------------------------------------------------------------------------
def test_a_compiled_model_is_captured_and_runs_eagerly_inside_the_block():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    compiled = torch.compile(model, backend="eager")  # dynamo traces; no C++ compiler needed
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        ref = compiled(x)
        with aw.capture(compiled) as cap:
            out = compiled(x)
        after = compiled(x)
    assert cap.layers == ["layers.0.self_attn", "layers.1.self_attn"]
    assert float((out - ref).abs().max()) <= 2e-6
    assert torch.equal(after, ref)  # outside the block the compiled code is as it was


# -- 8. scope: the captured model's calls, in its own thread ---------------------------------------
def test_other_models_bare_calls_and_other_threads_are_not_recorded():
    q, k, v = qkv(1, 2, 4, 8)
    model, other = Attend(), Attend()
    errors = []

    def in_thread():
        try:
            model(q, k, v)
            aw.tap("from_thread", torch.rand(1, 2, 4, 4))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    with torch.no_grad():
        with aw.capture(model) as cap:
            F.scaled_dot_product_attention(q, k, v)  # a bare call
            other(q, k, v)  # another model
            model(q, k, v)
            t = threading.Thread(target=in_thread)
            t.start()
            t.join()
            model(q, k, v)
    assert not errors
    assert cap.layers == ["Attend"] and cap.steps == 2


# -- 9. whatever runs uncaptured runs captured -----------------------------------------------------
@pytest.mark.parametrize(
    "q_shape,k_shape,mask_shape",
    [
        ((2, 3, 4, 5, 8), (2, 3, 4, 5, 8), (3, 1, 5, 5)),  # 5-D with a 4-D broadcast mask
        ((2, 3, 4, 5, 8), (2, 3, 4, 7, 8), (4, 5, 7)),
        ((2, 3, 0, 8), (2, 3, 5, 8), None),  # no query
        ((2, 3, 4, 8), (2, 3, 0, 8), None),  # no key
    ],
)
def test_calls_that_run_uncaptured_run_captured(q_shape, k_shape, mask_shape):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(*q_shape, generator=g), torch.randn(*k_shape, generator=g)
    v = torch.randn(*k_shape, generator=g)
    mask = torch.randn(*mask_shape, generator=g) if mask_shape else None
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    cap, out = captured(Attend(), q, k, v, mask)
    assert torch.equal(out, ref)
    w = cap.get(0)
    assert w.shape == (
        int(np.prod(q_shape[:-3])) if len(q_shape) > 3 else 1,
        q_shape[-3],
        q_shape[-2],
        k_shape[-2],
    )


# -- 10. memory ------------------------------------------------------------------------------------
def test_a_large_capture_warns_once_with_the_options_that_avoid_it():
    q, k, v = qkv(1, 2, 64, 8)
    model = Attend()
    with pytest.warns(ResourceWarning, match="max_size=") as record:
        with aw.capture(model, warn_bytes=1000):
            model(q, k, v)
            model(q, k, v)
    assert len([w for w in record if issubclass(w.category, ResourceWarning)]) == 1


def test_tiles_are_written_into_one_result_without_a_second_copy():
    # peak memory of a multi-tile capture: the result plus one tile (not twice the result)
    script = textwrap.dedent("""
        import resource, torch, torch.nn.functional as F
        import attnwidget as aw
        torch.set_num_threads(1)
        class Attend(torch.nn.Module):
            def forward(self, q, k, v):
                return F.scaled_dot_product_attention(q, k, v)
        q = k = v = torch.randn(1, 4, 4096, 16)
        m = Attend()
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v)
            with aw.capture(m, max_size=64):
                m(q, k, v)
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            with aw.capture(m) as cap:
                m(q, k, v)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((peak - base) * 1024, cap.get(0).nbytes)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    extra, result = map(int, out.stdout.split())
    assert result == 4 * 4096 * 4096 * 4
    assert extra <= 1.1 * result + (64 << 20), (extra / 2**20, result / 2**20)


def test_a_submodule_run_by_itself_is_recorded_as_generate_runs_the_encoder():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=60,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=32,
    )
    model = transformers.BartForConditionalGeneration(config).eval()
    ids = torch.randint(4, 60, (1, 7), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        with aw.capture(model) as cap:
            model.get_encoder()(input_ids=ids)  # the encoder alone, not the model's forward
        assert cap.layers == ["model.encoder.layers.0.self_attn"]
        with aw.capture(model) as gen:
            model.generate(ids, max_new_tokens=3, do_sample=False, num_beams=1)
    encoder = [s for s in gen.layers if ".encoder." in s]
    assert encoder == ["model.encoder.layers.0.self_attn"], gen.layers
    assert any(gen.kinds[s] == "cross" for s in gen.layers)
