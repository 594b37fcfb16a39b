"""The explorer's layout in every lesson, in JupyterLab and Notebook 7 at 1400 x 1000: one calm screen each.

Each lesson notebook (``notebooks/0*.ipynb``) is copied with its helper
modules into the server's root, opened in a 1400 x 1000 window in JupyterLab
and in Notebook 7 (whose cells are wider) and run. Then, for every explorer it shows:

- it is at most 900 px tall (one screen in a standard cell);
- no error text is shown (``.aw-error``, red messages, Python tracebacks);
- the page logged no console error (bqplot's negative ``<rect>`` width included);
- where it has steps, the head grid (and the overlay) stay exactly where they
  were after the step slider moves;
- its controls are one row: every control shown shares one top (within
  ``ROW_SLACK`` px; the note of why a control is disabled has a line of its own);
- no title is cut: every title's text fits its box (``scrollWidth <= clientWidth``);
- every matrix is drawn large for its shape: its short side at least
  ``min(SHORT_LEAST, 72 px a cell)`` (``js/draw.js fitMatrix``: 60% of the 440 px box
  for a skinny matrix, a 1 x N row a 72 px strip), so the audio lesson's 200 x 9
  layer weights and the diffusion lesson's 32 x 4 cross-attention are no slivers, with
  cells wider than tall; and no gap of more than ``MOST_GAP`` px is left between the
  matrix and the side panel;
- the controls stay one row with "mean" pressed;
- the row and column labels drawn on each matrix (``canvas.dataset.rowLabels``,
  ``colLabels``: their boxes along the axis) never overlap;
- a screenshot goes to ``artifacts/screenshots/layout-<notebook>-explorer-<i>.png``
  (``layout-nb7-...`` in Notebook 7), and for two lessons a second one in the dark
  theme (``-dark-``).
"""

from __future__ import annotations

import shutil

import pytest
from aw_browser import ROOT, open_notebook, run_all, screenshot, set_theme
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
DARK = {"00_gallery.ipynb", "02_vision.ipynb"}
MAX_HEIGHT = 900
ROW_SLACK = 4  # px: controls of one row may differ in top by their borders, no more
SHORT_LEAST = 176  # px: 40% of the 440 px plot box, the least short side of a skinny matrix
MOST_CELL = 72  # px: js/draw.js MOST_CELL, a widened cell's most
MOST_GAP = 240  # px of blank between the matrix's canvas and the side panel

# every explorer: its box, the boxes of its panels, and any error text it shows
MEASURE = """() => [...document.querySelectorAll('.aw-explorer')].map(ex => {
    const top = ex.getBoundingClientRect();
    // boxes relative to the explorer's own corner: scrolling the page moves nothing
    const box = (sel) => { const n = ex.querySelector(sel); if (!n) return null;
        const r = n.getBoundingClientRect(); return [r.x - top.x, r.y - top.y, r.width, r.height]; };
    const shown = (n) => n.offsetParent !== null && getComputedStyle(n).display !== 'none';
    const errors = [...ex.querySelectorAll('.aw-error, .aw-headstats-message')]
        .filter(shown).map(n => n.textContent.trim()).filter(Boolean);
    const text = ex.innerText;
    if (/Traceback|Error:|holds weights, not heads/.test(text)) errors.push(text.slice(0, 400));
    const views = [...ex.querySelectorAll('.aw-heatmap, .aw-headgrid, .aw-overlay, .aw-weights')];
    // the controls row's direct children shown (the note of disabled controls is a line of its own)
    const row = ex.querySelector('.aw-controls');
    const controls = row ? [...row.children].filter(n => shown(n) && !n.classList.contains('aw-controls-note'))
        .map(n => ({top: n.getBoundingClientRect().top - top.y, text: (n.innerText || '').trim().slice(0, 30)})) : [];
    const titles = [...ex.querySelectorAll('.aw-title')].filter(shown)
        .map(n => ({text: n.textContent, scroll: n.scrollWidth, client: n.clientWidth}));
    // each matrix drawn: its view's frame shape, the matrix's box on the canvas, its label boxes
    const matrices = [...ex.querySelectorAll('.aw-heatmap, .aw-weights')].filter(shown).map(v => {
        const c = v.querySelector('canvas.aw-canvas');
        const r = c.getBoundingClientRect();
        return {view: v.classList.contains('aw-heatmap') ? 'heatmap' : 'weights',
                shape: (v.dataset.shape || '0,0').split(',').map(Number),
                plot: (c.dataset.plot || '0,0,0,0').split(',').map(Number),
                right: r.right - top.x, canvas: [r.width, r.height],
                rowLabels: JSON.parse(c.dataset.rowLabels || '[]'),
                colLabels: JSON.parse(c.dataset.colLabels || '[]')};
    });
    return {height: ex.getBoundingClientRect().height, width: ex.getBoundingClientRect().width,
            headgrid: box('.aw-headgrid'), overlay: box('.aw-overlay'), heatmap: box('.aw-heatmap'),
            controls, titles, matrices,
            errors, views: views.length,
            painted: views.filter(v => Number(v.dataset.frameVersion) > 0).length,
            versions: views.map(v => Number(v.dataset.frameVersion))};
})"""

