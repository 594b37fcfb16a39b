"""Explorer and show(): controls above the views that fit a capture, all linked.

The explorer's ``layer, head, sample, label, step, stat, difference`` are
linked (``traitlets.link``) to the same traits of every view, so selecting a
head in the head grid or the statistics bars updates the heatmap, and code
can drive everything through the explorer.

Captures from ``aw.collect(..., keep="stats"|"both")`` work too: the class
filter shows each class's mean from ``cap.stats``, ``stat`` picks another
statistic (variance, min, max) and ``difference`` the class-difference map
(a diverging colormap, symmetric about zero).
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets as t

from ..colormaps import COLORMAPS
from .._view_state import SELECTION, ViewDescription
from ._traits import Selection, check_capture, check_kwargs, take_site
from ._save import Savable
from .controls import Controls
from .headgrid import HeadGrid
from .headstats import HeadStats
from .heatmap import Heatmap
from .overlay import ImageOverlay
from .weights import WeightsView

__all__ = ["Explorer", "show"]


class Explorer(Savable, Selection, widgets.VBox):
    """Controls plus linked views for one capture (what :func:`show` returns).

    ``explorer.colormap`` is the matrix views' colormap, one of
    :data:`attnwidget.colormaps.COLORMAPS` (any other name is a ``TraitError``).

    Parameters
    ----------
    cap : Capture
    tokens : list of str or dict, optional
        Token strings for the axes (defaults to ``cap.tokens``); always shown as text.
    class_names : dict or list, optional
        Class label -> name, e.g. ``{0: "spoof", 1: "bonafide"}`` (default:
        ``cap.metadata["class_names"]`` when present).
    image : array-like or PIL.Image, optional
        Input image: adds an :class:`ImageOverlay`.
    patch_grid : (int, int), optional
        Patch rows and columns for the overlay (inferred when omitted).
    colormap : str, optional
        Initial colormap of the canvas views.
    **traits
        ``layer`` (or ``site``), ``head, sample, label, step, stat, difference``.

    Attributes
    ----------
    controls : Controls
    heatmap, headgrid, headstats, overlay, weights : view or None
        The views shown (None where the capture has nothing for that view).
    views : list
        All views shown, in display order.
    """

    colormap = t.Enum(list(COLORMAPS), default_value="viridis",
                      help="colormap of the matrix views: " + ", ".join(COLORMAPS))

    def __init__(self, cap, *, tokens=None, class_names=None, image=None, patch_grid=None,
                 colormap: str = "viridis", **kwargs):
        take_site(type(self), kwargs)
        check_kwargs(type(self), kwargs, ("layout",))
        self.cap = check_capture(cap)
        attention = [i for i, n in enumerate(cap.layers) if cap.kinds[n] in ("self", "cross")]
        has_weights = any(k == "weights" for k in cap.kinds.values())
        if "layer" not in kwargs and attention:
            kwargs["layer"] = attention[0]
        super().__init__(**{k: v for k, v in kwargs.items() if k != "layout"})
        if "layout" in kwargs:
            self.layout = kwargs["layout"]
        sel = self.selection()
        if class_names is None:
            class_names = (cap.metadata or {}).get("class_names")

        self.heatmap = self.headgrid = self.headstats = self.overlay = self.weights = None
        if attention:
            self.heatmap = Heatmap(cap, tokens=tokens, colormap=colormap, **sel)
            self.headgrid = HeadGrid(cap, tokens=tokens, colormap=colormap, **sel)
            self.headstats = HeadStats(cap, **sel)
        if image is not None:
            self.overlay = ImageOverlay(cap, image, patch_grid=patch_grid, tokens=tokens, **sel)
        if has_weights:
            own = {k: v for k, v in sel.items() if not (attention and k == "layer")}
            self.weights = WeightsView(cap, class_names=class_names, tokens=tokens,
                                       colormap=colormap, **own)
        self.views = [v for v in (self.heatmap, self.headgrid, self.headstats, self.overlay,
                                  self.weights) if v is not None]
        self._links = [t.link((self, name), (view, name)) for view in self.views for name in SELECTION
                       # beside attention views the weights view keeps its own site (its own dropdown)
                       if not (view is self.weights and attention and name == "layer")]
        # one colormap for the matrix views (the overlay keeps its own: jet reads best over photos)
        coloured = [v for v in (self.heatmap, self.headgrid, self.weights) if v is not None]
        self._links += [t.link((coloured[0], "colormap"), (v, "colormap")) for v in coloured[1:]]
        if coloured:  # the views' own choice (a difference map starts on the diverging colormap)
            self.colormap = coloured[0].colormap
            self._links.append(t.link((coloured[0], "colormap"), (self, "colormap")))

        self.controls = Controls(self, class_names=class_names)
        rows = [self.controls]
        top = [v for v in (self.heatmap, self.headgrid) if v is not None]
        if top:
            rows.append(widgets.HBox(top, layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")))
        rows += [v for v in (self.headstats, self.overlay, self.weights) if v is not None]
        self.children = rows
        self.add_class("aw-explorer")

    def main_view(self):
        """The view whose frame the explorer stands for: the heatmap, else the weights, else the overlay."""
        for view in (self.heatmap, self.weights, self.overlay):
            if view is not None:
                return view
        raise ValueError("this explorer shows no frame view")

    def frame(self):
        """The frame of the main view (heatmap, else weights, else overlay)."""
        return self.main_view().frame()

    def describe(self) -> ViewDescription:
        """The main view as plain data (what figures and standalone pages draw for an explorer)."""
        return self.main_view().describe()


def show(cap, tokens=None, class_names=None, image=None, patch_grid=None, **kwargs) -> Explorer:
    """Explore a capture: controls above the views that fit what it holds.

    Parameters
    ----------
    cap : Capture
        From ``aw.capture(model)``, ``aw.collect(...)`` or ``aw.load(path)``.
    tokens : list of str or dict, optional
        Token strings for the axes; shown as text, never as HTML.
    class_names : dict, optional
        Class label -> name for the class filter and legends (default:
        ``cap.metadata["class_names"]`` when present).
    image : array-like or PIL.Image, optional
        Input image: adds an image overlay of a query row (CLS by default).
    patch_grid : (int, int), optional
        Patch rows and columns of the image tokens.
    **kwargs
        Initial ``layer`` (or ``site``), ``head, sample, label, step, stat, difference``
        or ``colormap``.

    Returns
    -------
    Explorer

    Examples
    --------
    >>> import attnwidget as aw
    >>> aw.show(cap, tokens=tokens, layer=3, head="mean")  # doctest: +SKIP
    """
    return Explorer(cap, tokens=tokens, class_names=class_names, image=image,
                    patch_grid=patch_grid, **kwargs)
