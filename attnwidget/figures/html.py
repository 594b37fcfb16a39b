"""``to_html``: one self-contained page that shows a view, or a whole explorer, offline.

The page stands in for the kernel: its runtime (``attnwidget/static/page.js``,
built from ``js/page.js``) gives each view an anywidget-style ``model`` whose
synced data come from tables embedded in the page, one entry per selectable
combination of layer, head, class, sample and step (and, on a capture with
class statistics, statistic and class-difference map). Each entry is what
the view itself would send for that selection (:mod:`.page.table`), so the
page shows the same frames as the notebook. A Content-Security-Policy
forbids every network request.

An explorer's page (``to_html(aw.show(cap), path)``) carries every panel the
explorer shows that has data, laid out as the explorer lays them out (its own
CSS, ``static/explorer.css``, inlined): the main matrix, the head grid (a
thumbnail clicked selects its head), the image overlay (a patch clicked shows
its row and pins it on the matrix, where the page holds every query row), the
head statistics drawn by the page from the numbers embedded (a bar chart per
statistic, the selected head marked, a bar clicked selects its head) and the
weights view (its matrix, its class chart, its own site control beside
attention sites, in a tab of its own). One row of controls drives them all
(layer, head, class, statistic, difference, sample, step and Play where the
explorer has them); the page's title follows the selection. Offline, as in
the notebook: the colour range (this frame, fixed 0 to 1, or shared across the
heads and steps of a site among the frames the page holds), zoom by dragging
a box (into the embedded cells; "reset zoom" restores the frame) and the head
statistics' picker of head roles (``aw.heads`` scores, embedded where the
capture holds at most ``page.panels.ROLES_CELLS`` cells).

Each state is computed once and stored once, across panels too
(:class:`.page.store.Embedded`): frame codes, images and label lists are
stored once, codes deflated where that makes them smaller (the page inflates
them with the browser's ``DecompressionStream`` when a state is first shown),
and base64 once.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
from collections.abc import Sequence
from typing import Any

from .._view_state import sites_for
from ..store import site_arg
from .page.panels import explorer_parts, head_bars, weights_profile
from .page.script import STATIC, inline_module, module_text, page_script, script_json, widget_bundle
from .page.store import Embedded, packed, resolved, unpacked
from .page.table import key_of, view_table
from .views import canvas_description

__all__ = ["to_html", "page_table", "read_page", "resolved", "packed", "unpacked", "inline_module"]

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
#: the page's own layout: the explorer's boxes (ipywidgets' HBox/VBox in the notebook) as plain CSS
_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 16px; margin: 0 0 8px; }
#aw-controls { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 10px; align-items: center; }
#aw-controls label { display: flex; gap: 4px; align-items: center; }
[hidden] { display: none !important; }
.aw-error { color: #b00020; }
.aw-note { color: #666; font-size: 12px; margin-top: 10px; }
.aw-page-tabs { display: flex; gap: 2px; border-bottom: 1px solid #bbb; margin: 0 0 8px; }
.aw-page-tabs button { font: 13px sans-serif; border: 1px solid #bbb; border-bottom: none; background: #eee;
  padding: 4px 14px; cursor: pointer; }
.aw-page-tabs button[aria-selected="true"] { background: #fff; font-weight: 600; }
.aw-page-main { display: flex; flex-flow: row nowrap; align-items: flex-start; min-height: 600px; }
.aw-page-matrix.aw-beside { width: 600px; min-width: 600px; }
.aw-page-side { width: 336px; margin: 0 0 0 12px; display: flex; flex-direction: column; }
.aw-page-side > div { width: 336px; }
.aw-page-play { font: 12px sans-serif; }
.aw-page-chart { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.aw-page-chart svg { overflow: visible; }
.aw-page-chart .aw-bar { cursor: pointer; }
.aw-headstats .aw-headstats-head { display: flex; gap: 10px; align-items: center; margin: 6px 0 4px; }
.aw-weights-row { display: flex; flex-flow: row nowrap; gap: 12px; align-items: flex-start; }
.aw-weights-site label { display: flex; gap: 4px; align-items: center; margin: 0 0 6px; }
"""


