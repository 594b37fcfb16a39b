"""The capture engine: hooks and interceptors that record attention on the model's device.

One file per kind of site: ``sdpa.py`` (fused ``scaled_dot_product_attention``),
``mha.py`` (``nn.MultiheadAttention`` and the Transformer fast path),
``extract.py`` (weights modules compute themselves), ``tap.py`` (``aw.tap``);
``engine.py`` ties them into the ``capture()`` block.
"""

from .engine import CaptureBlock, capture
from .tap import tap

__all__ = ["capture", "tap", "CaptureBlock"]
