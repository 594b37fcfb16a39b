"""Model builders for the engine's test zoo (``test_zoo.py``).

Each entry of :data:`ZOO` builds one real model from a tiny, seeded config
(hidden 32, 2 layers, 4 heads, vocab 100, sequences of 6-9 tokens, batch 2)
and returns a :class:`Case`: the model, one forward call with its inputs,
the attention sites it must have (derived from the model's own modules, with
their kinds), and where there is one, an independent reference for the
weights (Hugging Face ``eager`` with ``output_attentions=True``,
``nn.MultiheadAttention(need_weights=True)``, x-transformers ``return_attn``,
diffusers' unfused ``AttnProcessor``, a float32 softmax written out here).

Builders import their library lazily, so one missing library skips only its
own entries.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

VOCAB = 100
HIDDEN = 32
HEADS = 4
LAYERS = 2


@dataclass
class Case:
    """One zoo model and what the capture of one forward call must give.

    ``sites``: expected site name -> kind, derived from the model's modules.
    ``reference``: ``() -> {site: weights [sample, head, query, key]}`` from
    an independent computation, or None. ``valid_rows``: ``[sample, query]``
    bools of the rows compared with the reference for self-attention sites
    (None: all). ``torch_fast_path``: the model holds ``nn.MultiheadAttention``
    / ``nn.Transformer*`` in eval mode, whose outputs may differ from an
    uncaptured run by float rounding. ``padded``: bools broadcastable to the
    main output, the positions the fast path leaves at 0 (before a final norm),
    which must equal the uncaptured output exactly. ``context``: what the
    forward runs under (autocast). ``grad``: run in train mode with gradients
    and compare the parameters' gradients too.
    """

    model: nn.Module
    forward: Callable[[nn.Module], Any]
    sites: dict[str, str]
    reference: Callable[[], dict[str, torch.Tensor]] | None = None
    valid_rows: np.ndarray | None = None
    torch_fast_path: bool = False
    padded: torch.Tensor | None = None
    context: Callable[[], Any] = contextlib.nullcontext
    grad: bool = False
    main: Callable[[Any], torch.Tensor] | None = None
    eager_model: nn.Module | None = None  # what the uncaptured recorder runs (torch.compile: the module)
    count: int | None = None  # attention layers the config declares: len(sites) must be this


@dataclass
class Entry:
    """A named zoo builder."""

    id: str
    build: Callable[[], Case]


# --------------------------------------------------------------------------- inputs
def ids(batch: int, length: int, seed: int = 1, low: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, VOCAB, (batch, length), generator=g)


def randn(*shape, seed: int = 2, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(dtype)


def padding_mask(batch: int, length: int, lengths: list[int], left: bool = False) -> torch.Tensor:
    """HF attention_mask (1 = token, 0 = pad), padded on the right or the left."""
    mask = torch.zeros(batch, length, dtype=torch.long)
    for b, n in enumerate(lengths):
        if left:
            mask[b, length - n :] = 1
        else:
            mask[b, :n] = 1
    return mask


# --------------------------------------------------------------------------- Hugging Face
def _transformers():
    return pytest.importorskip("transformers")


def hf_twins(model_cls, config, attn: str | None = "sdpa"):
    """(model, eager twin) with the same random weights, eval mode.

    ``attn="sdpa"``: the captured model uses sdpa where the architecture has it
    (else its default, eager); the twin is eager. ``attn="eager"``: both eager.
    """
    torch.manual_seed(0)
    if attn == "sdpa":
        try:
            model = model_cls._from_config(copy.deepcopy(config), attn_implementation="sdpa")
        except (ValueError, ImportError):
            model = model_cls._from_config(copy.deepcopy(config))
    else:
        model = model_cls._from_config(copy.deepcopy(config), attn_implementation=attn)
    model.eval()
    if model.config._attn_implementation == "eager":
        return model, model
    eager = model_cls._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    eager.load_state_dict(model.state_dict())
    return model, eager


def modules_of(model: nn.Module, classes: tuple[str, ...]) -> list[str]:
    """Paths of the modules whose class name is one of ``classes``, in the model's order."""
    return [name for name, m in model.named_modules() if type(m).__name__ in classes]


