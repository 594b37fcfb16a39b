"""What a view shows for a selection: the one function behind the widgets and the standalone page.

A canvas view (heatmap, head grid, image overlay, weights matrix) is a
:class:`ViewSpec` (its kind and the parameters that shape its frames: size,
zoom region, thumbnail mode, overlay query and patch grid, colour scale) plus
a selection (the :data:`SELECTION` keys). :func:`view_state` turns the two
into exactly the data the widget sends to the browser (uint8 codes, a small
header and the row and column labels, or every thumbnail of a head grid),
from :func:`view_frame` and :func:`view_panels`, which compute the frames
with :func:`attnwidget.frame`. The widgets call it on each change, and
:func:`attnwidget.figures.to_html` calls it for every selection it embeds,
so a page shows what the notebook shows.

Sites may hold different numbers of samples (a model that flattens epochs
or channels into its batch axis): :func:`samples_at` counts a site's own,
:func:`class_reason` says in one line why a class filter cannot apply to a
site (the labels are for another site's samples), :func:`sample_index` and
:func:`sample_text` say which sample a selection shows. :func:`frame_args`
never asks :func:`attnwidget.frame` for what a site cannot show: a class
filter that cannot apply is left out (the controls disable it, with the
reason), a sample past the site's last is clamped to it.

The colour range of a frame follows the view's ``color_range``
(:data:`attnwidget.wire.COLOR_RANGES`): the frame's own min..max, fixed
``[0, 1]``, or :func:`shared_range`, one range over every head and step of
the site at full resolution (so zooming, Play and switching heads keep
colours comparable), computed once per site and selection and cached.
:func:`view_range` says which range a selection is drawn with, and the
widget, the standalone page and ``view.save`` all read it from there.

Each view also describes itself (``view.describe()``) as a
:class:`ViewDescription`, plain data that the figures read instead of the
widget: its kind, capture, selection, spec, colours and synced state.

This module belongs to the spine: it imports the store, ``_frame``, ``wire``
and ``colormaps``, never the widgets or the figures.
"""

from __future__ import annotations

import base64
import math
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import wire
from ._frame import Frame, frame
from .errors import SelectionError
from .store import Capture

__all__ = [
    "SELECTION",
    "STAT_CHOICES",
    "ViewSpec",
    "ViewDescription",
    "frame_args",
    "samples_at",
    "labels_fit",
    "class_reason",
    "sample_index",
    "sample_text",
    "view_frame",
    "view_panels",
    "view_state",
    "sites_for",
    "attention_sites",
    "grid_layers",
    "frame_state",
    "frame_labels",
    "shared_range",
    "view_range",
    "forget_ranges",
    "range_caption",
    "error_state",
    "is_difference",
    "patch_grid_for",
    "overlay_frame",
    "grid_range",
    "CANVAS_KINDS",
]

#: the selection every view shares, in this order (also the key order of a standalone page)
SELECTION = ("layer", "head", "sample", "label", "step", "stat", "difference")

#: the class statistics by the names the controls and the standalone page show
STAT_CHOICES = (("class mean", "mean"), ("variance", "var"), ("minimum", "min"), ("maximum", "max"))

#: the canvas kinds and the chart kind of :class:`ViewDescription`
CANVAS_KINDS = ("heatmap", "headgrid", "overlay", "weights")


