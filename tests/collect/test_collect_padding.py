"""aw.collect says, once, when a batch holds padding it does not yet leave out.

A Hugging Face encoder run on right-padded batches (its own ``attention_mask``):
collect warns naming the batch and the site and what to do instead; batches
without padding, and batches of one sample each, give no warning, and the
kept samples of the one-sample batches know which positions collect added.
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
    with pytest.warns(UserWarning, match=r"batch 0 holds padding \(site '.*'.*batch_size=1") as seen:
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
