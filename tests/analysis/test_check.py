"""aw.check: nothing flagged on trained lesson models, the warning signs on their untrained copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lessons import diffusion, translation, vision
from lessons._cache import trained

import attnwidget as aw
from attnwidget.analysis import SIGNS, THRESHOLDS, Finding
from attnwidget.store import Capture


@pytest.fixture(scope="module")
def digits():
    _, _, images, _ = vision.load_digits()
    return torch.from_numpy(images[:100])


def vision_capture(model, images):
    with aw.capture(model) as cap:
        model(images)
    return cap


def test_nothing_is_flagged_on_the_trained_vit(digits):
    model, _ = trained(vision, steps=800)
    found = aw.check(vision_capture(model, digits))
    assert found == []
    # with a margin: each sign is well inside its threshold on every site
    sites = aw.heads(vision_capture(model, digits))
    least_broad = {}
    for row in sites:
        least_broad[row["site"]] = min(least_broad.get(row["site"], 1.0), row["broad"])
    assert max(least_broad.values()) < THRESHOLDS["uniform"] - 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_untrained_vit_is_flagged_uniform_with_heads_that_are_copies(digits, seed):
    torch.manual_seed(seed)
    found = aw.check(vision_capture(vision.ViT().eval(), digits))
    assert found.signs == ["uniform", "copies"]
    uniform = {f.site for f in found if f.sign == "uniform"}
    assert uniform == {f"layers.{i}.self_attn" for i in range(3)}
    for f in found:
        assert isinstance(f, Finding) and f.step == 0 and f.head is None
        assert f.value > f.threshold == THRESHOLDS[f.sign]
        assert f.site in f.message and f.sign in f.message and f"{f.threshold:g}" in f.message
    # a threshold can be moved; above every measured value nothing is flagged
    assert (
        aw.check(vision_capture(vision.ViT().eval(), digits), thresholds={"uniform": 1.0, "copies": 1.0})
        == []
    )


def test_diffuse_cross_attention_on_the_untrained_translator_only():
    source = translation.make_dataset(1, seed=7)[0][0]
    model, _ = trained(translation, steps=600)
    cross = ["decoder.layers.0.cross_attn", "decoder.layers.1.cross_attn"]
    with aw.capture(model) as cap:
        translation.translate(model, source)
    assert [f for f in aw.check(cap, sites=cross) if f.sign == "diffuse"] == []
    torch.manual_seed(0)
    untrained = translation.Translator().eval()
    with aw.capture(untrained) as cap:
        translation.translate(untrained, source)
    diffuse = [f for f in aw.check(cap, sites=cross) if f.sign == "diffuse"]
    # every decoding step of both cross-attention sites
    assert {f.site for f in diffuse} == set(cross)
    assert len(diffuse) == 2 * cap.steps
    assert all(f.value < THRESHOLDS["diffuse"] for f in diffuse)


PARTS = {
    f"part {p}": {"query": range(p * diffusion.POINTS, (p + 1) * diffusion.POINTS), "key": [p]}
    for p in range(diffusion.PARTS)
}


def test_parts_separate_in_the_trained_denoiser_and_not_in_the_untrained_one():
    cond = diffusion.make_conditions(8, seed=5)
    model, _ = trained(diffusion, steps=800)
    with aw.capture(model) as cap:
        diffusion.sample(model, cond, steps=6)
    assert [f for f in aw.check(cap, groups=PARTS) if f.sign in ("separation", "unstable")] == []
    torch.manual_seed(0)
    untrained = diffusion.Denoiser().eval()
    with aw.capture(untrained) as cap:
        diffusion.sample(untrained, cond, steps=6)
    found = [f for f in aw.check(cap, groups=PARTS) if f.sign == "separation"]
    assert [(f.site, f.step) for f in found] == [
        (f"layers.{i}.cross_attn", s) for i in range(2) for s in range(6)
    ]
    assert all(abs(f.value) < 0.05 for f in found)  # no better than uniform
    assert "least separated group" in found[0].message


def synthetic(*steps, kind="self"):
    cap = Capture()
    for s, maps in enumerate(steps):
        cap.add("site", s, np.stack(maps)[None].astype(np.float32), kind=kind)
    return cap


def test_collapse_is_one_position_for_every_query_not_a_sharp_head():
    n = 8
    onto = np.zeros((n, n))
    onto[:, 3] = 1
    shift = np.roll(np.eye(n), 1, axis=1)  # sharp, but each query looks elsewhere
    found = aw.check(synthetic([onto, shift]))
    assert [(f.sign, f.head) for f in found if f.sign == "collapse"] == [("collapse", 0)]
    assert found[0].value == pytest.approx(1.0)


def test_abrupt_change_between_steps_is_flagged_where_shapes_match():
    n = 8
    a, b = np.eye(n), np.roll(np.eye(n), 1, axis=1)
    smooth = synthetic([a, b], [a, b])
    assert [f for f in aw.check(smooth) if f.sign == "unstable"] == []
    jump = synthetic([a, b], [b, a], [b, a])
    unstable = [f for f in aw.check(jump) if f.sign == "unstable"]
    assert [(f.step, f.value) for f in unstable] == [(1, 1.0)]
    # steps of another shape (decoding without a cache) are not compared
    cap = Capture()
    cap.add("site", 0, np.eye(4)[None, None].astype(np.float32), kind="self")
    cap.add("site", 1, np.roll(np.eye(5), 1, 1)[None, None].astype(np.float32), kind="self")
    assert [f for f in aw.check(cap) if f.sign == "unstable"] == []


def test_groups_of_a_self_attention_site():
    n = 8
    blocks = np.zeros((n, n))
    blocks[:4, :4] = 0.25
    blocks[4:, 4:] = 0.25
    groups = {"left": range(4), "right": [4, 5, 6, 7]}
    assert [f for f in aw.check(synthetic([blocks, blocks.T]), groups=groups) if f.sign == "separation"] == []
    mixed = np.full((n, n), 1 / n)
    (sep,) = [f for f in aw.check(synthetic([mixed, mixed]), groups=groups) if f.sign == "separation"]
    assert sep.value == pytest.approx(0.0, abs=1e-6)


def test_check_errors_say_what_to_do():
    cap = synthetic([np.eye(4), np.eye(4)])
    with pytest.raises(ValueError, match="unknown threshold"):
        aw.check(cap, thresholds={"uniformity": 0.5})
    with pytest.raises(ValueError, match="fit no site"):
        aw.check(cap, groups={"a": range(10)})
    with pytest.raises(ValueError, match="'query' and 'key'"):
        aw.check(cap, groups={"a": {"query": [0]}})
    assert set(SIGNS) == set(THRESHOLDS)
