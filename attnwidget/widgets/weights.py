"""WeightsView: tapped weights that are not query x key, as a matrix plus class charts.

The matrix (a canvas, ``js/weights.js``) is the frame of the selection:
samples x layers, layers x time frames, groups x layers, whatever the site's
axes are. Beside it a bqplot chart shows the per-class mean along the site's
last axis: bars (e.g. inter-group weights), or lines when that axis is time.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import traitlets as t

from .._frame import Frame
from .._panels import TIME_AXES, class_profile
from .._view_state import SELECTION, ViewDescription, ViewSpec, labels_fit
from ..store import class_name
from ._browser import CSS, BrowserRequests
from ._traits import (
    Selection,
    check_capture,
    check_kwargs,
    color_range_trait,
    colormap_trait,
    quiet,
    recorder_of,
    scale_trait,
    significance_trait,
    take_site,
)
from ._view import View

__all__ = ["WeightsView", "class_profile"]


class _WeightsCanvas(BrowserRequests, View):
    """The matrix part of a WeightsView (a canvas view of the weights frame)."""

    _css = CSS
    _js_view = t.Unicode("weights", help="the view js/widget.js draws this widget with").tag(sync=True)
    colormap = colormap_trait()
    scale = scale_trait()
    size = t.Int(512, help="largest rows/columns sent; bigger frames are block-pooled").tag(sync=True)
    significance = significance_trait()
    _redraw_on = ("scale", "size", "significance")
    _not_in_frame = ("scale", "significance")

    def view_spec(self) -> ViewSpec:
        """The weights frame of the selection, pooled to ``size``."""
        return ViewSpec(
            "weights",
            size=self.size,
            tokens=self.tokens,
            scale=self.scale,
            significance=self.significance,
            class_names=self.class_names,
        )


class WeightsView(Selection, widgets.VBox):
    """Weights sites: the selected matrix on a canvas and per-class bars or lines (bqplot).

    Parameters
    ----------
    cap : Capture
    class_names : dict or list, optional
        Class label -> name for the legend, e.g. ``{0: "spoof", 1: "bonafide"}``.
    tokens : optional
        Token strings for the matrix axes.
    **traits
        Any public trait below.

    Attributes
    ----------
    layer, head, sample, label, step
        The selection (``label`` filters the matrix; the chart always splits by class);
        ``site=`` may stand for ``layer=``.
    colormap, scale : str
    color_range : str
        The matrix's colour range: ``"frame"``, ``"fixed"`` or ``"shared"`` (see
        :class:`~attnwidget.widgets._view.View`).
    canvas : the matrix view (``aw-weights``); chart : bqplot Figure;
    site : ipywidgets.Dropdown of the weights sites (shown when there are several).
    """

    colormap = colormap_trait()
    scale = scale_trait()
    color_range = color_range_trait()

    def __init__(self, cap, *, class_names=None, tokens=None, **kwargs):
        take_site(type(self), kwargs)
        check_kwargs(type(self), kwargs, ("layout",))
        recorder = recorder_of(cap)
        cap = self.cap = check_capture(cap)
        self.class_names = (
            list(class_names) if isinstance(class_names, (list, tuple)) else dict(class_names or {})
        )
        layout = kwargs.pop("layout", None)
        sites = [i for i, n in enumerate(cap.layers) if cap.kinds[n] == "weights"]
        if "layer" not in kwargs and sites:
            kwargs["layer"] = sites[0]
        super().__init__(**kwargs)
        if layout is not None:
            self.layout = layout
        self.canvas = _WeightsCanvas(
            cap,
            tokens=tokens,
            class_names=class_names,
            **self.selection(),
            colormap=self.colormap,
            scale=self.scale,
            color_range=self.color_range,
        )
        for name in (*SELECTION, "colormap", "scale", "color_range"):
            t.link((self, name), (self.canvas, name))
        self.chart = self._make_chart()
        # its own site chooser: the explorer's layer control picks attention sites
        self.site = widgets.Dropdown(description="weights", layout=widgets.Layout(width="auto"))
        self._site_options()
        self.site.observe(self._site_picked, names="value")
        # the class chart beside the matrix, not under it: the view stays one screen tall
        row = widgets.HBox([self.canvas, self.chart], layout=widgets.Layout(flex_flow="row nowrap"))
        row.add_class("aw-weights-row")
        self.children = [self.site, row]
        self.add_class("aw-weights-view")
        self.observe(self._chart_changed, names=["layer", "step"])
        self.observe(self._follow_site, names="layer")
        self._update_chart()
        self._steps_seen = cap.steps
        if recorder is not None:
            recorder.watch(self)

    def _site_options(self) -> None:
        """The weights sites of the capture in the site dropdown (shown when there are several)."""
        sites = [i for i, n in enumerate(self.cap.layers) if self.cap.kinds[n] == "weights"]
        options = [(self.cap.layers[i], i) for i in sites]
        if list(self.site.options) != options:
            self.site.options = options
        if self.layer in sites:
            self.site.value = self.layer
        self.site.layout.display = None if len(sites) > 1 else "none"

    def _site_picked(self, change) -> None:
        if self.__dict__.get("_ready", True) and change["new"] is not None:
            self.layer = change["new"]

    def _chart_changed(self, change) -> None:
        if self.__dict__.get("_ready", True):
            self._update_chart()

    # ------------------------------------------------------------ another capture (update())
    def _quiet_parts(self) -> list:
        return [self, self.canvas]

    def _take(self, cap, tokens) -> None:
        self.cap = cap
        self.canvas._take(cap, tokens)

    def _taken(self) -> None:
        with quiet(self):
            self._site_options()
        self.canvas._steps_seen = self.cap.steps
        self.canvas._taken()
        self._update_chart()

    def frame(self) -> Frame:
        """The frame the matrix shows now."""
        return self.canvas.frame()

    def save(self, path, dpi: int = 150):
        """Save the matrix as an image file (see :meth:`View.save`)."""
        return self.canvas.save(path, dpi=dpi)

    def describe(self) -> ViewDescription:
        """The matrix as plain data (what figures and pages draw), with the class names."""
        d = self.canvas.describe()
        d.class_names = self.class_names
        return d

    def _follow_site(self, change) -> None:
        if change["new"] in [v for _, v in self.site.options]:
            self.site.value = change["new"]

    def _make_chart(self):
        import bqplot as bq

        self._x_ord, self._x_lin, self._y = bq.OrdinalScale(), bq.LinearScale(), bq.LinearScale()
        colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        self._bars = bq.Bars(
            x=[],
            y=[],
            scales={"x": self._x_ord, "y": self._y},
            type="grouped",
            display_legend=True,
            colors=colors,
        )
        self._lines = bq.Lines(
            x=[], y=[], scales={"x": self._x_lin, "y": self._y}, display_legend=True, colors=colors
        )
        self._x_axis = bq.Axis(scale=self._x_ord, label="")
        y_axis = bq.Axis(scale=self._y, side="left", label="mean weight")
        return bq.Figure(
            marks=[self._bars],
            axes=[self._x_axis, y_axis],
            layout=widgets.Layout(height="300px", width="380px", min_width="300px"),
            fig_margin={"top": 30, "bottom": 40, "left": 56, "right": 10},
        )

    def _update_chart(self) -> None:
        classes = self.classes()
        try:
            if not self.cap.is_stats_only(self.layer, self.step) and not labels_fit(
                self.cap, self.layer, self.step
            ):
                classes = []  # the labels do not name this site's samples: one profile of them all
            values, names, axis = class_profile(self.cap, self.layer, self.step, classes)
        except (IndexError, KeyError, ValueError):
            self._bars.x, self._bars.y = [], []
            return
        legend = [class_name(c, self.class_names) for c in classes] or ["all samples"]
        # explicit range: bqplot leaves grouped bars flat when it has to infer it
        lo, hi = float(min(values.min(), 0.0)), float(values.max())
        self._y.min, self._y.max = lo, (hi if hi > lo else lo + 1.0) * 1.05
        self._x_axis.label = axis
        if axis in TIME_AXES:
            self._x_axis.scale = self._x_lin
            self._lines.x, self._lines.y, self._lines.labels = np.arange(values.shape[1]), values, legend
            self.chart.marks = [self._lines]
        else:
            self._x_axis.scale = self._x_ord
            self._bars.x, self._bars.y, self._bars.labels = names, values, legend
            self.chart.marks = [self._bars]
