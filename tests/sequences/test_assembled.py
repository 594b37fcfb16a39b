"""cap.assembled(site): the rows of a generation loop put together equal one teacher-forced forward.

Hugging Face ``generate`` with and without a KV cache (GPT-2 eager and sdpa,
BART's decoder self- and cross-attention), a hand-written decoder with a KV
cache of its own, and what cannot be assembled: diffusion-like steps that
repeat one shape, pooled or row-picked captures, tapped weights, sample
counts that change. ``generation()`` says how far each step reveals the
matrix, and None where the steps do not chain.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BartConfig, BartForConditionalGeneration, GPT2Config, GPT2LMHeadModel

import attnwidget as aw
from attnwidget._assembled import assembled_valid, generation
from attnwidget.errors import SelectionError

NEW = 6  # tokens generated


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
        attn_implementation=impl,
    )
    return GPT2LMHeadModel(cfg).eval()


def bart(impl: str) -> BartForConditionalGeneration:
    torch.manual_seed(0)
    cfg = BartConfig(
        vocab_size=100,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        attn_implementation=impl,
    )
    return BartForConditionalGeneration(cfg).eval()


def prompt(batch: int = 2, length: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, 100, (batch, length), generator=torch.Generator().manual_seed(seed))


def sites(cap: aw.Capture, kind: str, part: str = "") -> list[str]:
    """The sites of one kind whose names hold ``part``, in the order they first ran (layer order)."""
    return [s for s in cap.sites if cap.kinds[s] == kind and part in s]


# ---------------------------------------------------------------------- GPT-2
@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_gpt2_generate_assembled_equals_the_teacher_forced_forward(impl, use_cache):
    model, ids = gpt2(impl), prompt()
    with torch.no_grad(), aw.capture(model) as cap:
        out = model.generate(
            ids, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, use_cache=use_cache, pad_token_id=0
        )
    assert cap.steps == NEW
    reference = gpt2("eager")
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        forced = reference(out[:, :-1], output_attentions=True).attentions
    layers = sites(cap, "self")
    assert len(layers) == len(forced) == 2
    length = out.shape[1] - 1
    for i, site in enumerate(layers):
        whole = cap.assembled(site)
        assert whole.shape == (2, 2, length, length)
        np.testing.assert_allclose(whole, forced[i].numpy(), atol=1e-5, rtol=0)
        # each step reveals the rows generated so far and the keys they read
        assert generation(cap, site) == [(n, n) for n in range(ids.shape[1], length + 1)]
    # the step-by-step arrays themselves are not the whole matrix: the later steps differ in shape
    assert cap.get(layers[0], 1).shape[2] == (1 if use_cache else ids.shape[1] + 1)


def test_gpt2_with_and_without_a_cache_assemble_the_same_matrix():
    model, ids = gpt2("sdpa"), prompt(batch=3, length=4, seed=7)
    wholes = []
    for use_cache in (True, False):
        with torch.no_grad(), aw.capture(model) as cap:
            model.generate(
                ids,
                max_new_tokens=NEW,
                min_new_tokens=NEW,
                do_sample=False,
                use_cache=use_cache,
                pad_token_id=0,
            )
        wholes.append(cap.assembled(-1))
    np.testing.assert_allclose(wholes[0], wholes[1], atol=1e-5, rtol=0)
    # a causal matrix: nothing above the diagonal, every row sums to 1
    assert np.all(np.triu(wholes[0], k=1) == 0)
    np.testing.assert_allclose(wholes[0].sum(-1), 1, atol=1e-5)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_gpt2_left_padded_generate_assembles_and_marks_the_padding(impl, use_cache):
    model, ids = gpt2(impl), prompt(batch=2, length=6, seed=3)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0  # sample 1 is left-padded by two positions
    ids[1, :2] = 0
    with torch.no_grad(), aw.capture(model) as cap:
        out = model.generate(
            ids,
            attention_mask=mask,
            max_new_tokens=NEW,
            min_new_tokens=NEW,
            do_sample=False,
            use_cache=use_cache,
            pad_token_id=0,
        )
    full_mask = torch.cat([mask, torch.ones(2, NEW - 1, dtype=mask.dtype)], 1)
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)  # as generate numbers a left-padded prompt
    reference = gpt2("eager")
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        forced = reference(
            out[:, :-1], attention_mask=full_mask, position_ids=positions, output_attentions=True
        ).attentions
    real = full_mask.bool().numpy()
    for i, site in enumerate(sites(cap, "self")):
        whole = cap.assembled(site)
        # the rows of real tokens equal the teacher-forced forward (a padded row is what the kernel did)
        for s in range(2):
            np.testing.assert_allclose(
                whole[s][:, real[s]], forced[i][s].numpy()[:, real[s]], atol=1e-5, rtol=0
            )
        valid = assembled_valid(cap, site)
        assert valid is not None, "the engine recorded no padding of this left-padded batch"
        np.testing.assert_array_equal(valid[0], real)
        np.testing.assert_array_equal(valid[1], real)


# ---------------------------------------------------------------------- encoder-decoder
@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_bart_decoder_self_and_cross_attention_equal_the_teacher_forced_forward(impl, use_cache):
    model, source = bart(impl), prompt(batch=2, length=7, seed=5)
    with torch.no_grad(), aw.capture(model) as cap:
        out = model.generate(
            source, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, use_cache=use_cache
        )
    assert cap.steps == NEW
    reference = bart("eager")
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        forced = reference(input_ids=source, decoder_input_ids=out[:, :-1], output_attentions=True)
    decoder, cross = sites(cap, "self", "decoder."), sites(cap, "cross", "decoder.")
    assert len(decoder) == len(cross) == 2
    rows = out.shape[1] - 1
    for i in range(2):
        whole = cap.assembled(decoder[i])
        assert whole.shape == (2, 4, rows, rows)
        np.testing.assert_allclose(whole, forced.decoder_attentions[i].numpy(), atol=1e-5, rtol=0)
        whole = cap.assembled(cross[i])
        assert whole.shape == (2, 4, rows, source.shape[1])
        np.testing.assert_allclose(whole, forced.cross_attentions[i].numpy(), atol=1e-5, rtol=0)
        assert generation(cap, cross[i]) == [(n, source.shape[1]) for n in range(1, rows + 1)]
    # the encoder ran once: one step, the matrix as it is, and no generation to reveal
    encoder = sites(cap, "self", "encoder.")
    assert encoder and all(cap.steps_of(s) == [0] for s in encoder)
    np.testing.assert_array_equal(cap.assembled(encoder[0]), cap.get(encoder[0], 0))
    assert generation(cap, encoder[0]) is None


def test_generate_outputs_read_with_from_attentions_assemble_too():
    model, source = bart("eager"), prompt(batch=2, length=7, seed=5)
    with torch.no_grad():
        out = model.generate(
            source,
            max_new_tokens=NEW,
            min_new_tokens=NEW,
            do_sample=False,
            output_attentions=True,
            return_dict_in_generate=True,
        )
        forced = model(input_ids=source, decoder_input_ids=out.sequences[:, :-1], output_attentions=True)
    cap = aw.Capture.from_attentions(out)
    np.testing.assert_allclose(
        cap.assembled("decoder.layers.1"), forced.decoder_attentions[1].numpy(), atol=1e-5, rtol=0
    )
    np.testing.assert_allclose(
        cap.assembled("decoder.layers.1.cross"), forced.cross_attentions[1].numpy(), atol=1e-5, rtol=0
    )


# ---------------------------------------------------------------------- a loop of one's own
class CachedLayer(nn.Module):
    """Causal self-attention through F.scaled_dot_product_attention, with a KV cache of its own."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, cache=None, weights=None):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        # the n queries are the last n of the keys' positions
        allowed = torch.ones(n, k.shape[2], dtype=torch.bool).tril(k.shape[2] - n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        if weights is not None:  # the reference: the softmax written out
            scores = (q @ k.transpose(-1, -2)) / (d // self.heads) ** 0.5
            weights.append(scores.masked_fill(~allowed, float("-inf")).softmax(-1))
        return x + self.proj(out.transpose(1, 2).reshape(b, n, d)), (k, v)


class TinyDecoder(nn.Module):
    def __init__(self, vocab: int = 40, dim: int = 16, heads: int = 2, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(64, dim)
        self.layers = nn.ModuleList(CachedLayer(dim, heads) for _ in range(layers))
        self.out = nn.Linear(dim, vocab)

    def forward(self, ids, cache=None, start=0, weights=None):
        x = self.embed(ids) + self.position(torch.arange(start, start + ids.shape[1]))
        caches = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, None if cache is None else cache[i], weights)
            caches.append(kv)
        return self.out(x), caches


def greedy(model: TinyDecoder, ids: torch.Tensor, new: int, use_cache: bool) -> torch.Tensor:
    logits, cache = model(ids)
    for _ in range(new - 1):
        token = logits[:, -1:].argmax(-1)
        if use_cache:
            logits, cache = model(token, cache, start=ids.shape[1])
        ids = torch.cat([ids, token], 1)
        if not use_cache:
            logits, _ = model(ids)
    return torch.cat([ids, logits[:, -1:].argmax(-1)], 1)


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_hand_written_cached_loop_assembles_to_the_full_causal_forward(use_cache):
    torch.manual_seed(3)
    model = TinyDecoder().eval()
    ids = torch.randint(0, 40, (3, 4), generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), aw.capture(model) as cap:
        out = greedy(model, ids, 5, use_cache)
    assert cap.steps == 5
    assert cap.get("layers.0", 1).shape[2] == (1 if use_cache else 5)
    reference: list[torch.Tensor] = []
    with torch.no_grad():
        model(out[:, :-1], weights=reference)
    assert sites(cap, "self") == ["layers.0", "layers.1"]
    for i, site in enumerate(["layers.0", "layers.1"]):
        np.testing.assert_allclose(cap.assembled(site), reference[i].numpy(), atol=1e-5, rtol=0)
        assert generation(cap, site)[-1] == (8, 8)


# ---------------------------------------------------------------------- what does not chain
class Denoiser(nn.Module):
    """Diffusion-like: self-attention over latents and cross-attention to a text, one shape every step."""

    def __init__(self, dim: int = 16):
        super().__init__()
        self.attn1 = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.attn2 = nn.MultiheadAttention(dim, 2, batch_first=True)

    def forward(self, latents, text):
        latents = latents + self.attn1(latents, latents, latents)[0]
        return latents + self.attn2(latents, text, text)[0]


def test_diffusion_like_steps_that_repeat_one_shape_do_not_chain():
    torch.manual_seed(0)
    model = Denoiser().eval()
    latents, text = torch.randn(2, 12, 16), torch.randn(2, 5, 16)
    with torch.no_grad(), aw.capture(model) as cap:
        for _ in range(3):
            latents = model(latents, text)
    assert cap.kinds == {"attn1": "self", "attn2": "cross"}
    for site in ("attn1", "attn2"):
        assert generation(cap, site) is None
        with pytest.raises(SelectionError, match="does not chain as generation") as err:
            cap.assembled(site)
        message = str(err.value)
        assert "\n" not in message and f"'{site}'" in message
        # the message lists every step's shape
        assert "0: 2x2x12x" in message and "2: 2x2x12x" in message
        with pytest.raises(SelectionError):
            assembled_valid(cap, site)


def test_a_pooled_capture_cannot_be_assembled():
    model, ids = gpt2("sdpa"), prompt(length=8)
    with torch.no_grad(), aw.capture(model, max_size=4) as cap:
        model.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
    site = cap.sites[0]
    assert cap.info[site]["block"] == [2, 2]
    with pytest.raises(SelectionError, match=r"pooled in blocks of 2 x 2 .*max_size="):
        cap.assembled(site)
    assert generation(cap, site) is None


def test_a_capture_of_some_rows_cannot_be_assembled():
    model, ids = gpt2("eager"), prompt()
    with torch.no_grad(), aw.capture(model, rows=[0]) as cap:
        model.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
    with pytest.raises(SelectionError, match=r"query rows \[0\].*rows="):
        cap.assembled(0)
    assert generation(cap, 0) is None


def test_tapped_weights_and_changing_sample_counts_cannot_be_assembled():
    cap = aw.Capture()
    cap.add("gate", 0, np.ones((2, 3), np.float32), kind="weights", axes=("sample", "weight"))
    with pytest.raises(SelectionError, match="tapped weights"):
        cap.assembled("gate")
    assert generation(cap, "gate") is None
    # a KV-cache shape sequence, but the batch shrinks at step 1
    rng = np.random.default_rng(0)
    cap.add("attn", 0, rng.random((4, 2, 3, 3), np.float32), kind="self")
    cap.add("attn", 1, rng.random((2, 2, 1, 4), np.float32), kind="self")
    with pytest.raises(SelectionError, match=r"different numbers of samples.*0: 4x2x3x3, 1: 2x2x1x4"):
        cap.assembled("attn")
    assert generation(cap, "attn") is None


def test_cross_attention_without_a_self_attention_site_to_count_its_rows():
    torch.manual_seed(0)
    model = bart("eager")
    with torch.no_grad(), aw.capture(model, include="*encoder_attn") as cap:
        model.generate(prompt(length=7), max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert set(cap.kinds.values()) == {"cross"}
    with pytest.raises(SelectionError, match="no self-attention site"):
        cap.assembled(0)
    assert generation(cap, 0) is None


# ---------------------------------------------------------------------- validity and the plan cache
def test_assembled_valid_joins_each_steps_new_rows_and_the_keys_seen():
    rng = np.random.default_rng(1)
    cap = aw.Capture()
    # a prompt of 3 whose sample 1 starts with one left pad, then two cached steps
    for step, (q, k) in enumerate([(3, 3), (1, 4), (1, 5)]):
        cap.add("attn", step, rng.random((2, 2, q, k), np.float32), kind="self")
    assert assembled_valid(cap, "attn") is None  # nothing recorded: no padding
    prompt_valid = np.array([[1, 1, 1], [0, 1, 1]], bool)
    cap.add_valid("attn", 0, prompt_valid, prompt_valid)
    # step 1 records nothing; step 2 also hides key 0 from sample 0's query (a window, not padding)
    cap.add_valid("attn", 2, np.array([[1], [0]], bool), np.array([[0, 1, 1, 1, 1], [0, 1, 1, 1, 1]], bool))
    query_valid, key_valid = assembled_valid(cap, "attn")
    np.testing.assert_array_equal(query_valid, [[1, 1, 1, 1, 1], [0, 1, 1, 1, 0]])
    np.testing.assert_array_equal(key_valid, [[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]])
    # a recorded validity of the wrong shape is refused
    cap.add_valid("attn", 1, np.ones((2, 2), bool), np.ones((2, 4), bool))
    with pytest.raises(SelectionError, match="step 1"):
        assembled_valid(cap, "attn")


def test_the_plan_follows_a_capture_that_changes():
    rng = np.random.default_rng(2)
    cap = aw.Capture()
    cap.add("attn", 0, rng.random((1, 1, 2, 2), np.float32), kind="self")
    cap.add("attn", 1, rng.random((1, 1, 1, 3), np.float32), kind="self")
    assert generation(cap, "attn") == [(2, 2), (3, 3)]
    cap.add("attn", 2, rng.random((1, 1, 1, 4), np.float32), kind="self")
    assert generation(cap, "attn") == [(2, 2), (3, 3), (4, 4)]
    cap.add("attn", 2, rng.random((1, 1, 2, 2), np.float32), kind="self")  # replaced: no longer chains
    assert generation(cap, "attn") is None
    with pytest.raises(SelectionError, match="step 2 has 2 queries x 2 keys after 3 keys"):
        cap.assembled("attn")


# ---------------------------------------------------------------------- beam search
@pytest.mark.parametrize("how", ["argument", "generation_config"])
def test_beam_search_is_refused_with_its_reason_and_generate_is_left_as_it_was(how, tmp_path):
    """Beam search reorders hypotheses between steps: its rows chain by shape but are no one matrix."""
    model, ids = bart("eager"), prompt()
    options = dict(max_new_tokens=4, min_new_tokens=4, do_sample=False)
    if how == "argument":
        options["num_beams"] = 3
    else:  # a model whose own generation config searches with beams (MarianMT's do)
        model.generation_config.num_beams = 3
    with torch.no_grad():
        plain = model.generate(ids, **options)
        with aw.capture(model) as cap:
            out = model.generate(ids, **options)
    assert torch.equal(out, plain)  # the watched generate is the model's own
    assert "generate" not in model.__dict__  # nothing of the block is left on the model
    assert cap.metadata["generation"]["num_beams"] == 3
    decoder = sites(cap, "self", "decoder") + sites(cap, "cross", "decoder")
    assert decoder and cap.steps > 1
    for site in decoder:
        assert generation(cap, site) is None
        with pytest.raises(SelectionError, match=r"num_beams=3.*beam search reorders"):
            cap.assembled(site)
    # the reason survives a save
    cap.save(tmp_path / "beams.npz")
    with pytest.raises(SelectionError, match="num_beams=3"):
        aw.load(tmp_path / "beams.npz").assembled(decoder[0])


def test_greedy_generation_records_one_beam_and_still_assembles():
    model, ids = bart("eager"), prompt()
    with torch.no_grad(), aw.capture(model) as cap:
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, num_beams=1)
    assert cap.metadata["generation"]["num_beams"] == 1
    site = sites(cap, "self", "decoder")[0]
    assert cap.assembled(site).shape[2] == generation(cap, site)[-1][0]
