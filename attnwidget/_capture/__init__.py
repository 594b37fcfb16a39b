"""The capture engine: hooks and interceptors that record attention on the model's device.

One file per kind of site: ``sdpa.py`` (fused ``scaled_dot_product_attention``),
``mha.py`` (``nn.MultiheadAttention`` and the Transformer fast path),
``extract.py`` (weights modules compute themselves: Hugging Face eager outputs,
softmax-only eager attention, sliding-window bands), ``tap.py`` (``aw.tap``);
``fastpath.py`` keeps the outputs of ``nn.TransformerEncoder``'s nested fast path,
``padding.py`` reads which positions are padding from the masks the model passed,
``verify.py`` checks ``weights @ value`` against each call's output,
``options.py`` holds the reductions applied on the device and ``workspace.py``
the buffers reused between sites; ``engine.py`` ties them into the
``capture()`` block.

This room may import ``reduce``, ``store`` and ``errors``; nothing above the
store (frames, widgets, figures) and nothing of ``_collect``, which builds on it.
"""

from .engine import CaptureBlock, capture
from .tap import tap

__all__ = ["capture", "tap", "CaptureBlock"]
