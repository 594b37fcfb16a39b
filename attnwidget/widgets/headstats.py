"""HeadStats: entropy, max and sparsity per head of the selected layer (bqplot bars), or its head roles.

Normalised entropy near 1 means uniform attention; a mean row maximum near 1
means the head collapses onto one key (see :func:`attnwidget.reduce.head_stats`).
Clicking a bar selects that head; the selected head's bars are marked. The
chart is compact and collapsible, its caption says what it is computed over
(every sample, a class's samples, or the one sample), and it is hidden on a
site it cannot apply to (tapped weights). A picker in the header switches the
bars to the head roles :func:`attnwidget.heads` scores (previous, first, own,
local, broad token), so a head with a named pattern is one click from the
matrix.

On a site that holds statistics only (``collect(..., keep="stats")``) the
bars are the per-head entropy of the statistics (every streamed sample of the
class), normalised the same way; the row maximum and sparsity need the
per-sample arrays and are left out, with a note under the chart.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets as t

from .._frame import select_samples
from .._panels import ROLES, roles_for, stats_entropy, stats_for
from .._view_state import ViewDescription, class_reason
from ._save import Savable
from ._traits import Selection, check_capture, check_kwargs, recorder_of, take_site

__all__ = ["HeadStats", "stats_for", "stats_entropy", "roles_for", "ROLES"]

STATS = ("entropy", "max", "sparsity")
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")
ROLE_COLORS = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class HeadStats(Savable, Selection, widgets.VBox):
    """Bars of entropy, max and sparsity per head; clicking a bar sets ``head``.

    A compact chart (about 120 px) under a header that collapses it, says what
    the bars are computed over and holds the legend; the selected head's bars
    are marked (the others fade). On a site the statistics cannot apply to
    (tapped weights, no heads) the whole widget is hidden, with the reason in
    ``message``.

    Parameters
    ----------
    cap : Capture
    **traits
        ``layer`` (or ``site``), ``head, sample, label, step`` (``sample`` is
        ignored: the statistics cover all samples of ``label``).

    Attributes
    ----------
    stats : dict
        The statistics shown now (``{"entropy", "max", "sparsity"}`` -> list per head;
        only ``"entropy"`` on a stats-only site).
    title : str
        What the bars are (says when they come from the capture's statistics).
    caption : ipywidgets.HTML
        The header's text: the title and what the bars are computed over.
    toggle : ipywidgets.ToggleButton
        Shows (pressed) or collapses the chart.
    message : ipywidgets.HTML
        Why there are no bars, or a note on the statistics (empty otherwise).
    """

    stats = t.Dict(help="statistics shown now: {'entropy'|'max'|'sparsity': [value per head]}")
    show = t.Enum(
        ["statistics", "roles"],
        default_value="statistics",
        help="what the bars are: 'statistics' (entropy, max, sparsity) or 'roles' (aw.heads scores)",
    )

    TITLE = "head statistics"
    STATS_TITLE = "head entropy from the statistics ({n} samples{of})"
    STATS_NOTE = (
        "statistics-only capture: per-head entropy over every streamed sample; the row "
        "maximum and sparsity need per-sample arrays (collect with keep='both')"
    )
    #: height of the chart, CSS pixels (the header row adds about 28)
    HEIGHT = "112px"

    def __init__(self, cap, **kwargs):
        take_site(type(self), kwargs)
        check_kwargs(type(self), kwargs, ("layout",))
        recorder = recorder_of(cap)
        self.cap = check_capture(cap)
        layout = kwargs.pop("layout", None)
        super().__init__(**kwargs)
        if layout is not None:
            self.layout = layout
        self._steps_seen = self.cap.steps
        self._title = self.TITLE
        import bqplot as bq

        xs, ys = bq.OrdinalScale(), bq.LinearScale(min=0.0, max=1.0)
        # bqplot draws its legend inside the plot area, over the last heads' bars:
        # the legend sits in the header row instead
        self.bars = bq.Bars(
            x=[],
            y=[],
            scales={"x": xs, "y": ys},
            type="grouped",
            labels=list(STATS),
            display_legend=False,
            colors=list(COLORS),
            padding=0.2,
            interactions={"click": "select"},
            selected_style={"stroke": "currentColor", "stroke-width": 1.5},
            unselected_style={"opacity": 0.35},
        )
        self.legend = widgets.HTML(_legend_html(STATS, COLORS), layout=widgets.Layout(margin="0 0 0 auto"))
        self.legend.add_class("aw-headstats-legend")
        self.message = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self.message.add_class("aw-headstats-note")
        self.caption = widgets.HTML()
        self.caption.add_class("aw-headstats-caption")
        self.toggle = widgets.ToggleButton(
            value=True,
            description="head statistics",
            icon="chevron-down",
            tooltip="show or hide the head statistics",
            layout=widgets.Layout(width="150px", height="24px"),
        )
        self.toggle.observe(self._toggled, names="value")
        self.picker = widgets.Dropdown(
            options=[("statistics", "statistics"), ("head roles", "roles")],
            value=self.show,
            tooltip="entropy, max and sparsity per head, or the head roles aw.heads scores",
            layout=widgets.Layout(width="120px", height="24px"),
        )
        widgets.link((self.picker, "value"), (self, "show"))
        self.figure = bq.Figure(
            marks=[self.bars],
            axes=[
                bq.Axis(scale=xs, label="head", label_offset="22px"),
                bq.Axis(scale=ys, side="left", tick_format=".1f", num_ticks=3),
            ],
            title="",
            layout=widgets.Layout(height=self.HEIGHT, width="100%", min_width="300px"),
            fig_margin={"top": 6, "bottom": 28, "left": 36, "right": 10},
        )
        self.header = widgets.HBox(
            [self.toggle, self.picker, self.caption, self.legend], layout=widgets.Layout(width="100%")
        )
        self.header.add_class("aw-headstats-head")
        self.children = [self.header, self.figure, self.message]
        self.add_class("aw-headstats")
        self.bars.observe(self._bar_clicked, names=["selected"])
        self.observe(self._selection_changed, names=["layer", "label", "step", "show"])
        self.observe(self._mark, names=["head"])
        self.refresh()
        if recorder is not None:
            recorder.watch(self)

    def _selection_changed(self, change) -> None:
        if self.__dict__.get("_ready", True):  # not while a capture is swapped in (update())
            self.refresh()

    def _toggled(self, change) -> None:
        # the chart leaves the page when collapsed (a hidden bqplot figure lays itself out at
        # zero width, which it logs as negative <rect> widths), and comes back drawn anew
        self.toggle.icon = "chevron-down" if change["new"] else "chevron-right"
        self._place()

    def _nothing_to_show(self, why: Exception) -> None:
        """No bars for this selection: say why, and hide rather than show an empty frame."""
        self.stats = {}
        self.bars.x, self.bars.y = [], []
        self.message.value = f"<i>{html.escape(str(why), quote=False)}</i>"
        self.layout.display = "none"
        self._place()

    def _place(self) -> None:
        shown = [self.header]
        if self.toggle.value and self.stats:
            shown.append(self.figure)
        if self.message.value:
            shown.append(self.message)
        if list(self.children) != shown:
            self.children = shown

    @property
    def title(self) -> str:
        return self._title

    def _over(self, names) -> str:
        """What the bars are computed over, in words."""
        if names != list(STATS):
            return ""
        try:
            name = self.cap.site_name(self.layer)
            label = self.label if class_reason(self.cap, self.selection()) is None else None
            n = len(select_samples(self.cap, label, name))
        except (IndexError, KeyError, ValueError):
            return ""
        if n == 1:
            return "over the one sample"
        if label is None:
            return f"mean over all {n} samples"
        return f"mean over the {n} samples of class {html.escape(str(label), quote=False)}"

    def refresh(self) -> None:
        """Recompute the statistics (or the head roles) for the selected layer."""
        if self.show == "roles":
            self._show_roles()
            return
        try:
            label = self.label if class_reason(self.cap, self.selection()) is None else None
            stats = stats_for(self.cap, self.layer, self.step, label)
        except (IndexError, KeyError, ValueError) as e:
            self._nothing_to_show(e)
            return
        self.layout.display = None
        names = [k for k in STATS if k in stats]
        if names == list(STATS):
            self.message.value = ""
            self._title = self.TITLE
        else:  # statistics only: the entropy of every streamed sample
            count = self.cap.class_count(self.label, self.layer, self.step)
            self._title = self.STATS_TITLE.format(
                n=count, of="" if self.label is None else f" of class {self.label}"
            )
            self.message.value = f"<i>{html.escape(self.STATS_NOTE, quote=False)}</i>"
        over = self._over(names)
        self.caption.value = (
            f"<span>{html.escape(self._title if names != list(STATS) else '', quote=False)}"
            f"{' · ' if over and names != list(STATS) else ''}{over}</span>"
        )
        self.stats = {k: [float(v) for v in stats[k]] for k in names}
        self.bars.labels = names
        self.bars.colors = [COLORS[STATS.index(k)] for k in names]
        self.legend.value = _legend_html(names, self.bars.colors)
        n = len(stats["entropy"])
        with self.bars.hold_sync():
            self.bars.x = [str(h) for h in range(n)]
            self.bars.y = np.stack([stats[k] for k in names])
        self._mark()
        self._place()

    def _show_roles(self) -> None:
        """The bars as the head roles of ``aw.heads`` (previous, first, own, local, broad)."""
        try:
            scores = roles_for(self.cap, self.layer, self.step)
        except (IndexError, KeyError, ValueError) as e:
            self._nothing_to_show(e)
            return
        self.layout.display = None
        missing = [r for r in ROLES if np.isnan(scores[r]).all()]
        self.message.value = (
            f"<i>{html.escape(', '.join(missing), quote=False)}: no row to score at this site "
            "(cross-attention has no shared positions)</i>"
            if missing
            else ""
        )
        self._title = "head roles (aw.heads)"
        n_samples = self.cap.samples_of(self.layer)
        if n_samples:
            over = f"all {n_samples} sample(s)"
        else:  # statistics only: the roles of the streamed mean
            over = f"the statistics of {self.cap.class_count(site=self.layer, step=self.step) or 0} sample(s)"
        self.caption.value = f"<span>roles over {over}, valid positions</span>"
        self.stats = {r: [float(v) for v in np.nan_to_num(scores[r])] for r in ROLES}
        self.bars.labels = list(ROLES)
        self.bars.colors = list(ROLE_COLORS)
        self.legend.value = _legend_html(ROLES, ROLE_COLORS)
        n = len(scores[ROLES[0]])
        with self.bars.hold_sync():
            self.bars.x = [str(h) for h in range(n)]
            self.bars.y = np.stack([np.nan_to_num(scores[r]) for r in ROLES])
        self._mark()
        self._place()

    def _mark(self, change=None) -> None:
        """Mark the selected head's bars (none marked for the mean or max of the heads)."""
        n = len(self.bars.x)
        want = [int(self.head)] if isinstance(self.head, int) and 0 <= self.head < n else None
        now = None if self.bars.selected is None else [int(v) for v in self.bars.selected]
        if now != want:
            self._marking = True
            try:
                self.bars.selected = want
            finally:
                self._marking = False

    def describe(self) -> ViewDescription:
        """The chart as plain data: the bars shown and the title (for figures)."""
        return ViewDescription(
            kind="headstats",
            name="HeadStats",
            cap=self.cap,
            selection=self.selection(),
            bars=dict(self.stats or {}),
            title=self.title,
        )

    def _bar_clicked(self, change) -> None:
        picked = change["new"]
        if self.__dict__.get("_marking") or picked is None or not len(picked):
            return
        self.head = int(picked[0])


def _legend_html(names, colors) -> str:
    items = "".join(
        f'<span style="margin-left:12px;white-space:nowrap">'
        f'<span style="display:inline-block;width:10px;height:10px;background:{c};'
        f'margin-right:4px"></span>{html.escape(n, quote=False)}</span>'
        for n, c in zip(names, colors)
    )
    return f'<div style="font-size:12px">{items}</div>'
