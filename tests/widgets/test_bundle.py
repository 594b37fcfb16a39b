"""The one front-end bundle, attnwidget/static/widget.js: what `npm run build` makes now, used by every view.

Every canvas view carries that one file as ``_bundle`` (with its hash as ``_bundle_key``), its
``_esm`` is static/loader.js, which runs the bundle once per page, and its ``_js_view`` names a
view the bundle's ``views`` export holds; the styles come from the views' ``_css``
(static/explorer.css) alone: nothing in the bundle adds a style sheet of its own.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import shutil
import subprocess

import pytest

from attnwidget.widgets._browser import CSS
from attnwidget.widgets.headgrid import HeadGrid
from attnwidget.widgets.heatmap import Heatmap
from attnwidget.widgets.overlay import ImageOverlay
from attnwidget.widgets.weights import _WeightsCanvas

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATIC = ROOT / "attnwidget" / "static"
BUNDLE = STATIC / "widget.js"
LOADER = STATIC / "loader.js"
CLASSES = {"heatmap": Heatmap, "headgrid": HeadGrid, "overlay": ImageOverlay, "weights": _WeightsCanvas}


def _build(out: pathlib.Path, *flags: str) -> subprocess.CompletedProcess:
    if shutil.which("node") is None:
        pytest.skip("node is not installed, so the bundle cannot be rebuilt")
    if not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.skip("node_modules/esbuild is missing: run `npm ci` first")
    return subprocess.run(
        ["node", "js/build.mjs", str(out), *flags], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_static_holds_what_the_build_writes_now(tmp_path):
    done = _build(tmp_path / "static")
    assert done.returncode == 0, done.stderr
    built = sorted(p.name for p in (tmp_path / "static").glob("*.js"))
    assert "widget.js" in built, f"the build wrote no widget.js: {built}"
    per_view = sorted(set(built) & {f"{v}.js" for v in CLASSES})
    assert per_view == [], f"the build writes per-view bundles {per_view}: every view is in widget.js"
    # nothing else in static/: no per-view bundle left over from an older build
    assert sorted(p.name for p in STATIC.glob("*.js")) == built
    for name in built:
        assert (STATIC / name).read_bytes() == (tmp_path / "static" / name).read_bytes(), (
            f"attnwidget/static/{name} is stale (js/ changed since it was built): run `npm run build` and check it in"
        )


def test_build_is_deterministic_and_can_write_one_bundle_per_view(tmp_path):
    done = _build(tmp_path / "a", "--views")
    assert done.returncode == 0, done.stderr
    built = {p.name for p in (tmp_path / "a").iterdir()}
    assert {f"{v}.js" for v in ["widget", *CLASSES]} <= built, sorted(built)
    again = _build(tmp_path / "b", "--views")
    assert again.returncode == 0, again.stderr
    for name in sorted(built):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), (
            f"{name} differs between two builds"
        )
    wrong = _build(tmp_path / "c", "--everything")
    assert wrong.returncode == 2 and "unknown: --everything" in wrong.stderr


def test_the_bundle_exports_render_and_views_and_stays_offline():
    text = BUNDLE.read_text(encoding="utf-8")
    tail = re.search(r"export\s*\{([^}]*)\}\s*;\s*$", text)
    assert tail, "widget.js does not end with esbuild's export list"
    names = {part.split(" as ")[-1].strip() for part in tail.group(1).split(",")}
    assert {"default", "views"} <= names, f"widget.js exports {sorted(names)}"
    assert "render(" in text
    assert "innerHTML" not in text, "the bundle uses innerHTML: token strings must stay text"
    assert "http://" not in text and "https://" not in text, "the bundle loads something from the web"


def test_the_bundle_adds_no_style_sheet_of_its_own():
    # the bundle holds every module a view uses: none may add styles beside the views' _css
    text = BUNDLE.read_text(encoding="utf-8")
    found = re.findall(
        r"""createElement\(\s*["']style["']|["']style["']\s*,|adoptedStyleSheets|aw-styles""", text
    )
    assert found == [], (
        f"widget.js adds styles itself ({found}): the views' styles belong in attnwidget/static/explorer.css (_css)"
    )


def test_every_view_uses_the_bundle_and_names_a_view_it_holds():
    source = (ROOT / "js" / "widget.js").read_text(encoding="utf-8")
    held = re.search(r"export const views = \{([^}]*)\}", source)
    assert held, "js/widget.js has no `export const views = {...}`"
    views = {name.strip() for name in held.group(1).split(",")}
    assert views == set(CLASSES)
    bundle = BUNDLE.read_text(encoding="utf-8")
    key = hashlib.sha256(bundle.encode("utf-8")).hexdigest()[:16]
    for name, cls in CLASSES.items():
        # anywidget keeps a class's _esm and _css as the file's text
        assert str(cls._esm) == LOADER.read_text(encoding="utf-8"), f"{cls.__name__}._esm is not loader.js"
        traits = cls.class_traits()
        assert traits["_bundle"].default_value == bundle and traits["_bundle"].metadata.get("sync"), (
            f"{cls.__name__}._bundle is not the one bundle"
        )
        assert traits["_bundle_key"].default_value == key and traits["_bundle_key"].metadata.get("sync")
        assert str(cls._css) == CSS.read_text(encoding="utf-8"), f"{cls.__name__}._css is not explorer.css"
        trait = cls.class_traits()["_js_view"]
        assert trait.default_value == name and trait.metadata.get("sync"), f"{cls.__name__}._js_view"


def _rules(css: str) -> list[tuple[str, str]]:
    """(selector list, declarations) of each rule of a style sheet, comments left out."""
    found = re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    return [(" ".join(sel.split()), body) for sel, body in found]


def test_the_style_sheet_holds_the_views_chrome():
    rules = _rules(CSS.read_text(encoding="utf-8"))
    body = dict(rules)
    for part in ("position: absolute", "display: none", "pointer-events: none"):
        assert part in body[".aw-tooltip"], f".aw-tooltip lacks {part!r}: the tooltip would push the page"
    assert "position: relative" in body[".aw-headgrid .aw-thumbs"]  # the thumbnails sit over its canvas
    assert "position: absolute" in body[".aw-headgrid .aw-thumb"]
    assert "position: relative" in body[".aw-view"]
    assert "white-space: pre-wrap" in body[".aw-error"]
    # one rule per selector list: a second one is a duplicate to merge
    selectors = [sel for sel, _ in rules]
    twice = sorted({sel for sel in selectors if selectors.count(sel) > 1})
    assert twice == [], f"explorer.css sets these selectors twice: {twice}"
