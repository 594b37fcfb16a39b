"""aw.collect and padding: kept samples record it; the statistics say, once, that they do not leave it out.

A Hugging Face encoder run on right-padded batches (its own ``attention_mask``):
collect warns naming the batch and the site and what to do instead; batches
without padding, and batches of one sample each, give no warning. Kept samples
know which of their positions are padding, whether the model's mask padded
them or collect's stacking of batches of different lengths did, also across a
checkpoint and its resumption, so their frames leave padding out as a
capture's do.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

import attnwidget as aw


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        max_position_embeddings=32,
    )  # fmt: skip
    return BertModel(cfg).eval()


def batch(lengths: list[int], width: int | None = None) -> dict:
    width = width or max(lengths)
    g = torch.Generator().manual_seed(sum(lengths))
    ids = torch.randint(5, 100, (len(lengths), width), generator=g)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        ids[i, n:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def run(model, batches, **options):
    return aw.collect(model, batches, forward=lambda m, b: m(**b), progress=False, **options)


def test_padded_batches_are_named_once(bert):
    with pytest.warns(
        UserWarning, match=r"batch 0 holds padding \(site '.*'.*Kept samples record it.*one length"
    ) as seen:
        run(bert, [batch([7, 4, 2]), batch([7, 7, 3])], keep="both")
    assert sum("holds padding" in str(w.message) for w in seen) == 1


@pytest.mark.parametrize("keep", ["samples", "stats"])
def test_no_warning_without_padding(bert, keep):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(bert, [batch([6, 6]), batch([6, 6])], keep=keep)


def test_one_sample_batches_know_their_lengths(bert):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cap = run(bert, [batch([6]), batch([3]), batch([5])], keep="samples")
    site = cap.layers[0]
    np.testing.assert_array_equal(cap.valid(site, sample=1)[1], [0, 1, 2])  # its valid keys
    fr = aw.frame(cap, site, sample=1, head=0)
    assert fr.values.shape == (3, 3)  # the sample's own positions, not collect's stacking zeros
    np.testing.assert_allclose(fr.values.sum(-1), 1, rtol=1e-5)


def expected_valid(lengths_per_batch: list[list[int]]) -> np.ndarray:
    """Each kept sample's real positions, stacked to the longest batch (collect pads the rest)."""
    width = max(max(b) for b in lengths_per_batch)
    flat = [n for b in lengths_per_batch for n in b]
    return np.arange(width)[None, :] < np.array(flat)[:, None]


@pytest.mark.parametrize("keep", ["samples", "both"])
def test_kept_samples_of_padded_batches_know_their_padding(bert, keep):
    lengths = [[7, 4, 2], [5, 5, 3]]
    # kept samples alone: the second batch is narrower (collect pads it to 7); with statistics
    # every sample needs one shape, so both batches are padded to 7 by the tokenizer's mask
    width = None if keep == "samples" else 7
    batches = [batch(lengths[0]), batch(lengths[1], width)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the statistics' warning, tested above
        cap = run(bert, batches, keep=keep)
    want = expected_valid(lengths)
    for site in cap.layers:
        queries, keys = cap.valid_mask(site, 0)
        np.testing.assert_array_equal(keys, want)
        np.testing.assert_array_equal(queries, want)
    # a kept sample's frame is its own positions, rows summing to one, as a capture of it alone
    fr = aw.frame(cap, cap.layers[0], sample=4, head=0)
    assert fr.values.shape == (5, 5)
    np.testing.assert_allclose(fr.values.sum(-1), 1, rtol=1e-5)
    with torch.no_grad(), aw.capture(bert) as alone:  # the same sentence, run by itself
        bert(input_ids=batches[1]["input_ids"][1:2, :5])
    np.testing.assert_allclose(fr.values, aw.frame(alone, alone.layers[0], head=0).values, atol=1e-5)


def test_kept_padding_survives_a_checkpoint_and_its_resumption(bert, tmp_path):
    lengths = [[6, 3], [4, 4], [2, 5]]
    batches = [batch(b) for b in lengths]
    path = tmp_path / "run.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(bert, batches[:2], keep="samples", checkpoint=str(path), every=1)
        cap = run(bert, batches, keep="samples", checkpoint=str(path), every=1)
    assert cap.num_samples == 6
    queries, keys = cap.valid_mask(cap.layers[0], 0)
    np.testing.assert_array_equal(keys, expected_valid(lengths))
    np.testing.assert_array_equal(queries, expected_valid(lengths))
