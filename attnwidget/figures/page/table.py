"""One view's table in a standalone page: every selection its controls offer -> the state it shows.

Each entry is what the view itself would send for that selection:
:func:`attnwidget._view_state.view_state`, the function the widget calls,
run on the view's description (``view.describe()``), so the page shows the
same frames (pooled to the view's size) as the notebook. Each state is
computed once and stored once (:class:`~.store.Embedded`): selections that
give ``frame()`` the same arguments share one (a head grid's thumbnails do
not depend on the head picked, nor, showing every site, on the site), and
the mean of a one-sample class is that sample where nothing is padding.

An image overlay with one image per sample embeds each distinct image once
and shows the image of the sample selected (none, as the widget, for a mean
or a class statistic). Where it is cheap (``query_rows``: at most
:data:`QUERY_ROWS_BYTES` of codes in all) an overlay's state also holds
every query row on the patch grid (``_rows``, ``_rows_meta``), so that the
page can show the row of a patch clicked, or of the row pinned on the
heatmap, as the explorer does.

Every frame is embedded coded over its own range (``color_range="frame"``,
the finest codes there are), whatever the view's colour range: the page codes
the frames again for the range chosen in it (``js/page-range.js``: this
frame, fixed 0..1, or one range shared by the site's heads and steps, from
the frames it holds) and starts on the view's own choice.

Sites may keep different numbers of samples: each site's entry in
``options.layers`` lists its own samples per class (``samples``), what each
is called (``sample_names``, ``cap.sample_name``) and, where a class filter
cannot apply to it, why (``class_reason``); ``options.samples`` is, per
class, every sample index some site offers. A selection that a site cannot
show is embedded as what the widget shows for it (the class filter left
out, the sample clamped to the site's last), so no choice of the page's
controls finds nothing.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..._frame import frame
from ..._view_state import (
    SELECTION,
    STAT_CHOICES,
    ViewDescription,
    ViewSpec,
    class_reason,
    frame_args,
    frame_state,
    grid_layers,
    overlay_frame,
    sample_index,
    samples_at,
    sites_for,
    view_range,
    view_state,
)
from ...colormaps import COLORMAPS, DIVERGING
from ...store import FIELDS, class_name
from ..overlay import NO_IMAGE, image_choice
from .store import Embedded, jsonable, plain

__all__ = ["view_table", "key_of", "label_key", "lookup", "QUERY_ROWS_BYTES"]

#: most bytes of overlay codes embedded for every query row (beyond it: the saved query only)
QUERY_ROWS_BYTES = 4 * 2**20


def key_of(sel: dict, keys: Sequence[str]) -> str:
    """A selection's key in a table: the same string ``JSON.stringify`` gives in the page runtime."""
    return json.dumps([plain(sel[k]) for k in keys], separators=(",", ":"), ensure_ascii=False)


def label_key(label: Any) -> str:
    """A class label as the key of the per-class options (``"null"`` for every sample)."""
    return json.dumps(plain(label), ensure_ascii=False)


def _spec(d: ViewDescription) -> ViewSpec:
    """The spec of a canvas view's description (every view a page draws from frames has one), with
    each frame coded over its own range: the page codes them again for the colour range chosen in
    it (``js/page-range.js``), and a frame's own range gives it the finest codes."""
    if d.spec is None:
        raise TypeError(f"{d.name} shows no frames for a standalone page to embed")
    return d.spec if d.spec.color_range == "frame" else replace(d.spec, color_range="frame")


def _at(d: ViewDescription, sel: dict) -> dict:
    """The view's selection with the keys of ``sel`` changed (the rest as the view shows now)."""
    return {k: sel.get(k, d.selection[k]) for k in SELECTION}


def _sent_at(d: ViewDescription, sel: dict) -> dict:
    """What the view sends at ``sel``: :func:`~attnwidget._view_state.view_state`, as the widget calls it."""
    spec = replace(_spec(d), scale=sel["scale"]) if "scale" in sel else _spec(d)
    sent = view_state(d.cap, spec, _at(d, sel))
    # the page keeps each frame's labels in its header, as one entry per frame
    labels = sent.pop("_labels", None)
    if isinstance(labels, dict) and isinstance(sent.get("_frame_meta"), dict):
        sent["_frame_meta"] = {
            **sent["_frame_meta"],
            "row_labels": labels["rows"],
            "col_labels": labels["cols"],
        }
    return sent


