"""Lesson 5: cross-attention in a small conditional diffusion model (after seed 002).

An "object" is made of 4 parts; each part is a ring of 8 points whose centre
and radius are given by that part's condition token. The denoiser sees 32
noisy latent points (the queries, 8 per part, each knowing which part it
belongs to) and cross-attends to the 4 condition tokens (the keys). To put a
point in the right place it has to read its own part's condition, so the
part-wise cross-attention (queries grouped by part x condition tokens) should
become block-diagonal as sampling proceeds.

``sample`` runs 20 deterministic (DDIM) inference steps, one model forward per
step, so a capture holds 20 steps.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._blocks import DecoderLayer, sinusoids
from ._fit import fit

PARTS, POINTS = 4, 8  # parts per object, latent points per part
TRAIN_STEPS = 100  # diffusion timesteps used in training
PART_NAMES = [f"part {p}" for p in range(PARTS)]


# ---------------------------------------------------------------- data


def make_conditions(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` objects' conditions ``float32 [n, part, 3]``: centre x, centre y, radius."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(-1, 1, size=(n, PARTS, 2))
    radius = rng.uniform(0.15, 0.5, size=(n, PARTS, 1))
    return torch.from_numpy(np.concatenate([centre, radius], -1).astype(np.float32))


def render(cond: torch.Tensor) -> torch.Tensor:
    """The clean object for each condition: ``[n, part * point, 2]`` (parts in order)."""
    angle = torch.arange(POINTS) * (2 * math.pi / POINTS)
    ring = torch.stack([angle.cos(), angle.sin()], -1)  # [point, 2]
    pts = cond[:, :, None, :2] + cond[:, :, None, 2:] * ring  # [n, part, point, 2]
    return pts.flatten(1, 2)


def part_of_query() -> np.ndarray:
    """The part each latent query belongs to: ``int [part * point]``."""
    return np.repeat(np.arange(PARTS), POINTS)


def tokens() -> dict:
    """Query and key token strings for cross-attention sites."""
    return {
        "query": [f"p{p}.{k}" for p in range(PARTS) for k in range(POINTS)],
        "key": [f"cond {p}" for p in range(PARTS)],
    }


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """Cosine noise schedule: the fraction of signal left at timestep ``t`` (0..TRAIN_STEPS).

    Clamped away from 0 so that the last timestep still holds a trace of signal.
    """
    return (torch.cos((t / TRAIN_STEPS + 0.008) / 1.008 * math.pi / 2) ** 2).clamp(min=1e-3)


# ---------------------------------------------------------------- model


class Denoiser(nn.Module):
    """``model(noisy [n, 32, 2], t [n], cond [n, 4, 3]) -> predicted noise [n, 32, 2]``.

    Sites: ``layers.i.self_attn`` (latent x latent) and ``layers.i.cross_attn``
    (latent queries x condition tokens).
    """

    def __init__(self, dim: int = 64, heads: int = 4, depth: int = 2):
        super().__init__()
        self.point_in = nn.Linear(2, dim)
        self.part_embed = nn.Embedding(PARTS, dim)
        self.point_embed = nn.Embedding(POINTS, dim)
        self.cond_in = nn.Linear(3, dim)
        self.time_mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, causal=False) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 2)
        self.register_buffer("part_ids", torch.from_numpy(part_of_query()), persistent=False)
        self.register_buffer("point_ids", torch.arange(POINTS).repeat(PARTS), persistent=False)
        self.dim = dim

    def forward(self, noisy, t, cond):
        time = self.time_mlp(_timestep_code(t, self.dim))[:, None]
        x = self.point_in(noisy) + self.part_embed(self.part_ids) + self.point_embed(self.point_ids) + time
        c = self.cond_in(cond) + self.part_embed.weight
        for layer in self.layers:
            x = layer(x, c)
        return self.out(self.norm(x))


def _timestep_code(t: torch.Tensor, dim: int) -> torch.Tensor:
    table = sinusoids(TRAIN_STEPS + 1, dim)
    return table[t.long()]


def train(steps: int = 800, batch_size: int = 64, seed: int = 0, log_every: int = 0):
    """Train a :class:`Denoiser` to predict the added noise. Returns ``(model, report)``."""
    torch.manual_seed(seed)
    conds = make_conditions(4000, seed)
    model = Denoiser()

    def batch(gen):
        idx = torch.randint(0, len(conds), (batch_size,), generator=gen)
        t = torch.randint(1, TRAIN_STEPS + 1, (batch_size,), generator=gen)
        noise = torch.randn(batch_size, PARTS * POINTS, 2, generator=gen)
        return conds[idx], t, noise

    def loss(m, b):
        cond, t, noise = b
        a = alpha_bar(t.float())[:, None, None]
        noisy = a.sqrt() * render(cond) + (1 - a).sqrt() * noise
        return F.mse_loss(m(noisy, t, cond), noise)

    report = fit(model, batch, loss, steps=steps, lr=2e-3, seed=seed, log_every=log_every)
    return model, report


@torch.no_grad()
def sample(model: Denoiser, cond: torch.Tensor, steps: int = 20, seed: int = 0) -> torch.Tensor:
    """Deterministic DDIM sampling in ``steps`` model calls (one capture step each).

    ``cond`` is ``[n, part, 3]``; returns the generated points ``[n, 32, 2]``.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(cond), PARTS * POINTS, 2, generator=gen)
    times = torch.linspace(TRAIN_STEPS, 0, steps + 1).round()
    for t, t_next in zip(times[:-1], times[1:]):
        a, a_next = alpha_bar(t), alpha_bar(t_next)
        eps = model(x, t.expand(len(cond)), cond)
        # the clean estimate, kept inside the data's range (x, y within +-1.5)
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-2, 2)
        x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
    return x


# ---------------------------------------------------------------- the lesson's claims


def part_groups() -> dict:
    """The latent queries of each part, as ``groups=`` takes them: ``{"part 0": range(0, 16), ...}``."""
    return {f"part {p}": range(p * POINTS, (p + 1) * POINTS) for p in range(PARTS)}


def part_attention(cap, layer, step=-1) -> np.ndarray:
    """Part-wise cross-attention ``[part, condition]``: heads, samples and the queries of each part
    averaged (``aw.frame`` with the query rows grouped by part, the condition tokens as they are)."""
    import attnwidget as aw

    fr = aw.frame(cap, layer, head="mean", sample="mean", step=step, groups={"query": part_groups()})
    return fr.values


def own_part_mass(cap, layer, step=-1) -> float:
    """Mean attention a part's queries put on their own condition token (chance: 1 / 4)."""
    return float(np.diag(part_attention(cap, layer, step)).mean())


def step_statistics(cap, layer) -> dict:
    """Per inference step: ``entropy`` (mean row entropy, nats), ``max`` (mean row maximum)
    and ``own_part`` (:func:`own_part_mass`), each a list over the steps the site ran."""
    from attnwidget.reduce import entropy

    steps = cap.steps_of(layer)
    return {
        "entropy": [float(entropy(cap.get(layer, s)).mean()) for s in steps],
        "max": [float(cap.get(layer, s).max(-1).mean()) for s in steps],
        "own_part": [own_part_mass(cap, layer, s) for s in steps],
    }
