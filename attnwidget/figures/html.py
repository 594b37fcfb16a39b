"""``to_html``: one self-contained page that shows a view offline, controls included.

The page inlines the view's own ES module (``attnwidget/static/<view>.js``)
and a small runtime (``_page.js``) that stands in for the kernel: an
anywidget-style ``model`` whose synced data come from a table embedded in
the page, one entry per selectable combination of layer, head, class,
sample and step (and, on a capture with class statistics, statistic and
class-difference map). Each entry is what the view itself would send for that
selection: :func:`attnwidget._view_state.view_state`, the function the
widget calls, run on the view's description (``view.describe()``), so the
page shows the same frames (pooled to the view's size) as the notebook.
Entries are stored once per distinct content. A Content-Security-Policy
forbids every network request.

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

import base64
import hashlib
import html
import itertools
import json
import os
import pathlib
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .._view_state import (
    SELECTION,
    STAT_CHOICES,
    ViewDescription,
    class_reason,
    frame_args,
    sample_index,
    samples_at,
    sites_for,
    view_state,
)
from ..colormaps import COLORMAPS, DIVERGING
from ..store import FIELDS, class_name, site_arg
from .views import canvas_description

__all__ = ["to_html", "page_table", "inline_module"]

_HERE = pathlib.Path(__file__).resolve().parent
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 16px; margin: 0 0 8px; }
#aw-controls { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 10px; }
#aw-controls label { display: flex; gap: 4px; align-items: center; }
[hidden] { display: none !important; }
.aw-error { color: #b00020; }
.aw-note { color: #666; font-size: 12px; margin-top: 10px; }
"""


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _key(sel: dict, keys: Sequence[str]) -> str:
    # the same string JSON.stringify gives in the page runtime
    return json.dumps([_plain(sel[k]) for k in keys], separators=(",", ":"), ensure_ascii=False)


def _drop_timing(value: Any) -> Any:
    # how long a frame took to compute differs run to run; it must not split equal frames
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "compute_ms"}
    return value