def _same_as_its_sample(cap: Any, args: dict, sites: Sequence[int]) -> bool:
    """Whether the mean over samples that ``args`` asks for is the one sample of its class at every
    site of ``sites`` (no position of them is padding at any step, so the mean of that one sample
    is the sample, cell for cell): then it is computed once, as sample 0."""
    if args.get("sample") != "mean" or "stat" in args or "difference" in args:
        return False
    step = args["step"]
    for site in sites:
        if cap.holds(site, step) != "samples" or samples_at(cap, site, step, args["label"]) != 1:
            return False
        if any(cap.valid_mask(site, s) is not None for s in cap.site_steps(site)):
            return False
    return True


def _frame_key(d: ViewDescription, sel: dict) -> tuple[str, dict]:
    """What the data a view sends for ``sel`` is computed from, and the selection to compute it at:
    selections with one key get one state.

    The arguments :func:`~attnwidget._view_state.frame_args` gives ``frame()``
    (a class filter that cannot apply is left out, a sample past the site's
    last is clamped) and the colour scale. A head grid's thumbnails do not
    depend on the head picked (only its highlight does, drawn in the page),
    nor, showing every site, on the site picked; and the mean of a class of
    one sample is that sample where nothing is padding.
    """
    cap = d.cap
    args = frame_args(cap, _at(d, sel))
    at = sel
    if d.kind == "headgrid":
        args.pop("head", None)
        sites = grid_layers(cap, _spec(d), _at(d, sel))
        if _spec(d).mode == "model":
            args.pop("layer", None)
        try:
            if _same_as_its_sample(cap, args, sites):
                # computed as that sample: a mean over one sample is a copy of it, and costs more
                args["sample"], at = 0, {**sel, "sample": 0}
        except (IndexError, KeyError, ValueError):
            pass  # the grid's own state says what is wrong
    return json.dumps([jsonable(args), sel.get("scale")], sort_keys=True, default=str), at


def _with_image(d: ViewDescription, images: Any, sel: dict, sent: dict, emb: Embedded, refs: dict) -> None:
    """Add to an overlay's state the image of the sample shown (each image stored once), or white
    with the reason there is none (a mean, a class statistic), as the widget sends it."""
    shown = image_choice(d.cap, _at(d, sel), len(images))
    if shown is None:
        return
    k, caption = shown
    if k not in refs:
        index = 0 if k is None else k
        rgba = np.concatenate([images[index], np.full(images[index].shape[:2] + (1,), 255, np.uint8)], -1)
        refs[k] = (emb.data(np.ascontiguousarray(rgba).tobytes()), list(rgba.shape))
    ref, shape = refs[k]
    if caption is None:
        sent["_image"] = ref
        sent["_image_meta"] = {"shape": shape, "sample": k, "caption": None}
        return
    meta = sent["_frame_meta"]
    title = meta.get("title") or ""
    sent["_frame_meta"] = {**meta, "title": f"{title} · {NO_IMAGE}" if title else caption}
    # white of the size shown last (the first image's at the start), so the canvas keeps its size
    sent["_image"] = {"__white__": shape}
    sent["_image_meta"] = {"shape": shape, "sample": None, "caption": caption}


#: the header entries that differ from one query row of an overlay to the next
_ROW_FIELDS = ("vmin", "vmax", "data_min", "data_max", "title", "caption")


def _query_rows(d: ViewDescription, sel: dict, meta: dict) -> dict | None:
    """Every query row of an overlay's selection on the patch grid: ``_rows`` (the codes, one row
    after the other) and ``_rows_meta`` (shape ``[queries, patches]``, the patch grid, the leading
    keys skipped, and each row's range, title and caption); None where the frame is an error."""
    if meta.get("error"):
        return None
    cap, spec = d.cap, replace(_spec(d), scale=sel.get("scale", _spec(d).scale))
    at = _at(d, sel)
    full = frame(cap, **frame_args(cap, at), tokens=spec.tokens)
    codes, rows = [], []
    suffix = ""
    title = meta.get("title") or ""
    if title.endswith(f" · {NO_IMAGE}"):
        suffix = f" · {NO_IMAGE}"
    grid = skipped = None
    for q in range(full.values.shape[0]):
        fr = overlay_frame(full, q, spec.patch_grid)
        vrange = view_range(cap, replace(spec, query=q), at, fr)
        payload, m = frame_state(fr, spec.scale, vrange, spec.color_range)
        codes.append(payload)
        m["title"] = f"{m['title']}{suffix}"
        rows.append([jsonable(m[k]) for k in _ROW_FIELDS])
        grid, skipped = m["shape"], fr.selection.get("skipped_keys", 0)
    if grid is None:
        return None
    return {
        "_rows": b"".join(codes),
        "_rows_meta": {
            "shape": [len(codes), int(grid[0] * grid[1])],
            "grid": [int(v) for v in grid],
            "skipped": int(skipped or 0),
            "fields": list(_ROW_FIELDS),
            "rows": rows,
        },
    }