#: what a page's title calls its main view, by kind (the names users make them with)
_HEADINGS = {
    "heatmap": "Heatmap",
    "headgrid": "HeadGrid",
    "overlay": "ImageOverlay",
    "weights": "WeightsView",
}


def _explorer_css() -> str:
    path = STATIC / "explorer.css"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _site_ids(cap: Any, layers: Sequence[int | str] | None) -> list[int] | None:
    return None if layers is None else [cap.layers.index(cap.site_name(x)) for x in layers]


def _fits(cap: Any, ids: list[int] | None, kind: str) -> list[int] | None:
    """Of the sites asked for, those a view of ``kind`` can show (None: every one it can)."""
    return None if ids is None else [i for i in ids if i in sites_for(cap, kind)]


def _stats_panel(cap: Any, main: dict, emb: Embedded) -> dict:
    """The head statistics of every selection the main matrix offers (a difference map's too: it
    keeps the class chosen), keyed by what they depend on: site, step, class, sample, statistic."""
    keys = [k for k in ("layer", "sample", "label", "step", "stat") if k in main["keys"]]
    table: dict[str, int] = {}
    bars: dict = {}  # the bars of each site, step and class, computed once
    for key in main["table"]:
        sel = dict(zip(main["keys"], json.loads(key)))
        if sel.get("difference") is not None:
            continue  # the same class, sample and statistic choices are there without the difference
        sel = {k: sel[k] for k in keys}
        own = key_of(sel, keys)
        if own not in table:
            full = {"head": "mean", "stat": "mean", "difference": None, **sel}
            table[own] = emb.state(head_bars(cap, full, bars))
    return {"id": "headstats", "kind": "headstats", "keys": keys, "table": table}


def _profiles(cap: Any, panel: dict, emb: Embedded, class_names: Any) -> dict:
    """The weights view's class chart for each site and step its table holds."""
    table: dict[str, int] = {}
    for info in panel["options"]["layers"]:
        for step in info["steps"]:
            table[key_of({"layer": info["index"], "step": step}, ["layer", "step"])] = emb.state(
                weights_profile(cap, info["index"], step, class_names)
            )
    return {"keys": ["layer", "step"], "table": table}


def page_table(view: Any, *, layers: Sequence[int | str] | None = None,
               heads: Sequence[int | str] | None = None, samples: int | Sequence[int] | None = 16,
               steps: Sequence[int] | None = None, scales: Sequence[str] | None = None,
               stats: Sequence[str] | None = None, differences: bool = True,
               class_names: dict | None = None, max_bytes: int = 64 * 2**20,
               sites: Sequence[int | str] | None = None) -> dict:  # fmt: skip
    """The data a standalone page embeds: initial state, options, selection table, states.

    See :func:`to_html` for the parameters. Raises ``ValueError`` when the
    distinct frames exceed ``max_bytes``.

    ``table`` maps each selection (the JSON list of its ``keys``) to an index
    in ``states``; a state is what the view sends for it, with its byte
    strings and label lists replaced by ``{"__ref__": i}``, an index in
    ``shared`` (bytes as :func:`packed` stores them, labels as lists). Each
    state and each shared part is stored once, and each state is computed
    once: selections that give ``frame()`` the same arguments share it.
    :func:`read_page` reads a written page back with the references resolved.

    On a capture with class statistics (``collect(..., keep="stats"|"both")``)
    the selection also names the statistic (``stat``) and, where the
    statistics hold two classes or more, the class-difference map
    (``difference``). A class with statistics and no kept sample gets its
    statistics only (sample ``"mean"``); a site-step with statistics only
    offers no sample. A difference map does not depend on the class, sample
    or statistic: it is stored once, under ``label=None, sample="mean"``, the
    first statistic and the linear scale (``difference.ignored/forced``).

    For an explorer, ``view``, ``initial``, ``keys``, ``options``,
    ``difference`` and ``table`` are its main matrix's; ``panels`` lists its
    other panels, each with its own ``kind``, ``keys`` and ``table`` into the
    same ``states`` (``headstats``: the bars of each selection; a weights view:
    ``charts``, its class chart per site and step), and ``layout`` says where
    each goes.
    """
    d = canvas_description(view, "a standalone page")
    cap = d.cap
    ids = _site_ids(cap, site_arg(sites, layers, None, "page_table()"))
    parts = explorer_parts(view)
    class_names = class_names or d.class_names
    if parts is not None and not class_names:  # the names the explorer's class control shows
        class_names = parts["class_names"]
    choices: dict[str, Any] = dict(
        heads=heads, samples=samples, steps=steps, stats=stats, differences=differences
    )
    emb = Embedded(max_bytes)
    try:
        main_ids = ids if parts is None else _fits(cap, ids, d.kind)
        if main_ids is not None and not main_ids:
            raise ValueError(f"none of the sites asked for is one a {d.name} can show")
        data = view_table(
            d, emb, layers=main_ids, scales=scales, class_names=class_names, query_rows=True, **choices
        )
        data["id"] = "main"
        if d.kind == "weights":
            data["charts"] = _profiles(cap, data, emb, class_names)
        if parts is not None:
            panels = []
            for kind in ("headgrid", "overlay", "weights"):
                pd = parts["descriptions"].get(kind)
                if pd is None or kind == d.kind:
                    continue
                own = _fits(cap, ids, kind)
                if own is not None and not own:
                    continue  # none of the sites asked for is this panel's
                panel = view_table(
                    pd, emb, layers=own, class_names=class_names, query_rows=kind == "overlay", **choices
                )
                panel["id"] = kind
                if kind == "weights":
                    panel["charts"] = _profiles(cap, panel, emb, class_names)
                    panel["own_site"] = d.kind != "weights"
                panels.append(panel)
            if "headstats" in parts["descriptions"] and d.kind == "heatmap":
                panels.append(_stats_panel(cap, data, emb))
            shown = {p["id"] for p in panels}
            data["panels"] = panels
            data["layout"] = {
                "explorer": True,
                "side": [k for k in ("overlay", "headgrid") if k in shown],
                "below": ["headstats"] if "headstats" in shown else [],
                "tabs": bool(parts["tabs"] and "weights" in shown),
                "tab": parts["tab"] if "weights" in shown else 0,
            }
        emb.finish()
        data["states"], data["shared"] = emb.states, emb.shared
        return data
    finally:
        emb.close()


