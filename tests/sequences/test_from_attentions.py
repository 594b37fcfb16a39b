"""Capture.from_attentions and aw.show on attention from other tools: Hugging Face outputs (BERT,
BART, generate), a TransformerLens-style cache, dicts of arrays; and the errors for what it cannot read."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration, BartModel, BertConfig, BertModel

import attnwidget as aw
from attnwidget.errors import AttentionFormatError, NotFoundError


def bert(impl: str) -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        attn_implementation=impl,
    )
    return BertModel(cfg).eval()


def bart_config() -> BartConfig:
    return BartConfig(
        vocab_size=60,
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=32,
        attn_implementation="eager",
    )


@pytest.fixture(scope="module")
def padded_batch():
    ids = torch.randint(5, 60, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    return ids, mask


def test_bert_outputs_attentions_equal_the_capture_of_the_same_model(padded_batch):
    ids, mask = padded_batch
    eager, sdpa = bert("eager"), bert("sdpa")
    sdpa.load_state_dict(eager.state_dict())
    with torch.no_grad():
        out = eager(input_ids=ids, attention_mask=mask, output_attentions=True)
        with aw.capture(sdpa) as cap:
            sdpa(input_ids=ids, attention_mask=mask)
    mine = aw.Capture.from_attentions(out.attentions)
    assert mine.layers == ["layers.0", "layers.1", "layers.2"]
    assert set(mine.kinds.values()) == {"self"} and mine.steps == 1 and mine.num_samples == 3
    for i in range(3):
        got = mine.get(i)
        assert got.dtype == np.float32 and got.shape == (3, 4, 9, 9)
        np.testing.assert_allclose(got, cap.get(i), atol=1e-5, rtol=0)
    # the output object itself reads the same
    np.testing.assert_array_equal(aw.Capture.from_attentions(out).get(1), mine.get(1))


def test_cpu_float32_is_not_copied_and_other_dtypes_become_float32():
    t = torch.rand(2, 3, 4, 4)
    cap = aw.Capture.from_attentions((t, t * 2))
    assert np.shares_memory(cap.get(0), t.numpy())
    half = aw.Capture.from_attentions({"h": t.half()}).get("h")
    assert half.dtype == np.float32 and not np.shares_memory(half, t.numpy())
    np.testing.assert_allclose(half, t.numpy(), atol=1e-3)
    bf = aw.Capture.from_attentions((t.bfloat16().requires_grad_(),)).get(0)
    assert bf.dtype == np.float32
    a64 = np.random.default_rng(0).random((2, 5, 5))
    got = aw.Capture.from_attentions({"x": a64}).get("x")
    assert got.dtype == np.float32 and got.shape == (1, 2, 5, 5)
    np.testing.assert_allclose(got[0], a64, rtol=1e-6)
    a32 = a64.astype(np.float32)
    assert np.shares_memory(aw.Capture.from_attentions({"x": a32}).get("x"), a32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_tensors_come_to_the_cpu_as_float32():
    t = torch.rand(2, 3, 4, 4, device="cuda", dtype=torch.float16)
    got = aw.Capture.from_attentions((t,)).get(0)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_array_equal(got, t.float().cpu().numpy())


def test_encoder_decoder_output_gives_the_three_kinds(tmp_path):
    torch.manual_seed(0)
    model = BartModel(bart_config()).eval()
    src, tgt = torch.randint(5, 60, (2, 7)), torch.randint(5, 60, (2, 5))
    with torch.no_grad():
        out = model(input_ids=src, decoder_input_ids=tgt, output_attentions=True)
    enc = [f"s{i}" for i in range(7)]
    dec = [f"t{i}" for i in range(5)]
    cap = aw.Capture.from_attentions(out, tokens={"encoder": enc, "decoder": dec})
    assert cap.layers == [
        "encoder.layers.0",
        "encoder.layers.1",
        "decoder.layers.0",
        "decoder.layers.0.cross",
        "decoder.layers.1",
        "decoder.layers.1.cross",
    ]
    assert [cap.kinds[n] for n in cap.layers] == ["self", "self", "self", "cross", "self", "cross"]
    np.testing.assert_array_equal(cap.get("decoder.layers.1.cross"), out.cross_attentions[1].numpy())
    assert cap.get("encoder.layers.0").shape == (2, 2, 7, 7)
    # each site's axes carry its own sequence's tokens
    cross = aw.frame(cap, "decoder.layers.0.cross")
    assert (cross.row_labels, cross.col_labels) == (dec, enc)
    assert aw.frame(cap, "encoder.layers.1").row_labels == enc
    assert aw.frame(cap, "decoder.layers.1").col_labels == dec
    back = aw.load(cap.save(tmp_path / "bart.npz"))
    assert back.layers == cap.layers and back.kinds == cap.kinds
    np.testing.assert_array_equal(back.get(3), cap.get(3))
    assert aw.frame(back, "decoder.layers.0.cross").col_labels == enc


def test_generate_output_gives_one_step_per_generated_token():
    torch.manual_seed(0)
    model = BartForConditionalGeneration(bart_config()).eval()
    out = model.generate(
        torch.randint(5, 60, (2, 7)),
        max_new_tokens=3,
        min_new_tokens=3,
        do_sample=False,
        num_beams=1,
        output_attentions=True,
        return_dict_in_generate=True,
    )
    cap = aw.Capture.from_attentions(out)
    steps = len(out.decoder_attentions)
    assert cap.steps == steps >= 2
    assert cap.steps_of("encoder.layers.0") == [0]
    assert cap.steps_of("decoder.layers.1.cross") == list(range(steps))
    for s in range(steps):
        np.testing.assert_array_equal(cap.get("decoder.layers.0", s), out.decoder_attentions[s][0].numpy())
        assert cap.get("decoder.layers.0.cross", s).shape[-1] == 7


def test_dict_of_numpy_arrays_of_every_shape():
    rng = np.random.default_rng(2)
    arrays = {
        "full": rng.random((3, 2, 4, 4), dtype=np.float32),
        "one sample": rng.random((2, 4, 4), dtype=np.float32),
        "one head": rng.random((4, 4), dtype=np.float32),
        "to image": rng.random((3, 2, 4, 9), dtype=np.float32),
        "text cross text": rng.random((3, 2, 4, 4), dtype=np.float32),
    }
    cap = aw.Capture.from_attentions(arrays, tokens=["a", "b", "c", "d"])
    assert cap.layers == list(arrays)
    assert cap.kinds == {
        "full": "self",
        "one sample": "self",
        "one head": "self",
        "to image": "cross",
        "text cross text": "cross",
    }
    assert cap.get("one sample").shape == (1, 2, 4, 4) and cap.get("one head").shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(cap.get("one head")[0, 0], arrays["one head"])
    assert aw.frame(cap, "full", sample=2, head=1).row_labels == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(aw.frame(cap, "full", sample=2, head=1).values, arrays["full"][2, 1])


class ActivationCacheLike:
    """What TransformerLens's ActivationCache offers here: keys() and item access, no Mapping base."""

    def __init__(self, entries: dict):
        self._entries = entries

    def keys(self):
        return self._entries.keys()

    def __getitem__(self, key):
        return self._entries[key]


