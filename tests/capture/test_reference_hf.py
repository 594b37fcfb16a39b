"""aw.capture on randomly initialised Hugging Face models against their own eager attentions.

Each model is built twice from one small config: an ``sdpa`` model (the
default implementation, whose weights never exist unless the capture
recomputes them) and an ``eager`` twin with the same state dict, whose
``output_attentions=True`` tensors are the reference. Sites are matched to
the reference by their names and kinds (encoder self, decoder self, cross),
and the model outputs must be unchanged by capturing.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

import attnwidget as aw  # noqa: E402

TOL = 1e-5
VOCAB = 100


# --------------------------------------------------------------------------- helpers
def twins(model_cls, config, seed=0):
    """An sdpa model and an eager model with identical random weights, both in eval mode."""
    torch.manual_seed(seed)
    sdpa = model_cls._from_config(copy.deepcopy(config), attn_implementation="sdpa").eval()
    eager = model_cls._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    eager.load_state_dict(sdpa.state_dict())
    assert sdpa.config._attn_implementation == "sdpa"
    assert eager.config._attn_implementation == "eager"
    return sdpa, eager


def main_output(out):
    """The tensor that stands for a model's output (logits or last hidden state)."""
    for key in ("logits", "last_hidden_state"):
        if getattr(out, key, None) is not None:
            return getattr(out, key)
    return out[0]


def group_sites(cap):
    """Split capture sites the way HF splits its outputs: encoder self, decoder self, cross."""
    groups = {"encoder": [], "decoder": [], "cross": []}
    for name in cap.layers:
        kind = cap.kinds[name]
        if kind == "cross":
            groups["cross"].append(name)
        elif kind == "self":
            groups["decoder" if re.search(r"(^|\.)decoder\.", name) else "encoder"].append(name)
    return groups


def reference(out):
    """HF's attentions as {"encoder"|"decoder"|"cross": [tensor per layer]}."""
    ref = {"encoder": [], "decoder": [], "cross": []}
    if getattr(out, "encoder_attentions", None):
        ref["encoder"] = list(out.encoder_attentions)
        ref["decoder"] = list(out.decoder_attentions)
        ref["cross"] = list(out.cross_attentions or [])
    else:
        ref["encoder"] = list(out.attentions)
        ref["cross"] = list(getattr(out, "cross_attentions", None) or [])
    return ref


def assert_matches(cap, out, step=0, valid_queries=None):
    """Every reference tensor has a capture site with the same values, and no site is extra.

    ``valid_queries`` ([sample, query] bools) leaves out query rows whose keys
    are all masked (left padding under a causal mask): there the sdpa kernel
    and eager disagree by design, and the capture follows the kernel.
    """
    ref = reference(out)
    sites = group_sites(cap)
    for group in ("encoder", "decoder", "cross"):
        assert len(sites[group]) == len(ref[group]), (
            f"{group}: capture has sites {sites[group]} but HF returned {len(ref[group])} tensors; "
            f"all sites: {cap.layers} kinds {cap.kinds}"
        )
        for name, expected in zip(sites[group], ref[group]):
            got = cap.get(name, step=step)
            expected = expected.detach().float().numpy()
            assert isinstance(got, np.ndarray) and got.dtype == np.float32, (name, type(got))
            assert got.shape == expected.shape, (name, got.shape, expected.shape)
            assert np.isfinite(got).all(), f"site {name} has non-finite weights"
            if valid_queries is not None and group != "cross":
                valid = np.asarray(valid_queries, bool)  # [sample, query]
                got = np.where(valid[:, None, :, None], got, 0.0)
                expected = np.where(valid[:, None, :, None], expected, 0.0)
            diff = float(np.abs(got - expected).max())
            assert diff <= TOL, f"site {name} ({group}) differs from eager by {diff:.3g}"
    # by index too: layer i is the i-th name
    for i, name in enumerate(cap.layers):
        assert np.array_equal(cap.get(i, step=step), cap.get(name, step=step))