@dataclass(frozen=True)
class ViewSpec:
    """What a canvas view draws, apart from the selection.

    Attributes
    ----------
    kind : str
        ``"heatmap"``, ``"headgrid"``, ``"overlay"`` or ``"weights"``.
    size : int or None
        Largest rows/columns of a frame (a head grid's thumbnail side); bigger frames are pooled.
    region : tuple of int or None
        Zoom ``(row0, row1, col0, col1)`` of a heatmap.
    tokens : optional
        Token strings for the axes (None: ``cap.tokens``).
    mode : str
        Head grid: ``"layer"`` (the heads of the selected site) or ``"model"`` (every attention site).
    query : int
        Overlay: the query row laid over the image.
    patch_grid : (int, int) or None
        Overlay: patch rows and columns (None: inferred from the key axis).
    scale : str
        ``"linear"`` or ``"log"``: how values become colour codes.
    groups : optional
        Groups of positions the frames aggregate (``frame(..., groups=...)``); None: none.
    color_range : str
        ``"frame"`` (each frame's own min..max), ``"fixed"`` (``[0, 1]``) or ``"shared"``
        (:func:`shared_range`: one range over the site's heads and steps).
    class_names : dict, list or None
        Names of the classes for titles (None: ``cap.metadata["class_names"]``).
    significance : float or None
        On a class-difference frame: outline the cells where the classes differ at this
        false discovery rate (:func:`significance_state`); None: no test.
    """

    kind: str
    size: int | None = None
    region: tuple[int, ...] | None = None
    tokens: Any = None
    mode: str = "layer"
    query: int = 0
    patch_grid: tuple[int, int] | None = None
    scale: str = "linear"
    groups: Any = None
    color_range: str = "frame"
    significance: float | None = None
    class_names: Any = None


@dataclass
class ViewDescription:
    """A view as plain data: everything a figure or a standalone page needs, read from no widget.

    Attributes
    ----------
    kind : str
        One of :data:`CANVAS_KINDS`, or ``"headstats"`` (a bar chart, ``spec`` None).
    name : str
        The view's public name (``"Heatmap"``, ``"WeightsView"``...), for titles and messages.
    cap : Capture
    selection : dict
        The :data:`SELECTION` values shown now.
    spec : ViewSpec or None
    colormap : str or None
    state : dict
        The view's synced traits (what ``get_state()`` gives).
    esm : path or str or None
        The ES module that draws the view in a browser.
    class_names : dict, list or None
    restore : dict
        What clearing a class difference restores (``colormap``, ``scale``).
    image : numpy.ndarray or None
        Overlay: the image, ``[H, W, 3]`` uint8.
    opacity : float
        Overlay: the heat-map opacity.
    bars : dict or None
        Head statistics: ``{"entropy"|"max"|"sparsity": [value per head]}``.
    title : str or None
        Head statistics: the chart title.
    images : list or None
        Overlay: one image per sample (None: one image for every sample, ``image``).
    """

    kind: str
    name: str
    cap: Capture
    selection: dict
    spec: ViewSpec | None = None
    colormap: str | None = None
    state: dict = field(default_factory=dict)
    esm: Any = None
    class_names: Any = None
    restore: dict = field(default_factory=dict)
    image: np.ndarray | None = None
    opacity: float = 0.5
    bars: dict | None = None
    title: str | None = None
    images: Any = None

    def has(self, trait: str) -> bool:
        """Whether the view has this synced trait (e.g. ``"scale"``)."""
        return trait in self.state

    @property
    def site(self) -> str:
        """The name of the selected site."""
        return self.cap.site_name(self.selection["layer"])


def _from_statistic(cap: Capture, layer: Any, step: int, sample: Any, stat: Any) -> bool:
    """Whether the frame of a selection is a class statistic rather than kept samples."""
    return cap.holds(layer, step) == "stats" or (
        sample == "mean" and (cap.has_stats(layer, step) or (stat or "mean") != "mean")
    )


def labels_fit(cap: Capture, layer: int | str, step: int = 0) -> bool:
    """Whether ``cap.labels`` name the kept samples of a site at a step (one label per sample there).

    False where the capture has no labels, where the site keeps no sample at
    the step, or where its sample count is another than the labels' (the
    labels of a model's input say nothing of which flattened epoch or channel
    belongs to a class).
    """
    if cap.labels is None or cap.holds(layer, step) != "samples":
        return False
    return len(cap.labels) == cap.get(layer, step).shape[0]


def samples_at(cap: Capture, layer: int | str, step: int = 0, label: Any = None) -> int:
    """The samples a sample slider walks at a site and step: the site's own count, or the class's
    where a class filter applies there (:func:`labels_fit`); 0 where the site keeps no sample."""
    if cap.holds(layer, step) != "samples":
        return 0
    n = int(cap.get(layer, step).shape[0])
    if label is None or not labels_fit(cap, layer, step):
        return n
    return int(np.count_nonzero(np.asarray(cap.labels) == label))


