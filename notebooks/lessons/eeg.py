"""Lesson 4: sleep staging from generated 3-channel EEG (after seed 003).

Each sample is a night fragment: 20 consecutive epochs of 2 s, 3 channels
(EEG1 frontal, EEG2 central, EEG3 occipital), sampled at 64 Hz. Stages follow a
sticky Markov chain, and each stage has its own spectrum: Wake alpha + beta,
N1 theta, N2 theta + sleep spindles, N3 some delta, N4 strong delta, REM
theta + sawtooth waves + beta, on all channels with scalp-like gains (delta
strongest frontally, alpha occipitally). As in real recordings, some epochs
have a movement artefact: one channel swamped by large, slow drifts and spikes.
Every stage can still be read from the two clean channels.

The model has three attentions, one per level, as in the seed:

    temporal.self_attn    time patches within one channel of one epoch
                          (sample axis = sequence x epoch x channel, flattened)
    channel               a learned "epoch" query over the 3 channels of one
                          epoch (sample = sequence x epoch): which channel the
                          model reads to stage that epoch
    epochs.N.self_attn    the 20 epochs of a sequence (sample = sequence)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._blocks import Attention, EncoderLayer, sinusoids
from ._fit import fit

STAGES = ["W", "N1", "N2", "N3", "N4", "REM"]
CHANNELS = ["EEG1", "EEG2", "EEG3"]
RATE, EPOCH_SECONDS, SEQ_LEN = 64, 2, 20
SAMPLES = RATE * EPOCH_SECONDS  # per epoch and channel
PATCH = 16  # samples per temporal token
# rhythm -> (frequency range in Hz, gain per channel)
RHYTHMS = {
    "delta": ((0.5, 2.5), (1.0, 0.7, 0.5)),
    "theta": ((4, 7), (0.8, 0.8, 0.8)),
    "alpha": ((8, 12), (0.5, 0.7, 1.0)),
    "spindle": ((12, 14), (0.6, 1.0, 0.6)),
    "beta": ((16, 25), (0.6, 0.6, 0.6)),
    "saw": ((2, 3), (0.8, 0.8, 0.8)),
}
ARTEFACT_RATE = 0.3  # fraction of epochs with a movement artefact on one channel
# stage -> amplitude of each rhythm
STAGE_RHYTHMS = {
    "W": {"alpha": 1.5, "beta": 0.6, "theta": 0.2},
    "N1": {"theta": 1.0, "alpha": 0.4},
    "N2": {"theta": 0.8, "spindle": 2.0, "delta": 0.3},
    "N3": {"delta": 1.0, "theta": 0.4},
    "N4": {"delta": 2.0, "theta": 0.2},
    "REM": {"theta": 0.8, "saw": 1.0, "beta": 0.8},
}


# ---------------------------------------------------------------- data


def hypnogram(rng: np.random.Generator, length: int = SEQ_LEN) -> np.ndarray:
    """A sticky random walk over the stages: ``int [length]``."""
    stages = [int(rng.integers(len(STAGES)))]
    for _ in range(length - 1):
        s = stages[-1]
        if rng.random() < 0.2:
            s = int(np.clip(s + rng.choice([-1, 1]), 0, len(STAGES) - 1))
        stages.append(s)
    return np.array(stages)


def make_epoch(rng: np.random.Generator, stage: int, artefact: int = -1) -> np.ndarray:
    """One epoch ``float32 [channel, sample]`` for a stage, with noise.

    ``artefact`` is the channel swamped by a movement artefact, or -1 for none.
    """
    t = np.arange(SAMPLES) / RATE
    x = 0.3 * rng.standard_normal((len(CHANNELS), SAMPLES))
    for rhythm, amp in STAGE_RHYTHMS[STAGES[stage]].items():
        (lo, hi), gains = RHYTHMS[rhythm]
        f = rng.uniform(lo, hi)
        wave = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        if rhythm == "saw":
            wave = 2 * ((f * t + rng.random()) % 1) - 1
        if rhythm == "spindle":  # a burst of about a second
            c = rng.uniform(0.6, 1.4)
            wave = wave * np.exp(-0.5 * ((t - c) / 0.4) ** 2)
        x += amp * rng.uniform(0.7, 1.3) * np.outer(gains, wave)
    if artefact >= 0:
        drift = np.cumsum(rng.standard_normal(SAMPLES))
        spikes = (rng.random(SAMPLES) < 0.03) * rng.normal(0, 8, SAMPLES)
        x[artefact] += 4 * drift / (np.abs(drift).max() + 1e-6) + spikes
    return x.astype(np.float32)


def make_dataset(n: int, seed: int = 0):
    """``n`` sequences: ``(signals float32 [n, epoch, channel, sample], stages int64 [n, epoch],
    artefacts int [n, epoch])``, the last being the channel with a movement artefact or -1."""
    rng = np.random.default_rng(seed)
    stages = np.stack([hypnogram(rng) for _ in range(n)])
    artefacts = np.where(
        rng.random(stages.shape) < ARTEFACT_RATE, rng.integers(0, len(CHANNELS), stages.shape), -1
    )
    signals = np.stack(
        [[make_epoch(rng, s, a) for s, a in zip(seq, art)] for seq, art in zip(stages, artefacts)]
    )
    return torch.from_numpy(signals), torch.from_numpy(stages), artefacts


# ---------------------------------------------------------------- model


class SleepStager(nn.Module):
    """``model(signals [sample, epoch, channel, time]) -> logits [sample, epoch, stage]``."""

    def __init__(self, dim: int = 32, heads: int = 2, epoch_layers: int = 2):
        super().__init__()
        tokens = SAMPLES // PATCH
        self.patch_embed = nn.Linear(PATCH, dim)
        self.register_buffer("time_pos", sinusoids(tokens, dim), persistent=False)
        self.register_buffer("epoch_pos", sinusoids(SEQ_LEN, dim), persistent=False)
        self.channel_embed = nn.Parameter(torch.randn(len(CHANNELS), dim) * 0.1)
        self.temporal = EncoderLayer(dim, heads)
        self.epoch_query = nn.Parameter(torch.randn(1, 1, dim) * 0.1)
        self.channel = Attention(dim, heads)
        self.epochs = nn.ModuleList(EncoderLayer(dim, heads) for _ in range(epoch_layers))
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, len(STAGES))

    def forward(self, signals):
        n, e, c, _ = signals.shape
        # 1. time patches within one channel of one epoch
        x = self.patch_embed(signals.reshape(n * e * c, -1, PATCH)) + self.time_pos
        x = self.temporal(x).mean(dim=1)  # [n*e*c, dim]
        # 2. one query per epoch reads the channels it needs
        x = x.reshape(n * e, c, -1) + self.channel_embed
        x = self.channel(self.epoch_query.expand(n * e, -1, -1), x)[:, 0]  # [n*e, dim]
        # 3. the epochs of a sequence
        x = x.reshape(n, e, -1) + self.epoch_pos
        for layer in self.epochs:
            x = layer(x)
        return self.classifier(self.norm(x))


def train(steps: int = 200, batch_size: int = 8, seed: int = 0, log_every: int = 0):
    """Train a :class:`SleepStager` on 400 generated sequences. Returns ``(model, report)``."""
    torch.manual_seed(seed)
    signals, stages, _ = make_dataset(400, seed)
    model = SleepStager()

    def batch(gen):
        idx = torch.randint(0, len(signals), (batch_size,), generator=gen)
        return signals[idx], stages[idx]

    def loss(m, b):
        return F.cross_entropy(m(b[0]).flatten(0, 1), b[1].flatten())

    report = fit(model, batch, loss, steps=steps, lr=3e-3, seed=seed, log_every=log_every)
    test_x, test_y, _ = make_dataset(20, seed + 1)
    with torch.no_grad():
        report["test_accuracy"] = float((model(test_x).argmax(-1) == test_y).float().mean())
    return model, report


# ---------------------------------------------------------------- labels for the views


def temporal_sample(sequence: int, epoch: int, channel: int) -> int:
    """Row of the temporal site's sample axis for one sequence, epoch and channel."""
    return (sequence * SEQ_LEN + epoch) * len(CHANNELS) + channel