def run_and_compare(sdpa, eager, inputs, valid_queries=None):
    """Capture the sdpa model, compare with eager's attentions, outputs unchanged; returns the capture."""
    with torch.no_grad():
        plain = sdpa(**inputs)
        with aw.capture(sdpa) as cap:
            captured = sdpa(**inputs)
        ref = eager(**inputs, output_attentions=True)
    assert torch.equal(main_output(plain), main_output(captured)), "capturing changed the output"
    # the two implementations agree on the output too (sanity of the twin), where rows are valid
    a, b = main_output(plain), main_output(ref)
    if valid_queries is not None and a.shape[:2] == valid_queries.shape:
        a, b = a[valid_queries], b[valid_queries]
    assert torch.allclose(a, b, atol=1e-4)
    assert cap.steps == 1
    modules = dict(sdpa.named_modules())
    assert all(name in modules for name in cap.layers), f"site names are not module paths: {cap.layers}"
    assert_matches(cap, ref, valid_queries=valid_queries)
    return cap, ref


def eager_also_captured(sdpa_cap, eager, inputs, valid_queries=None):
    """aw.capture on the eager twin finds the same sites with the same weights."""
    with torch.no_grad():
        plain = eager(**inputs)
        with aw.capture(eager) as cap:
            captured = eager(**inputs)
    assert torch.equal(main_output(plain), main_output(captured))
    assert cap.layers == sdpa_cap.layers
    assert cap.kinds == sdpa_cap.kinds
    for name in cap.layers:
        a, b = cap.get(name), sdpa_cap.get(name)
        if valid_queries is not None and sdpa_cap.kinds[name] != "cross":
            keep = np.asarray(valid_queries, bool)[:, None, :, None]
            a, b = np.where(keep, a, 0.0), np.where(keep, b, 0.0)
        diff = float(np.abs(a - b).max())
        assert diff <= TOL, f"eager capture of {name} differs from sdpa capture by {diff:.3g}"
    return cap


def rows_sum_to_one(a, valid_rows=None):
    s = a.sum(-1)
    if valid_rows is not None:
        s = s[..., valid_rows]
    np.testing.assert_allclose(s, 1.0, atol=1e-5)


# --------------------------------------------------------------------------- models
def bert_config():
    return transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )


def gpt2_config():
    return transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2
    )


def bart_config():
    return transformers.BartConfig(
        vocab_size=VOCAB,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )


def t5_config():
    return transformers.T5Config(
        vocab_size=VOCAB,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


def vit_config():
    return transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )


def llama_config():
    return transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )


def ids(batch, length, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, (batch, length), generator=g)


# --------------------------------------------------------------------------- tests
def test_bert_padded_batch():
    sdpa, eager = twins(transformers.BertModel, bert_config())
    input_ids = ids(3, 9)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    inputs = dict(input_ids=input_ids, attention_mask=mask)
    cap, _ = run_and_compare(sdpa, eager, inputs)
    assert cap.layers == [f"encoder.layer.{i}.attention.self" for i in range(3)]
    assert set(cap.kinds.values()) == {"self"}
    a = cap.get(0)
    assert a.shape == (3, 4, 9, 9)
    rows_sum_to_one(a)
    # padded keys get (numerically) no weight
    assert a[1, :, :, 6:].max() < 1e-6 and a[2, :, :, 3:].max() < 1e-6
    assert a[1, :, :, :6].min() > 0
    eager_also_captured(cap, eager, inputs)


def test_bert_with_grad_enabled_and_unpadded():
    sdpa, eager = twins(transformers.BertModel, bert_config(), seed=3)
    inputs = dict(input_ids=ids(2, 12, seed=5))
    plain = sdpa(**inputs).last_hidden_state
    with aw.capture(sdpa) as cap:
        out = sdpa(**inputs).last_hidden_state
    assert torch.equal(plain, out)
    assert out.requires_grad, "capturing must not switch autograd off for the model"
    out.sum().backward()  # the graph is intact
    with torch.no_grad():
        ref = eager(**inputs, output_attentions=True)
    assert_matches(cap, ref)