def class_reason(cap: Capture, selection: dict) -> str | None:
    """Why the class filter cannot apply to a selection's site and step, in one line (None: it can).

    A class statistic needs the class among the site's statistics; kept
    samples need labels that name the site's samples (:func:`labels_fit`).
    """
    name = cap.site_name(selection["layer"])
    step = selection["step"]
    label = selection.get("label")
    if cap.holds(name, step) is None or (cap.labels is None and not cap.has_stats()):
        return None  # nothing here (the frame says so), or no class to filter by at all
    if _from_statistic(cap, name, step, selection.get("sample"), selection.get("stat")) and cap.has_stats(
        name, step
    ):
        if label is None or label in cap.classes(kept=False, site=name, step=step):
            return None
        return f"class filter off: {name} has no statistics of class {label!r} at step {step}"
    if labels_fit(cap, name, step):
        return None
    n = int(cap.get(name, step).shape[0])
    if cap.labels is None:
        return f"class filter off: {name} keeps {n} samples and the capture has no labels for them"
    return (
        f"class filter off: {name} holds {n} samples and the {len(cap.labels)} labels are for "
        "another site's samples"
    )


def frame_args(cap: Capture, selection: dict) -> dict:
    """The keyword arguments of :func:`attnwidget.frame` for a view's selection.

    ``difference`` when set; else ``stat`` where the frame is a class
    statistic: a site holding statistics alone at the step, or
    ``sample="mean"`` on a site with statistics there (or with a statistic
    other than the mean of the kept samples). A class filter that cannot
    apply to the site (:func:`class_reason`) is left out, and a sample index
    past the site's samples is clamped to its last, so no selection asks the
    frame for what the site does not hold.
    """
    sel = {k: selection[k] for k in ("layer", "head", "sample", "label", "step")}
    if selection.get("difference") is not None:
        sel["difference"] = tuple(selection["difference"])
        return sel
    stat = selection.get("stat") or "mean"
    layer, step = sel["layer"], sel["step"]
    if sel["label"] is not None and class_reason(cap, {**selection, "stat": stat}) is not None:
        sel["label"] = None
    if _from_statistic(cap, layer, step, sel["sample"], stat):
        sel["stat"] = stat
    elif isinstance(sel["sample"], (int, np.integer)) and not isinstance(sel["sample"], bool):
        n = samples_at(cap, layer, step, sel["label"])
        if n and not -n <= sel["sample"] < n:
            sel["sample"] = n - 1 if sel["sample"] > 0 else 0
    return sel


def sample_index(cap: Capture, selection: dict) -> int | None:
    """The index in the site's sample axis of the one sample a selection shows (None: a mean, a
    class statistic, a difference map, or nothing kept there)."""
    args = frame_args(cap, selection)
    sample = args["sample"]
    if "stat" in args or "difference" in args or not isinstance(sample, (int, np.integer)):
        return None
    layer, step = args["layer"], args["step"]
    if cap.holds(layer, step) != "samples":
        return None
    if args["label"] is None:
        n = cap.get(layer, step).shape[0]
        return int(sample) % n if n else None
    picked = np.flatnonzero(np.asarray(cap.labels) == args["label"])
    return int(picked[sample]) if -len(picked) <= sample < len(picked) else None


def sample_text(cap: Capture, selection: dict) -> str:
    """What a sample slider's readout says for a selection: the sample's name
    (``"sequence 3 · epoch 5 · EEG2"`` where the site's samples are named, else ``"sample 7"``),
    ``"mean of 320 samples"``, or ``"class statistic"``."""
    index = sample_index(cap, selection)
    if index is not None:
        return cap.sample_name(selection["layer"], index)
    args = frame_args(cap, selection)
    if "stat" in args or "difference" in args:
        return "class statistic"
    n = samples_at(cap, args["layer"], args["step"], args["label"])
    return f"mean of {n} sample{'' if n == 1 else 's'}" if n else ""


def attention_sites(cap: Capture) -> list[int]:
    """Indices of the sites with a head axis of query x key attention (a model-wide head grid's rows)."""
    return [
        i
        for i, name in enumerate(cap.layers)
        if cap.kinds[name] in ("self", "cross") and "head" in cap.axes[name]
    ]