def _label_key(label: Any) -> str:
    return json.dumps(_plain(label), ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return _plain(value)


def _script_json(obj: Any) -> str:
    # JSON inside <script>: "<" escaped so no text can close the element
    return (
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _at(d: ViewDescription, sel: dict) -> dict:
    """The view's selection with the keys of ``sel`` changed (the rest as the view shows now)."""
    return {k: sel.get(k, d.selection[k]) for k in SELECTION}


def _sent_at(d: ViewDescription, sel: dict) -> dict:
    """What the view sends at ``sel``: :func:`~attnwidget._view_state.view_state`, as the widget calls it."""
    spec = replace(d.spec, scale=sel["scale"]) if "scale" in sel else d.spec
    sent = view_state(d.cap, spec, _at(d, sel))
    # the page keeps each frame's labels in its header, as one entry per frame
    labels = sent.pop("_labels", None)
    if isinstance(labels, dict) and isinstance(sent.get("_frame_meta"), dict):
        sent["_frame_meta"] = {
            **sent["_frame_meta"],
            "row_labels": labels["rows"],
            "col_labels": labels["cols"],
        }
    return {k: _jsonable(_drop_timing(val)) for k, val in sent.items()}


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


def _lookup(table: dict, sel: dict, keys: Sequence[str], diff: dict | None):
    """The page runtime's lookup (``_page.js``): the selection, else head/sample "mean"."""
    for head in dict.fromkeys((sel["head"], "mean")):
        for sample in dict.fromkeys((sel["sample"], "mean")):
            cand = dict(sel, head=head, sample=sample)
            if diff is not None and sel.get("difference") is not None:
                cand.update(diff["ignored"], **diff["forced"])
            if _key(cand, keys) in table:
                return cand
    return None


def page_table(view: Any, *, layers: Sequence[int | str] | None = None,
               heads: Sequence[int | str] | None = None, samples: int | Sequence[int] | None = 16,
               steps: Sequence[int] | None = None, scales: Sequence[str] | None = None,
               stats: Sequence[str] | None = None, differences: bool = True,
               class_names: dict | None = None, max_bytes: int = 64 * 2**20,
               sites: Sequence[int | str] | None = None) -> dict:  # fmt: skip
    """The data a standalone page embeds: initial state, options, selection table, states.

    See :func:`to_html` for the parameters. Raises ``ValueError`` when the
    distinct frames exceed ``max_bytes``.

    On a capture with class statistics (``collect(..., keep="stats"|"both")``)
    the selection also names the statistic (``stat``) and, where the
    statistics hold two classes or more, the class-difference map
    (``difference``). A class with statistics and no kept sample gets its
    statistics only (sample ``"mean"``); a site-step with statistics only
    offers no sample. A difference map does not depend on the class, sample
    or statistic: it is stored once, under ``label=None, sample="mean"``, the
    first statistic and the linear scale (``difference.ignored/forced``).
    """
    d = canvas_description(view, "a standalone page")
    cap = d.cap
    layers = site_arg(sites, layers, None, "page_table()")
    # a colour scale changes the codes sent, so it is part of the key where the view has one
    has_scale = d.has("scale")
    scale_opts = list(scales) if scales is not None else [d.spec.scale] if has_scale else []
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
    diff = None
    if pairs:
        diff = {
            "ignored": {
                "label": None,
                "sample": "mean",
                **({"stat": "mean" if "mean" in stat_opts else stat_opts[0]}),
            },
            "forced": {"scale": "linear"} if has_scale else {},
        }
    layer_ids = (
        sites_for(cap, d.kind) if layers is None else [cap.layers.index(cap.site_name(x)) for x in layers]
    )
    if not layer_ids:
        raise ValueError(f"this capture has no site a {d.name} can show")
    labels = [None] + [_plain(x) for x in cap.classes()]

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

    sample_opts: dict[str, list] = {_label_key(lb): ["mean"] for lb in labels}
    layer_opts, table, states, seen, memo = [], {}, [], {}, {}
    total = 0

    def add(sel: dict) -> None:
        nonlocal total
        # selections that give frame() the same arguments share one entry, computed once
        # (the views' own frame cache is keyed the same way)
        same = json.dumps(
            [_jsonable(frame_args(cap, _at(d, sel))), sel.get("scale")], sort_keys=True, default=str
        )
        if same not in memo:
            data = _sent_at(d, sel)
            blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = hashlib.sha1(blob.encode()).hexdigest()
            if digest not in seen:
                seen[digest] = len(states)
                states.append(data)
                total += len(blob)
                if total > max_bytes:
                    raise ValueError(
                        f"the frames of this view take more than {max_bytes / 2**20:.0f} MiB; "
                        f"embed fewer with layers=, heads=, samples=, steps=, stats= or "
                        f"differences=False, a smaller view size, or raise max_bytes"
                    )
            memo[same] = seen[digest]
        table[_key(sel, keys)] = memo[same]

    sites = []  # (index, steps, heads, the step whose samples are counted, own samples per class)
    for li in layer_ids:
        ran = cap.site_steps(li)
        st = ran if steps is None else [s for s in steps if s in ran]
        if st:
            kept = next((s for s in st if cap.holds(li, s) == "samples"), st[0])
            own = {_label_key(lb): site_samples(li, kept, lb) for lb in labels}
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
                    _label_key(lb): [_sample_name(cap, li, kept, lb, s) for s in own[_label_key(lb)]]
                    for lb in labels
                },
                "class_reason": reason if len(labels) > 1 else None,
            }
        )
        for step, head, scale in itertools.product(st, hs, scale_opts or [None]):
            stats_only, with_stats = cap.is_stats_only(li, step), cap.has_stats(li, step)
            for lb in labels:
                if stats_only:  # no sample kept here: the frame is the class statistic
                    shown = ["mean"]
                elif len(own[_label_key(lb)]) == 1 and not with_stats and reason is None:
                    continue  # neither samples of this class nor statistics here
                else:
                    # a sample only other sites have shows this site's last, as the widget clamps it
                    shown = sample_opts[_label_key(lb)]
                for sample, stat in itertools.product(shown, stat_opts or [None]):
                    sel = dict(layer=li, head=head, sample=sample, label=lb, step=step)
                    if stat is not None:
                        sel["stat"] = stat
                    if pairs:
                        sel["difference"] = None
                    if scale is not None:
                        sel["scale"] = scale
                    add(sel)
        for step, head, pair in itertools.product(st, hs, pairs):
            add(dict(layer=li, head=head, step=step, difference=pair, **diff["ignored"], **diff["forced"]))
    if not table:
        raise ValueError("no frame to embed: the sites and steps asked for do not exist")
    # the module text travels once, in its own script; the labels go with each frame's header
    state = {k: _jsonable(val) for k, val in d.state.items() if k != "_labels"}
    if d.has("difference") and "difference" not in keys:
        state["difference"] = None  # no difference map embedded
    now = dict(d.selection, scale=d.spec.scale)
    want = {k: _plain(now[k]) for k in keys}
    if "difference" in keys and now["difference"] is not None and tuple(now["difference"]) not in pairs:
        want["difference"] = None
    found = _lookup(table, want, keys, diff)
    if found is None:  # the view's own selection was left out: start at the first entry
        found = dict(zip(keys, json.loads(next(iter(table)))))
    kept = diff["ignored"] if diff is not None and found.get("difference") is not None else {}
    for k in keys:
        if k not in kept:
            state[k] = _jsonable(found[k])
    state.update(states[table[_key(found, keys)]])
    if diff is not None:
        diff["colormap"] = DIVERGING if "colormap" in state else None
        # what clearing the difference restores (the view saved it when the difference was set)
        diff["before"] = dict(d.restore)
    return {
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
                for p in pairs
            ],
        },
        "difference": diff,
        "table": table,
        "states": states,
    }


