"""Figures, animations, raw arrays and standalone pages from frames.

Every picture here is drawn from frames computed by :func:`attnwidget.frame`,
the function the widgets call, and coloured with the widget's own 256-entry
tables (values quantized by :func:`attnwidget.wire.quantize`, looked up in
:func:`attnwidget.colormaps.lut`, shown with nearest-neighbour
interpolation), so an exported figure and the widget agree pixel for pixel.

Figure functions return a :class:`matplotlib.figure.Figure` (not registered
with pyplot); save one with :func:`save_figure` or ``fig.savefig``.

=========================  ==================================================
``heatmap``                one selection, query x key, with token labels
``head_grid``              every head of a layer (seed 002)
``cls_overlay``            CLS attention over an image (seed 001)
``layer_weight_heatmap``   layer weights of one class (seed 000)
``layer_weight_comparison``  the classes side by side (seed 000)
``temporal_heatmap``       SSL layers x time frames (seed 000)
``intra_group``            groups x layers within a group (seed 000)
``inter_group``            bars of group weights (seed 000)
``attention_summary``      cross- and self-attention with tokens (seed 004)
``eeg_dashboard``          epochs, channels and time (seed 003)
``save_view``              what ``view.save(path)`` calls
``animate``                the step axis as a GIF
``save_arrays``            ``.npy`` per layer and ``.npz`` per capture
``to_html``                one offline page with the view and its controls
``export_gallery``         every figure for a capture (the ``export`` command)
=========================  ==================================================
"""

from __future__ import annotations

from ._draw import save_figure
from .animate import animate
from .arrays import save_arrays
from .eeg import eeg_dashboard
from .gallery import export_gallery
from .grid import frames_grid, head_grid
from .heatmap import bare_figure, frame_figure, heatmap
from .html import to_html
from .overlay import cls_overlay, overlay_figure
from .summary import attention_summary
from .views import save_view, view_figure
from .weights import (inter_group, intra_group, layer_weight_comparison, layer_weight_heatmap,
                      temporal_heatmap)

__all__ = [
    "heatmap", "frame_figure", "bare_figure", "head_grid", "frames_grid", "cls_overlay",
    "overlay_figure", "layer_weight_heatmap", "layer_weight_comparison", "temporal_heatmap",
    "intra_group", "inter_group", "attention_summary", "eeg_dashboard", "save_view",
    "view_figure", "save_figure", "animate", "save_arrays", "to_html", "export_gallery",
]