def sites_for(cap: Capture, kind: str) -> list[int]:
    """Indices of the sites a view of ``kind`` can show: tapped weights, or attention."""
    want = ("weights",) if kind == "weights" else ("self", "cross")
    return [i for i, name in enumerate(cap.layers) if cap.kinds[name] in want]


def grid_layers(cap: Capture, spec: ViewSpec, selection: dict) -> list[int]:
    """The sites a head grid shows: the selected one, or every attention site."""
    return [selection["layer"]] if spec.mode == "layer" else attention_sites(cap)


def patch_grid_for(keys: int, patch_grid: tuple[int, int] | None = None) -> tuple[int, int]:
    """Patch rows and columns for a key axis of ``keys``: ``patch_grid``, else the largest square
    that fits after at most one leading non-patch token (197 keys -> 14 x 14)."""
    if patch_grid is not None:
        rows, cols = patch_grid
        if rows * cols > keys:
            raise ValueError(f"patch_grid {rows}x{cols} needs {rows * cols} keys, but the site has {keys}")
        return rows, cols
    side = math.isqrt(keys)
    if side * side != keys:
        side = math.isqrt(keys - 1)
    if side < 1:
        raise ValueError(f"cannot infer a patch grid from {keys} keys; pass patch_grid=(rows, cols)")
    return side, side


def overlay_frame(full: Frame, query: int, patch_grid: tuple[int, int] | None = None) -> Frame:
    """One query row of a query x key frame as a ``[grid_rows, grid_cols]`` frame (leading
    non-patch keys dropped): what an image overlay lays over the image."""
    if full.row_axis != "query" or full.col_axis != "key":
        raise ValueError(
            f"site {full.selection.get('layer')!r} is not query x key attention, so it "
            "cannot be overlaid on an image"
        )
    rows_available = full.values.shape[0]
    if not 0 <= query < rows_available:
        raise SelectionError(f"query {query} is out of range: the site has {rows_available} query rows")
    row = full.values[query]
    gr, gc = patch_grid_for(row.shape[0], patch_grid)
    extra = row.shape[0] - gr * gc
    values = np.ascontiguousarray(row[extra:].reshape(gr, gc), dtype=np.float32)
    return Frame(
        values=values,
        row_axis="patch row",
        col_axis="patch column",
        row_labels=[str(i) for i in range(gr)],
        col_labels=[str(i) for i in range(gc)],
        title=f"{full.title} · query {full.row_labels[query]}",
        region=(0, gr, 0, gc),
        full_shape=(gr, gc),
        block=(1, 1),
        selection={**full.selection, "query": query, "skipped_keys": extra},
    )


def view_frame(cap: Capture, spec: ViewSpec, selection: dict) -> Frame:
    """The frame a canvas view shows for a selection (a head grid: the highlighted head, pooled like it)."""
    args = frame_args(cap, selection)
    if spec.kind == "overlay":
        shown = frame(cap, **args, tokens=spec.tokens, class_names=spec.class_names)
        return overlay_frame(shown, spec.query, spec.patch_grid)
    return frame(
        cap,
        **args,
        region=spec.region if spec.kind == "heatmap" else None,
        size=spec.size,
        tokens=spec.tokens,
        groups=spec.groups,
        class_names=spec.class_names,
    )


def view_panels(cap: Capture, spec: ViewSpec, selection: dict, *, labels: bool = True) -> list[Frame]:
    """The frames of every panel of a view, in the order they are sent.

    A head grid has one per head of each site it shows (site-major); every
    other view has one, :func:`view_frame`. ``labels=False`` leaves a head grid's
    frames without row and column labels (``frame(..., labels=False)``): its
    thumbnails show none, and building 144 label lists is most of a model-wide grid's cost.
    """
    if spec.kind != "headgrid":
        return [view_frame(cap, spec, selection)]
    args = frame_args(cap, selection)
    out = []
    for layer in grid_layers(cap, spec, selection):
        name = cap.site_name(layer)
        n = cap.num_heads(layer)
        if n is None or cap.kinds[name] == "weights":
            raise ValueError(
                f"site {name!r} (layer {layer}) holds weights, not heads of query x key attention"
            )
        for h in range(n):
            out.append(
                frame(
                    cap,
                    **{**args, "layer": layer, "head": h},
                    size=spec.size,
                    tokens=spec.tokens,
                    groups=spec.groups,
                    labels=labels,
                )
            )
    return out


