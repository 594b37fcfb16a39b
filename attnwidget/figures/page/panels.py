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

Each head statistics entry also holds the head roles of its site and step
(``roles``: previous, first, own, local and broad token, the scores of
``aw.heads``), computed once per site and step with ``roles_for``, the
function the widget's "head roles" choice calls, and captioned as the widget
captions them; the page's picker switches between the two. Scoring roles reads
every cell of every head (about 0.3 s per site of 12 heads at 512 tokens on
two cores), so a page embeds them where the capture's attention holds at most
:data:`ROLES_CELLS` cells in all, and otherwise says, in the picker, why not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._frame import select_samples
from ..._panels import ROLES, TIME_AXES, class_profile, roles_for, stats_for
from ..._view_state import ViewDescription, class_reason, labels_fit
from ...store import class_name
from .store import jsonable

__all__ = [
    "explorer_parts",
    "head_bars",
    "head_roles",
    "roles_cells",
    "weights_profile",
    "STATS",
    "ROLES",
    "ROLES_CELLS",
    "TIME_AXES",
]

#: the head statistics, in the order the widget draws them
STATS = ("entropy", "max", "sparsity")
#: what the chart of a statistics-only site says (as ``HeadStats`` does)
STATS_TITLE = "head entropy from the statistics ({n} samples{of})"
STATS_NOTE = (
    "statistics-only capture: per-head entropy over every streamed sample; the row "
    "maximum and sparsity need per-sample arrays (collect with keep='both')"
)
#: the head roles the widget's picker shows, and what its chart is called
ROLES_TITLE = "head roles (aw.heads)"
#: most attention cells (samples x heads x queries x keys, every site and step) scored for a page's
#: head roles: about 1.5 s of scoring; beyond it the page holds no roles (a BERT-base at 512 tokens
#: holds 38 M per sample)
ROLES_CELLS = 2**24


def roles_cells(cap: Any) -> int:
    """How many attention cells scoring the head roles of every site and step of ``cap`` reads."""
    total = 0
    for name in cap.layers:
        if cap.kinds[name] == "weights" or "head" not in cap.axes[name]:
            continue
        for step in cap.steps_of(name):
            total += int(np.prod(cap.get(name, step).shape))
    return total


def roles_left_out(cells: int) -> dict:
    """The roles entry of a page too large to score them for (``skipped``: the picker says why)."""
    return {
        "error": (
            f"the head roles are not in this page: its attention holds {cells / 1e6:.0f} M cells, "
            f"more than the {ROLES_CELLS / 1e6:.0f} M a page scores (the explorer in a notebook shows them)"
        ),
        "skipped": True,
    }


def head_roles(cap: Any, layer: int, step: int) -> dict:
    """What the widget's head statistics show as "head roles" for a site and step, as plain data.

    ``{"bars": {role: [score per head]}, "title", "caption", "note"}`` (a score
    a site has no row for is 0, as the widget draws it, and the note names
    it), or ``{"error": text}`` where the roles cannot be scored there.
    """
    # the widget's own function (attnwidget._panels): the page shows what its picker shows
    try:
        scores = roles_for(cap, layer, step)
        n_samples = cap.samples_of(layer)
    except (IndexError, KeyError, ValueError) as e:
        return {"error": str(e)}
    missing = [r for r in ROLES if np.isnan(scores[r]).all()]
    note = (
        f"{', '.join(missing)}: no row to score at this site (cross-attention has no shared positions)"
        if missing
        else ""
    )
    return {
        "bars": {r: [float(v) for v in np.nan_to_num(scores[r])] for r in ROLES},
        "title": ROLES_TITLE,
        "caption": f"roles over all {n_samples} sample(s), valid positions",
        "note": note,
    }


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
    and class once, whatever else the selection says. ``roles``: the head roles
    of the site and step (:func:`head_roles`, computed once per site and step).
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
    roles_key = ("roles", name, step)
    roles = None if cache is None else cache.get(roles_key)
    if roles is None:
        cells = None if cache is None else cache.get(("roles", "cells"))
        if cells is None:
            cells = roles_cells(cap)
            if cache is not None:
                cache[("roles", "cells")] = cells
        roles = head_roles(cap, selection["layer"], step) if cells <= ROLES_CELLS else roles_left_out(cells)
        if cache is not None:
            cache[roles_key] = roles
    return {
        "bars": {k: [float(v) for v in bars[k]] for k in names},
        "title": title,
        "caption": caption,
        "note": note,
        "roles": roles,
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
