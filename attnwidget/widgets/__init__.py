"""The notebook views of a capture, and the explorer that links them.

Views: :class:`Heatmap`, :class:`HeadGrid`, :class:`ImageOverlay` (canvas,
anywidget), :class:`WeightsView` (canvas + bqplot chart), :class:`HeadStats`
(bqplot). :func:`show` returns an :class:`Explorer` with controls above them.
Every view has ``frame()`` (the :class:`~attnwidget.Frame` it shows),
``describe()`` (what it shows as plain data, all that figures and standalone
pages read) and ``save(path, dpi=150)``; the constructors take ``site=`` for
``layer=``. What a view sends for a selection is computed by
:func:`attnwidget._view_state.view_state`, which the standalone page calls too.

This room may import the spine (store, ``_frame``, ``_view_state``, wire,
colormaps); it loads :mod:`attnwidget.figures` only inside ``save()``.

DOM hooks for browser tests and benchmarks
------------------------------------------
- Root element of each canvas view: class ``aw-heatmap``, ``aw-headgrid``,
  ``aw-overlay`` or ``aw-weights``; HeadStats is an ipywidgets box with class
  ``aw-headstats``; the explorer box has ``aw-explorer``, its controls row
  ``aw-controls``; WeightsView's box ``aw-weights-view``.
- Main canvas: class ``aw-canvas`` (heatmap/weights: the matrix drawn at one
  device pixel per screen pixel; overlay: image + heat). Colorbar canvas:
  ``aw-colorbar``; axis labels canvases: ``aw-axis``.
- Head grid: every thumbnail's pixels in one ``<canvas class="aw-grid">``; over it
  one ``<div class="aw-thumb" data-layer=L data-head=H>`` each (``aw-selected`` on
  the highlighted one; ``data-pixels`` its rect in the canvas, ``data-cells`` its
  rows and columns); clicking one sets ``layer`` and ``head``.
- Tooltip: ``.aw-tooltip`` (plain text, ``textContent``). Save button:
  ``.aw-save`` (downloads the canvas as PNG). Reset-zoom button: ``.aw-reset``.
  Error text: ``.aw-error``. Overlay opacity slider: ``input.aw-opacity``.
- After every repaint the root element's ``data-frame-version`` attribute
  (``el.dataset.frameVersion``) increases by one; ``data-shape`` holds
  ``"h,w"`` of the frame drawn.

Messages (browser -> kernel, custom ``model.send``), each answered with
``{type: "ok", id, ...}`` or ``{type: "error", id, message}``:
- ``{type: "zoom", id, region: [row0, row1, col0, col1] | null}`` (Heatmap):
  show that full-resolution region (null resets).
- ``{type: "select", id, layer?, head?}`` (any canvas view): select a layer/head.
"""

from __future__ import annotations

from .explorer import Explorer, show
from .headgrid import HeadGrid
from .headstats import HeadStats
from .heatmap import Heatmap
from .overlay import ImageOverlay
from .weights import WeightsView

__all__ = ["show", "Explorer", "Heatmap", "HeadGrid", "ImageOverlay", "WeightsView", "HeadStats"]
