"""Lesson 5: the denoiser's latent queries cross-attend to their own part's condition."""

import numpy as np
import pytest
import torch
from lessons import diffusion
from lessons._cache import trained

import attnwidget as aw


def test_render_puts_each_part_on_its_ring():
    cond = diffusion.make_conditions(3, seed=0)
    pts = diffusion.render(cond).reshape(3, diffusion.PARTS, diffusion.POINTS, 2)
    dist = (pts - cond[:, :, None, :2]).norm(dim=-1)
    assert torch.allclose(dist, cond[:, :, None, 2].expand_as(dist), atol=1e-5)
    assert diffusion.part_of_query().tolist()[:9] == [0] * 8 + [1]


@pytest.fixture(scope="module")
def sampled():
    model, report = trained(diffusion, steps=800)
    cond = diffusion.make_conditions(16, seed=5)
    with aw.capture(model) as cap:
        points = diffusion.sample(model, cond, steps=20)
    return cap, cond, points


def test_sampling_is_twenty_capture_steps(sampled):
    cap, _, _ = sampled
    assert cap.steps == 20
    cross = [n for n in cap.layers if cap.kinds[n] == "cross"]
    assert cross == ["layers.0.cross_attn", "layers.1.cross_attn"]
    assert cap.get(cross[0], step=19).shape == (16, 4, 32, 4)
    assert len(diffusion.step_statistics(cap, cross[0])["entropy"]) == 20


def test_samples_land_on_the_conditioned_rings(sampled):
    _, cond, points = sampled
    target = diffusion.render(cond)
    noise_level = (torch.randn_like(target)).norm(dim=-1).mean()
    assert (points - target).norm(dim=-1).mean() < 0.2 * noise_level


def test_queries_attend_to_their_own_part(sampled):
    cap, _, _ = sampled
    best = max(diffusion.own_part_mass(cap, name) for name in ("layers.0.cross_attn", "layers.1.cross_attn"))
    assert best > 0.6  # chance: 0.25
    grid = diffusion.part_attention(cap, "layers.0.cross_attn")
    assert grid.shape == (4, 4) and np.allclose(grid.sum(-1), 1, atol=1e-5)


def test_own_part_attention_sharpens_as_noise_goes(sampled):
    cap, _, _ = sampled
    own = diffusion.step_statistics(cap, "layers.0.cross_attn")["own_part"]
    assert own[-1] > own[0] + 0.2
