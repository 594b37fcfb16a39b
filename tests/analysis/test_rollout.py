"""aw.rollout: closed forms on synthetic attention, a real BERT with padding by hand, the ViT lesson's helper, views, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lessons import vision
from lessons._cache import trained

import attnwidget as aw
from attnwidget.analysis import rollout, stack_sites
from attnwidget.errors import NotFoundError, SelectionError, UnknownSiteError
from attnwidget.reduce import rollout as rollout_of_matrices
from attnwidget.store import Capture


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def random_attention(rng, layers=3, samples=4, heads=2, n=6) -> dict[str, np.ndarray]:
    return {
        f"layers.{i}": softmax_rows(rng.normal(0, 2, (samples, heads, n, n))).astype(np.float32)
        for i in range(layers)
    }


def test_identity_layers_give_the_identity_with_and_without_the_residual():
    eye = np.broadcast_to(np.eye(5, dtype=np.float32), (2, 3, 5, 5)).copy()
    cap = Capture.from_attentions({"layers.0": eye, "layers.1": eye, "layers.2": eye})
    for residual in (True, False):
        r = rollout(cap, residual=residual)
        assert r.sites == ["rollout@layers.0", "rollout@layers.1", "rollout@layers.2"]
        for site in r.sites:
            assert r.get(site).shape == (2, 1, 5, 5) and r.kinds[site] == "self"
            assert np.array_equal(r.get(site), np.broadcast_to(np.eye(5), (2, 1, 5, 5)))


def test_two_known_matrices_give_their_product_and_the_residual_by_hand():
    a1 = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    a2 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]])
    cap = Capture.from_attentions(
        {"first": a1[None, None].astype(np.float32), "second": a2[None, None].astype(np.float32)}
    )
    plain = rollout(cap, residual=False)
    assert np.allclose(plain.get("rollout@first")[0, 0], a1, atol=1e-7)
    # the first layer acts first: position i after layer 2 = sum_j a2[i, j] * (position j after layer 1)
    assert np.allclose(plain.get("rollout@second")[0, 0], a2 @ a1, atol=1e-7)
    # by hand: row 0 of a2 @ a1 is row 1 of a1, row 1 is row 2 of a1
    assert np.allclose(plain.get("rollout@second")[0, 0, :2], [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    with_residual = rollout(cap)
    r1, r2 = 0.5 * a1 + 0.5 * np.eye(3), 0.5 * a2 + 0.5 * np.eye(3)
    assert np.allclose(with_residual.get("rollout@first")[0, 0], r1, atol=1e-7)
    assert np.allclose(with_residual.get("rollout@second")[0, 0], r2 @ r1, atol=1e-7)
    assert np.isclose(with_residual.get("rollout@second")[0, 0, 0, 0], 0.5 * 1.0 + 0.5 * 0.5 * 0.5)
    meta = with_residual.metadata["rollout"]
    assert meta["sites"] == ["first", "second"] and meta["residual"] is True and meta["head"] == "mean"
    # sites= in another order multiplies in that order
    backwards = rollout(cap, sites=["second", "first"], residual=False)
    assert np.allclose(backwards.get("rollout@first")[0, 0], a1 @ a2, atol=1e-7)


def test_rows_sum_to_one_and_heads_are_reduced_as_asked():
    rng = np.random.default_rng(0)
    att = random_attention(rng)
    cap = Capture.from_attentions(att)
    for residual in (True, False):
        for head in ("mean", "max", 1, -1):
            r = rollout(cap, residual=residual, head=head)
            for site in r.sites:
                assert np.allclose(r.get(site).sum(-1), 1.0, atol=1e-5)
    # head=1 is head 1 at every layer, and the mean is the matrices' mean: the reference per sample
    mats = list(att.values())
    for head, reduce in ((1, lambda w: w[:, 1]), ("mean", lambda w: w.mean(1))):
        r = rollout(cap, head=head)
        for s in range(4):
            ref = rollout_of_matrices([reduce(w)[s] for w in mats])
            assert np.allclose(r.get(-1)[s, 0], ref, atol=1e-6)
    # max over heads, renormalised row by row
    mx = [w.max(1).astype(np.float64) for w in mats]
    mx = [m / m.sum(-1, keepdims=True) for m in mx]
    assert np.allclose(
        rollout(cap, head="max", residual=False).get(-1)[:, 0], mx[2] @ mx[1] @ mx[0], atol=1e-6
    )


@pytest.fixture(scope="module")
def bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    model = BertModel._from_config(config, attn_implementation="eager").eval()
    ids = torch.randint(5, 100, (3, 8), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(3, 8, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    with torch.no_grad(), aw.capture(model) as cap:
        out = model(input_ids=ids, attention_mask=mask, output_attentions=True)
    return cap, [a.double().numpy() for a in out.attentions], mask.numpy().astype(bool)


def test_bert_rollout_matches_a_hand_computation_on_each_samples_valid_tokens(bert):
    cap, attentions, mask = bert
    assert cap.valid_mask(0) is not None  # the padding was recorded: rollout must respect it
    for residual in (True, False):
        r = rollout(cap, residual=residual)
        assert r.metadata["rollout"]["sites"] == [f"encoder.layer.{i}.attention.self" for i in range(3)]
        for s in range(3):
            n = int(mask[s].sum())
            flow = np.eye(n)
            for layer, att in enumerate(attentions):
                a = att[s].mean(0)[:n, :n]
                a = a / a.sum(-1, keepdims=True)  # the padded keys' (tiny) weight left out
                if residual:
                    a = 0.5 * a + 0.5 * np.eye(n)
                flow = a @ flow
                got = r.get(layer)[s, 0]
                assert np.allclose(got[:n, :n], flow, atol=1e-6)
                assert not got[n:].any() and not got[:, n:].any()  # padding gets no flow and has none
        q, k = r.valid_mask(0)
        assert np.array_equal(q, mask) and np.array_equal(k, mask)
        # a padded sample's frame shows its valid tokens alone
        assert aw.frame(r, -1, sample=2).values.shape == (3, 3)


def test_the_rollout_capture_is_shown_saved_and_loaded_like_any_capture(bert, tmp_path):
    cap, _, _ = bert
    tokens = [f"t{i}" for i in range(8)]
    cap.tokens = tokens
    cap.labels = np.array([0, 1, 1])
    try:
        r = rollout(cap)
    finally:
        cap.tokens, cap.labels = None, None
    fr = aw.frame(r, 0)
    assert fr.values.shape == (8, 8) and fr.row_labels == tokens and fr.title.startswith("rollout@")
    assert np.array_equal(r.labels, [0, 1, 1])
    explorer = aw.show(r)
    assert explorer is not None
    from attnwidget.figures import heatmap

    fig = heatmap(r, site=-1, sample="mean")
    assert fig.axes
    back = aw.load(r.save(tmp_path / "rollout.npz"))
    assert back.sites == r.sites and np.array_equal(back.get(-1), r.get(-1))
    assert back.metadata["rollout"] == r.metadata["rollout"]


def test_the_vit_lessons_helper_gives_the_same_flow(tmp_path):
    model, _ = trained(vision, steps=800)
    _, _, images, _ = vision.load_digits()
    images = images[:40]
    with torch.no_grad(), aw.capture(model) as cap:
        model(torch.from_numpy(images))
    r = rollout(cap)
    assert r.metadata["rollout"]["sites"] == vision.self_attention_layers(cap)
    cls = r.get(-1)[:, 0, 0, 1:]  # where CLS's final representation comes from, the CLS column dropped
    mine = (cls / cls.sum(-1, keepdims=True)).reshape(-1, *vision.PATCH_GRID)
    assert np.allclose(mine, vision.cls_rollout(cap), atol=1e-5)
    # the overlay lays CLS's flow over the image like any site's row
    explorer = aw.show(r, image=(images[0] * 255).astype(np.uint8), patch_grid=vision.PATCH_GRID)
    assert explorer is not None


def test_an_encoder_decoder_follows_its_encoder_by_default():
    torch.manual_seed(0)
    model = torch.nn.Transformer(
        d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=32, batch_first=True
    ).eval()
    src, tgt = torch.randn(2, 5, 16), torch.randn(2, 5, 16)  # one length: only the stacks tell them apart
    with torch.no_grad(), aw.capture(model) as cap:
        model(src, tgt)
    sites, left_out = stack_sites(cap)
    assert sites == ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn"]
    assert "decoder.layers.0.self_attn" in left_out and "cross" in left_out["decoder.layers.0.multihead_attn"]
    r = rollout(cap)
    assert r.sites == [f"rollout@{s}" for s in sites]
    assert "decoder.layers.1.self_attn" in r.metadata["rollout"]["left_out"]
    # the decoder's own stack, asked for by name
    dec = rollout(cap, sites=["decoder.layers.0.self_attn", "decoder.layers.1.self_attn"])
    assert np.allclose(dec.get(-1).sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match=r"'decoder\.layers\.0\.multihead_attn' is cross-attention"):
        rollout(cap, sites=["encoder.layers.0.self_attn", "decoder.layers.0.multihead_attn"])


def test_errors_name_what_cannot_be_followed():
    rng = np.random.default_rng(0)
    cap = Capture.from_attentions(random_attention(rng, layers=2))
    small = softmax_rows(rng.normal(size=(4, 2, 3, 3))).astype(np.float32)
    cap.add("other", 0, small, kind="self")
    with pytest.raises(ValueError, match=r"other \(4 samples, 3 x 3\)"):
        rollout(cap, sites=["layers.0", "other"])
    # by default the odd-sized site is left out, and the metadata says why
    r = rollout(cap)
    assert r.metadata["rollout"]["sites"] == ["layers.0", "layers.1"]
    assert "3 queries x 3 keys" in r.metadata["rollout"]["left_out"]["other"]
    cap.add("tapped", 0, rng.normal(size=(4, 9)).astype(np.float32), kind="weights", axes=("sample", "cell"))
    with pytest.raises(ValueError, match="'tapped' holds tapped weights"):
        rollout(cap, sites=["layers.0", "tapped"])
    cap.info["layers.1"] = {"block": [2, 2], "query_len": 12, "key_len": 12}
    with pytest.raises(ValueError, match=r"'layers\.1' is pooled 2 x 2.*without max_size="):
        rollout(cap, sites=["layers.0", "layers.1"])
    cap.info["layers.1"] = {"rows": [0], "block": [1, 1]}
    with pytest.raises(ValueError, match=r"'layers\.1' keeps query rows 0 only"):
        rollout(cap, sites=["layers.0", "layers.1"])
    cap.info["layers.1"] = {}
    with pytest.raises(SelectionError, match="head 5 is out of range"):
        rollout(cap, head=5)
    with pytest.raises(ValueError, match="head must be"):
        rollout(cap, head="median")
    with pytest.raises(UnknownSiteError):
        rollout(cap, sites=["nope"])
    with pytest.raises(ValueError, match="more than once"):
        rollout(cap, sites=["layers.0", "layers.0"])
    with pytest.raises(ValueError, match="did not run at step 3"):
        rollout(cap, sites=["layers.0"], step=3)
    only_weights = Capture()
    only_weights.add("w", 0, np.ones((2, 3), np.float32), kind="weights", axes=("sample", "cell"))
    with pytest.raises(NotFoundError, match=r"no self-attention site.*w \(weights\)"):
        rollout(only_weights)