def test_activation_cache_like_mapping_reads_its_patterns_in_block_order(padded_batch):
    ids, mask = padded_batch
    model = bert("eager")
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_attentions=True)
    entries = {"hook_embed": torch.zeros(3, 9, 32)}
    # blocks 0, 1, 2 listed 2, 0, 1 and with 10 sorting after 2 by number, not by text
    for i in (2, 0, 1):
        entries[f"blocks.{i}.attn.hook_pattern"] = out.attentions[i]
        entries[f"blocks.{i}.hook_resid_post"] = torch.zeros(3, 9, 32)
    entries["blocks.10.attn.hook_pattern"] = out.attentions[0]
    cap = aw.Capture.from_attentions(ActivationCacheLike(entries))
    assert cap.layers == ["blocks.0.attn", "blocks.1.attn", "blocks.2.attn", "blocks.10.attn"]
    np.testing.assert_array_equal(cap.get("blocks.2.attn"), out.attentions[2].numpy())
    with pytest.raises(NotFoundError, match="hook_pattern"):
        aw.Capture.from_attentions(ActivationCacheLike({"blocks.0.hook_resid_post": torch.zeros(1, 3, 4)}))


def test_show_opens_on_each_form(padded_batch):
    ids, mask = padded_batch
    with torch.no_grad():
        out = bert("eager")(input_ids=ids, attention_mask=mask, output_attentions=True)
        bart = BartModel(bart_config()).eval()
        s2s = bart(input_ids=ids[:, :6], decoder_input_ids=ids[:, :4], output_attentions=True)
    toks = [f"w{i}" for i in range(9)]
    forms = [
        (out.attentions, toks),
        (out, toks),
        (ActivationCacheLike({"blocks.0.attn.hook_pattern": out.attentions[0]}), toks),
        ({"mine": out.attentions[1].numpy()}, toks),
        (s2s, {"encoder": toks[:6], "decoder": toks[:4]}),
    ]
    for obj, tokens in forms:
        ex = aw.show(obj, tokens=tokens)
        fr = ex.frame()
        assert fr.values.shape[0] == len(fr.row_labels) > 0
        assert fr.row_labels == (toks if not isinstance(tokens, dict) else toks[:6])
        ex.layer = len(ex.cap.layers) - 1
        ex.head = 1
        assert ex.heatmap.frame().values.shape == ex.cap.get(-1)[0, 1].shape
    last = aw.show(s2s, tokens={"encoder": toks[:6], "decoder": toks[:4]}, layer="decoder.layers.1.cross")
    assert last.frame().row_labels == toks[:4] and last.frame().col_labels == toks[:6]


