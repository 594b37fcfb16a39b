"""The gallery notebook in Notebook 7 (``jupyter notebook``), in Chromium at 1400 x 1000.

``notebooks/00_gallery.ipynb`` is copied with its helper modules into the
Notebook 7 server's root, opened and run through the command API. Then every
explorer it shows must be painted (every canvas view drew a frame, and some
canvas has more than one colour), at most 900 px tall, with no error text;
no cell may raise and the page may log no console error. Screenshots:
``artifacts/screenshots/notebook7-gallery.png`` (the first explorer in the
page) and ``notebook7-gallery-explorer-<i>.png``.
"""

from __future__ import annotations

import shutil

import pytest
from aw_browser import ROOT, open_notebook, run_all, screenshot

pytestmark = pytest.mark.browser

NAME = "00_gallery.ipynb"
MAX_HEIGHT = 900

# each explorer: its height, its views (painted or not), colourful canvases, error text shown
MEASURE = """() => [...document.querySelectorAll('.aw-explorer')].map(ex => {
    const shown = (n) => n.offsetParent !== null && getComputedStyle(n).display !== 'none';
    const errors = [...ex.querySelectorAll('.aw-error, .aw-status-error, .aw-headstats-message')]
        .filter(shown).map(n => n.textContent.trim()).filter(Boolean);
    if (/Traceback|Error:/.test(ex.innerText)) errors.push(ex.innerText.slice(0, 400));
    const views = [...ex.querySelectorAll('.aw-heatmap, .aw-headgrid, .aw-overlay, .aw-weights')];
    const colourful = [...ex.querySelectorAll('canvas.aw-canvas, canvas.aw-thumb')].filter(c => {
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
    assert page.errors == [], "\n\n".join(page.errors)
    assert page.dialogs == [], page.dialogs
