"""Explorer and show(): controls above the views that fit a capture, all linked.

One layout for every capture, at most 900 px tall in a notebook cell: the
controls on one row; the main matrix (the heatmap, else the weights) in a
place of fixed width with a fixed side panel beside it (the image overlay
above the head grid), so no part moves when a step or layer changes the
matrix's shape; the head statistics, compact and collapsible, under them.
Attention and weights sites together get a tab each. The overlay shows the
heatmap's pinned query row, and a patch clicked on the overlay pins its row.

The explorer's ``layer, head, sample, label, step, stat, difference`` are
linked (``traitlets.link``) to the same traits of every view, so selecting a
head in the head grid or the statistics bars updates the heatmap, and code
can drive everything through the explorer.

``explorer.color_range`` (``"frame"``, ``"fixed"``, ``"shared"``) is linked
the same way to the heatmap, head grid, overlay and weights, and shown once:
in the toolbar of the matrix shown (heatmap, weights), beside its colormap and
scale; the overlay's toolbar and the controls row leave it out (the row's
dropdown is kept, linked, for an explorer of an overlay alone).

Captures from ``aw.collect(..., keep="stats"|"both")`` work too: the class
filter shows each class's mean from ``cap.stats``, ``stat`` picks another
statistic (variance, min, max) and ``difference`` the class-difference map
(a diverging colormap, symmetric about zero).

Beside attention views the weights view keeps its own site, with its own
dropdown: the explorer's ``layer`` (and its layer control) then walks the
attention sites, and a weights site given as ``layer`` (``aw.show(cap,
layer="pool.layer_weights")``) goes to the weights view, the attention views
staying on the first attention site. No view is ever asked for heads of a
site that has none.

``explorer.capture = other`` (or ``explorer.update(other)``) shows another
capture, or the same one grown, under the open explorer: the selection is
kept where it still exists, the controls get the new options and ranges, and
every view draws once. ``aw.show(rec)`` of an ``aw.record`` recorder is live:
the recorder hands the explorer each new step as training goes.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets as t

from .._view_state import SELECTION, ViewDescription
from ..colormaps import COLORMAPS
from ..store import Capture
from ._save import Savable
from ._traits import (
    KEEP,
    Selection,
    apply_selection,
    carry_selection,
    check_capture,
    check_kwargs,
    color_range_trait,
    quiet,
    recorder_of,
    take_site,
)
from .controls import Controls
from .headgrid import HeadGrid
from .headstats import HeadStats
from .heatmap import Heatmap
from .overlay import ImageOverlay
from .weights import WeightsView

__all__ = ["Explorer", "show"]

#: width of the main matrix's place: the widest canvas it draws (labels, matrix, colour bar) fits
MAIN_WIDTH = "600px"
#: height of the main row: the tallest matrix canvas with its toolbar
MAIN_HEIGHT = "600px"
#: width of the side panel (image overlay, head grid): fixed, so it never moves between steps
SIDE_WIDTH = "336px"


class _Unobserve:
    """An observer, with ``unlink()`` as ``traitlets.link`` has, so a rebuild removes it too."""

    def __init__(self, owner, handler, name: str):
        self.owner, self.handler, self.name = owner, handler, name

    def unlink(self) -> None:
        self.owner.unobserve(self.handler, names=self.name)


def _views_for(cap) -> tuple[bool, bool]:
    """Which views a capture needs: (attention views, weights view)."""
    kinds = [cap.kinds[n] for n in cap.layers]
    return any(k in ("self", "cross") for k in kinds), "weights" in kinds


class Explorer(Savable, Selection, widgets.VBox):
    """Controls plus linked views for one capture (what :func:`show` returns).

    ``explorer.colormap`` is the matrix views' colormap, one of
    :data:`attnwidget.colormaps.COLORMAPS` (any other name is a ``TraitError``);
    ``explorer.color_range`` the colour range of every view (``"frame"``,
    ``"fixed"`` or ``"shared"``), the controls row's "colour range" dropdown.

    Parameters
    ----------
    cap : Capture or Recorder
        What to show; a recorder (``aw.record``): its capture, followed live
        as training records new steps.
    tokens : list of str or dict, optional
        Token strings for the axes (defaults to ``cap.tokens``); always shown as text.
    class_names : dict or list, optional
        Class label -> name, e.g. ``{0: "spoof", 1: "bonafide"}`` (default:
        ``cap.metadata["class_names"]`` when present).
    image : array-like, PIL.Image or a list of them, optional
        One image for every sample, or one per sample (a list, or a batch array
        ``[sample, H, W(, C)]``): adds an :class:`ImageOverlay`.
    patch_grid : (int, int), optional
        Patch rows and columns for the overlay (inferred when omitted).
    groups : optional
        Groups of positions the matrix and head grid aggregate (as :func:`show`).
    colormap : str, optional
        Initial colormap of the canvas views.
    **traits
        ``layer`` (or ``site``), ``head, sample, label, step, stat, difference``, ``color_range``.

    Attributes
    ----------
    controls : Controls
    heatmap, headgrid, headstats, overlay, weights : view or None
        The views shown (None where the capture has nothing for that view).
    views : list
        All views shown, in display order.
    tabs : ipywidgets.Tab or None
        Where the capture has attention and weights sites: an "attention" and a
        "weights" tab (None otherwise).
    """

    colormap = t.Enum(
        list(COLORMAPS), default_value="viridis", help="colormap of the matrix views: " + ", ".join(COLORMAPS)
    )
    color_range = color_range_trait()

    def __init__(
        self,
        cap,
        *,
        tokens=None,
        class_names=None,
        image=None,
        patch_grid=None,
        colormap: str = "viridis",
        groups=None,
        **kwargs,
    ):
        take_site(type(self), kwargs)
        check_kwargs(type(self), kwargs, ("layout",))
        recorder = recorder_of(cap)
        cap = self.cap = check_capture(cap)
        attention = [i for i, n in enumerate(cap.layers) if cap.kinds[n] in ("self", "cross")]
        self._weights_site = None  # a weights site asked for as `layer`, beside attention views
        if attention and "layer" in kwargs and self._is_weights_site(kwargs["layer"]):
            self._weights_site = kwargs.pop("layer")
        if "layer" not in kwargs and attention:
            kwargs["layer"] = attention[0]
        super().__init__(**{k: v for k, v in kwargs.items() if k != "layout"})
        if "layout" in kwargs:
            self.layout = kwargs["layout"]
        self._given = {
            "tokens": tokens,
            "class_names": class_names,
            "image": image,
            "patch_grid": patch_grid,
            "groups": groups,
        }
        self._build(colormap)
        self.add_class("aw-explorer")
        self._steps_seen = cap.steps
        if recorder is not None:
            recorder.watch(self)

    def _build(self, colormap: str) -> None:
        """The views that fit ``self.cap``, linked to the explorer, with controls above them."""
        cap, sel = self.cap, self.selection()
        tokens, image, patch_grid = (self._given[k] for k in ("tokens", "image", "patch_grid"))
        class_names = self._given["class_names"]
        if class_names is None:
            class_names = (cap.metadata or {}).get("class_names")
        self._built = _views_for(cap)
        attention, has_weights = self._built

        self.heatmap = self.headgrid = self.headstats = self.overlay = self.weights = None
        ranged = {"color_range": self.color_range}  # each view computes its first frame on it
        self.tabs = None
        if attention:
            groups = self._given.get("groups")
            named = dict(tokens=tokens, groups=groups, colormap=colormap, class_names=class_names)
            self.heatmap = Heatmap(cap, **named, **sel, **ranged)
            self.headgrid = HeadGrid(cap, **named, **sel, **ranged)
            self.headstats = HeadStats(cap, **sel)
        if image is not None:
            self.overlay = ImageOverlay(
                cap, image, patch_grid=patch_grid, tokens=tokens, class_names=class_names, **sel, **ranged
            )
        if has_weights:
            own = {k: v for k, v in sel.items() if not (attention and k == "layer")}
            if attention and self.__dict__.get("_weights_site") is not None:
                own["layer"] = self._weights_site
            self.weights = WeightsView(
                cap, class_names=class_names, tokens=tokens, colormap=colormap, **own, **ranged
            )
        self.views = [
            v
            for v in (self.heatmap, self.headgrid, self.headstats, self.overlay, self.weights)
            if v is not None
        ]
        self._links: list[Any] = [  # traitlets links and observers, undone on rebuild
            t.link((self, name), (view, name))
            for view in self.views
            for name in SELECTION
            # beside attention views the weights view keeps its own site (its own dropdown)
            if not (view is self.weights and attention and name == "layer")
        ]
        # one colormap for the matrix views (the overlay keeps its own: jet reads best over photos)
        coloured = [v for v in (self.heatmap, self.headgrid, self.weights) if v is not None]
        self._links += [t.link((coloured[0], "colormap"), (v, "colormap")) for v in coloured[1:]]
        if coloured:  # the views' own choice (a difference map starts on the diverging colormap)
            self.colormap = coloured[0].colormap
            self._links.append(t.link((coloured[0], "colormap"), (self, "colormap")))
        # one colour range for every view, chosen in the main matrix's toolbar (see _arrange): the
        # overlay's toolbar leaves its own out
        in_range = [v for v in (self.heatmap, self.headgrid, self.overlay, self.weights) if v is not None]
        self._links += [t.link((self, "color_range"), (v, "color_range")) for v in in_range]
        if self.overlay is not None:
            self.overlay._range_in_toolbar = False

        self.controls = Controls(self, class_names=self._given["class_names"])
        if self.heatmap is not None:
            # the selection linked in the page too, so a thumbnail click, the step slider and Play
            # draw a frame the page holds at once (attnwidget.widgets._prefetch); the kernel's links
            # above keep every view in step. The head dropdown syncs an index, not a head: its index
            # is linked to the heatmap's ``_head_index``, which js/heatmap.js maps to a head
            # (attnwidget.widgets._prefetch.head_at)
            if self.headgrid is not None:
                self._links.append(widgets.jslink((self.headgrid, "head"), (self.heatmap, "head")))
            self._links.append(widgets.jslink((self.controls.step, "value"), (self.heatmap, "step")))
            self._links.append(widgets.jsdlink((self.controls.head, "index"), (self.heatmap, "_head_index")))
        self.children = self._arrange()
        self._follow_pins()

    def _arrange(self) -> list:
        """The rows of the explorer: one layout whatever the capture, under 900 px tall.

        Controls on one row; then the main matrix (heatmap, else weights) with a fixed
        side panel beside it (the image overlay above the head grid), so nothing moves
        when a step or a layer changes the matrix's shape; the head statistics, compact
        and collapsible, under them. Weights beside attention views get a tab of their own.

        The colour range is chosen in the toolbar of the matrix shown (heatmap, weights),
        beside its colormap and scale, not in the controls row, which then fits one line:
        that choice sets the view's ``color_range``, linked to the explorer's and so to every
        view's. An overlay alone keeps the controls row's dropdown.
        """
        matrices = [v for v in (self.heatmap, self.weights and self.weights.canvas) if v is not None]
        for view in matrices:
            view._range_in_toolbar = True
        self.controls.show_color_range(not matrices)
        side = [v for v in (self.overlay, self.headgrid) if v is not None]
        for view in side:
            view.layout.width = SIDE_WIDTH
        main = self.heatmap if self.heatmap is not None else self.weights
        if main is None:  # an overlay alone
            return [self.controls, *side]
        main.layout.min_width = main.layout.width = MAIN_WIDTH if side else None
        parts = [main]
        if side:
            parts.append(widgets.VBox(side, layout=widgets.Layout(width=SIDE_WIDTH, margin="0 0 0 12px")))
        # as tall as the tallest matrix: the statistics under it stay put when a step changes its shape
        row = widgets.HBox(
            parts,
            layout=widgets.Layout(flex_flow="row nowrap", align_items="flex-start", min_height=MAIN_HEIGHT),
        )
        row.add_class("aw-explorer-main")
        attention = [row] + ([self.headstats] if self.headstats is not None else [])
        if self.heatmap is None or self.weights is None:
            return [self.controls, *attention]
        # attention and weights sites: each its own tab, both the same height as either alone.
        # Only the tab shown holds its views: a bqplot chart in a hidden tab lays itself out at
        # zero width, which it logs as negative <rect> widths
        contents = (attention, [self.weights])
        holders = [widgets.VBox(), widgets.VBox()]
        tabs = self.tabs = widgets.Tab(children=holders)
        tabs.titles = ("attention", "weights")

        def show_tab(change=None) -> None:
            for k, holder in enumerate(holders):
                holder.children = contents[k] if k == tabs.selected_index else []

        tabs.selected_index = 1 if self.__dict__.get("_weights_site") is not None else 0
        show_tab()
        tabs.observe(show_tab, names="selected_index")
        return [self.controls, tabs]

    def _follow_pins(self) -> None:
        """The overlay shows the heatmap's pinned query row; a patch clicked on the overlay pins it."""
        if self.overlay is None or self.heatmap is None:
            return
        heatmap, overlay = self.heatmap, self.overlay

        def pinned(change) -> None:
            pin = change["new"]
            query = pin["index"] if pin and pin.get("axis") == "query" else 0
            if overlay.query != query:
                try:
                    overlay.query = query
                except t.TraitError:
                    pass  # a row the overlay cannot show (out of range): it keeps its row

        def picked(change) -> None:
            query = change["new"]
            pin = heatmap.pinned
            now = pin["index"] if pin and pin.get("axis") == "query" else 0
            if now != query:
                heatmap.pinned = {"axis": "query", "index": int(query)}

        heatmap.observe(pinned, names="pinned")
        overlay.observe(picked, names="query")
        self._links.append(_Unobserve(heatmap, pinned, "pinned"))
        self._links.append(_Unobserve(overlay, picked, "query"))

    # ------------------------------------------------------------ sites
    def _is_weights_site(self, layer) -> bool:
        try:
            return self.cap.kinds[self.cap.site_name(layer)] == "weights"
        except (IndexError, KeyError, TypeError):
            return False  # the layer's own check says what is wrong with it

    def site_choices(self) -> list[int]:
        """The sites the layer control offers: the attention sites where there are attention views
        (the weights view has its own site control), else every site."""
        attention = [i for i, n in enumerate(self.cap.layers) if self.cap.kinds[n] in ("self", "cross")]
        return attention or list(range(len(self.cap.layers)))

    @t.validate("layer")
    def _check_layer(self, proposal):
        value = super()._check_layer(proposal)
        weights = self.__dict__.get("weights")
        if weights is not None and self.__dict__.get("heatmap") is not None and self._is_weights_site(value):
            # a weights site beside attention views is the weights view's: it goes there
            weights.layer = value
            return self.layer
        return value

    # ------------------------------------------------------------ another capture
    def update(self, cap, *, tokens=KEEP, follow: bool = False) -> None:
        """Show another capture, or the same one grown, under the open explorer.

        Parameters
        ----------
        cap : Capture or Recorder
            What to show (a recorder: its capture, and the explorer follows it).
        tokens : optional
            New token strings (default: keep those given before).
        follow : bool
            An explorer on the last step it saw moves to the new last step
            (how it follows ``aw.record`` as training goes).

        The selection is kept where it still exists (the site by name, a head
        index the site has, the class, the sample and the step clamped: see
        :func:`~attnwidget.widgets._traits.carry_selection`); the controls get
        the new options and ranges, and each view draws once. A capture that
        needs other views (weights where there were none, no attention any
        more) gets them, built anew.
        """
        recorder = recorder_of(cap)
        new = check_capture(cap)
        old, seen = self.cap, self.__dict__.get("_steps_seen")
        sel = carry_selection(old, new, self.selection(), seen_steps=seen, follow=follow)
        if tokens is not KEEP:
            self._given["tokens"] = tokens
        if _views_for(new) != self._built:
            self._rebuild(new, sel)
        else:
            # beside attention views the weights view keeps its own site
            own = None
            if self.weights is not None and self.heatmap is not None:
                own = carry_selection(old, new, self.weights.selection(), seen_steps=seen)["layer"]
            parts = [self.controls] + [p for v in self.views for p in v._quiet_parts()]
            with quiet(*parts):
                for view in self.views:
                    view._take(new, tokens)
                self.cap = new
                if own is not None and self.weights is not None:
                    self.weights.layer = own
                apply_selection(self, sel)
            for view in self.views:
                view._steps_seen = new.steps
                view._taken()
            self.controls.configure()
        self._steps_seen = new.steps
        if recorder is not None:
            recorder.watch(self)

    def _rebuild(self, new, sel: dict) -> None:
        """Views built anew for a capture that needs other ones; the old ones are closed."""
        for link in self._links:
            link.unlink()
        old = [*self.views, self.controls]
        self.controls.detach()
        self.cap = new
        apply_selection(self, sel)
        self._build(self.colormap)
        for widget in old:
            widget.close()

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