def test_errors_say_what_was_wrong(padded_batch):
    ids, mask = padded_batch
    t = torch.rand(2, 3, 4, 4)
    with pytest.raises(AttentionFormatError, match=r"attentions\[1\] has 3 axes"):
        aw.Capture.from_attentions((t, t[0]))
    with pytest.raises(AttentionFormatError, match="one batch length"):
        aw.Capture.from_attentions((t, torch.rand(3, 3, 4, 4)))
    with pytest.raises(AttentionFormatError, match="one key length"):
        aw.Capture.from_attentions([t, torch.rand(2, 3, 4, 5)])
    with pytest.raises(AttentionFormatError, match="5 axes"):
        aw.Capture.from_attentions({"x": torch.rand(1, 2, 3, 4, 4)})
    with pytest.raises(AttentionFormatError, match="eager"):
        aw.Capture.from_attentions((t, None))
    with pytest.raises(AttentionFormatError, match="one tensor or array"):
        aw.Capture.from_attentions({"x": (t, t)})
    for unknown in ("attention", 3, object()):
        with pytest.raises(NotFoundError, match="reads a tuple"):
            aw.Capture.from_attentions(unknown)
    with torch.no_grad():
        plain = bert("eager")(input_ids=ids, attention_mask=mask)  # no output_attentions
        sdpa = bert("sdpa")(input_ids=ids, attention_mask=mask, output_attentions=True)
    for held_none in (plain, sdpa, (), {}):
        with pytest.raises(NotFoundError, match="attn_implementation='eager'"):
            aw.Capture.from_attentions(held_none)
    with pytest.raises(ValueError, match="has no encoder"):
        aw.Capture.from_attentions((t,), tokens={"encoder": ["a"] * 4})
    with pytest.raises(TypeError, match="already a Capture"):
        aw.Capture.from_attentions(aw.Capture.from_attentions((t,)))
