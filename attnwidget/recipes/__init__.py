"""Figure sets of whole workflows, built from the primitives in :mod:`attnwidget.figures`.

A recipe draws what one kind of study looks at, named for what it shows:

=============================  =================================================
``layer_weight_heatmap``       learned per-layer weights of one class
``layer_weight_comparison``    the classes' layer weights side by side
``temporal_heatmap``           layers x time frames of tapped weights
``intra_group``                groups x layers within a group
``inter_group``                bars of group weights, with their spread
``attention_summary``          cross- and self-attention of a translation
``eeg_dashboard``              epochs, channels and time of a sleep recording
``export_gallery``             every figure for a capture (``attnwidget export``)
=============================  =================================================

This room may import the spine (store, frame, wire, colormaps) and
:mod:`attnwidget.figures`; nothing below it imports a recipe.
"""

from __future__ import annotations

from .eeg import eeg_dashboard
from .gallery import export_gallery
from .summary import attention_summary
from .weights import inter_group, intra_group, layer_weight_comparison, layer_weight_heatmap, temporal_heatmap

__all__ = [
    "attention_summary",
    "eeg_dashboard",
    "export_gallery",
    "inter_group",
    "intra_group",
    "layer_weight_comparison",
    "layer_weight_heatmap",
    "temporal_heatmap",
]
