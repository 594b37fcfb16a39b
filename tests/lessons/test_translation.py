"""Lesson 1: the date translator translates, and its cross-attention follows the alignment."""

import numpy as np
import pytest
from lessons import translation
from lessons._cache import trained

import attnwidget as aw


def test_example_alignment_points_at_the_right_words():
    source, target, alignment = translation.make_example(1992, 3, 21)
    assert source == ["march", "twenty", "first", "nineteen", "ninety", "two"]
    assert "".join(target) == "1992-03-21"
    # 1,9 <- nineteen; 9 <- ninety; 2 <- two; 0,3 <- march; 2 <- twenty; 1 <- first
    assert alignment == [3, 3, 4, 5, -1, 0, 0, -1, 1, 2]


def test_dataset_is_deterministic_and_in_vocabulary():
    a, b = translation.make_dataset(50, seed=3), translation.make_dataset(50, seed=3)
    assert a == b
    assert a != translation.make_dataset(50, seed=4)
    for source, target, alignment in a:
        assert all(w in translation.SRC_ID for w in source)
        assert len(alignment) == len(target) == 10
        assert all(-1 <= i < len(source) for i in alignment)


@pytest.fixture(scope="module")
def model():
    model, report = trained(translation, steps=600)
    return model


def test_translates_unseen_dates(model):
    test = translation.make_dataset(30, seed=99)
    correct = [translation.translate(model, s) == t + ["</s>"] for s, t, _ in test]
    assert np.mean(correct) >= 0.9


def test_capture_steps_follow_generated_tokens(model):
    source, target, _ = translation.make_example(2007, 12, 31)
    with aw.capture(model) as cap:
        out = translation.translate(model, source)
    assert cap.steps == len(out) == len(target) + 1
    cross = [n for n in cap.layers if cap.kinds[n] == "cross"]
    assert cross == ["decoder.layers.0.cross_attn", "decoder.layers.1.cross_attn"]
    last = cap.get(cross[0], step=-1)
    assert last.shape == (1, 4, len(out), len(source))
    # the decoder's self-attention is causal: nothing above the diagonal
    self_w = cap.get("decoder.layers.1.self_attn", step=-1)[0]
    assert np.allclose(np.triu(self_w, k=1), 0, atol=1e-6)


def test_cross_attention_peaks_on_aligned_source_word(model):
    scores = []
    for source, _target, alignment in translation.make_dataset(10, seed=7):
        with aw.capture(model) as cap:
            translation.translate(model, source)
        scores.append(translation.alignment_accuracy(cap, alignment, "decoder.layers.0.cross_attn"))
    # chance is about 1 in 5 source words
    assert np.mean(scores) >= 0.6
