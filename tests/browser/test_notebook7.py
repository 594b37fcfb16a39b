"""The gallery notebook in Notebook 7 (``jupyter notebook``), in Chromium at 1400 x 1000.

``notebooks/00_gallery.ipynb`` is copied with its helper modules into the
Notebook 7 server's root, opened and run through the command API. Then every
explorer it shows must be painted (every canvas view drew a frame, and some
canvas has more than one colour), at most 900 px tall, with no error text;
no cell may raise and the page may log no console error. Screenshots:
``artifacts/screenshots/notebook7-gallery.png`` (the first explorer in the
page) and ``notebook7-gallery-explorer-<i>.png``.

Then in Notebook 7's dark theme (the JupyterLab theme machinery it shares:
the ``apputils:change-theme`` command, as Settings > Theme runs it), the
explorer follows the theme: its text colour and the views' select and button
colours are the values of the theme's CSS variables (``--jp-ui-font-color1``,
``--jp-layout-color1``), every title reads against the cell's background at a
contrast of at least ``MIN_CONTRAST``, the canvases drew again, and the matrix's
labels are drawn in the theme's light ink. Screenshot:
``notebook7-gallery-dark-explorer-0.png``.
"""

from __future__ import annotations

import shutil

import pytest
from aw_browser import ROOT, open_notebook, run_all, screenshot, set_theme

pytestmark = pytest.mark.browser

NAME = "00_gallery.ipynb"
MAX_HEIGHT = 900
MIN_CONTRAST = 4.5  # WCAG AA for text

# the theme's colours and the explorer's: every colour as the browser computes it (rgb(...))
THEME_COLOURS = r"""() => {
    const resolve = (value, prop) => { const probe = document.createElement('div');
        probe.style[prop] = value; document.body.appendChild(probe);
        const out = getComputedStyle(probe)[prop]; probe.remove(); return out; };
    const ex = document.querySelector('.aw-explorer');
    // the background the explorer is drawn on: the first ancestor (or itself) with a colour
    let bg = null;
    for (let n = ex; n && !bg; n = n.parentElement) {
        const c = getComputedStyle(n).backgroundColor;
        if (c && c !== 'transparent' && !/rgba\(.*, 0\)$/.test(c)) bg = c;
    }
    const select = ex.querySelector('.aw-heatmap select.aw-colormap');
    const heatmap = ex.querySelector('.aw-heatmap');
    return {
        light: document.body.dataset.jpThemeLight,
        ink: resolve('var(--jp-ui-font-color1)', 'color'),
        layout1: resolve('var(--jp-layout-color1)', 'backgroundColor'),
        explorer: getComputedStyle(ex).color, background: bg || getComputedStyle(document.body).backgroundColor,
        titles: [...ex.querySelectorAll('.aw-title')].filter(n => n.offsetParent !== null)
            .map(n => ({text: n.textContent, color: getComputedStyle(n).color})),
        select: select && {color: getComputedStyle(select).color, background: getComputedStyle(select).backgroundColor},
        version: Number(heatmap.dataset.frameVersion),
    };
}"""

# the ink of the matrix canvas's labels: the most common colour left of the matrix (where the row labels are)
LABEL_INK = """() => {
    const c = document.querySelector('.aw-explorer .aw-heatmap canvas.aw-canvas');
    const [x] = c.dataset.plot.split(',').map(Number);
    const scale = c.width / c.getBoundingClientRect().width;
    const d = c.getContext('2d').getImageData(0, 0, Math.max(1, Math.floor(x * scale)), c.height).data;
    const seen = new Map();
    for (let k = 0; k < d.length; k += 4) if (d[k + 3] > 200) {
        const key = `${d[k]},${d[k + 1]},${d[k + 2]}`; seen.set(key, (seen.get(key) || 0) + 1); }
    return [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 1).map(e => e[0].split(',').map(Number))[0] || null;
}"""


def _rgb(text: str) -> tuple[float, float, float]:
    parts = text[text.index("(") + 1 : text.index(")")].replace("/", ",").split(",")
    return tuple(float(p) for p in parts[:3])  # type: ignore[return-value]


def _luminance(rgb) -> float:
    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# each explorer: its height, its views (painted or not), colourful canvases, error text shown
