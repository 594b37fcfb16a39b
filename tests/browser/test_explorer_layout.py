"""The explorer's layout in every lesson, in JupyterLab at 1400 x 1000: one calm screen each.

Each lesson notebook (``notebooks/0*.ipynb``) is copied with its helper
modules into the server's root, opened in JupyterLab in a 1400 x 1000 window
and run. Then, for every explorer it shows:

- it is at most 900 px tall (one screen in a standard cell);
- no error text is shown (``.aw-error``, red messages, Python tracebacks);
- the page logged no console error (bqplot's negative ``<rect>`` width included);
- where it has steps, the head grid (and the overlay) stay exactly where they
  were after the step slider moves;
- a screenshot goes to ``artifacts/screenshots/layout-<notebook>-explorer-<i>.png``,
  and for two lessons a second one in JupyterLab's dark theme (``-dark-``).
"""

from __future__ import annotations

import shutil

import pytest
from aw_browser import ROOT, open_notebook, run_all, screenshot

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
DARK = {"00_gallery.ipynb", "02_vision.ipynb"}
MAX_HEIGHT = 900

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
    return {height: ex.getBoundingClientRect().height, width: ex.getBoundingClientRect().width,
            headgrid: box('.aw-headgrid'), overlay: box('.aw-overlay'), heatmap: box('.aw-heatmap'),
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


def _set_theme(page, name: str) -> None:
    page.evaluate(
        "async (theme) => { await window.jupyterapp.commands.execute('apputils:change-theme', {theme}); }",
        name,
    )
    page.wait_for_function(
        "(dark) => document.body.dataset.jpThemeLight === (dark ? 'false' : 'true')",
        arg=name.endswith("Dark"),
        timeout=30_000,
    )
    page.wait_for_timeout(800)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_explorer_fits_one_screen(name, request):
    lab_server = request.getfixturevalue("lab_server")
    page = request.getfixturevalue("page")
    folder = lab_server.root / "layout_lessons"
    if not folder.exists():
        shutil.copytree(
            ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
    open_notebook(page, lab_server, f"layout_lessons/{name}")
    run_all(page, timeout_ms=420_000)
    page.wait_for_selector(".aw-explorer", timeout=60_000)
    page.wait_for_function(
        f"() => ({MEASURE})().every(e => e.views > 0 && e.painted === e.views)", timeout=60_000
    )
    page.wait_for_timeout(1500)  # bqplot draws after the canvases
    stem = name.removesuffix(".ipynb")
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
        if not page.evaluate(STEP_HANDLE, i):
            continue
        before = e
        handle = _step_slider(page, i)
        handle.focus()
        handle.press("Home")
        page.wait_for_timeout(300)
        handle.press("ArrowRight")
        page.wait_for_function(
            "([i, old]) => { const v = [...document.querySelectorAll('.aw-explorer')[i]"
            ".querySelectorAll('.aw-heatmap, .aw-headgrid, .aw-overlay, .aw-weights')]"
            ".map(n => Number(n.dataset.frameVersion)); return v.some((x, k) => x > old[k]); }",
            arg=[i, before["versions"]],
            timeout=30_000,
        )
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
    if name in DARK:
        _set_theme(page, "JupyterLab Dark")
        for i in range(len(explorers)):
            loc = page.locator(".aw-explorer").nth(i)
            loc.scroll_into_view_if_needed()
            screenshot(loc, f"layout-{stem}-dark-explorer-{i}")
        _set_theme(page, "JupyterLab Light")
    assert page.errors == [], "\n\n".join(page.errors)
    assert page.dialogs == [], page.dialogs
