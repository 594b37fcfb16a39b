"""The models behind the lesson notebooks, one module per family.

Each module holds seeded data generation, a readable model class, ``train``,
an inference helper, token/label helpers and the ``check`` functions that the
notebook's last cell and ``tests/lessons`` assert on a capture:

* ``translation``: dates spelled out -> ISO digits (encoder-decoder, cross-attention)
* ``vision``: a ViT on scikit-learn's digits (CLS attention, rollout)
* ``audio``: anti-spoofing with tapped layer, temporal and group weights
* ``eeg``: sleep staging with temporal, channel and inter-epoch attention
* ``diffusion``: a conditional denoiser's cross-attention over 20 steps
* ``language``: the pretrained MiniLM, and a tiny GPT-2 generating with a KV cache

``factories.py`` makes each lesson's model usable from ``attnwidget run --factory``.

``trained(lesson, **train_args)`` trains once and reuses the weights (cached per
user); ``FIGURES`` is the folder the notebooks write the figures they keep into.
A notebook's first cell is ``from lessons import FIGURES, trained``: the kernel
runs in ``notebooks/``, where this package sits.
"""

from pathlib import Path

from ._cache import trained

FIGURES = Path(__file__).resolve().parent.parent / "figures"

__all__ = ["FIGURES", "trained"]
