"""Every lesson model through ``--factory notebooks.lessons.factories:NAME``, and a factory of one's own.

The lesson models are the trained ones the notebooks use (``trained(...)``,
cached). Each run writes its guide's file names: seed 004 for the translator,
seed 001 for the ViT, seed 000's nine files for the audio model over a data
set, seed 003's for the EEG recipe; captures saved with ``--capture`` hold
what the run saw (labels, predictions, steps, sample names).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from conftest import run, write_wav
from PIL import Image

import attnwidget as aw

F = "notebooks.lessons.factories"
SEED000 = {
    "layer_weight_heatmap_spoof.png",
    "layer_weight_heatmap_bonafide.png",
    "layer_weight_comparison.png",
    "temporal_attention_heatmap_spoof.png",
    "temporal_attention_heatmap_bonafide.png",
    "intra_group_attention_spoof.png",
    "intra_group_attention_bonafide.png",
    "inter_group_attention_spoof.png",
    "inter_group_attention_bonafide.png",
}


def files(folder) -> set[str]:
    return set(os.listdir(folder))


def test_translation_translates_and_writes_seed_004_files(tmp_path, capsys):
    rc, out, err = run(["run", "--factory", f"{F}:translation", "--input", "march twenty first nineteen ninety two",
                        "--layer", "0", "--out", tmp_path, "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert "-> '1 9 9 2 - 0 3 - 2 1 </s>'" in out
    assert files(tmp_path) == {
        "cross_attention_layer0.png",
        "cross_attention_multihead_layer0.png",
        "self_attention_layer0.png",
        "encoder_self_attention_layer0.png",
    }


def test_vision_image_equals_a_capture_of_the_lesson_model(tmp_path, capsys):
    from sklearn.datasets import load_digits

    from notebooks.lessons import factories

    digit = (load_digits().images[-1] / 16 * 255).astype(np.uint8)
    path = tmp_path / "digit.png"
    Image.fromarray(digit).resize((32, 32), Image.NEAREST).save(path)
    rc, _, err = run(["run", "--factory", f"{F}:vision", "--image", path, "--layer", "-1", "--save-raw",
                      "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    site = "layers.2.self_attn"
    assert files(tmp_path / "o") == {
        f"attn_map_layer_2_{site}.png",
        f"heatmap_layer_2_{site}.png",
        "attn_raw_layer_2.npy",
    }
    lesson = factories.vision()
    with aw.capture(lesson.model) as cap:
        lesson.forward(Image.open(path).convert("RGB"))
    np.testing.assert_allclose(np.load(tmp_path / "o" / "attn_raw_layer_2.npy"), cap.get(site), atol=1e-6)


def test_audio_over_a_data_set_writes_seed_000s_nine_files_with_labels_and_predictions(tmp_path, capsys):
    taps = [
        "--layer",
        "layer_weights",
        "--layer",
        "temporal",
        "--layer",
        "intra_group",
        "--layer",
        "inter_group",
    ]
    rc, _, err = run(["run", "--factory", f"{F}:audio", "--dataset", f"{F}:audio_clips", "--num-samples", 16, *taps,
                      "--capture", tmp_path / "run.npz", "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert files(tmp_path / "o") == SEED000
    cap = aw.load(tmp_path / "run.npz")
    assert cap.labels.tolist() == [0, 1] * 8  # the lesson alternates spoof and bonafide
    assert cap.predictions is not None and len(cap.predictions) == 16
    assert (cap.predictions == cap.labels).mean() > 0.8  # the trained model
    assert cap.metadata["class_names"] == {"0": "spoof", "1": "bonafide"}
    assert cap.metadata["run"]["dataset"] == f"{F}:audio_clips"


def test_audio_statistics_and_a_wav_clip(tmp_path, capsys):
    rc, _, err = run(["run", "--factory", f"{F}:audio", "--dataset", f"{F}:audio_clips", "--keep", "stats",
                      "--num-samples", 8, "--layer", "inter_group", "--capture", tmp_path / "stats.npz",
                      "--out", tmp_path / "s", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert {"inter_group_attention_spoof.png", "inter_group_attention_bonafide.png"} <= files(tmp_path / "s")
    stats = aw.load(tmp_path / "stats.npz")
    assert stats.num_samples == 0 and stats.has_stats()
    from notebooks.lessons import audio as lesson

    wave, _ = lesson.make_clip(np.random.default_rng(3), spoof=True)
    wav = write_wav(tmp_path / "clip.wav", np.clip(wave, -1, 1), lesson.SAMPLE_RATE)
    rc, _, err = run(["run", "--factory", f"{F}:audio", "--audio", wav, "--layer", "layer_weights",
                      "--out", tmp_path / "w", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert "layer_weight_comparison.png" in files(tmp_path / "w")


def test_eeg_recipe_writes_seed_003s_files_per_recording(tmp_path, capsys):
    rc, _, err = run(["run", "--factory", f"{F}:eeg", "--num-samples", 1, "--capture", tmp_path / "eeg.npz",
                      "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    expected = {"attention_dashboard_sample_0.png", "epoch_attention_sample_0.png"}
    for e in (0, 10, 19):
        expected.add(f"channel_attention_sample_0_epoch_{e}.png")
        expected |= {f"temporal_attention_sample_0_epoch_{e}_ch_{c}.png" for c in range(3)}
    assert files(tmp_path / "o") == expected
    cap = aw.load(tmp_path / "eeg.npz")
    assert cap.sample_name("temporal.self_attn", 5 * 3 + 1) == "sequence 0 · epoch 5 · EEG2"
    assert cap.tokens["channel"] == {"query": ["epoch"], "key": ["EEG1", "EEG2", "EEG3"]}


def test_diffusion_records_its_twenty_steps(tmp_path, capsys):
    rc, _, err = run(["run", "--factory", f"{F}:diffusion", "--layer", "1", "--capture", tmp_path / "d.npz",
                      "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    site = "layers.0.cross_attn"
    assert {
        f"heatmap_layer_1_{site}.png",
        f"multihead_layer_1_{site}.png",
        f"steps_layer_1_{site}.gif",
    } <= files(tmp_path / "o")
    cap = aw.load(tmp_path / "d.npz")
    assert cap.steps == 20 and cap.tokens[site]["key"] == ["cond 0", "cond 1", "cond 2", "cond 3"]


def test_language_gpt2_generates_six_tokens_with_the_cache(tmp_path, capsys):
    rc, _, err = run(["run", "--factory", f"{F}:language_gpt2", "--input", "the cat sat", "--layer", "0",
                      "--capture", tmp_path / "g.npz", "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert files(tmp_path / "o") == {"self_attention_layer0.png", "self_attention_multihead_layer0.png"}
    cap = aw.load(tmp_path / "g.npz")
    assert cap.steps == 6
    assert [cap.get(0, s).shape[-2:] for s in (0, 1)] == [
        (5, 5),
        (1, 6),
    ]  # [CLS] the cat sat [SEP], then one row


def test_a_factory_file_with_a_checkpoint_and_a_data_set(tmp_path, capsys):
    (tmp_path / "mymodels.py").write_text(
        "import torch\n"
        "from torch import nn\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    return nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2)\n"
        "def batches():\n"
        "    g = torch.Generator().manual_seed(1)\n"
        "    return [(torch.randn(3, 5, 16, generator=g), torch.tensor([0, 1, 0])) for _ in range(2)]\n"
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location("mymodels_here", tmp_path / "mymodels.py")
    mine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mine)
    model = mine.build().eval()
    torch.manual_seed(5)
    state = {
        k: v + 0.3 * torch.randn_like(v) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    torch.save({"model_state_dict": state, "epoch": 3}, tmp_path / "best.pth")
    rc, _, err = run(["run", "--factory", f"{tmp_path / 'mymodels.py'}:build", "--checkpoint", tmp_path / "best.pth",
                      "--dataset", f"{tmp_path / 'mymodels.py'}:batches", "--num-samples", 5, "--save-raw",
                      "--layer", "0", "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    model.load_state_dict(state)
    data = mine.batches()
    with torch.no_grad(), aw.capture(model) as cap:
        model(torch.cat([x for x, _ in data])[:5])
    raw = [n for n in files(tmp_path / "o") if n.startswith("attn_raw_layer_0")]
    assert raw == ["attn_raw_layer_0.npy"]
    np.testing.assert_allclose(np.load(tmp_path / "o" / raw[0]), cap.get(0), atol=1e-5)
