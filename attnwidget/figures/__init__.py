"""Figures, animations, raw arrays and standalone pages from frames.

Every picture here is drawn from frames computed by :func:`attnwidget.frame`,
the function the widgets call, and coloured with the widget's own 256-entry
tables (values quantized by :func:`attnwidget.wire.quantize`, looked up in
:func:`attnwidget.colormaps.lut`, shown with nearest-neighbour
interpolation), so an exported figure and the widget agree pixel for pixel.

The figure sets of whole workflows (layer weights per class, the EEG
dashboard, cross- and self-attention summaries, the ``export`` gallery)
are built from these primitives in :mod:`attnwidget.recipes`.

Figure functions return a :class:`matplotlib.figure.Figure` (not registered
with pyplot); save one with :func:`save_figure` or ``fig.savefig``. A view
is drawn from its description (``view.describe()``) and the frames of
:mod:`attnwidget._view_state`, never from the widget: this room imports the
spine (store, frame, view state, wire, colormaps) and never the widgets.

=========================  ==================================================
``heatmap``                one selection, query x key, with token labels
``head_grid``              every head of a site
``cls_overlay``            one query row's attention over an image
``save_view``              what ``view.save(path)`` calls
``animate``                the step axis as a GIF
``save_arrays``            ``.npy`` per layer and ``.npz`` per capture
``to_html``                one offline page with the view, or the whole explorer, and its controls
=========================  ==================================================
"""

from __future__ import annotations

from ._draw import save_figure
from .animate import animate
from .arrays import save_arrays
from .grid import frames_grid, head_grid
from .heatmap import bare_figure, frame_figure, heatmap
from .html import to_html
from .overlay import cls_overlay, overlay_figure
from .views import save_view, view_figure

__all__ = [
    "heatmap",
    "frame_figure",
    "bare_figure",
    "head_grid",
    "frames_grid",
    "cls_overlay",
    "overlay_figure",
    "save_view",
    "view_figure",
    "save_figure",
    "animate",
    "save_arrays",
    "to_html",
]