def read_page(path: str | os.PathLike, *, resolve: bool = False) -> dict:
    """The data a page written by :func:`to_html` embeds (see :func:`page_table`).

    Parameters
    ----------
    path : str or os.PathLike
        A page written by :func:`to_html`.
    resolve : bool
        Give ``initial`` (each panel's too) and every state with its
        references resolved (:func:`resolved`: frame codes and images as
        ``bytes``, labels as lists), as the page runtime sees them; default:
        as stored.

    Returns
    -------
    dict
        For tests and tools that check a written page.
    """
    text = pathlib.Path(path).read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="aw-data">(.*?)</script>', text, re.S)
    if found is None:
        raise ValueError(f"{os.fspath(path)!r} is not a page written by attnwidget's to_html")
    data = json.loads(found.group(1))
    if resolve:
        data["initial"] = resolved(data, data["initial"])
        for panel in data.get("panels", []):
            if "initial" in panel:
                panel["initial"] = resolved(data, panel["initial"])
        data["states"] = [resolved(data, st) for st in data["states"]]
    return data


def _modules(view: Any, data: dict, esm: Any) -> dict[str, str]:
    """The view modules the page needs, by kind: the widget bundle once where it is built, else each
    view's own bundle; ``esm`` (text or path) draws the main matrix instead of its bundle."""
    d = canvas_description(view, "to_html")
    kinds = [data["kind"]] + [p["kind"] for p in data.get("panels", []) if p["kind"] != "headstats"]
    out: dict[str, str] = {}
    bundle = widget_bundle()
    if bundle is not None and any(k != data["kind"] or esm is None for k in kinds):
        out["*"] = bundle
    else:
        parts = explorer_parts(view)
        descriptions = parts["descriptions"] if parts is not None else {d.kind: d}
        for kind in kinds:
            if kind != data["kind"] or esm is None:
                src = descriptions[kind].esm if kind in descriptions else STATIC / f"{kind}.js"
                out[kind] = module_text(src, f"the {kind} view")
    if esm is not None:
        out[data["kind"]] = module_text(esm, f"the {d.name} view")
    return out


