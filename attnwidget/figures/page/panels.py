"""The panels of an explorer's standalone page besides its canvas views: head statistics and the
weights view's class chart, as numbers the page draws itself (no bqplot offline), and the layout.

:func:`explorer_parts` reads an explorer through its public attributes
(``views``, ``main_view()``, ``tabs``) and each view's ``describe()``, never
a widget's internals. :func:`head_bars` gives what the explorer's
``HeadStats`` shows for a selection (entropy, row maximum and sparsity per
head of the site, computed over the samples of the class, or the entropy of
the statistics on a site that keeps none) and :func:`weights_profile` what
the ``WeightsView``'s chart shows (the mean weight along the site's last
axis, per class): both from the functions of the lower rooms those widgets
call, so page and widget agree (the browser test compares them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._frame import select_samples
from ..._panels import TIME_AXES, class_profile, stats_for
from ..._view_state import ViewDescription, class_reason, labels_fit
from ...store import class_name
from .store import jsonable

__all__ = ["explorer_parts", "head_bars", "weights_profile", "STATS", "TIME_AXES"]

#: the head statistics, in the order the widget draws them
STATS = ("entropy", "max", "sparsity")
#: what the chart of a statistics-only site says (as ``HeadStats`` does)
STATS_TITLE = "head entropy from the statistics ({n} samples{of})"
STATS_NOTE = (
    "statistics-only capture: per-head entropy over every streamed sample; the row "
    "maximum and sparsity need per-sample arrays (collect with keep='both')"
)


def explorer_parts(view: Any) -> dict | None:
    """An explorer's views as descriptions, by kind, and how it lays them out; None for a single view.

    Returns ``{"main": kind, "descriptions": {kind: ViewDescription}, "tabs": bool, "tab": 0|1,
    "class_names": {label: name} or None}``: the main matrix (heatmap, else weights, else overlay),
    every view shown, whether attention and weights sites get a tab each, the tab shown first, and
    the names its class control shows.
    """
    views = getattr(view, "views", None)
    main_of = getattr(view, "main_view", None)
    if not isinstance(views, (list, tuple)) or not callable(main_of):
        return None
    descriptions: dict[str, ViewDescription] = {}
    for v in views:
        d = v.describe()
        if isinstance(d, ViewDescription):
            descriptions.setdefault(d.kind, d)
    main = main_of().describe()
    tabs = getattr(view, "tabs", None)
    return {
        "main": main.kind,
        "descriptions": descriptions,
        "tabs": tabs is not None,
        "tab": int(getattr(tabs, "selected_index", 0) or 0) if tabs is not None else 0,
        "class_names": _shown_class_names(view, main.cap),
    }


def _shown_class_names(view: Any, cap: Any) -> dict | None:
    """The class names the explorer's class control shows (label -> name), or None."""
    control = getattr(getattr(view, "controls", None), "label", None)
    options = list(getattr(control, "options", None) or [])[1:]  # the first is "all samples"
    classes = cap.classes()
    if len(options) != len(classes):
        return None
    return {c: str(name) for (name, _), c in zip(options, classes)}


def head_bars(cap: Any, selection: dict, cache: dict | None = None) -> dict:
    """What the explorer's head statistics show for a selection, as plain data.

    ``{"bars": {name: [value per head]}, "title", "caption", "note"}``; or
    ``{"error": text}`` where the site has no heads to measure (the widget
    then hides itself). ``caption`` says what the bars are computed over.
    ``cache`` (a dict kept between calls) computes the bars of a site, step
    and class once, whatever else the selection says.
    """
    name = cap.site_name(selection["layer"])
    step = selection["step"]
    try:
        if cap.kinds[name] == "weights" or "head" not in cap.axes[name]:
            raise ValueError(f"site {name!r} holds weights, not heads of query x key attention")
        label = selection["label"] if class_reason(cap, selection) is None else None
        key = (name, step, label)
        bars = None if cache is None else cache.get(key)
        if bars is None:
            bars = stats_for(cap, name, step, label)
            if cache is not None:
                cache[key] = bars
    except (IndexError, KeyError, ValueError) as e:
        return {"error": str(e)}
    names = [k for k in STATS if k in bars]
    over, title, note = "", "head statistics", ""
    if names == list(STATS):
        n = len(select_samples(cap, label, name))
        if n == 1:
            over = "over the one sample"
        elif label is None:
            over = f"mean over all {n} samples"
        else:
            over = f"mean over the {n} samples of class {label}"
    else:  # statistics only: the entropy of every streamed sample
        count = cap.class_count(selection["label"], selection["layer"], step)
        of = "" if selection["label"] is None else f" of class {selection['label']}"
        title, note = STATS_TITLE.format(n=count, of=of), STATS_NOTE
    caption = title if names != list(STATS) else over
    return {
        "bars": {k: [float(v) for v in bars[k]] for k in names},
        "title": title,
        "caption": caption,
        "note": note,
    }


def weights_profile(cap: Any, layer: int, step: int, class_names: Any = None) -> dict:
    """What the weights view's chart shows for a site and step: the mean weight along the site's
    last axis, one series per class (one, "all samples", where the labels do not name the site's
    samples), drawn as lines where that axis is time, else as grouped bars.

    ``{"series": [[value per position] per class], "legend", "names", "axis", "lines"}``, or
    ``{"error": text}``.
    """
    try:
        name = cap.site_name(layer)
        classes = cap.classes()
        if not cap.is_stats_only(name, step) and not labels_fit(cap, name, step):
            classes = []  # the labels do not name this site's samples: one profile of them all
        values, names, axis = class_profile(cap, name, step, classes)
    except (IndexError, KeyError, ValueError) as e:
        return {"error": str(e)}
    if class_names is None:
        class_names = (cap.metadata or {}).get("class_names")
    return {
        "series": jsonable(np.asarray(values, dtype=np.float64).round(6)),
        "legend": [class_name(c, class_names) for c in classes] or ["all samples"],
        "names": [str(n) for n in names],
        "axis": str(axis),
        "lines": axis in TIME_AXES,
    }
