"""Thumbnails computed without labels (``frame(..., labels=False)``, a head grid's state) are the
same codes as the labelled frames give, on a real capture: a tiny BERT reading two sentences, one
padded (so one sample's frame is cut to its valid positions), in every colour range.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnwidget as aw
from attnwidget import wire
from attnwidget._view_state import grid_range, is_difference, view_panels


@pytest.fixture(scope="module")
def bert_cap():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, initializer_range=0.3,
    )  # fmt: skip
    model = BertModel(config).eval()
    ids = torch.randint(5, 100, (2, 40))
    mask = torch.ones_like(ids)
    mask[1, 29:] = 0  # the second sentence is 29 tokens long
    with aw.capture(model) as cap, torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    return cap


TOKENS = [f"tok{i}" for i in range(40)]


def labelled_codes(grid) -> list[np.ndarray]:
    """What the grid would send from labelled frames (the path every other view takes)."""
    spec, sel = grid._spec(), grid.selection()  # with the colour range
    frames = view_panels(grid.cap, spec, sel)  # labels=True
    assert all(len(f.row_labels) == f.shape[0] for f in frames)
    lo, hi = grid_range(grid.cap, spec, sel, frames) or (None, None)
    return [
        np.frombuffer(
            wire.encode(f.values, "linear", vmin=lo, vmax=hi, symmetric=is_difference(f))[1], np.uint8
        ).reshape(f.shape)
        for f in frames
    ]


@pytest.mark.parametrize("mode", ["layer", "model"])
@pytest.mark.parametrize("sample", [0, 1, "mean"])
@pytest.mark.parametrize("color_range", ["frame", "shared", "fixed"])
def test_grid_codes_are_the_labelled_codes(bert_cap, mode, sample, color_range):
    grid = aw.HeadGrid(bert_cap, mode=mode, sample=sample, color_range=color_range, tokens=TOKENS, thumb=16)
    sent = grid.thumbnails()
    want = labelled_codes(grid)
    assert len(sent) == len(want) == (8 if mode == "model" else 4)
    for got, expected in zip(sent, want):
        np.testing.assert_array_equal(got, expected)
    if sample == 1:  # the padded sentence: cut to its 29 valid positions, pooled to 15 x 15
        assert sent[0].shape == (15, 15)


def test_unlabelled_frame_is_the_labelled_frame_without_labels(bert_cap):
    for kw in ({"sample": 1}, {"sample": 0, "size": 16}, {"sample": "mean", "region": (3, 20, 0, 33)}):
        with_labels = aw.frame(bert_cap, 1, head=2, tokens=TOKENS, **kw)
        without = aw.frame(bert_cap, 1, head=2, tokens=TOKENS, labels=False, **kw)
        assert with_labels.row_labels and with_labels.col_labels
        assert without.row_labels == [] and without.col_labels == []
        np.testing.assert_array_equal(without.values, with_labels.values)
        assert (without.region, without.full_shape, without.block, without.title) == (
            with_labels.region,
            with_labels.full_shape,
            with_labels.block,
            with_labels.title,
        )


def test_grouped_frames_still_group_without_labels(bert_cap):
    groups = {"first": range(0, 10), "rest": range(10, 29)}
    with_labels = aw.frame(bert_cap, 0, head=1, sample=1, groups=groups)
    without = aw.frame(bert_cap, 0, head=1, sample=1, groups=groups, labels=False)
    assert with_labels.row_labels == ["first", "rest"] and without.row_labels == []
    np.testing.assert_array_equal(without.values, with_labels.values)


def test_a_frame_never_shares_the_captures_memory(bert_cap):
    stored = bert_cap.get(0)[0, 3].copy()
    fr = aw.frame(bert_cap, 0, head=3, sample=0)  # one head of one sample, uncut: a view until copied
    fr.values[:] = -1.0
    np.testing.assert_array_equal(bert_cap.get(0)[0, 3], stored)