def _sample_name(cap: Any, layer: int, step: int, label: Any, sample: Any) -> str:
    """What the page's sample control calls a choice at a site: the sample's name, or the mean."""
    if sample == "mean":
        return "mean of samples"
    sel = {"layer": layer, "head": "mean", "sample": sample, "label": label, "step": step}
    index = sample_index(cap, sel)
    return cap.sample_name(layer, index) if index is not None else f"sample {sample}"


def _heads_for(d: ViewDescription, layer: int, heads) -> list:
    n = d.cap.num_heads(layer)
    if n is None:
        return ["mean"]
    options = ["mean", "max"] + list(range(n))
    return options if heads is None else [h for h in options if h in list(heads)] or ["mean"]


def _stat_options(d: ViewDescription, stats: Sequence[str] | None) -> list[str]:
    """The class statistics to embed: every one where the capture has statistics."""
    has = d.has("stat") and d.cap.has_stats()
    if stats is None:
        return list(FIELDS) if has else []
    stats = list(dict.fromkeys(stats))
    bad = [s for s in stats if s not in FIELDS]
    if bad or not stats:
        raise ValueError(f"stats must be a non-empty selection of {FIELDS}, not {stats!r}")
    if not has:
        raise ValueError(
            "this capture holds no class statistics to embed; collect it with "
            "aw.collect(..., keep='stats') or keep='both'"
        )
    return stats


def lookup(table: dict, sel: dict, keys: Sequence[str], diff: dict | None):
    """The page runtime's lookup (``js/page-data.js``): the selection, else head/sample "mean"."""
    for head in dict.fromkeys((sel["head"], "mean")):
        for sample in dict.fromkeys((sel["sample"], "mean")):
            cand = dict(sel, head=head, sample=sample)
            if diff is not None and sel.get("difference") is not None:
                cand.update(diff["ignored"], **diff["forced"])
            if key_of(cand, keys) in table:
                return cand
    return None