# the step slider's handle of explorer i (null when it has one step)
STEP_HANDLE = """(i) => {
    const ex = document.querySelectorAll('.aw-explorer')[i];
    for (const s of ex.querySelectorAll('.aw-controls .widget-slider')) {
        const label = s.querySelector('.widget-label');
        if (label && label.textContent.trim() === 'step' && s.offsetParent !== null)
            return true;
    }
    return false;
}"""


# some view of explorer i drew again since `old` (their frame versions)
WAIT_PAINTED = (
    "([i, old]) => { const v = [...document.querySelectorAll('.aw-explorer')[i]"
    ".querySelectorAll('.aw-heatmap, .aw-headgrid, .aw-overlay, .aw-weights')]"
    ".map(n => Number(n.dataset.frameVersion)); return v.some((x, k) => x > old[k]); }"
)


def _step_slider(page, i):
    """The noUiSlider handle of explorer ``i``'s step slider."""
    return (
        page.locator(".aw-explorer")
        .nth(i)
        .locator(".aw-controls .widget-slider")
        .filter(has=page.locator(".widget-label", has_text="step"))
        .locator(".noUi-handle")
        .first
    )


def _check_drawing(name: str, i: int, e: dict) -> None:
    """One row of controls, whole titles, matrices drawn large, labels apart, no wide gap."""
    tops = [c["top"] for c in e["controls"]]
    assert tops and max(tops) - min(tops) <= ROW_SLACK, (
        f"{name} explorer {i}: the controls wrap onto more than one row: {e['controls']}"
    )
    cut = [t for t in e["titles"] if t["scroll"] > t["client"] + 1]
    assert cut == [], f"{name} explorer {i}: titles cut: {cut}"
    for m in e["matrices"]:
        rows, cols = m["shape"]
        if not rows or not cols:
            continue
        width, height = m["plot"][2:]
        short, count = (width, cols) if width <= height else (height, rows)
        want = min(SHORT_LEAST, MOST_CELL * count)
        assert short >= want - 1, (
            f"{name} explorer {i}: the {rows} x {cols} {m['view']} is drawn {width} x {height} px: "
            f"its short side is under {want} px"
        )
        if rows >= 4 * cols:  # tall and narrow: the cells are widened, never narrower than tall
            assert width / cols >= height / rows, f"{name} explorer {i}: {m}"
        for axis in ("rowLabels", "colLabels"):
            boxes = m[axis]
            touching = [(a, b) for a, b in zip(boxes, boxes[1:]) if b[0] < a[1]]
            assert touching == [], f"{name} explorer {i}: {m['view']} {axis} overlap: {touching[:3]}"
        if m["view"] == "heatmap" and e["headgrid"] is not None:
            side = e["overlay"] or e["headgrid"]
            gap = side[0] - m["right"]
            assert gap <= MOST_GAP, f"{name} explorer {i}: {gap:.0f} px blank beside the matrix"


