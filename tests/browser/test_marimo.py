"""The heatmap and the head grid in marimo, in Chromium at 1400 x 1000.

``marimo run notebooks/marimo_demo.py`` serves the demo (MiniLM, loaded
offline, its capture shown as ``aw.Heatmap`` and ``aw.HeadGrid``, each
wrapped in ``mo.ui.anywidget``); every test opens it in a fresh page, which
marimo runs in a fresh session. marimo renders each anywidget inside a
shadow root: Playwright's CSS locators pierce it, ``document.querySelector``
does not, so every look at the page goes through a locator.

Checked: both views paint (the heatmap with more than 2 colours, twelve
thumbnails), with no console error; clicking a thumbnail (a control inside
the widget) and moving marimo's head slider (a control of the page) each
repaint the heatmap with that head; the views' shared styles (the grid of
thumbnails, the floating tooltip) apply. Screenshots:
``artifacts/screenshots/marimo-*.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from aw_browser import ROOT, THUMB_COLOURS, free_port, screenshot

pytestmark = pytest.mark.browser

NOTEBOOK = ROOT / "notebooks" / "marimo_demo.py"
HEATMAP = ".aw-heatmap"

# distinct colours of a canvas and a digest of its pixels (to see that it changed)
PIXELS = """(c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    let digest = 0;
    for (let k = 0; k < d.length; k += 4) {
        const rgb = d[k] << 16 | d[k + 1] << 8 | d[k + 2];
        seen.add(rgb);
        digest = (digest * 31 + rgb) >>> 0;
    }
    return {colours: seen.size, digest};
}"""


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory):
    """``marimo run`` of the demo on a free port, with its own config and cache folders."""
    try:
        import marimo  # noqa: F401
    except ImportError:
        pytest.fail("marimo is not installed: install the test extras (pip install -e '.[test]')")
    assert NOTEBOOK.exists(), f"{NOTEBOOK} is missing"
    base = tmp_path_factory.mktemp("marimo")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        MPLBACKEND="Agg",
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_STATE_HOME=str(base / "state"),
        XDG_CACHE_HOME=str(base / "cache"),
    )
    cmd = [sys.executable, "-m", "marimo", "run", str(NOTEBOOK), "--headless", "--no-token"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    log_path = base / "marimo.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT)
        try:
            t0 = time.time()
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"marimo run exited with {proc.returncode}:\n{log_path.read_text()}")
                try:
                    urllib.request.urlopen(url + "/health", timeout=2)
                    break
                except OSError:
                    if time.time() - t0 > 90:
                        pytest.fail(f"marimo run not ready in 90 s:\n{log_path.read_text()}")
                    time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _open(page, url):
    """Open the demo and wait until the heatmap and all twelve thumbnails are drawn."""
    page.goto(url)
    page.locator(f"{HEATMAP} canvas.aw-canvas").wait_for(timeout=120_000)
    page.locator(".aw-thumb").nth(11).wait_for(timeout=60_000)
    heatmap = page.locator(HEATMAP)
    page.wait_for_function(
        "(el) => Number(el.dataset.frameVersion) > 0", arg=heatmap.element_handle(), timeout=60_000
    )
    return heatmap


def _painted(heatmap):
    return heatmap.locator("canvas.aw-canvas").evaluate(PIXELS)


def _wait_for_head(page, heatmap, head: int, version: int):
    """Wait until the heatmap repainted (frame version above ``version``) with ``head``."""
    page.wait_for_function(
        "([el, v, head]) => Number(el.dataset.frameVersion) > v"
        " && el.querySelector('.aw-title').textContent.includes(`head ${head} `)",
        arg=[heatmap.element_handle(), version, head],
        timeout=30_000,
    )


def test_marimo_paints_heatmap_and_head_grid(page, marimo_url):
    heatmap = _open(page, marimo_url)
    pixels = _painted(heatmap)
    assert pixels["colours"] > 2, f"the heatmap canvas is blank or flat: {pixels['colours']} colours"
    title = heatmap.locator(".aw-title").text_content()
    assert "encoder.layer.0.attention.self" in title and "head 0 " in title, title
    assert page.locator(".aw-thumb").count() == 12, "the head grid should show MiniLM's 12 heads"
    thumbs = page.locator(".aw-thumb[data-head='2']").evaluate(THUMB_COLOURS)
    assert thumbs["colours"] > 2, "thumbnail of head 2 is blank or flat"
    assert page.locator(".aw-error:visible").all_text_contents() in ([], [""])
    screenshot(page, "marimo-initial")
    assert page.errors == [], "\n\n".join(page.errors)


def test_marimo_controls_repaint_heatmap(page, marimo_url):
    heatmap = _open(page, marimo_url)
    before = _painted(heatmap)
    version = int(heatmap.get_attribute("data-frame-version"))

    # a control inside the widget: the head grid's thumbnail of head 3 (linked in Python)
    page.locator(".aw-thumb[data-head='3']").click()
    _wait_for_head(page, heatmap, 3, version)
    after_click = _painted(heatmap)
    assert after_click["digest"] != before["digest"], "the heatmap kept head 0's pixels"
    screenshot(page, "marimo-thumbnail-click")

    # a control of the page: marimo's head slider, one step right of 0
    version = int(heatmap.get_attribute("data-frame-version"))
    slider = page.locator("[role=slider]").first
    slider.focus()
    slider.press("ArrowRight")
    _wait_for_head(page, heatmap, 1, version)
    after_slider = _painted(heatmap)
    assert after_slider["digest"] not in (before["digest"], after_click["digest"])
    assert after_slider["colours"] > 2
    screenshot(page, "marimo-slider")
    assert page.errors == [], "\n\n".join(page.errors)


def test_marimo_views_get_their_shared_styles(page, marimo_url):
    heatmap = _open(page, marimo_url)
    thumb = page.locator(".aw-thumb").first.evaluate("(e) => getComputedStyle(e).position")
    heatmap.locator("canvas.aw-canvas").hover()
    tooltip = heatmap.locator(".aw-tooltip")
    tooltip.wait_for(state="attached")
    position = tooltip.evaluate("(e) => getComputedStyle(e).position")
    screenshot(page, "marimo-hover")
    assert thumb == "absolute", f"a thumbnail is placed {thumb!r}, not over the grid's canvas"
    assert position == "absolute", f"the tooltip is {position!r}: it pushes the page down"