def view_table(d: ViewDescription, emb: Embedded, *, layers: Sequence[int] | None = None,
               heads: Sequence[int | str] | None = None, samples: int | Sequence[int] | None = 16,
               steps: Sequence[int] | None = None, scales: Sequence[str] | None = None,
               stats: Sequence[str] | None = None, differences: bool = True,
               class_names: Any = None, query_rows: bool = False) -> dict:  # fmt: skip
    """The table of one view, its states stored in ``emb``: see :func:`attnwidget.figures.html.page_table`.

    ``layers`` are site indices (None: every site the view can show);
    ``query_rows``: an overlay also embeds every query row where that takes at
    most :data:`QUERY_ROWS_BYTES`. Returns ``view, initial, keys, options,
    difference, table`` (the states and shared parts stay in ``emb``).
    """
    cap = d.cap
    # a colour scale changes the codes sent, so it is part of the key where the view has one
    has_scale = d.has("scale")
    scale_opts = list(scales) if scales is not None else [_spec(d).scale] if has_scale else []
    if scale_opts and not has_scale:
        raise ValueError(f"a {d.name} has no colour scale to embed")
    stat_opts = _stat_options(d, stats)
    classes = cap.classes(kept=False)
    pairs = (
        [(a, b) for a in classes for b in classes if a != b]
        if stat_opts and differences and d.has("difference")
        else []
    )
    keys = tuple(
        k
        for k in SELECTION
        if k not in ("stat", "difference") or (k == "stat" and stat_opts) or (k == "difference" and pairs)
    ) + (("scale",) if has_scale else ())
    diff: dict[str, Any] | None = None
    if pairs:
        diff = {
            "ignored": {
                "label": None,
                "sample": "mean",
                **({"stat": "mean" if "mean" in stat_opts else stat_opts[0]}),
            },
            "forced": {"scale": "linear"} if has_scale else {},
        }
    layer_ids = sites_for(cap, d.kind) if layers is None else list(layers)
    if not layer_ids:
        raise ValueError(f"this capture has no site a {d.name} can show")
    labels = [None] + [plain(x) for x in cap.classes()]
    images = d.images if d.kind == "overlay" else None

    def site_samples(li: int, step: int, lb: Any) -> list:
        """The sample choices of a class at a site: "mean" and the first ``samples`` of its own."""
        n = samples_at(cap, li, step, lb)  # 0 where the site keeps none (statistics alone)
        idx = (
            list(range(min(n, samples)))
            if isinstance(samples, int)
            else list(range(n))
            if samples is None
            else [s for s in samples if 0 <= s < n]
        )
        return ["mean"] + idx

    sample_opts: dict[str, list] = {label_key(lb): ["mean"] for lb in labels}
    # None: no scale or statistic in the key
    scale_choices: list[str | None] = [*scale_opts] or [None]
    stat_choices: list[str | None] = [*stat_opts] or [None]
    layer_opts: list[dict] = []
    table: dict[str, int] = {}
    computed: dict[str, int] = {}  # _frame_key -> state index: each state is computed once
    chosen: dict[int, dict] = {}  # state index -> a selection that shows it
    image_refs: dict = {}

    def add(sel: dict) -> None:
        same, at = _frame_key(d, sel)
        if same not in computed:
            sent = _sent_at(d, at)
            if images is not None:
                _with_image(d, images, sel, sent, emb, image_refs)
            computed[same] = emb.state(sent)
            chosen.setdefault(computed[same], sel)
        table[key_of(sel, keys)] = computed[same]

    sites = []  # (index, steps, heads, the step whose samples are counted, own samples per class)
    for li in layer_ids:
        ran = cap.site_steps(li)
        st = ran if steps is None else [s for s in steps if s in ran]
        if st:
            kept = next((s for s in st if cap.holds(li, s) == "samples"), st[0])
            own = {label_key(lb): site_samples(li, kept, lb) for lb in labels}
            sites.append((li, st, _heads_for(d, li, heads), kept, own))
            for key, opts in own.items():  # every sample some site offers (the page lists them all)
                sample_opts[key] += [s for s in opts if s not in sample_opts[key]]
    for li, st, hs, kept, own in sites:
        reason = class_reason(cap, {**d.selection, "layer": li, "step": kept, "sample": 0})
        layer_opts.append(
            {
                "index": li,
                "name": cap.layers[li],
                "heads": hs,
                "steps": st,
                "samples": own,
                "sample_names": {
                    label_key(lb): [_sample_name(cap, li, kept, lb, s) for s in own[label_key(lb)]]
                    for lb in labels
                },
                "class_reason": reason if len(labels) > 1 else None,
            }
        )
        for step, head, scale in itertools.product(st, hs, scale_choices):
            stats_only, with_stats = cap.is_stats_only(li, step), cap.has_stats(li, step)
            for lb in labels:
                if stats_only:  # no sample kept here: the frame is the class statistic
                    shown = ["mean"]
                elif len(own[label_key(lb)]) == 1 and not with_stats and reason is None:
                    continue  # neither samples of this class nor statistics here
                else:
                    # a sample only other sites have shows this site's last, as the widget clamps it
                    shown = sample_opts[label_key(lb)]
                for sample, stat in itertools.product(shown, stat_choices):
                    sel = dict(layer=li, head=head, sample=sample, label=lb, step=step)
                    if stat is not None:
                        sel["stat"] = stat
                    if pairs:
                        sel["difference"] = None
                    if scale is not None:
                        sel["scale"] = scale
                    add(sel)
        for step, head, pair in itertools.product(st, hs, pairs):
            assert diff is not None  # there are pairs
            add(dict(layer=li, head=head, step=step, difference=pair, **diff["ignored"], **diff["forced"]))
    if not table:
        raise ValueError("no frame to embed: the sites and steps asked for do not exist")
    _mark_sample_free(layer_opts, table, keys, emb.states)
    rows = None
    if query_rows and d.kind == "overlay":
        rows = _rows_for(d, emb, chosen)
    now = dict(d.selection, scale=_spec(d).scale)
    want = {k: plain(now[k]) for k in keys}
    if "difference" in keys and now["difference"] is not None and tuple(now["difference"]) not in pairs:
        want["difference"] = None
    found = lookup(table, want, keys, diff)
    if found is None:  # the view's own selection was left out: start at the first entry
        found = dict(zip(keys, json.loads(next(iter(table)))))
    first = emb.states[table[key_of(found, keys)]]
    # the view's other synced traits (colormap, opacity, ...); the module text travels once, in its
    # own script, and the labels go with each frame's header
    state = emb.stored({k: v for k, v in d.state.items() if k != "_labels" and k not in first})
    if d.has("difference") and "difference" not in keys:
        state["difference"] = None  # no difference map embedded
    kept_keys = diff["ignored"] if diff is not None and found.get("difference") is not None else {}
    for k in keys:
        if k not in kept_keys:
            state[k] = jsonable(found[k])
    state.update(first)
    if diff is not None:
        diff["colormap"] = DIVERGING if "colormap" in state else None
        # what clearing the difference restores (the view saved it when the difference was set)
        diff["before"] = dict(d.restore)
    return {
        "view": d.name,
        "kind": d.kind,
        "initial": state,
        "keys": list(keys),
        "options": {
            "layers": layer_opts,
            "labels": [
                {"value": lb, "name": "all samples" if lb is None else class_name(lb, class_names)}
                for lb in labels
            ],
            "samples": sample_opts,
            "colormaps": list(COLORMAPS) if "colormap" in state else [],
            "scales": scale_opts,
            "stats": [[s, {value: n for n, value in STAT_CHOICES}[s]] for s in stat_opts],
            "differences": [
                {
                    "value": list(p),
                    "name": f"{class_name(p[0], class_names)} − {class_name(p[1], class_names)}",
                }
                for p in pairs  # fmt: skip
            ],
        },
        "difference": diff,
        "table": table,
        **({"query_rows": rows} if rows is not None else {}),
    }