def test_gpt2_causal():
    sdpa, eager = twins(transformers.GPT2LMHeadModel, gpt2_config())
    inputs = dict(input_ids=ids(2, 10))
    cap, _ = run_and_compare(sdpa, eager, inputs)
    assert cap.layers == ["transformer.h.0.attn", "transformer.h.1.attn"]
    a = cap.get(1)
    # causal: nothing above the diagonal, every row a distribution
    assert np.triu(np.ones((10, 10), bool), 1).any()
    assert np.abs(a[..., np.triu(np.ones((10, 10), bool), 1)]).max() == 0.0
    rows_sum_to_one(a)
    assert a[0, 0, 0, 0] == pytest.approx(1.0, abs=1e-6)
    eager_also_captured(cap, eager, inputs)


def test_gpt2_padded_causal():
    sdpa, eager = twins(transformers.GPT2LMHeadModel, gpt2_config(), seed=4)
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[0, :3] = 0  # left padding
    inputs = dict(input_ids=ids(2, 8, seed=9), attention_mask=mask)
    cap, ref = run_and_compare(sdpa, eager, inputs, valid_queries=mask.bool())
    assert cap.get(0)[0, :, 3:, :3].max() < 1e-6
    rows_sum_to_one(cap.get(1)[0], valid_rows=slice(3, None))
    eager_also_captured(cap, eager, inputs, valid_queries=mask.bool())


def count_forwards(model):
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    return calls, handle


def generate_and_compare(sdpa, eager, inputs, new_tokens, n_layers):
    # left-padded prompt rows attend to nothing at the prefill step (see assert_matches)
    mask = inputs.get("attention_mask")
    valid = None if mask is None else mask.bool().numpy()
    """Greedy generation with a KV cache, captured, against eager's generate(output_attentions=True)."""
    gen = dict(max_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=0)
    with torch.no_grad():
        plain = sdpa.generate(**inputs, **gen)
        calls, handle = count_forwards(sdpa)
        try:
            with aw.capture(sdpa) as cap:
                seq = sdpa.generate(**inputs, **gen)
        finally:
            handle.remove()
        ref = eager.generate(**inputs, **gen, output_attentions=True, return_dict_in_generate=True)
    assert torch.equal(plain, seq), "capturing changed the generated tokens"
    assert torch.equal(seq, ref.sequences), "sdpa and eager twins generated different tokens"
    assert len(calls) >= 2, "generate made fewer forward calls than expected"
    assert cap.steps == len(calls) == len(ref.attentions)
    prompt = inputs["input_ids"].shape[1]
    assert len(cap.layers) == n_layers
    for step, per_layer in enumerate(ref.attentions):
        for name, expected in zip(cap.layers, per_layer):
            got = cap.get(name, step=step)
            expected = expected.float().numpy()
            assert got.shape == expected.shape, (name, step, got.shape, expected.shape)
            # the cache grows: step s > 0 is one query row over prompt + s keys
            if step > 0:
                assert got.shape[2] == 1 and got.shape[3] == prompt + step
            else:
                assert got.shape[2] == got.shape[3] == prompt
            assert np.isfinite(got).all()
            if step == 0 and valid is not None:
                got = np.where(valid[:, None, :, None], got, 0.0)
                expected = np.where(valid[:, None, :, None], expected, 0.0)
            diff = float(np.abs(got - expected).max())
            assert diff <= TOL, f"{name} step {step} differs by {diff:.3g}"
    with pytest.raises(IndexError, match="step"):
        cap.get(0, step=cap.steps)
    return cap