def channel_sample(sequence: int, epoch: int) -> int:
    """Row of the channel site's sample axis for one sequence and epoch."""
    return sequence * SEQ_LEN + epoch


def epoch_tokens(true, predicted) -> list[str]:
    """``"N2→N2"`` per epoch: true stage, then predicted."""
    return [f"{STAGES[int(t)]}→{STAGES[int(p)]}" for t, p in zip(true, predicted)]


def time_tokens() -> list[str]:
    """Start time of each temporal token, e.g. ``"0.25s"``."""
    return [f"{i * PATCH / RATE:.2f}s" for i in range(SAMPLES // PATCH)]


# ---------------------------------------------------------------- the lesson's claim


def artefact_channel_attention(cap, artefacts, layer="channel") -> dict:
    """How much channel attention goes to a channel swamped by a movement artefact.

    ``artefacts`` is the third element of :func:`make_dataset` (``[sequence,
    epoch]``, the corrupted channel or -1). Returns ``{"on_artefact",
    "chance"}``: the mean attention (head mean) on the corrupted channel over
    the epochs that have one, and 1 / 3 for uniform attention. The lesson's
    claim: the model learned to look away, ``on_artefact`` far below chance.
    """
    w = cap.get(layer).mean(axis=1)[:, 0]  # [sequence*epoch, channel]
    flat = np.asarray(artefacts).reshape(-1)[: len(w)]
    rows = np.flatnonzero(flat >= 0)
    return {"on_artefact": float(w[rows, flat[rows]].mean()), "chance": 1 / len(CHANNELS)}


def stage_accuracy(predicted, stages) -> float:
    """Fraction of epochs whose predicted stage is the true one."""
    return float((np.asarray(predicted) == np.asarray(stages)).mean())