def _mark_sample_free(
    layer_opts: list[dict], table: dict[str, int], keys: Sequence[str], states: list
) -> None:
    """Mark the sites whose picture does not depend on the sample (``sample_free``: a weights site of
    one value per sample shows every sample as a row, whichever is chosen, the mean's title aside),
    so the page offers no sample control there."""
    at = list(keys).index("sample")

    def drawn(index: int) -> str:  # what a state draws: its codes (or thumbnails) and image
        st = states[index]
        return json.dumps([st.get("_frame"), st.get("_thumbs"), st.get("_image")], sort_keys=True)

    shown: dict[tuple, set] = {}  # (site, the other keys) -> what its samples draw
    for key, index in table.items():
        values = json.loads(key)
        rest = json.dumps(values[:at] + values[at + 1 :])
        shown.setdefault((values[0], rest), set()).add(drawn(index))
    for info in layer_opts:
        sets = [v for (layer, _), v in shown.items() if layer == info["index"]]
        samples = {s for opts in info["samples"].values() for s in opts}
        info["sample_free"] = len(samples) > 1 and all(len(v) == 1 for v in sets)


def _queries(cap: Any, layer: int, step: int) -> int:
    """How many query rows a site has at a step (its kept samples', else its statistics')."""
    if cap.holds(layer, step) == "samples":
        return int(cap.get(layer, step).shape[-2])
    return int(np.asarray(cap.stat(layer, step, "mean")).shape[-2])


def _rows_for(d: ViewDescription, emb: Embedded, chosen: dict[int, dict]) -> bool:
    """Add every query row to each distinct state of an overlay (:func:`_query_rows`) where they
    take at most :data:`QUERY_ROWS_BYTES` in all; whether they were added."""
    total = 0
    for index, sel in chosen.items():
        shape = (emb.states[index].get("_frame_meta") or {}).get("shape") or [0, 0]
        try:
            queries = _queries(d.cap, sel["layer"], sel["step"])
        except (IndexError, KeyError, ValueError):
            continue
        total += int(shape[0]) * int(shape[1]) * queries
    if total > QUERY_ROWS_BYTES:
        return False
    for index, sel in chosen.items():
        try:
            extra = _query_rows(d, sel, emb.states[index].get("_frame_meta") or {})
        except (IndexError, KeyError, ValueError):
            continue  # the state's own frame says what is wrong
        if extra is not None:
            emb.amend(index, extra)
    return True