def to_html(view: Any, path: str | os.PathLike, *, layers: Sequence[int | str] | None = None,
            sites: Sequence[int | str] | None = None, heads: Sequence[int | str] | None = None,
            samples: int | Sequence[int] | None = 16, steps: Sequence[int] | None = None,
            scales: Sequence[str] | None = None, stats: Sequence[str] | None = None,
            differences: bool = True, class_names: dict | None = None, title: str | None = None,
            esm: Any = None, max_bytes: int = 64 * 2**20) -> str:  # fmt: skip
    """Write one HTML file that shows a view, or an explorer, offline, with working controls and no kernel.

    Parameters
    ----------
    view : Heatmap, HeadGrid, ImageOverlay, WeightsView or Explorer
        The view to export; an Explorer exports every panel it shows that
        has data, as it lays them out, driven by one row of controls.
    path : str or os.PathLike
        Output ``.html`` file.
    sites, layers : sequence of int or str, optional
        Sites the page can show (default: every site the view can show);
        ``layers`` is the older name of ``sites``. On an explorer, each panel
        gets those of them it can show.
    heads : sequence, optional
        Heads to embed (default: "mean", "max" and every head).
    samples : int or sequence of int, optional
        Per class, the first ``samples`` samples (an int, default 16), these
        indices, or None for all; the class mean is always embedded (the class
        statistics where the capture has them: a class with statistics and no
        kept sample offers them alone).
    steps : sequence of int, optional
        Steps to embed (default: all).
    scales : sequence of str, optional
        Colour scales of the main matrix to embed, e.g. ``("linear", "log")``
        (default: the view's current one); each one doubles its frames.
    stats : sequence of str, optional
        On a capture with class statistics (``collect(..., keep="stats"|"both")``):
        the statistics the page offers, among "mean", "var", "min", "max"
        (default: all four).
    differences : bool
        On such a capture, also embed the class-difference maps ``mean[a] - mean[b]``
        of every pair of classes (default True).
    class_names : dict, optional
        Label -> name for the class control (an explorer's default: the
        names it was given, else ``cap.metadata["class_names"]``).
    title : str, optional
        Page title (default: the view's name and what its controls show,
        following the selection).
    esm : str or path, optional
        The ES module that draws the main matrix instead of its bundle.
    max_bytes : int
        Largest amount of data to embed, in characters of the page (frame
        codes and images as stored: deflated where smaller, base64); past it,
        a ValueError says how to embed less.

    Returns
    -------
    str
        The path written.
    """
    d = canvas_description(view, "to_html")
    path = os.fspath(path)
    if not path.lower().endswith((".html", ".htm")):
        raise ValueError(f"to_html writes an .html file, not {path!r}")
    data = page_table(
        view,
        layers=layers,
        sites=sites,
        heads=heads,
        samples=samples,
        steps=steps,
        scales=scales,
        stats=stats,
        differences=differences,
        class_names=class_names,
        max_bytes=max_bytes,
    )
    data["title"] = title  # None: the page's title follows the selection
    # an explorer's page is named by its main matrix: its title says what that matrix shows
    data["heading"] = _HEADINGS.get(d.kind, d.name)
    runtime = module_text(STATIC / "page.js", "the page runtime")
    extra, script = page_script(_modules(view, data, esm), runtime)
    page_title = title or f"{data['heading']} · {d.site}"
    css = _STYLE + _explorer_css()  # the views' own style sheet, a lone view's too (its grid, tooltip)
    counts = (
        f"{len(data['table']) + sum(len(p['table']) for p in data.get('panels', []))} selections, "
        f"{len(data['states'])} distinct states, {len(data['shared'])} distinct frames, images and labels"
    )
    doc = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html.escape(page_title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f'<h1 id="aw-title">{html.escape(page_title)}</h1>\n'
        '<div id="aw-controls" class="aw-static-controls"></div>\n'
        '<div id="aw-page"><div id="aw-root"></div></div>\n<p id="aw-status">Loading…</p>\n'
        f'<p class="aw-note">Saved by attnwidget: {counts} embedded; works offline.</p>\n'
        f'<script type="application/json" id="aw-data">{script_json(data)}</script>\n'
        f'{extra}<script type="module">\n{script}</script>\n</body>\n</html>\n'
    )
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)
    return path