@pytest.mark.parametrize("server", ["lab_server", "nb7_server"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_explorer_fits_one_screen(name, server, request):
    jupyter = request.getfixturevalue(server)
    page = request.getfixturevalue("page")
    folder = jupyter.root / "layout_lessons"
    if not folder.exists():
        shutil.copytree(
            ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
    open_notebook(page, jupyter, f"layout_lessons/{name}")
    run_all(page, timeout_ms=420_000)
    page.wait_for_selector(".aw-explorer", timeout=60_000)
    page.wait_for_function(
        f"() => ({MEASURE})().every(e => e.views > 0 && e.painted === e.views)", timeout=60_000
    )
    page.wait_for_timeout(1500)  # bqplot draws after the canvases
    stem = ("" if server == "lab_server" else "nb7-") + name.removesuffix(".ipynb")
    explorers = page.evaluate(MEASURE)
    assert explorers, f"{name} shows no explorer"
    for i, e in enumerate(explorers):
        loc = page.locator(".aw-explorer").nth(i)
        loc.scroll_into_view_if_needed()
        screenshot(loc, f"layout-{stem}-explorer-{i}")
        assert e["height"] <= MAX_HEIGHT, (
            f"{name} explorer {i} is {e['height']:.0f} px tall (most {MAX_HEIGHT})"
        )
        assert e["errors"] == [], f"{name} explorer {i} shows error text: {e['errors']}"
        _check_drawing(name, i, e)
        if name.startswith("03_audio"):
            weights = [m for m in e["matrices"] if m["view"] == "weights"]
            assert weights, f"{name} explorer {i} opens on no weights matrix: {e['matrices']}"
            assert weights[0]["plot"][2] >= SHORT_LEAST, f"the layer weights are a sliver: {weights[0]}"
        mean = loc.locator(".aw-controls button.widget-toggle-button", has_text="mean")
        if mean.count() and mean.first.is_visible():
            # under the pressed 'mean' the row stays one line too
            for press in range(2):
                versions = page.evaluate(MEASURE)[i]["versions"]
                mean.first.click()
                try:  # a view on another tab may draw nothing new: then the controls alone changed
                    page.wait_for_function(WAIT_PAINTED, arg=[i, versions], timeout=5_000)
                except PlaywrightTimeout:
                    pass
                page.wait_for_timeout(800)
                if press == 0:
                    _check_drawing(f"{name} (mean pressed)", i, page.evaluate(MEASURE)[i])
            e = page.evaluate(MEASURE)[i]
        if not page.evaluate(STEP_HANDLE, i):
            continue
        before = e
        handle = _step_slider(page, i)
        handle.focus()
        handle.press("Home")
        page.wait_for_timeout(300)
        handle.press("ArrowRight")
        page.wait_for_function(WAIT_PAINTED, arg=[i, before["versions"]], timeout=30_000)
        page.wait_for_timeout(800)
        after = page.evaluate(MEASURE)[i]
        screenshot(loc, f"layout-{stem}-explorer-{i}-next-step")
        for part in ("headgrid", "overlay", "heatmap"):
            if before[part] is not None:
                moved = [round(a - b, 1) for a, b in zip(after[part][:2], before[part][:2])]
                assert moved == [0.0, 0.0], (
                    f"{name} explorer {i}: the {part} moved by {moved} on a step change"
                )
        assert after["height"] <= MAX_HEIGHT, (
            f"{name} explorer {i} is {after['height']:.0f} px tall after a step"
        )
        assert after["errors"] == [], f"{name} explorer {i} shows error text after a step: {after['errors']}"
        _check_drawing(name, i, after)
    if name in DARK:
        set_theme(page, "JupyterLab Dark")
        for i in range(len(explorers)):
            loc = page.locator(".aw-explorer").nth(i)
            loc.scroll_into_view_if_needed()
            screenshot(loc, f"layout-{stem}-dark-explorer-{i}")
        set_theme(page, "JupyterLab Light")
    assert page.errors == [], "\n\n".join(page.errors)
    assert page.dialogs == [], page.dialogs