def _module_text(d: ViewDescription, esm: Any) -> str:
    src = d.esm if esm is None else esm
    if src is None:
        raise ValueError(f"{d.name} has no ES module to inline")
    if isinstance(src, pathlib.Path) or (isinstance(src, str) and "\n" not in src and src.endswith(".js")):
        p = pathlib.Path(src)
        if not p.exists():
            raise FileNotFoundError(
                f"the view's JS bundle {str(p)!r} does not exist; build it with `npm run build`"
            )
        return p.read_text(encoding="utf-8")
    return str(src)


_EXPORT_TAIL = re.compile(r"export\s*\{\s*([A-Za-z_$][\w$]*)\s+as\s+default\s*\}\s*;?\s*(//[^\n]*\s*)*$")
_EXPORT_DEFAULT = re.compile(r"(^|[;}\n])\s*export\s+default\s+")


def inline_module(text: str) -> str | None:
    """Rewrite a self-contained ES module so its default export lands in ``__awModule``.

    Returns None when the module cannot be rewritten safely (it imports other
    modules, or exports in another form); the page then imports it from a blob.
    """
    if re.search(r"(^|[;\n])\s*import[\s{*'\"]", text):
        return None
    tail = _EXPORT_TAIL.search(text)
    if tail and not _EXPORT_DEFAULT.search(text):
        body = text[: tail.start()] + f"\n__awModule = {{ default: {tail.group(1)} }};\n"
    elif len(_EXPORT_DEFAULT.findall(text)) == 1 and "export " not in _EXPORT_DEFAULT.sub("", text, count=1):
        body = _EXPORT_DEFAULT.sub(lambda m: m.group(1) + "\n__awModule.default = ", text, count=1)
        body = "__awModule = {};\n" + body
    else:
        return None
    return body.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def to_html(view: Any, path: str | os.PathLike, *, layers: Sequence[int | str] | None = None,
            sites: Sequence[int | str] | None = None, heads: Sequence[int | str] | None = None,
            samples: int | Sequence[int] | None = 16, steps: Sequence[int] | None = None,
            scales: Sequence[str] | None = None, stats: Sequence[str] | None = None,
            differences: bool = True, class_names: dict | None = None, title: str | None = None,
            esm: Any = None, max_bytes: int = 64 * 2**20) -> str:  # fmt: skip
    """Write one HTML file that shows a view offline, with working controls and no kernel.

    Parameters
    ----------
    view : Heatmap, HeadGrid, ImageOverlay, WeightsView or Explorer
        The view to export (an Explorer exports its main view).
    path : str or os.PathLike
        Output ``.html`` file.
    sites, layers : sequence of int or str, optional
        Sites the page can show (default: every site the view can show);
        ``layers`` is the older name of ``sites``.
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
        Colour scales to embed, e.g. ``("linear", "log")`` (default: the view's
        current one); each one doubles the frames.
    stats : sequence of str, optional
        On a capture with class statistics (``collect(..., keep="stats"|"both")``):
        the statistics the page offers, among "mean", "var", "min", "max"
        (default: all four).
    differences : bool
        On such a capture, also embed the class-difference maps ``mean[a] - mean[b]``
        of every pair of classes (default True).
    class_names : dict, optional
        Label -> name for the class control.
    title : str, optional
        Page title (default: the view's kind and its selected site).
    esm : str or path, optional
        The ES module to inline instead of the view's bundle.
    max_bytes : int
        Largest amount of frame data to embed.

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
        class_names=class_names or d.class_names,
        max_bytes=max_bytes,
    )
    module = _module_text(d, esm)
    inlined = inline_module(module)
    runtime = (_HERE / "_page.js").read_text(encoding="utf-8")
    if inlined is not None:
        loader = f"let __awModule;\n{inlined}\n{runtime}\nawPage(__awModule);\n"
    else:
        loader = (
            f"{runtime}\nconst __awSrc = JSON.parse(document.getElementById('aw-esm').textContent);\n"
            "const __awUrl = URL.createObjectURL(new Blob([__awSrc], {type: 'text/javascript'}));\n"
            "import(__awUrl).then(awPage, (e) => { const s = document.getElementById('aw-status');\n"
            "  s.textContent = `This page could not load the view's module: ${e}`;\n"
            "  s.className = 'aw-error'; document.body.dataset.awReady = 'error'; });\n"
        )
    esm_tag = (
        ""
        if inlined is not None
        else f'<script type="application/json" id="aw-esm">{_script_json(module)}</script>\n'
    )
    page_title = title or f"attnwidget · {d.name} · {d.site}"
    doc = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html.escape(page_title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(page_title)}</h1>\n"
        '<div id="aw-controls" class="aw-static-controls"></div>\n'
        '<div id="aw-root"></div>\n<p id="aw-status">Loading…</p>\n'
        f'<p class="aw-note">Saved by attnwidget: {len(data["table"])} selections, '
        f"{len(data['states'])} distinct frames embedded; works offline.</p>\n"
        f'<script type="application/json" id="aw-data">{_script_json(data)}</script>\n'
        f'{esm_tag}<script type="module">\n{loader}</script>\n</body>\n</html>\n'
    )
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)
    return path