def is_difference(fr: Frame) -> bool:
    """Whether a frame is a difference map (its colour range is then symmetric about 0): a class
    difference, or a site ``cap.metadata["difference_sites"]`` lists (``aw.compare``'s ``a − b``)."""
    return fr.selection.get("difference") is not None or bool(fr.selection.get("diverging"))


def frame_state(
    fr: Frame, scale: str = "linear", vrange: tuple[float, float] | None = None, color_range: str = "frame"
) -> tuple[bytes, dict]:
    """A frame as ``(codes, meta)``: ``h*w`` uint8 codes plus the header the JS reads.

    The header is small (shape, value range, axes, region, title, caption,
    where the frame is from): the row and column labels travel separately
    (:func:`frame_labels`), only when they change. ``vrange`` is the colour
    range (:func:`view_range`); None: the frame's own (a difference map's is
    symmetric about zero, ``vmin = -vmax``). ``data_min``/``data_max`` are
    the frame's finite extremes, which the colour bar marks.
    """
    lo, hi = (None, None) if vrange is None else vrange
    header, payload = wire.encode(fr.values, scale, vmin=lo, vmax=hi, symmetric=is_difference(fr))
    extent = wire.data_extent(fr.values)
    sel = fr.selection
    meta = dict(
        header,
        title=fr.title,
        row_axis=fr.row_axis,
        col_axis=fr.col_axis,
        region=[int(v) for v in fr.region],
        full_shape=[int(v) for v in fr.full_shape],
        block=[int(v) for v in fr.block],
        color_range=color_range,
        data_min=None if extent is None else extent[0],
        data_max=None if extent is None else extent[1],
        caption=range_caption(fr, (header["vmin"], header["vmax"]), color_range),
        where={k: _plain_value(sel.get(k)) for k in ("layer", "head", "step", "sample") if k in sel},
        error=None,
    )
    return payload, meta


def significance_state(cap: Capture, fr: Frame, alpha: float, caption: str = "") -> dict:
    """The header entries outlining a class-difference frame's significant cells.

    ``outline``: the cells where the classes differ at ``q < alpha``
    (:func:`attnwidget.analysis._frame_cells.frame_significance`), packed one bit
    per cell, row-major, most significant bit first (``numpy.packbits``), in
    base64; absent where no cell differs or the frame cannot be tested.
    ``caption``: the frame's caption with the test's count, or the reason it
    was not tested. Empty for a frame that is not a class difference.
    """
    if fr.selection.get("difference") is None:
        return {}  # nothing to test, and no import of the analysis room (matplotlib: ~1 s cold)
    from .analysis._frame_cells import frame_significance

    cells = frame_significance(cap, fr, alpha)
    if cells is None:
        return {}
    out: dict = {"caption": f"{caption} · {cells.text}" if caption else cells.text}
    if cells.mask is not None and cells.mask.any():
        out["outline"] = base64.b64encode(np.packbits(cells.mask, axis=None).tobytes()).decode("ascii")
    return out


def _plain_value(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def range_caption(fr: Frame, vrange: tuple[float, float], color_range: str = "frame") -> str:
    """The caption under a frame about its colours: the range when it is not the frame's own
    (``"shared colour range 0-0.934 (every head and step of the site)"``), and a frame whose
    values hardly vary (:func:`attnwidget.wire.range_note`); ``""`` when there is nothing to say."""
    parts = []
    if color_range == "fixed":
        parts.append(f"fixed colour range {wire.format_range(*vrange)}")
    elif color_range == "shared":
        parts.append(f"shared colour range {wire.format_range(*vrange)} (every head and step of the site)")
    note = wire.range_note(fr.values)
    if note is not None:
        parts.append(note)
    return " · ".join(parts)


#: shared ranges computed lately: (capture, what the range depends on) -> (weakref to capture, range)
_SHARED: OrderedDict = OrderedDict()
SHARED_CACHE_SIZE = 128


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, np.generic):
        return value.item()
    return value


