"""Lesson 3: the anti-spoofing model's tapped layer attention differs between spoof and bonafide."""

import numpy as np
import pytest
import torch
from lessons import audio
from lessons._cache import trained


def test_spoofed_clips_carry_an_artefact_bonafide_do_not():
    waves, labels, artefact = audio.make_dataset(6, seed=0)
    assert waves.shape == (6, 4000) and labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert artefact[labels.numpy() == 0].any(axis=1).all()
    assert not artefact[labels.numpy() == 1].any()
    again, _, _ = audio.make_dataset(6, seed=0)
    assert torch.equal(waves, again)


def test_taps_do_nothing_outside_a_capture():
    model = audio.LayerAttentionModel()
    waves, _, _ = audio.make_dataset(2)
    assert model(waves).shape == (2, 2)


@pytest.fixture(scope="module")
def collected():
    model, report = trained(audio, steps=120)
    return report, audio.collect(model, n=200)


def test_collect_records_the_four_tapped_arrays(collected):
    _, cap = collected
    shapes = {
        name: cap.get(audio.site(cap, name)).shape
        for name in ("layer_weights", "temporal", "intra_group", "inter_group")
    }
    assert shapes == {
        "layer_weights": (200, 9),
        "temporal": (200, 9, audio.FRAMES),
        "intra_group": (200, 3, 3),
        "inter_group": (200, 3),
    }
    assert cap.axes[audio.site(cap, "intra_group")] == ("sample", "group", "member")
    lw = cap.get(audio.site(cap, "layer_weights"))
    assert np.allclose(lw.sum(-1), 1, atol=1e-5)
    # a layer's weight is its group's weight times its weight within the group
    inter, intra = cap.get(audio.site(cap, "inter_group")), cap.get(audio.site(cap, "intra_group"))
    assert np.allclose(lw, (inter[:, :, None] * intra).reshape(200, 9), atol=1e-6)
    assert cap.labels.shape == (200,) and set(cap.labels.tolist()) == {0, 1}


def test_detects_spoofing(collected):
    report, cap = collected
    assert report["test_accuracy"] >= 0.9
    assert (cap.predictions == cap.labels).mean() >= 0.9


def test_spoof_and_bonafide_layer_weights_differ(collected):
    _, cap = collected
    d = audio.layer_weight_difference(cap)
    assert d["distance"] > 0.1
    assert d["separation"] > 2.0


def test_temporal_attention_finds_the_artefact(collected):
    _, cap = collected
    _, _, artefact = audio.make_dataset(200, seed=1)
    a = audio.artefact_attention(cap, artefact)
    assert a["on_artefact"] > 2 * a["artefact_area"]
