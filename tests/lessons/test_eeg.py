"""Lesson 4: the sleep stager stages epochs and its channel attention avoids artefacts."""

import numpy as np
import pytest
import torch
from lessons import eeg
from lessons._cache import trained

import attnwidget as aw


def test_data_is_deterministic_with_distinct_stage_spectra():
    x, stages, artefacts = eeg.make_dataset(4, seed=0)
    x2, _, _ = eeg.make_dataset(4, seed=0)
    assert x.shape == (4, eeg.SEQ_LEN, 3, eeg.SAMPLES) and torch.equal(x, x2)
    assert stages.shape == artefacts.shape == (4, eeg.SEQ_LEN)
    # N4 (strong delta) has far more power below 3 Hz on EEG1 than Wake
    rng = np.random.default_rng(0)
    spectrum = lambda stage: np.abs(np.fft.rfft(eeg.make_epoch(rng, stage)[0])) ** 2
    freqs = np.fft.rfftfreq(eeg.SAMPLES, 1 / eeg.RATE)
    low = freqs < 3
    n4, wake = eeg.STAGES.index("N4"), eeg.STAGES.index("W")
    assert spectrum(n4)[low].sum() > 5 * spectrum(wake)[low].sum()


def test_sample_index_helpers_match_the_flattening():
    assert eeg.temporal_sample(1, 2, 0) == (1 * 20 + 2) * 3
    assert eeg.channel_sample(1, 2) == 22
    assert eeg.epoch_tokens([0, 2], [0, 3]) == ["W→W", "N2→N3"]


@pytest.fixture(scope="module")
def captured():
    model, report = trained(eeg, steps=200)
    signals, stages, artefacts = eeg.make_dataset(16, seed=5)
    with aw.capture(model) as cap:
        predicted = model(signals).argmax(-1)
    return report, cap, stages.numpy(), artefacts, predicted.numpy()


def test_three_levels_of_attention_are_captured(captured):
    _, cap, _, _, _ = captured
    assert cap.get("temporal.self_attn").shape == (16 * 20 * 3, 2, 8, 8)
    assert cap.get("channel").shape == (16 * 20, 2, 1, 3)
    assert cap.get("epochs.1.self_attn").shape == (16, 2, 20, 20)


def test_stages_epochs(captured):
    report, _, stages, _, predicted = captured
    assert report["test_accuracy"] >= 0.85
    assert eeg.stage_accuracy(predicted, stages) >= 0.85


def test_channel_attention_looks_away_from_artefacts(captured):
    _, cap, _, artefacts, _ = captured
    result = eeg.artefact_channel_attention(cap, artefacts)
    assert result["on_artefact"] < 0.2  # chance: 1/3