def forget_ranges(cap: Capture | None = None) -> None:
    """Drop the cached shared ranges of a capture (all captures when None), e.g. after
    changing its arrays in place (``view.refresh()`` calls it)."""
    for key in [k for k in _SHARED if cap is None or k[0] == id(cap)]:
        del _SHARED[key]


def shared_range(cap: Capture, spec: ViewSpec, selection: dict) -> tuple[float, float]:
    """One colour range for every head and step of the selected site: the min and max of
    their full-resolution frames (positive part on the log scale; ``-m..m`` for a difference
    map), for the selection's sample, class, statistic and groups.

    Zooming shows part of a full-resolution frame and pooling averages it, so
    every frame the view can show lies inside this range. An image overlay's
    range is its query row's over heads and steps. Computed once per site and
    selection and cached (:func:`forget_ranges` empties the cache).
    """
    args = frame_args(cap, selection)
    name = cap.site_name(args["layer"])
    key: Any = (
        id(cap),
        (cap.steps, len(cap.layers), cap.kinds[name]),
        name,
        _hashable({k: v for k, v in args.items() if k not in ("head", "step", "layer")}),
        spec.kind == "overlay" and (spec.query, spec.patch_grid),
        _hashable(spec.groups) if not callable(spec.groups) else id(spec.groups),
        spec.scale,
    )
    try:
        hit = _SHARED.get(key)
    except TypeError:  # an unhashable selection value: no caching
        key, hit = None, None
    if hit is not None and hit[0]() is cap:
        _SHARED.move_to_end(key)
        return hit[1]
    full = replace(spec, region=None, size=None)
    heads = cap.num_heads(name)
    head_choices = list(range(heads)) if heads and cap.kinds[name] != "weights" else [selection["head"]]
    extremes, symmetric = [], False
    for step in range(max(cap.steps, 1)):
        if cap.holds(name, step) is None:
            continue
        for head in head_choices:
            try:
                fr = view_frame(cap, full, {**selection, "layer": args["layer"], "head": head, "step": step})
            except (IndexError, KeyError, ValueError, SelectionError):
                continue
            symmetric = symmetric or is_difference(fr)
            v = np.asarray(fr.values, dtype=np.float32)
            finite = v[np.isfinite(v)]
            if finite.size:
                extremes += [finite.min(), finite.max()]
                positive = finite[finite > 0]
                if positive.size:
                    extremes.append(positive.min())
    found = wire.value_range(np.array(extremes, dtype=np.float32), spec.scale, symmetric)
    if key is not None:
        _SHARED[key] = (weakref.ref(cap), found)
        while len(_SHARED) > SHARED_CACHE_SIZE:
            _SHARED.popitem(last=False)
    return found


def view_range(cap: Capture, spec: ViewSpec, selection: dict, fr: Frame) -> tuple[float, float] | None:
    """The colour range a view draws the frame ``fr`` of a selection with: None for the
    frame's own (``color_range="frame"``), :func:`attnwidget.wire.fixed_range` or :func:`shared_range`."""
    mode = spec.color_range
    if mode not in wire.COLOR_RANGES:
        raise ValueError(f"color_range must be one of {wire.COLOR_RANGES}, not {mode!r}")
    if mode == "frame":
        return None
    if mode == "fixed":
        return wire.fixed_range(spec.scale, symmetric=is_difference(fr))
    return shared_range(cap, spec, selection)


def frame_labels(fr: Frame | None) -> dict:
    """The row and column labels of a frame as the JS reads them: ``{"rows": [...], "cols": [...]}``."""
    if fr is None:
        return {"rows": [], "cols": []}
    return {"rows": [str(s) for s in fr.row_labels], "cols": [str(s) for s in fr.col_labels]}


def error_state(message: str) -> tuple[bytes, dict]:
    """An empty frame carrying an error message the view shows as text."""
    return b"", {
        "dtype": "uint8",
        "shape": [0, 0],
        "vmin": 0.0,
        "vmax": 1.0,
        "scale": "linear",
        "title": "",
        "row_axis": "",
        "col_axis": "",
        "region": [0, 0, 0, 0],
        "full_shape": [0, 0],
        "block": [1, 1],
        "color_range": "frame",
        "data_min": None,
        "data_max": None,
        "caption": "",
        "where": {},
        "error": message,
    }


