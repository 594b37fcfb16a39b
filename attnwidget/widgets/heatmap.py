"""Heatmap: one query x key matrix on a canvas, with zoom, pins and a colorbar.

Its save button writes, through the kernel, the figure ``save`` writes
(:mod:`attnwidget.widgets._browser`); arrow keys move layer, head and step
while it has focus. ``_head_index`` is its head as a head dropdown's index
(:func:`attnwidget.widgets._prefetch.head_at`): an explorer links its dropdown's
index to it in the page, so a pick there draws a frame held in the page at once.
"""

from __future__ import annotations

import traitlets as t

from .._frame import frame
from .._view_state import ViewSpec
from ._browser import CSS, BrowserRequests
from ._prefetch import head_index
from ._traits import colormap_trait, quiet, scale_trait, significance_trait
from ._view import View

__all__ = ["Heatmap"]


class Heatmap(BrowserRequests, View):
    """One attention matrix (rows = query, columns = key) as a canvas heatmap.

    Parameters
    ----------
    cap : Capture
        What to show.
    tokens : list of str or dict, optional
        Token strings for the axes (defaults to ``cap.tokens``); shown as text.
    **traits
        Any public trait below, e.g. ``layer=3, head="mean"``.

    Attributes
    ----------
    layer, head, sample, label, step
        The selection (see :class:`~attnwidget.widgets._traits.Selection`);
        ``site=`` (a name or an index) may stand for ``layer=``.
    colormap : str
        One of viridis, plasma, magma, inferno, jet, coolwarm, YlOrRd.
    scale : str
        ``"linear"`` or ``"log"``.
    region : list of int or None
        ``[row0, row1, col0, col1]`` of the full matrix being shown (zoom), None for all.
    size : int
        Largest number of rows or columns sent; bigger frames are pooled in Python.
    pinned : dict or None
        ``{"axis": "query" | "key", "index": i}``: a highlighted row or column
        (full-resolution index), set by clicking.
    significance : float or None
        On a class-difference map (``difference=(a, b)``), the cells where the
        classes differ at this false discovery rate are outlined and counted
        in the caption (default 0.05; the same test and outline as
        ``aw.heatmap(..., significance=)`` and the saved figure). Pooled frames
        (``size`` smaller than the matrix) say so instead. None: no test.
    """

    _css = CSS
    _js_view = t.Unicode("heatmap", help="the view js/widget.js draws this widget with").tag(sync=True)

    colormap = colormap_trait()
    scale = scale_trait()
    region = t.List(
        t.Int(),
        default_value=None,
        allow_none=True,
        minlen=4,
        maxlen=4,
        help="zoom: [row0, row1, col0, col1] of the full matrix, or None for all",
    ).tag(sync=True)
    size = t.Int(512, help="largest rows/columns sent; bigger frames are block-pooled").tag(sync=True)
    pinned = t.Dict(
        default_value=None,
        allow_none=True,
        help="pinned row or column: {'axis': 'query'|'key', 'index': int} or None",
    ).tag(sync=True)

    significance = significance_trait()

    _head_index = t.Int(
        0,
        help="the head as a head dropdown's index (0 mean, 1 max, i + 2 head i: _prefetch.head_at), "
        "kept from head here; an explorer links its dropdown's index to it in the page, where "
        "js/heatmap.js sets the head from a pick",
    ).tag(sync=True, echo_update=False)  # the page's link sends it after every head change: no echo

    _redraw_on = ("scale", "region", "size", "significance")
    # the outline and its caption come with the codes; frame() does not read it
    _not_in_frame = ("scale", "significance")

    @t.validate("size")
    def _check_size(self, proposal):
        if proposal["value"] < 2:
            raise t.TraitError(f"size must be at least 2 cells, not {proposal['value']}")
        return proposal["value"]

    @t.validate("region")
    def _check_region(self, proposal):
        region = proposal["value"]
        if region is None:
            return None
        r0, r1, c0, c1 = region
        if r1 <= r0 or c1 <= c0 or r0 < 0 or c0 < 0:
            raise t.TraitError(
                f"region must be [row0, row1, col0, col1] with row0 < row1 and "
                f"col0 < col1, all >= 0; got {list(region)}"
            )
        return list(region)

    @t.validate("pinned")
    def _check_pinned(self, proposal):
        pin = proposal["value"]
        if pin is None:
            return None
        if pin.get("axis") not in ("query", "key") or not isinstance(pin.get("index"), int):
            raise t.TraitError(
                f"pinned must be None or {{'axis': 'query' or 'key', 'index': int}}, not {pin!r}"
            )
        return dict(pin)

    @t.observe("head", "_head_index")
    def _follow_head(self, change) -> None:
        # derived from the head, whoever set either: a pick in the page sends the head with the
        # index, and an index alone (the dropdown's, set by the kernel: js/heatmap.js leaves it)
        # says nothing new, so it goes back to the head's
        self._head_index = self._index_of_head()

    def _index_of_head(self) -> int:
        """The head dropdown's index of ``head`` (0 mean, 1 max, ``i + 2`` head ``i``)."""
        try:
            return head_index(self.head, self.num_heads(self.layer))
        except (IndexError, KeyError, ValueError):
            return self._head_index

    @t.observe("layer", "step")
    def _forget_zoom(self, change):
        # a region of one site means nothing for another; across steps it holds while the
        # matrix keeps its shape (diffusion) and goes where the shape changes (generation)
        if self.region is None:
            return
        if change["name"] == "step":
            try:
                now = list(self.frame_full_shape())
            except (IndexError, KeyError, ValueError):  # nothing at the new step: the view says so
                now = None
            if now is not None and now == self._frame_meta.get("full_shape"):
                return
        self.region = None

    def _taken(self) -> None:
        # after a capture swap the zoom holds while the matrix keeps its shape
        if self.region is not None:
            now: list[int] | None
            try:
                now = list(self.frame_full_shape())
            except (IndexError, KeyError, ValueError):
                now = None
            if now is None or now != self._frame_meta.get("full_shape"):
                with quiet(self):
                    self.region = None  # type: ignore[assignment]  # allow_none: traitlets types it list[int]
        super()._taken()

    def view_spec(self) -> ViewSpec:
        """The frame shown: the selection, cut to ``region``, pooled to ``size``."""
        return ViewSpec(
            "heatmap",
            size=self.size,
            region=None if self.region is None else tuple(self.region),
            tokens=self.tokens,
            scale=self.scale,
            groups=self.groups,
            significance=self.significance,
            class_names=self.class_names,
        )

    def _msg_zoom(self, content: dict) -> dict:
        """``{type: "zoom", region: [r0, r1, c0, c1] | null, id}``: show that region."""
        region: list[int] | None = content.get("region")
        if region is not None:
            if not isinstance(region, (list, tuple)) or len(region) != 4:
                raise ValueError(f"zoom region must be [row0, row1, col0, col1], not {region!r}")
            region = [int(v) for v in region]
            rows, cols = self.frame_full_shape()
            region = [max(region[0], 0), min(region[1], rows), max(region[2], 0), min(region[3], cols)]
            if region == [0, rows, 0, cols]:
                region = None
        self.region = region  # type: ignore[assignment]  # None for all: allow_none (see above)
        meta = self._frame_meta
        return {"region": meta.get("region"), "shape": meta.get("shape")}

    def frame_full_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the full-resolution matrix of the selection."""
        rows, cols = frame(self.cap, **self.frame_selection(), size=2, tokens=self.tokens).full_shape
        return int(rows), int(cols)