def hf_groups(paths: list[str], cross: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Split attention module paths as HF splits its outputs: encoder self, decoder self, cross."""
    groups: dict[str, list[str]] = {"encoder": [], "decoder": [], "cross": []}
    for p in paths:
        if any(c in p for c in cross):
            groups["cross"].append(p)
        elif p.startswith("decoder.") or ".decoder." in p:
            groups["decoder"].append(p)
        else:
            groups["encoder"].append(p)
    return groups


def hf_reference(eager, inputs: dict, groups: dict[str, list[str]], convert=None):
    """``output_attentions=True`` of the eager twin, keyed by site name."""

    def reference():
        with torch.no_grad():
            out = eager(**{**inputs, "output_attentions": True})
        if getattr(out, "encoder_attentions", None) is not None:
            tensors = {
                "encoder": out.encoder_attentions,
                "decoder": out.decoder_attentions,
                "cross": out.cross_attentions,
            }
        else:
            tensors = {
                "encoder": out.attentions,
                "decoder": (),
                "cross": getattr(out, "cross_attentions", None) or (),
            }
        ref = {}
        for group, names in groups.items():
            got = list(tensors[group] or ())
            assert len(got) == len(names), f"HF returned {len(got)} {group} attentions for the sites {names}"
            for name, t in zip(names, got):
                ref[name] = convert(t) if convert is not None else t
        return ref

    return reference


def hf_case(
    model_cls,
    config,
    inputs: dict,
    classes: tuple[str, ...],
    cross: tuple[str, ...] = (),
    attn: str | None = "sdpa",
    calls: int = 1,
    valid_rows=None,
    convert=None,
    expect_attn: str | None = None,
    count: int = LAYERS,
) -> Case:
    """A Hugging Face entry: sites are the modules of ``classes`` (each called ``calls`` times)."""
    model, eager = hf_twins(model_cls, config, attn)
    if expect_attn is not None:
        assert model.config._attn_implementation == expect_attn, model.config._attn_implementation
    paths = modules_of(model, classes)
    assert paths, f"no module of class {classes} in {type(model).__name__}"
    if calls > 1:  # shared layers (ALBERT): one module, one site per call
        paths = [p if i == 0 else f"{p}#{i}" for p in paths for i in range(calls)]
    groups = hf_groups(paths, cross)
    sites = {p: ("cross" if p in groups["cross"] else "self") for p in paths}
    return Case(
        model=model,
        forward=lambda m: m(**inputs),
        sites=sites,
        reference=hf_reference(eager, inputs, groups, convert),
        valid_rows=valid_rows,
        count=count,
    )


def bert_config(**kw):
    T = _transformers()
    return T.BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
        **kw,
    )


def _bert(attn, output_attentions: bool = False):
    def build():
        T = _transformers()
        mask = padding_mask(2, 9, [9, 5])
        inputs = dict(input_ids=ids(2, 9), attention_mask=mask)
        if output_attentions:  # the caller asks for them: the module returns the weights the capture sees
            inputs["output_attentions"] = True
        return hf_case(
            T.BertModel, bert_config(), inputs, ("BertSelfAttention",), attn=attn, expect_attn=attn
        )

    return build


def _roberta():
    T = _transformers()
    cfg = T.RobertaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=1,
    )
    mask = padding_mask(2, 8, [8, 6])
    return hf_case(
        T.RobertaModel, cfg, dict(input_ids=ids(2, 8), attention_mask=mask), ("RobertaSelfAttention",)
    )


def _distilbert():
    T = _transformers()
    cfg = T.DistilBertConfig(
        vocab_size=VOCAB,
        dim=HIDDEN,
        n_layers=LAYERS,
        n_heads=HEADS,
        hidden_dim=64,
        max_position_embeddings=64,
    )
    mask = padding_mask(2, 7, [7, 4])
    return hf_case(
        T.DistilBertModel,
        cfg,
        dict(input_ids=ids(2, 7), attention_mask=mask),
        ("DistilBertSelfAttention", "MultiHeadSelfAttention"),
    )


def _albert():
    T = _transformers()
    cfg = T.AlbertConfig(
        vocab_size=VOCAB,
        embedding_size=16,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    mask = padding_mask(2, 8, [8, 5])
    # one shared layer run twice: one site per call, "path" and "path#1"
    return hf_case(
        T.AlbertModel,
        cfg,
        dict(input_ids=ids(2, 8), attention_mask=mask),
        ("AlbertAttention", "AlbertSdpaAttention"),
        calls=LAYERS,
    )


def _electra():
    T = _transformers()
    cfg = T.ElectraConfig(
        vocab_size=VOCAB,
        embedding_size=16,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    mask = padding_mask(2, 8, [8, 6])
    return hf_case(
        T.ElectraModel, cfg, dict(input_ids=ids(2, 8), attention_mask=mask), ("ElectraSelfAttention",)
    )


def _deberta_v2():
    T = _transformers()
    cfg = T.DebertaV2Config(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
        relative_attention=True,
        position_buckets=8,
        pos_att_type=["p2c", "c2p"],
    )
    mask = padding_mask(2, 8, [8, 5])
    return hf_case(
        T.DebertaV2Model, cfg, dict(input_ids=ids(2, 8), attention_mask=mask), ("DisentangledSelfAttention",)
    )


def _mpnet():
    T = _transformers()
    cfg = T.MPNetConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    mask = padding_mask(2, 8, [8, 6])
    return hf_case(T.MPNetModel, cfg, dict(input_ids=ids(2, 8), attention_mask=mask), ("MPNetSelfAttention",))


def band_to_dense(band: torch.Tensor, window: int) -> torch.Tensor:
    """Longformer's ``[sample, head, query, 2w+1]`` bands -> ``[sample, head, query, key]``.

    Offset ``j`` of query ``i`` is key ``i - w + j``; other keys had weight 0.
    Written with loops on purpose: an implementation independent of the engine's.
    """
    s, h, n, width = band.shape
    w = (width - 1) // 2
    assert width == 2 * w + 1 and w == window // 2, (band.shape, window)
    dense = torch.zeros(s, h, n, n, dtype=torch.float32)
    for i in range(n):
        for j in range(width):
            key = i - w + j
            if 0 <= key < n:
                dense[:, :, i, key] = band[:, :, i, j].float()
    return dense


def _longformer(output_attentions: bool = False):
    T = _transformers()
    cfg = T.LongformerConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        max_position_embeddings=64,
        attention_window=4,
        pad_token_id=1,
    )
    mask = padding_mask(2, 8, [8, 6])
    inputs = dict(input_ids=ids(2, 8), attention_mask=mask)
    if output_attentions:  # the model also returns its bands: still one site per layer, query x key
        inputs["output_attentions"] = True
    return hf_case(
        T.LongformerModel, cfg, inputs, ("LongformerSelfAttention",), convert=lambda t: band_to_dense(t, 4)
    )


def _gpt2(left: bool):
    def build():
        T = _transformers()
        cfg = T.GPT2Config(
            vocab_size=VOCAB,
            n_embd=HIDDEN,
            n_layer=LAYERS,
            n_head=HEADS,
            n_positions=64,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        )
        mask = padding_mask(2, 8, [8, 5], left=left)
        # a left-padded row's pad queries see no key at all: what the kernel did there is not
        # what eager did (see the engine's rule), so only rows with a token are compared
        return hf_case(
            T.GPT2LMHeadModel,
            cfg,
            dict(input_ids=ids(2, 8), attention_mask=mask),
            ("GPT2Attention",),
            valid_rows=mask.bool().numpy(),
        )

    return build


def _gpt_neo():
    T = _transformers()
    cfg = T.GPTNeoConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        num_heads=HEADS,
        attention_types=[[["global", "local"], 1]],
        window_size=4,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
    )
    return hf_case(T.GPTNeoModel, cfg, dict(input_ids=ids(2, 8)), ("GPTNeoSelfAttention",))


def _gptj():
    T = _transformers()
    cfg = T.GPTJConfig(
        vocab_size=VOCAB,
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        rotary_dim=4,
        n_positions=64,
        bos_token_id=1,
        eos_token_id=2,
    )
    mask = padding_mask(2, 7, [7, 5])
    return hf_case(T.GPTJModel, cfg, dict(input_ids=ids(2, 7), attention_mask=mask), ("GPTJAttention",))


def _llama_like(name: str, **extra):
    def build():
        T = _transformers()
        cfg = getattr(T, f"{name}Config")(
            vocab_size=VOCAB,
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=LAYERS,
            num_attention_heads=HEADS,
            num_key_value_heads=2,
            max_position_embeddings=64,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
            **extra,
        )
        mask = padding_mask(2, 9, [9, 6], left=True)
        return hf_case(
            getattr(T, f"{name}Model"),
            cfg,
            dict(input_ids=ids(2, 9), attention_mask=mask),
            (f"{name}Attention",),
            valid_rows=mask.bool().numpy(),
        )

    return build


def _bart():
    T = _transformers()
    cfg = T.BartConfig(
        vocab_size=VOCAB,
        d_model=HIDDEN,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    mask = padding_mask(2, 8, [8, 6])
    # decoder as long as the encoder: cross-attention must be told from the call, not the shapes
    inputs = dict(input_ids=ids(2, 8), attention_mask=mask, decoder_input_ids=ids(2, 8, seed=3))
    return hf_case(T.BartModel, cfg, inputs, ("BartAttention",), cross=("encoder_attn",), count=3 * LAYERS)


def _t5():
    T = _transformers()
    cfg = T.T5Config(
        vocab_size=VOCAB,
        d_model=HIDDEN,
        d_kv=8,
        d_ff=64,
        num_layers=LAYERS,
        num_decoder_layers=LAYERS,
        num_heads=HEADS,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    mask = padding_mask(2, 7, [7, 5])
    inputs = dict(input_ids=ids(2, 7), attention_mask=mask, decoder_input_ids=ids(2, 6, seed=3))
    return hf_case(T.T5Model, cfg, inputs, ("T5Attention",), cross=("EncDecAttention",), count=3 * LAYERS)


def _marian():
    T = _transformers()
    cfg = T.MarianConfig(
        vocab_size=VOCAB,
        d_model=HIDDEN,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=0,
        decoder_start_token_id=0,
        eos_token_id=1,
    )
    mask = padding_mask(2, 7, [7, 4])
    inputs = dict(input_ids=ids(2, 7), attention_mask=mask, decoder_input_ids=ids(2, 6, seed=3))
    return hf_case(
        T.MarianModel, cfg, inputs, ("MarianAttention",), cross=("encoder_attn",), count=3 * LAYERS
    )


def _mbart():
    T = _transformers()
    cfg = T.MBartConfig(
        vocab_size=VOCAB,
        d_model=HIDDEN,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    mask = padding_mask(2, 7, [7, 5])
    inputs = dict(input_ids=ids(2, 7), attention_mask=mask, decoder_input_ids=ids(2, 6, seed=3))
    return hf_case(T.MBartModel, cfg, inputs, ("MBartAttention",), cross=("encoder_attn",), count=3 * LAYERS)


def _vit():
    T = _transformers()
    cfg = T.ViTConfig(
        image_size=16,
        patch_size=8,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
    )
    return hf_case(
        T.ViTModel, cfg, dict(pixel_values=randn(2, 3, 16, 16)), ("ViTAttention", "ViTSelfAttention")
    )


def _whisper():
    T = _transformers()
    cfg = T.WhisperConfig(
        vocab_size=VOCAB,
        d_model=HIDDEN,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=8,
        max_source_positions=8,
        max_target_positions=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    # 16 frames -> 8 encoder positions (stride 2); 8 decoder tokens: as long as the encoder
    inputs = dict(input_features=randn(2, 8, 16), decoder_input_ids=ids(2, 8, seed=3))
    return hf_case(
        T.WhisperModel, cfg, inputs, ("WhisperAttention",), cross=("encoder_attn",), count=3 * LAYERS
    )


def _wav2vec2():
    T = _transformers()
    cfg = T.Wav2Vec2Config(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=64,
        conv_dim=(16, 16),
        conv_kernel=(10, 3),
        conv_stride=(5, 2),
        conv_bias=True,
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        apply_spec_augment=False,
    )
    mask = torch.ones(2, 120, dtype=torch.long)
    mask[1, 90:] = 0
    return hf_case(
        T.Wav2Vec2Model, cfg, dict(input_values=randn(2, 120), attention_mask=mask), ("Wav2Vec2Attention",)
    )


def _speecht5():
    T = _transformers()
    cfg = T.SpeechT5Config(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_speech_positions=64,
        max_text_positions=64,
        encoder_max_relative_position=8,
        num_mel_bins=8,
        speech_decoder_prenet_units=16,
        speech_decoder_postnet_units=16,
    )
    # SpeechT5Model without pre-nets takes hidden states on both sides
    inputs = dict(
        input_values=randn(2, 7, HIDDEN),
        decoder_input_values=randn(2, 6, HIDDEN, seed=5),
        attention_mask=padding_mask(2, 7, [7, 5]),
    )
    return hf_case(
        T.SpeechT5Model, cfg, inputs, ("SpeechT5Attention",), cross=("encoder_attn",), count=3 * LAYERS
    )


# --------------------------------------------------------------------------- diffusers
def diffusers_reference(model: nn.Module, run: Callable[[nn.Module], Any]):
    """Weights from diffusers' own unfused processor (``AttnProcessor``: baddbmm + softmax)."""
    from diffusers.models.attention_processor import Attention, AttnProcessor

    def reference():
        twin = copy.deepcopy(model)
        found: dict[str, torch.Tensor] = {}
        for name, m in twin.named_modules():
            if isinstance(m, Attention):
                m.set_processor(AttnProcessor())
                scores = m.get_attention_scores

                def record(query, key, attention_mask=None, _scores=scores, _name=name, _m=m):
                    probs = _scores(query, key, attention_mask)  # [sample * head, query, key]
                    found[_name] = probs.reshape(-1, _m.heads, *probs.shape[1:])
                    return probs

                m.get_attention_scores = record
        with torch.no_grad():
            run(twin)
        return found

    return reference


def _diffusers_case(model: nn.Module, inputs: dict, count: int) -> Case:
    from diffusers.models.attention_processor import Attention

    model.eval()
    # attn2 reads encoder_hidden_states (cross); DiT's blocks have only attn1
    sites = {
        name: ("cross" if getattr(m, "is_cross_attention", False) else "self")
        for name, m in model.named_modules()
        if isinstance(m, Attention)
    }

    def run(m):
        return m(**inputs)

    return Case(
        model=model,
        forward=run,
        sites=sites,
        reference=diffusers_reference(model, run),
        main=lambda out: out.sample,
        count=count,
    )


def _unet():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    model = diffusers.UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    inputs = dict(
        sample=randn(2, 4, 8, 8), timestep=torch.tensor([3, 7]), encoder_hidden_states=randn(2, 6, 16, seed=4)
    )
    # one transformer block (self + cross) in the down, mid and each of the two up-block resnets
    return _diffusers_case(model, inputs, count=8)


def _dit():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    model = diffusers.DiTTransformer2DModel(
        num_attention_heads=HEADS,
        attention_head_dim=8,
        in_channels=4,
        num_layers=LAYERS,
        sample_size=8,
        patch_size=2,
        num_embeds_ada_norm=10,
    )
    inputs = dict(
        hidden_states=randn(2, 4, 8, 8), timestep=torch.tensor([3, 7]), class_labels=torch.tensor([1, 4])
    )
    return _diffusers_case(model, inputs, count=LAYERS)


# --------------------------------------------------------------------------- x-transformers
def _xt(kind: str, flash: bool = False):
    def build():
        xt = pytest.importorskip("x_transformers")
        torch.manual_seed(0)
        layers_cls = xt.Encoder if kind == "encoder" else xt.Decoder
        layers = layers_cls(
            dim=HIDDEN, depth=LAYERS, heads=HEADS, cross_attend=(kind == "cross"), attn_flash=flash
        )
        model = xt.TransformerWrapper(num_tokens=VOCAB, max_seq_len=16, attn_layers=layers).eval()
        x = ids(2, 8)
        # context as long as the sequence: cross-attention must be told from the call, not shapes
        kw: dict = dict(context=randn(2, 8, HIDDEN, seed=6)) if kind == "cross" else {}
        if kind == "encoder":
            mask = torch.ones(2, 8, dtype=torch.bool)
            mask[1, 6:] = False
            kw["mask"] = mask
        types = model.attn_layers.layer_types
        sites = {}
        for name, m in model.named_modules():
            if type(m).__name__ == "Attend":
                index = int(name.split(".")[2])  # attn_layers.layers.<i>.1.attend
                sites[name] = "cross" if types[index] == "c" else "self"

        def reference():
            with torch.no_grad():
                _, maps = model(x, return_attn=True, **kw)
            return dict(zip(sites, maps))

        # with attn_flash x-transformers calls sdpa and has no maps to return
        return Case(
            model=model,
            forward=lambda m: m(x, **kw),
            sites=sites,
            reference=None if flash else reference,
            count=LAYERS * (2 if kind == "cross" else 1),
        )

    return build


# --------------------------------------------------------------------------- torch modules
class MHAHolder(nn.Module):
    """One ``nn.MultiheadAttention`` at path ``attn``, called with fixed arguments."""

    def __init__(self, batch_first: bool, kdim: int | None = None):
        super().__init__()
        self.attn = nn.MultiheadAttention(HIDDEN, HEADS, batch_first=batch_first, kdim=kdim, vdim=kdim)

    def forward(self, query, key, value, **kw):
        return self.attn(query, key, value, **kw)


def mha_reference_weights(mha: nn.MultiheadAttention, query, key, value, kw: dict) -> torch.Tensor:
    """The module's own per-head weights (``need_weights=True, average_attn_weights=False``)."""
    kw = dict(kw, need_weights=True, average_attn_weights=False)
    with torch.no_grad():
        _, w = mha(query, key, value, **kw)
    return w


def _mha(
    batch_first: bool,
    need_weights: bool,
    cross: bool = False,
    padding: bool = False,
    attn_mask: str | None = None,
    causal: bool = False,
    average: bool = False,
    kdim: int | None = None,
):
    def build():
        torch.manual_seed(0)
        # kdim: keys and values of another width, projected by separate q/k/v weights
        model = MHAHolder(batch_first, kdim=kdim).eval()
        n, s = 7, 7  # cross with as many keys as queries: told from the call, not the shapes
        x = randn(2, n, HIDDEN)
        mem = randn(2, s, kdim or HIDDEN, seed=5) if cross else x
        if not batch_first:
            x = x.transpose(0, 1)
            mem = mem.transpose(0, 1) if cross else x  # self-attention: one tensor, as the fast path wants
        kw: dict = dict(need_weights=need_weights, average_attn_weights=average)
        if padding:
            kpm = torch.zeros(2, s, dtype=torch.bool)
            kpm[1, 5:] = True
            kw["key_padding_mask"] = kpm
        if attn_mask == "bool":
            kw["attn_mask"] = torch.ones(n, s, dtype=torch.bool).triu(1)
        elif attn_mask == "float":
            kw["attn_mask"] = randn(n, s, seed=9) * 2
        if causal:
            kw["attn_mask"] = nn.Transformer.generate_square_subsequent_mask(n)
            kw["is_causal"] = True
        q, k, v = (x, mem, mem)

        def run(m):
            return m(q, k, v, **kw)

        return Case(
            model=model,
            forward=run,
            sites={"attn": "cross" if cross else "self"},
            reference=lambda: {"attn": mha_reference_weights(model.attn, q, k, v, kw)},
            torch_fast_path=True,
            main=lambda out: out[0],
            count=1,
        )

    return build


def _encoder_layers(batch_first: bool, norm: bool, norm_first: bool = False, dropout: float = 0.0):
    layer = nn.TransformerEncoderLayer(
        HIDDEN, HEADS, dim_feedforward=64, dropout=dropout, batch_first=batch_first, norm_first=norm_first
    )
    return nn.TransformerEncoder(
        layer, LAYERS, norm=nn.LayerNorm(HIDDEN) if norm else None, enable_nested_tensor=True
    )


def mha_sites(model: nn.Module) -> dict[str, str]:
    """Every ``nn.MultiheadAttention`` of a model: decoders' ``multihead_attn`` read the memory."""
    return {
        name: ("cross" if name.endswith("multihead_attn") else "self")
        for name, m in model.named_modules()
        if isinstance(m, nn.MultiheadAttention)
    }


def _transformer_encoder(
    batch_first: bool, padding: bool, norm: bool, causal: bool = False, norm_first: bool = False
):
    def build():
        torch.manual_seed(0)
        model = _encoder_layers(batch_first, norm, norm_first=norm_first).eval()
        x = randn(2, 8, HIDDEN)
        pad = None
        kw: dict = {}
        if padding:
            pad = torch.zeros(2, 8, dtype=torch.bool)
            pad[1, 5:] = True
            kw["src_key_padding_mask"] = pad
        if causal:
            kw["mask"] = nn.Transformer.generate_square_subsequent_mask(8)
            kw["is_causal"] = True
        if not batch_first:
            x = x.transpose(0, 1)
        padded = None
        # where the encoder nests its input (batch_first, not norm_first, ...), padded positions come
        # out 0 (norm(0) after a final norm): [batch, seq] -> the output's layout, over features
        if padding and model.use_nested_tensor:
            padded = (pad if batch_first else pad.t())[..., None]
        return Case(
            model=model,
            forward=lambda m: m(x, **kw),
            sites=mha_sites(model),
            torch_fast_path=True,
            padded=padded,
            count=LAYERS,
        )

    return build


def _transformer_decoder(batch_first: bool):
    def build():
        torch.manual_seed(0)
        layer = nn.TransformerDecoderLayer(
            HIDDEN, HEADS, dim_feedforward=64, dropout=0.0, batch_first=batch_first
        )
        model = nn.TransformerDecoder(layer, LAYERS).eval()
        tgt, mem = randn(2, 6, HIDDEN), randn(2, 6, HIDDEN, seed=5)  # memory as long as the target
        if not batch_first:
            tgt, mem = tgt.transpose(0, 1), mem.transpose(0, 1)
        mpm = torch.zeros(2, 6, dtype=torch.bool)
        mpm[0, 4:] = True
        kw = dict(
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(6),
            tgt_is_causal=True,
            memory_key_padding_mask=mpm,
        )
        return Case(
            model=model,
            forward=lambda m: m(tgt, mem, **kw),
            sites=mha_sites(model),
            torch_fast_path=True,
            count=2 * LAYERS,
        )

    return build


def _transformer(batch_first: bool):
    def build():
        torch.manual_seed(0)
        model = nn.Transformer(
            HIDDEN,
            HEADS,
            num_encoder_layers=LAYERS,
            num_decoder_layers=LAYERS,
            dim_feedforward=64,
            dropout=0.0,
            batch_first=batch_first,
        ).eval()
        src, tgt = randn(2, 7, HIDDEN), randn(2, 7, HIDDEN, seed=5)
        if not batch_first:
            src, tgt = src.transpose(0, 1), tgt.transpose(0, 1)
        spm = torch.zeros(2, 7, dtype=torch.bool)
        spm[1, 5:] = True
        kw = dict(
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(7),
            src_key_padding_mask=spm,
            memory_key_padding_mask=spm,
        )
        return Case(
            model=model,
            forward=lambda m: m(src, tgt, **kw),
            sites=mha_sites(model),
            torch_fast_path=True,
            count=3 * LAYERS,
        )

    return build


# --------------------------------------------------------------------------- bare sdpa
class SdpaBlock(nn.Module):
    """Attention written with ``F.scaled_dot_product_attention``, mask and flags given per call.

    ``kv_heads < HEADS``: grouped-query attention through ``enable_gqa=True``.
    ``five_d``: query, key and value as ``[batch, group, head, token, dim]``.
    ``logit_scale``: queries multiplied up, for logits in the thousands.
    """

    def __init__(self, kv_heads: int = HEADS, five_d: bool = False, logit_scale: float = 1.0):
        super().__init__()
        self.kv_heads, self.five_d, self.logit_scale = kv_heads, five_d, logit_scale
        self.qkv = nn.Linear(HIDDEN, HIDDEN + 2 * kv_heads * (HIDDEN // HEADS))
        self.out = nn.Linear(HIDDEN, HIDDEN)

    def operands(self, x):
        """The call's query, key and value (views of one projection where nothing else is asked)."""
        b, n, _ = x.shape
        d = HIDDEN // HEADS
        qkv = self.qkv(x)
        q = qkv[..., :HIDDEN].view(b, n, HEADS, d).transpose(1, 2)
        k, v = qkv[..., HIDDEN:].view(b, n, 2, self.kv_heads, d).permute(2, 0, 3, 1, 4)
        if self.logit_scale != 1.0:
            q = q * self.logit_scale
        if self.five_d:
            q, k, v = (t.reshape(b, 2, t.shape[1] // 2, n, d) for t in (q, k, v))
        return q, k, v

    def merge(self, o, b, n):
        return self.out(o.reshape(b, HEADS, n, HIDDEN // HEADS).transpose(1, 2).reshape(b, n, HIDDEN))

    def forward(self, x, attn_mask=None, is_causal=False):
        q, k, v = self.operands(x)
        o = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal, enable_gqa=self.kv_heads != HEADS
        )
        return self.merge(o, *x.shape[:2])


class SdpaStack(nn.Module):
    """Two :class:`SdpaBlock` layers with residuals: sites ``layers.0`` and ``layers.1``."""

    def __init__(self, **block):
        super().__init__()
        self.layers = nn.ModuleList([SdpaBlock(**block) for _ in range(LAYERS)])

    def forward(self, x, attn_mask=None, is_causal=False):
        for layer in self.layers:
            x = x + layer(x, attn_mask=attn_mask, is_causal=is_causal)
        return x


def sdpa_reference(model: SdpaStack, x: torch.Tensor, mask, is_causal: bool):
    """Weights written out with a softmax in the call's dtype, as the kernel defines them.

    Rows whose keys are all masked: 1/n per key under a finite mask that
    swamps the scores (the kernel's max-subtracted softmax of equal numbers),
    0 under ``-inf`` (the kernel's output row is 0). 5-D calls: leading axes
    flattened into samples, as the engine stores them.
    """

    def reference():
        found = {}
        h = x  # float32 or float64: in the call's own dtype, as the kernel computes
        with torch.no_grad():
            for i, layer in enumerate(model.layers):
                b, n, _ = h.shape
                q, k, v = layer.operands(h)
                if k.shape[-3] != q.shape[-3]:  # grouped-query: head i reads kv head i // groups
                    k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
                    v = v.repeat_interleave(q.shape[-3] // v.shape[-3], dim=-3)
                scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
                if mask is not None:
                    if mask.dtype == torch.bool:
                        scores = scores.masked_fill(~mask, float("-inf"))
                    else:
                        scores = scores + mask.to(scores.dtype)
                if is_causal:
                    scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
                w = torch.softmax(scores, -1).nan_to_num(0.0)
                found[f"layers.{i}"] = w.reshape(-1, *w.shape[-3:])
                h = h + layer.merge(w @ v, b, n)
        return found

    return reference


def _sdpa(
    mask_kind: str | None = None,
    causal: bool = False,
    dtype=torch.float32,
    autocast: torch.dtype | None = None,
    **block,
):
    def build():
        torch.manual_seed(0)
        model = SdpaStack(**block).eval()
        n = 8
        x = randn(2, n, HIDDEN)
        mask = None
        if mask_kind == "bool":  # True = attend; sample 1 has its last 3 keys masked
            mask = torch.ones(2, 1, n, n, dtype=torch.bool)
            mask[1, :, :, 5:] = False
        elif mask_kind == "bool-empty-rows":  # every key of some query rows masked
            mask = torch.ones(2, 1, n, n, dtype=torch.bool)
            mask[1, :, 6:, :] = False
        elif mask_kind == "float":
            mask = randn(2, HEADS, n, n, seed=8) * 3
        elif mask_kind in ("-1e9", "finfo.min"):  # HF-style additive padding, left-padded sample 1
            fill = -1e9 if mask_kind == "-1e9" else torch.finfo(dtype).min
            mask = torch.zeros(2, 1, n, n)
            mask[1, :, :, :3] = fill
            mask[1, :, :3, :] = fill  # pad queries: every key masked
        elif mask_kind == "left":  # boolean left padding under a causal mask: pad rows see nothing
            mask = torch.ones(n, n, dtype=torch.bool).tril().repeat(2, 1, 1, 1)
            mask[1, :, :, :3] = False
        elif mask_kind == "right":
            mask = torch.ones(2, 1, n, n, dtype=torch.bool)
            mask[0, :, :, 6:] = False
        elif mask_kind == "5d":  # 4-D, broadcast over [batch, group, head, query, key]: per group
            mask = torch.ones(2, 1, n, n, dtype=torch.bool)
            mask[1, :, :, 6:] = False
        if mask is not None and mask.is_floating_point():
            mask = mask.to(dtype)
        model = model.to(dtype)
        x = x.to(dtype)

        def context():
            if autocast is None:
                return contextlib.nullcontext()
            return torch.autocast("cpu", dtype=autocast)

        # no reference below float32: the kernel's rounding there is its own (checked by reproducing)
        low = dtype in (torch.float16, torch.bfloat16) or autocast is not None
        return Case(
            model=model,
            forward=lambda m: m(x, attn_mask=mask, is_causal=causal),
            sites={f"layers.{i}": "self" for i in range(LAYERS)},
            reference=None if low else sdpa_reference(model, x, mask, causal),
            context=context,
            count=LAYERS,
        )

    return build


# --------------------------------------------------------------------------- compile, train
def _compiled():
    torch.manual_seed(0)
    model = SdpaStack().eval()
    try:
        compiled = torch.compile(model)
        with torch.no_grad():
            compiled(randn(2, 8, HIDDEN))  # compiles now: a missing C++ compiler shows here
    except Exception as e:  # noqa: BLE001 - only a missing compiler skips, anything else fails
        # inductor raises InvalidCxxCompiler ("No working C++ compiler found ..." or "Compiler: x is
        # not found."), often wrapped by dynamo's BackendCompilerFailed, which quotes it
        text = f"{type(e).__name__}: {e}"
        if (
            "InvalidCxxCompiler" in text
            or "C++ compiler found" in text
            or ("Compiler:" in text and "is not found" in text)
        ):
            pytest.skip(f"torch.compile found no C++ compiler: {text[:300]}")
        raise
    x = randn(2, 8, HIDDEN)
    mask = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    mask[1, :, :, 6:] = False
    return Case(
        model=compiled,
        forward=lambda m: m(x, attn_mask=mask),
        sites={f"layers.{i}": "self" for i in range(LAYERS)},
        reference=sdpa_reference(model, x, mask, False),
        eager_model=model,
        count=LAYERS,
    )


def _bert_train():
    T = _transformers()
    torch.manual_seed(0)
    cfg = bert_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = T.BertModel._from_config(cfg, attn_implementation="sdpa").train()
    mask = padding_mask(2, 8, [8, 5])
    inputs = dict(input_ids=ids(2, 8), attention_mask=mask)
    return Case(
        model=model,
        forward=lambda m: m(**inputs),
        sites={p: "self" for p in modules_of(model, ("BertSelfAttention",))},
        grad=True,
        count=LAYERS,
    )


def _encoder_train():
    torch.manual_seed(0)
    model = _encoder_layers(batch_first=True, norm=True).train()
    x = randn(2, 8, HIDDEN)
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[1, 6:] = True
    return Case(
        model=model,
        forward=lambda m: m(x, src_key_padding_mask=pad),
        sites=mha_sites(model),
        grad=True,
        count=LAYERS,
    )


# --------------------------------------------------------------------------- known engine defects
ZOO: list[Entry] = [
    # transformers: encoders
    Entry("bert-sdpa", _bert("sdpa")),
    Entry("bert-eager", _bert("eager")),
    Entry("bert-eager-output-attentions", _bert("eager", output_attentions=True)),
    Entry("roberta", _roberta),
    Entry("distilbert", _distilbert),
    Entry("albert-shared-layers", _albert),
    Entry("electra", _electra),
    Entry("deberta-v2", _deberta_v2),
    Entry("mpnet", _mpnet),
    Entry("longformer", _longformer),
    Entry("longformer-output-attentions", lambda: _longformer(output_attentions=True)),
    # transformers: decoders
    Entry("gpt2-right-padded", _gpt2(left=False)),
    Entry("gpt2-left-padded", _gpt2(left=True)),
    Entry("gpt-neo", _gpt_neo),
    Entry("gpt-j", _gptj),
    Entry("llama-gqa", _llama_like("Llama")),
    Entry("mistral-gqa", _llama_like("Mistral", sliding_window=4)),
    Entry("qwen2-gqa", _llama_like("Qwen2")),
    # transformers: encoder-decoders, vision, audio
    Entry("bart", _bart),
    Entry("t5", _t5),
    Entry("marian", _marian),
    Entry("mbart", _mbart),
    Entry("vit", _vit),
    Entry("whisper", _whisper),
    Entry("wav2vec2", _wav2vec2),
    Entry("speecht5", _speecht5),
    # diffusers
    Entry("diffusers-unet", _unet),
    Entry("diffusers-dit", _dit),
    # x-transformers
    Entry("xt-encoder", _xt("encoder")),
    Entry("xt-encoder-flash", _xt("encoder", flash=True)),
    Entry("xt-decoder", _xt("decoder")),
    Entry("xt-cross-decoder", _xt("cross")),
    # torch modules
    Entry("mha-batch-first", _mha(True, need_weights=False)),
    Entry("mha-seq-first", _mha(False, need_weights=False)),
    Entry("mha-need-weights", _mha(True, need_weights=True)),
    Entry("mha-need-weights-averaged", _mha(True, need_weights=True, average=True)),
    Entry("mha-key-padding", _mha(True, need_weights=False, padding=True)),
    Entry("mha-bool-mask", _mha(False, need_weights=True, attn_mask="bool")),
    Entry("mha-float-mask", _mha(True, need_weights=False, attn_mask="float", padding=True)),
    Entry("mha-causal", _mha(True, need_weights=False, causal=True)),
    Entry("mha-cross", _mha(True, need_weights=False, cross=True, padding=True)),
    Entry("mha-cross-kdim", _mha(True, need_weights=False, cross=True, padding=True, kdim=16)),
    Entry("mha-cross-seq-first", _mha(False, need_weights=True, cross=True)),
    Entry("encoder-batch-first", _transformer_encoder(True, padding=False, norm=False)),
    Entry("encoder-seq-first-norm", _transformer_encoder(False, padding=False, norm=True)),
    Entry("encoder-padded", _transformer_encoder(True, padding=True, norm=False)),
    Entry("encoder-padded-norm", _transformer_encoder(True, padding=True, norm=True)),
    Entry("encoder-padded-norm-first", _transformer_encoder(True, padding=True, norm=True, norm_first=True)),
    Entry("encoder-padded-seq-first", _transformer_encoder(False, padding=True, norm=False)),
    Entry("encoder-causal", _transformer_encoder(True, padding=False, norm=False, causal=True)),
    Entry("decoder-batch-first", _transformer_decoder(True)),
    Entry("decoder-seq-first", _transformer_decoder(False)),
    Entry("transformer-batch-first", _transformer(True)),
    Entry("transformer-seq-first", _transformer(False)),
    # bare sdpa: masks, dtypes, autocast
    Entry("sdpa-no-mask", _sdpa()),
    Entry("sdpa-bool", _sdpa("bool")),
    Entry("sdpa-bool-empty-rows", _sdpa("bool-empty-rows")),
    Entry("sdpa-float-mask", _sdpa("float")),
    Entry("sdpa-minus-1e9-rows", _sdpa("-1e9")),
    Entry("sdpa-finfo-min-rows", _sdpa("finfo.min")),
    Entry("sdpa-causal", _sdpa(causal=True)),
    Entry("sdpa-left-padded-causal", _sdpa("left")),
    Entry("sdpa-right-padded", _sdpa("right")),
    Entry("sdpa-enable-gqa", _sdpa("-1e9", kv_heads=2)),
    Entry("sdpa-5d-broadcast-mask", _sdpa("5d", five_d=True)),
    Entry("sdpa-huge-logits", _sdpa("right", logit_scale=300.0)),
    Entry("sdpa-autocast-bf16", _sdpa("bool", autocast=torch.bfloat16)),
    Entry("sdpa-autocast-bf16-causal", _sdpa(causal=True, autocast=torch.bfloat16)),
    Entry("sdpa-autocast-bf16-finfo-min", _sdpa("finfo.min", autocast=torch.bfloat16)),
    Entry("sdpa-float16", _sdpa("bool", dtype=torch.float16)),
    Entry("sdpa-bfloat16", _sdpa("finfo.min", dtype=torch.bfloat16)),
    Entry("sdpa-bfloat16-causal", _sdpa(causal=True, dtype=torch.bfloat16)),
    Entry("sdpa-float64", _sdpa("-1e9", dtype=torch.float64)),
    # torch.compile, train() with gradients
    Entry("compiled-encoder", _compiled),
    Entry("bert-train-grad", _bert_train),
    Entry("torch-encoder-train-grad", _encoder_train),
]