def test_gpt2_generate_with_kv_cache():
    sdpa, eager = twins(transformers.GPT2LMHeadModel, gpt2_config(), seed=2)
    cap = generate_and_compare(sdpa, eager, dict(input_ids=ids(1, 5, seed=3)), 4, 2)
    assert cap.steps == 4
    assert set(cap.kinds.values()) == {"self"}, cap.kinds
    # the eager twin's own weights are captured during generation as well
    with torch.no_grad(), aw.capture(eager) as ecap:
        eager.generate(input_ids=ids(1, 5, seed=3), max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert ecap.steps == 4 and ecap.layers == cap.layers
    for step in range(4):
        for name in cap.layers:
            assert np.abs(ecap.get(name, step) - cap.get(name, step)).max() <= TOL


@pytest.mark.parametrize("decoder_len", [5, 7])
def test_bart_encoder_decoder_cross(decoder_len):
    sdpa, eager = twins(transformers.BartModel, bart_config())
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    inputs = dict(input_ids=ids(2, 7), attention_mask=mask, decoder_input_ids=ids(2, decoder_len, seed=2))
    cap, ref = run_and_compare(sdpa, eager, inputs)
    groups = group_sites(cap)
    assert groups["encoder"] == [f"encoder.layers.{i}.self_attn" for i in range(2)]
    assert groups["decoder"] == [f"decoder.layers.{i}.self_attn" for i in range(2)]
    assert groups["cross"] == [f"decoder.layers.{i}.encoder_attn" for i in range(2)]
    # order of first run: encoder first, then decoder self/cross interleaved
    assert cap.layers[:2] == groups["encoder"]
    assert cap.layers.index("decoder.layers.0.encoder_attn") < cap.layers.index("decoder.layers.1.self_attn")
    c = cap.get("decoder.layers.1.encoder_attn")
    assert c.shape == (2, 4, decoder_len, 7)
    assert c[1, :, :, 5:].max() < 1e-6  # padded encoder positions
    eager_also_captured(cap, eager, inputs)


def test_t5_relative_bias():
    sdpa, eager = twins(transformers.T5Model, t5_config())
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[0, 4:] = 0
    inputs = dict(input_ids=ids(2, 6), attention_mask=mask, decoder_input_ids=ids(2, 4, seed=7))
    cap, ref = run_and_compare(sdpa, eager, inputs)
    groups = group_sites(cap)
    assert len(groups["encoder"]) == len(groups["decoder"]) == len(groups["cross"]) == 2
    assert all(cap.get(n).shape == (2, 4, 4, 6) for n in groups["cross"])
    eager_also_captured(cap, eager, inputs)


def test_vit():
    sdpa, eager = twins(transformers.ViTModel, vit_config())
    torch.manual_seed(11)
    inputs = dict(pixel_values=torch.randn(2, 3, 32, 32))
    cap, _ = run_and_compare(sdpa, eager, inputs)
    assert [cap.get(i).shape for i in range(len(cap.layers))] == [(2, 4, 17, 17)] * 2
    assert len(cap.layers) == 2 and all(n.endswith("attention") for n in cap.layers), cap.layers
    eager_also_captured(cap, eager, inputs)


def test_llama_gqa_no_mask():
    sdpa, eager = twins(transformers.LlamaModel, llama_config())
    inputs = dict(input_ids=ids(2, 9))
    cap, _ = run_and_compare(sdpa, eager, inputs)
    # per query head, even though keys and values have 2 heads
    assert cap.get(0).shape == (2, 4, 9, 9)
    a = cap.get(0)
    assert not np.allclose(a[:, 0], a[:, 1]), "heads sharing a kv head still have their own queries"
    eager_also_captured(cap, eager, inputs)


def test_llama_gqa_left_padded():
    sdpa, eager = twins(transformers.LlamaModel, llama_config(), seed=5)
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, :4] = 0
    inputs = dict(input_ids=ids(2, 9, seed=4), attention_mask=mask)
    cap, _ = run_and_compare(sdpa, eager, inputs, valid_queries=mask.bool())
    assert cap.get(1)[1, :, 4:, :4].max() < 1e-6
    eager_also_captured(cap, eager, inputs, valid_queries=mask.bool())


def test_llama_gqa_generate():
    sdpa, eager = twins(transformers.LlamaForCausalLM, llama_config(), seed=6)
    generate_and_compare(sdpa, eager, dict(input_ids=ids(1, 6, seed=8)), 3, 2)


def test_llama_gqa_generate_padded_batch():
    # a mask during decoding: HF packs the query heads onto the kv heads (q_len 1)
    sdpa, eager = twins(transformers.LlamaForCausalLM, llama_config(), seed=7)
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[0, :2] = 0
    generate_and_compare(sdpa, eager, dict(input_ids=ids(2, 6, seed=8), attention_mask=mask), 3, 2)
