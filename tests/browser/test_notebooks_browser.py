"""The lesson notebooks in JupyterLab: they run in a real browser and show the explorer.

Each notebook is copied with the whole ``notebooks/`` folder (its helper
modules come along) into the server's temporary root, opened in JupyterLab,
run cell by cell through the command API, and must end with no error output
and at least one explorer whose canvases are painted and not blank.
Screenshots: ``artifacts/screenshots/notebook-<name>-*.png``.
"""

from __future__ import annotations

import shutil

import pytest
from aw_browser import ROOT, open_notebook, run_all, screenshot

pytestmark = pytest.mark.browser

NOTEBOOKS = ["00_gallery.ipynb", "01_translation.ipynb", "02_vision.ipynb"]

# painted views: every aw-canvas / aw-grid canvas with more than one colour
PAINTED = """() => [...document.querySelectorAll('.aw-explorer')].map(ex => {
    const views = [...ex.querySelectorAll('.aw-heatmap, .aw-headgrid, .aw-overlay, .aw-weights')];
    const canvases = [...ex.querySelectorAll('canvas.aw-canvas, canvas.aw-grid')];
    const colourful = canvases.filter(c => {
        if (!c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let k = 0; k < d.length && seen.size < 3; k += 4 * 7) seen.add(d[k] << 16 | d[k + 1] << 8 | d[k + 2]);
        return seen.size >= 3;
    });
    return {views: views.length, painted: views.filter(v => Number(v.dataset.frameVersion) > 0).length,
            canvases: canvases.length, colourful: colourful.length};
})"""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_lesson_notebook_runs_in_jupyterlab(name, request):
    source = ROOT / "notebooks" / name
    assert source.exists(), f"notebooks/{name} is missing"
    lab_server = request.getfixturevalue("lab_server")  # only started when there is work
    page = request.getfixturevalue("page")
    page.set_viewport_size({"width": 1400, "height": 2400})  # a whole explorer fits in a screenshot
    folder = lab_server.root / "lessons_copy"
    if not folder.exists():
        shutil.copytree(
            ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
    open_notebook(page, lab_server, f"lessons_copy/{name}")
    page.wait_for_timeout(1000)  # JupyterLab marks a notebook dirty right after loading, if it will
    dirty = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
    assert not dirty, f"opening notebooks/{name} marks it modified: it is not stored as JupyterLab writes it"
    run_all(page, timeout_ms=300_000)
    page.wait_for_selector(".aw-explorer", timeout=60_000)
    page.wait_for_function(
        f"() => ({PAINTED})().every(e => e.views > 0 && e.painted === e.views)", timeout=60_000
    )
    explorers = page.evaluate(PAINTED)
    assert explorers, "the notebook shows no explorer (aw.show)"
    for i, e in enumerate(explorers):
        assert e["colourful"] > 0, f"explorer {i}: every canvas is blank or one colour: {e}"
    stem = name.removesuffix(".ipynb")
    screenshot(page, f"notebook-{stem}-page")
    for i, loc in enumerate(page.locator(".aw-explorer").all()):
        loc.scroll_into_view_if_needed()
        screenshot(loc, f"notebook-{stem}-explorer-{i}")
    assert page.errors == [], "\n\n".join(page.errors)
    assert page.dialogs == [], page.dialogs