def show(cap, tokens=None, class_names=None, image=None, patch_grid=None, groups=None, **kwargs) -> Explorer:
    """Explore a capture: controls above the views that fit what it holds.

    Parameters
    ----------
    cap : Capture, or attention from another tool
        From ``aw.capture(model)``, ``aw.collect(...)`` or ``aw.load(path)``; or
        what :meth:`Capture.from_attentions` reads (Hugging Face ``outputs.attentions``
        or an encoder-decoder output, a TransformerLens cache, a dict of arrays).
    tokens : list of str or dict, optional
        Token strings for the axes; shown as text, never as HTML.
    class_names : dict, optional
        Class label -> name for the class filter and legends (default:
        ``cap.metadata["class_names"]`` when present).
    image : array-like, PIL.Image or a list of them, optional
        One image for every sample, or one per sample (a list, or a batch array):
        adds an image overlay of a query row (CLS by default); sample k shows image k.
    patch_grid : (int, int), optional
        Patch rows and columns of the image tokens.
    groups : dict, list of ranges, "words" or {"query": ..., "key": ...}, optional
        Aggregate the matrix and the head grid by groups of positions, as
        :func:`attnwidget.frame` does (query rows meaned, key columns summed).
    **kwargs
        Initial ``layer`` (or ``site``), ``head, sample, label, step, stat, difference``,
        ``colormap`` or ``color_range``.

    Returns
    -------
    Explorer

    Examples
    --------
    >>> import attnwidget as aw
    >>> aw.show(cap, tokens=tokens, layer=3, head="mean")  # doctest: +SKIP
    """
    if not isinstance(cap, Capture) and recorder_of(cap) is None:
        cap = Capture.from_attentions(cap, tokens=tokens)
        tokens = None  # they are cap.tokens now, spelled out per site for an encoder-decoder output
    return Explorer(
        cap,
        tokens=tokens,
        class_names=class_names,
        image=image,
        patch_grid=patch_grid,
        groups=groups,
        **kwargs,
    )