def _grid_state(cap: Capture, spec: ViewSpec, selection: dict) -> dict:
    try:
        frames = view_panels(cap, spec, selection, labels=False)  # thumbnails show no labels
    except (IndexError, KeyError, ValueError) as e:
        return {"_thumbs": b"", "_thumbs_meta": {"layers": [], "heads": 0, "thumbs": [], "error": str(e)}}
    parts, thumbs, offset = [], [], 0
    layers = grid_layers(cap, spec, selection)
    try:
        lo, hi = grid_range(cap, spec, selection, frames) or (None, None)
    except (IndexError, KeyError, ValueError) as e:
        return {"_thumbs": b"", "_thumbs_meta": {"layers": [], "heads": 0, "thumbs": [], "error": str(e)}}
    for fr in frames:
        # per frame: each thumbnail over its own range (a difference map's symmetric about zero)
        header, payload = wire.encode(fr.values, "linear", vmin=lo, vmax=hi, symmetric=is_difference(fr))
        thumbs.append(
            {
                "layer": cap.layers.index(fr.selection["layer"]),
                "head": int(fr.selection["head"]),
                "shape": header["shape"],
                "offset": offset,
                "vmin": header["vmin"],
                "vmax": header["vmax"],
            }
        )
        parts.append(payload)
        offset += len(payload)
    heads = max((t["head"] for t in thumbs), default=-1) + 1
    meta = {
        "layers": layers,
        "layer_names": [cap.layers[i] for i in layers],
        "heads": heads,
        "thumbs": thumbs,
        "color_range": spec.color_range,
        "error": None,
    }
    return {"_thumbs": b"".join(parts), "_thumbs_meta": meta}


def grid_range(
    cap: Capture, spec: ViewSpec, selection: dict, frames: list[Frame]
) -> tuple[float, float] | None:
    """The one colour range of a head grid's thumbnails, or None: each its own (``"frame"``).

    ``"fixed"``: ``[0, 1]``; ``"shared"``: the union of :func:`shared_range` of every site
    shown (so a model-wide grid compares layers too). Thumbnails are linear.
    """
    if spec.color_range == "frame":
        return None
    if spec.color_range == "fixed":
        return wire.fixed_range("linear", symmetric=any(is_difference(f) for f in frames))
    linear = replace(spec, scale="linear")
    ends = [
        shared_range(cap, linear, {**selection, "layer": layer})
        for layer in grid_layers(cap, spec, selection)
    ]
    return min(e[0] for e in ends), max(e[1] for e in ends)


def view_state(
    cap: Capture, spec: ViewSpec, selection: dict, *, frame_of: Callable[[], Frame] | None = None
) -> dict:
    """What a view sends to the browser for a selection: its synced data, trait name -> value.

    Parameters
    ----------
    cap : Capture
    spec : ViewSpec
    selection : dict
        The :data:`SELECTION` values.
    frame_of : callable, optional
        Returns the frame of a canvas view for this selection (a widget's
        cache of :func:`view_frame`); default :func:`view_frame`.

    Returns
    -------
    dict
        A head grid: ``_thumbs`` (every thumbnail's uint8 codes, concatenated)
        and ``_thumbs_meta`` (site, head, shape, offset and value range of
        each). Other views: ``_frame`` (uint8 codes), ``_frame_meta`` (shape,
        value range, axes, region, title) and ``_labels`` (row and column
        labels). A selection with no frame gives an empty frame whose header
        carries the error message, which the view shows as text.
    """
    if spec.kind == "headgrid":
        return _grid_state(cap, spec, selection)
    try:
        fr = frame_of() if frame_of is not None else view_frame(cap, spec, selection)
        payload, meta = frame_state(fr, spec.scale, view_range(cap, spec, selection, fr), spec.color_range)
        if spec.significance is not None:
            meta.update(significance_state(cap, fr, spec.significance, meta["caption"]))
        labels = frame_labels(fr)
    except (IndexError, KeyError, ValueError) as e:
        payload, meta = error_state(str(e))
        labels = frame_labels(None)
    return {"_frame": payload, "_frame_meta": meta, "_labels": labels}
