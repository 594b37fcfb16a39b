"""Lesson 3: audio anti-spoofing with layer attention (after seed 000).

Bonafide clips are generated voiced "speech": a harmonic tone with a wandering
pitch and syllable-like loudness bumps, plus noise. Spoofed clips come from the
same generator, but a "vocoder" leaves an artefact: short bursts of a
high-pitched buzz at a few random moments.

The model mirrors the seed's: a stack of 9 encoder layers (a stand-in for a
self-supervised speech model), then, for every layer, temporal attention over
the frames; the 9 pooled layers form 3 groups of 3 with intra-group weights
(which member of a group) and inter-group weights (which group). The product
of the two is each layer's weight. All four are tapped with ``aw.tap``:

    layer_weights      ("sample", "layer")
    temporal           ("sample", "layer", "frame")
    intra_group        ("sample", "group", "member")
    inter_group        ("sample", "group")
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import attnwidget as aw

from ._blocks import EncoderLayer, sinusoids
from ._fit import fit

CLASS_NAMES = ["spoof", "bonafide"]  # label 0 = spoof, 1 = bonafide, as in the seed
SAMPLE_RATE = 4000
SECONDS = 1.0
N_FFT, HOP = 64, 160
FRAMES = int(SAMPLE_RATE * SECONDS) // HOP + 1


# ---------------------------------------------------------------- data


def make_clip(rng: np.random.Generator, spoof: bool):
    """One clip: ``(waveform float32 [samples], artefact bool [frames])``."""
    n = int(SAMPLE_RATE * SECONDS)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(100, 250) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 9))
    centres = rng.uniform(0.1, 0.9, size=rng.integers(3, 6))
    envelope = sum(np.exp(-0.5 * ((t - c) / rng.uniform(0.04, 0.1)) ** 2) for c in centres)
    wave = 0.5 * voice * np.clip(envelope, 0, 1) + 0.05 * rng.standard_normal(n)
    artefact = np.zeros(FRAMES, dtype=bool)
    if spoof:
        freq = rng.uniform(1500, 1800)
        for start in rng.uniform(0.05, 0.9, size=rng.integers(2, 4)):
            a, b = int(start * SAMPLE_RATE), int((start + 0.06) * SAMPLE_RATE)
            wave[a:b] += 0.3 * np.sign(np.sin(2 * np.pi * freq * t[a:b]))
            artefact[a // HOP : b // HOP + 1] = True
    return wave.astype(np.float32), artefact


def make_dataset(n: int, seed: int = 0):
    """``n`` clips, half spoofed (alternating). Returns ``(waves [n, samples], labels [n], artefact [n, frames])``."""
    rng = np.random.default_rng(seed)
    waves, labels, artefacts = [], [], []
    for i in range(n):
        spoof = i % 2 == 0
        w, a = make_clip(rng, spoof)
        waves.append(w)
        labels.append(0 if spoof else 1)
        artefacts.append(a)
    return (torch.from_numpy(np.stack(waves)), torch.tensor(labels), np.stack(artefacts))


def loader(n: int = 200, batch_size: int = 50, seed: int = 1):
    """A DataLoader of ``(waveform, label)`` batches for ``aw.collect``."""
    waves, labels, _ = make_dataset(n, seed)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(waves, labels), batch_size=batch_size)


# ---------------------------------------------------------------- model


class LayerAttentionModel(nn.Module):
    """``model(waveform [sample, samples]) -> logits [sample, 2]`` (0 = spoof)."""

    def __init__(self, dim: int = 32, heads: int = 2, layers: int = 9, group_size: int = 3):
        super().__init__()
        assert layers % group_size == 0
        self.group_size = group_size
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.register_buffer("positions", sinusoids(FRAMES, dim), persistent=False)
        self.frontend = nn.Linear(N_FFT // 2 + 1, dim)
        self.encoder = nn.ModuleList(EncoderLayer(dim, heads) for _ in range(layers))
        # one learned query per layer scores that layer's frames
        self.temporal_query = nn.Parameter(torch.randn(layers, dim) / dim**0.5)
        self.intra_score = nn.Linear(dim, 1)
        self.inter_score = nn.Linear(dim, 1)
        self.classifier = nn.Linear(dim, len(CLASS_NAMES))

    def spectrogram(self, wave):
        """Log-magnitude spectrogram ``[sample, frame, frequency]``."""
        spec = torch.stft(wave, N_FFT, HOP, window=self.window, return_complex=True).abs()
        return torch.log1p(spec).transpose(1, 2)

    def forward(self, wave):
        x = self.frontend(self.spectrogram(wave)) + self.positions
        hidden = []
        for layer in self.encoder:
            x = layer(x)
            hidden.append(x)
        h = torch.stack(hidden, dim=1)  # [sample, layer, frame, dim]

        temporal = torch.einsum("sltd,ld->slt", h, self.temporal_query).softmax(-1)
        aw.tap("temporal", temporal, axes=("sample", "layer", "frame"))
        pooled = torch.einsum("slt,sltd->sld", temporal, h)  # [sample, layer, dim]

        groups = pooled.unflatten(1, (-1, self.group_size))  # [sample, group, member, dim]
        intra = self.intra_score(groups).squeeze(-1).softmax(-1)
        aw.tap("intra_group", intra, axes=("sample", "group", "member"))
        group_vec = torch.einsum("sgm,sgmd->sgd", intra, groups)

        inter = self.inter_score(group_vec).squeeze(-1).softmax(-1)
        aw.tap("inter_group", inter, axes=("sample", "group"))
        aw.tap("layer_weights", (inter[:, :, None] * intra).flatten(1), axes=("sample", "layer"))

        return self.classifier(torch.einsum("sg,sgd->sd", inter, group_vec))


def train(steps: int = 120, batch_size: int = 16, seed: int = 0, log_every: int = 0):
    """Train a :class:`LayerAttentionModel` on 400 generated clips. Returns ``(model, report)``."""
    torch.manual_seed(seed)
    waves, labels, _ = make_dataset(400, seed)
    model = LayerAttentionModel()

    def batch(gen):
        idx = torch.randint(0, len(waves), (batch_size,), generator=gen)
        return waves[idx], labels[idx]

    report = fit(
        model,
        batch,
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        steps=steps,
        lr=2e-3,
        seed=seed,
        log_every=log_every,
    )
    test_w, test_y, _ = make_dataset(200, seed + 1)
    with torch.no_grad():
        report["test_accuracy"] = float((model(test_w).argmax(-1) == test_y).float().mean())
    return model, report


def collect(model, n: int = 200, seed: int = 1):
    """``aw.collect`` over ``n`` generated clips with labels and predictions."""
    return aw.collect(
        model,
        loader(n, seed=seed),
        num_samples=n,
        forward=lambda m, batch: m(batch[0]),
        labels=lambda batch: batch[1],
        predict=lambda out: out.argmax(-1),
    )


# ---------------------------------------------------------------- the lesson's claims


def site(cap, name: str) -> str:
    """The full site name ending in ``name`` (e.g. ``"layer_weights"``)."""
    for layer in cap.layers:
        if layer == name or layer.endswith("." + name):
            return layer
    raise KeyError(f"no site ending in {name!r}; sites are {cap.layers}")


def layer_weight_difference(cap) -> dict:
    """Do spoof and bonafide clips weight the layers differently?

    Returns ``{"spoof", "bonafide"}`` (mean layer weights per class, ``[layer]``),
    ``"distance"``: half the L1 distance between the two means (0 = same, 1 =
    disjoint), and ``"separation"``: the largest per-layer gap between the
    class means in units of the pooled standard deviation.
    """
    w = cap.get(site(cap, "layer_weights"))
    labels = np.asarray(cap.labels)
    spoof, bona = w[labels == 0], w[labels == 1]
    gap = np.abs(spoof.mean(0) - bona.mean(0))
    pooled = np.sqrt((spoof.var(0) + bona.var(0)) / 2) + 1e-8
    return {
        "spoof": spoof.mean(0),
        "bonafide": bona.mean(0),
        "distance": float(gap.sum() / 2),
        "separation": float((gap / pooled).max()),
    }


def artefact_attention(cap, artefact: np.ndarray) -> dict:
    """Temporal attention mass (mean over layers) on the artefact frames of spoofed clips.

    Returns ``{"on_artefact", "artefact_area"}``: attention mass on frames with
    an artefact, and the fraction of frames that have one (uniform attention).
    """
    t = cap.get(site(cap, "temporal")).mean(axis=1)  # [sample, frame]
    spoof = np.asarray(cap.labels) == 0
    a = artefact[: len(t)][spoof]
    return {"on_artefact": float((t[spoof] * a).sum(-1).mean()), "artefact_area": float(a.mean())}