MEASURE = """() => [...document.querySelectorAll('.aw-explorer')].map(ex => {
    const shown = (n) => n.offsetParent !== null && getComputedStyle(n).display !== 'none';
    const errors = [...ex.querySelectorAll('.aw-error, .aw-status-error, .aw-headstats-message')]
        .filter(shown).map(n => n.textContent.trim()).filter(Boolean);
    if (/Traceback|Error:/.test(ex.innerText)) errors.push(ex.innerText.slice(0, 400));
    const views = [...ex.querySelectorAll('.aw-heatmap, .aw-headgrid, .aw-overlay, .aw-weights')];
    const colourful = [...ex.querySelectorAll('canvas.aw-canvas, canvas.aw-grid')].filter(c => {
        if (!c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let k = 0; k < d.length && seen.size < 3; k += 4) seen.add(d[k] << 16 | d[k + 1] << 8 | d[k + 2]);
        return seen.size >= 3;
    }).length;
    return {height: ex.getBoundingClientRect().height, views: views.length, colourful, errors,
            painted: views.filter(v => Number(v.dataset.frameVersion) > 0).length};
})"""


def test_gallery_runs_and_paints_in_notebook7(nb7_server, page):
    source = ROOT / "notebooks" / NAME
    assert source.exists(), f"notebooks/{NAME} is missing"
    folder = nb7_server.root / "nb7_gallery"
    if not folder.exists():
        shutil.copytree(
            ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
    open_notebook(page, nb7_server, f"nb7_gallery/{NAME}")
    assert page.locator("#main-panel, .jp-NotebookPanel").count() > 0
    assert "/notebooks/" in page.url, f"expected Notebook 7's page, got {page.url}"
    run_all(page, timeout_ms=300_000)  # raises with the traceback of any cell that raised
    page.wait_for_selector(".aw-explorer", timeout=60_000)
    page.wait_for_function(
        f"() => {{ const e = ({MEASURE})(); return e.length > 0 && e.every(x => x.views > 0"
        " && x.painted === x.views); }",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)  # bqplot (head statistics) draws after the canvases
    explorers = page.evaluate(MEASURE)
    first = page.locator(".aw-explorer").first
    first.scroll_into_view_if_needed()
    screenshot(page, "notebook7-gallery")
    for i, loc in enumerate(page.locator(".aw-explorer").all()):
        loc.scroll_into_view_if_needed()
        screenshot(loc, f"notebook7-gallery-explorer-{i}")
    for i, e in enumerate(explorers):
        assert e["colourful"] > 0, f"explorer {i}: every canvas is blank or one colour: {e}"
        assert e["height"] <= MAX_HEIGHT, f"explorer {i} is {e['height']:.0f} px tall (most {MAX_HEIGHT})"
        assert e["errors"] == [], f"explorer {i} shows error text: {e['errors']}"

    # the dark theme: the explorer's colours are the theme's
    light = page.evaluate(THEME_COLOURS)
    set_theme(page, "JupyterLab Dark")
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        "(v) => Number(document.querySelector('.aw-explorer .aw-heatmap').dataset.frameVersion) > v",
        arg=light["version"],
        timeout=30_000,
    )
    screenshot(first, "notebook7-gallery-dark-explorer-0")
    dark = page.evaluate(THEME_COLOURS)
    assert dark["light"] == "false", dark
    assert dark["ink"] != light["ink"], f"the theme's ink did not change: {light['ink']} -> {dark['ink']}"
    assert dark["explorer"] == dark["ink"], f"the explorer's text is {dark['explorer']}, not {dark['ink']}"
    assert dark["select"] == {"color": dark["ink"], "background": dark["layout1"]}, dark["select"]
    background = _rgb(dark["background"])
    assert _luminance(background) < 0.2, f"the cell's background is not dark: {dark['background']}"
    for t in dark["titles"]:
        ratio = _contrast(_rgb(t["color"]), background)
        assert ratio >= MIN_CONTRAST, f"title {t['text']!r}: contrast {ratio:.1f} on {dark['background']}"
    ink = page.evaluate(LABEL_INK)
    assert ink is not None and _contrast(ink, background) >= MIN_CONTRAST, (
        f"the matrix's labels are drawn in {ink} on {dark['background']}"
    )
    set_theme(page, "JupyterLab Light")
    assert page.errors == [], "\n\n".join(page.errors)
    assert page.dialogs == [], page.dialogs
