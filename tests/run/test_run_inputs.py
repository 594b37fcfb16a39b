"""The pieces of a run that need no model: WAV files, text files, Auto classes, stacks of layers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_wav

import attnwidget as aw
from attnwidget.cli import CommandError
from attnwidget.run.inputs import read_inputs, read_wav
from attnwidget.run.models import auto_class
from attnwidget.run.stacks import chosen_layers, stacks


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_files_of_every_pcm_width_read_back_as_mono(tmp_path, width, channels):
    t = np.arange(400) / 8000
    clip = 0.6 * np.sin(2 * np.pi * 300 * t)
    stereo = np.stack([clip, -0.5 * clip], axis=1) if channels == 2 else clip
    sound = read_wav(write_wav(tmp_path / "x.wav", stereo, 8000, width=width))
    expected = clip if channels == 1 else 0.25 * clip  # the mean of the two channels
    assert sound.rate == 8000 and sound.samples.dtype == np.float32 and sound.samples.shape == (400,)
    assert np.abs(sound.samples - expected).max() < 2.0 / 2 ** (8 * width - 1) + 1e-6


def test_text_inputs_and_their_folder_names(tmp_path):
    (tmp_path / "examples.txt").write_text("안녕하세요\n\n오늘 날씨가 좋습니다\n", encoding="utf-8")
    found = read_inputs(["first"], str(tmp_path / "examples.txt"))
    assert [(i.kind, i.value, i.name) for i in found] == [
        ("text", "first", "input_0"),
        ("text", "안녕하세요", "input_1"),
        ("text", "오늘 날씨가 좋습니다", "input_2"),
    ]
    with pytest.raises(CommandError, match="--input is empty"):
        read_inputs([" "])


def test_images_sharing_a_stem_get_distinct_folders(tmp_path, image_file):
    import shutil

    (tmp_path / "b").mkdir()
    other = shutil.copy(image_file, tmp_path / "b" / "cat.png")
    assert [i.name for i in read_inputs(images=[image_file, other])] == ["cat_0", "cat_1"]


@pytest.mark.parametrize(
    "config, auto",
    [
        ({"model_type": "bert", "architectures": ["BertModel"]}, "AutoModel"),
        ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}, "AutoModelForCausalLM"),
        ({"model_type": "bart", "architectures": ["BartForConditionalGeneration"]}, "AutoModelForSeq2SeqLM"),
        ({"model_type": "bart", "is_encoder_decoder": True}, "AutoModelForSeq2SeqLM"),
        ({"model_type": "vit", "architectures": ["ViTForImageClassification"]}, "AutoModelForImageClassification"),
        ({"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForCTC"]}, "AutoModelForCTC"),
        ({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"]}, "AutoModelForSpeechSeq2Seq"),
        ({"model_type": "bert", "architectures": ["BertForSequenceClassification"]},
         "AutoModelForSequenceClassification"),
    ],
)  # fmt: skip
def test_the_auto_class_is_the_one_whose_mapping_names_the_architecture(config, auto):
    assert auto_class(config) == auto


def test_layers_are_counted_within_each_stack():
    cap = aw.Capture()
    w = np.full((1, 1, 2, 2), 0.5, np.float32)
    for name, kind in [
        ("model.encoder.layers.0.self_attn", "self"),
        ("model.encoder.layers.1.self_attn", "self"),
        ("model.encoder.layers.2.self_attn", "self"),
        ("model.decoder.layers.0.self_attn", "self"),
        ("model.decoder.layers.0.encoder_attn", "cross"),
        ("model.decoder.layers.1.self_attn", "self"),
        ("model.decoder.layers.1.encoder_attn", "cross"),
    ]:
        cap.add(name, 0, w, kind=kind)
    found = stacks(cap)
    assert found.cross == ["model.decoder.layers.0.encoder_attn", "model.decoder.layers.1.encoder_attn"]
    assert found.decoder == ["model.decoder.layers.0.self_attn", "model.decoder.layers.1.self_attn"]
    assert found.encoder == [f"model.encoder.layers.{i}.self_attn" for i in range(3)]
    assert chosen_layers(["-1"], 2) == [1] and chosen_layers(["-1"], 3) == [2]
    assert chosen_layers(["2"], 2) == [] and chosen_layers(None, 3) == [0, 1, 2]
