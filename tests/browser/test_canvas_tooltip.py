"""The heatmap's tooltip in a real browser: always the frame drawn, with the exact value.

A notebook shows ``aw.Heatmap`` of a small capture (4 heads, each with its
own values). The test hovers a cell, reads the tooltip (query and key tokens,
the exact float32 value the kernel sends for the hovered row, layer, head,
step), then changes the head from Python, with the pointer still, and checks
that the tooltip never shows the old frame's value again: it is pending or
hidden until the new frame's exact value at the same cell is there. A
``MutationObserver`` records every text the tooltip shows in between.

The image overlay's tooltip is checked the same way (the exact value of the
hovered patch, following a head change with the pointer still), and its
colour bar's ticks are the heatmap's (round values and the exact ends).

Screenshots: ``artifacts/screenshots/tooltip-{lab,notebook}-{before,after}.png``,
``tooltip-overlay.png``.
"""

from __future__ import annotations

import json
import re

import pytest
from aw_browser import open_notebook, run_all, run_cell, screenshot, watch_errors, write_notebook

pytestmark = pytest.mark.browser

TOKENS = ["[CLS]", "the", "cat", "sat", "on", "a", "warm", "mat"]
SETUP = f"""
import json
import numpy as np
import attnwidget as aw
from attnwidget.store import Capture

rng = np.random.default_rng(7)
logits = rng.normal(size=(1, 4, 8, 8)) * np.array([0.5, 1.5, 3.0, 6.0])[None, :, None, None]
weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
cap = Capture()
cap.add("encoder.layer.0.attention", 0, weights.astype(np.float32), kind="self")
hm = aw.Heatmap(cap, tokens={TOKENS!r}, head=0)
hm
"""
HEATMAP = ".aw-heatmap"
ROW, COL = 2, 5

# every text the tooltip shows, with the frame version and status it showed it for
OBSERVE = """(sel) => {
    const tip = document.querySelector(sel + ' .aw-tooltip');
    window.__tips = [];
    const record = () => window.__tips.push({text: tip.textContent, shown: tip.style.display !== 'none',
        status: tip.dataset.status || '', version: tip.dataset.version || ''});
    new MutationObserver(record).observe(tip, {childList: true, characterData: true, subtree: true,
        attributes: true});
}"""
TIP = """(sel) => { const t = document.querySelector(sel + ' .aw-tooltip');
    return {text: t.textContent, shown: t.style.display !== 'none', status: t.dataset.status || '',
            version: t.dataset.version || '', hover: document.querySelector(sel + ' canvas.aw-canvas').dataset.hover}; }"""


def value_in(text: str) -> float | None:
    m = re.search(r"^value (-?[0-9][0-9.e+-]*)$", text, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture(params=["lab_server", "nb7_server"])
def heatmap_page(request, browser):
    server = request.getfixturevalue(request.param)
    write_notebook(server.root, "tooltip.ipynb", [SETUP])
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    watch_errors(page)
    open_notebook(page, server, "tooltip.ipynb")
    run_all(page)
    page.wait_for_selector(f"{HEATMAP} canvas.aw-canvas[data-plot]", timeout=60_000)
    page.flavor = server.flavor
    yield page
    ctx.close()


def kernel_run(page, code: str) -> None:
    """Run code in the kernel without adding a cell (nothing on the page moves under the pointer)."""
    page.evaluate(
        """async (code) => {
        const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        await k.requestExecute({code, silent: false}).done; }""",
        code,
    )


def test_tooltip_follows_the_frame_and_shows_the_exact_value(heatmap_page):
    page = heatmap_page
    exact = json.loads(
        run_cell(
            page,
            f"print(json.dumps([float(aw.frame(cap, 0, head=h).values[{ROW}, {COL}]) for h in range(4)]))",
        )
    )
    assert len(set(exact)) == 4, "the heads must differ at the hovered cell for the test to mean anything"
    canvas = page.locator(f"{HEATMAP} canvas.aw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
    page.mouse.move(box["x"] + px + (COL + 0.5) * pw / 8, box["y"] + py + (ROW + 0.5) * ph / 8)
    page.wait_for_function(f"(sel) => ({TIP})(sel).status === 'exact'", arg=HEATMAP, timeout=20_000)
    tip = page.evaluate(TIP, HEATMAP)
    assert tip["shown"] and tip["hover"] == f"{ROW},{COL}"
    text = tip["text"]
    assert f"query: {TOKENS[ROW]} ({ROW})" in text and f"key: {TOKENS[COL]} ({COL})" in text, text
    assert "layer encoder.layer.0.attention" in text and "head 0" in text and "step 0" in text, text
    assert "≈" not in text  # the float32 value, not the colour code's
    assert value_in(text) == pytest.approx(exact[0], rel=1e-5)
    screenshot(page.locator(HEATMAP).first, f"tooltip-{page.flavor}-before")

    before = tip["version"]
    page.evaluate(OBSERVE, HEATMAP)
    kernel_run(page, "hm.head = 3")
    # the pointer did not move: the tooltip must follow the new frame by itself
    page.wait_for_function(
        f"([sel, v]) => {{ const t = ({TIP})(sel); return !t.shown || (t.status === 'exact' && t.version !== v); }}",
        arg=[HEATMAP, before],
        timeout=20_000,
    )
    tip = page.evaluate(TIP, HEATMAP)
    if tip["shown"]:
        assert "head 3" in tip["text"], tip["text"]
        assert value_in(tip["text"]) == pytest.approx(exact[3], rel=1e-5)
        assert f"query: {TOKENS[ROW]} ({ROW})" in tip["text"]
    shown = page.evaluate("() => window.__tips")
    assert shown, "the tooltip did not change with the frame"
    for seen in shown:
        if seen["shown"] and seen["version"] != before:
            # a newer frame never shows the old frame's value: pending, or the new value
            v = value_in(seen["text"])
            assert seen["status"] == "pending" or v == pytest.approx(exact[3], rel=1e-5), seen
            assert "head 0" not in seen["text"], seen
    screenshot(page.locator(HEATMAP).first, f"tooltip-{page.flavor}-after")

    # leaving the canvas hides it
    page.mouse.move(0, 0)
    page.wait_for_function(f"(sel) => !({TIP})(sel).shown", arg=HEATMAP, timeout=10_000)
    assert page.errors == [], "\n\n".join(page.errors)


OVERLAY_SETUP = """
import json
import numpy as np
import attnwidget as aw
from attnwidget.store import Capture

rng = np.random.default_rng(5)
logits = rng.normal(size=(1, 3, 17, 17)) * np.array([0.5, 2.0, 5.0])[None, :, None, None]
weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
vit = Capture()
vit.add("vit.block.0.attn", 0, weights.astype(np.float32), kind="self")
ov = aw.ImageOverlay(vit, np.zeros((8, 8, 3), np.uint8), head=0, query=0)
ov
"""
OVERLAY = ".aw-overlay"
PATCH = (1, 2)


def test_overlay_tooltip_shows_the_exact_value_and_follows_the_frame(lab_server, browser):
    write_notebook(lab_server.root, "overlay_tooltip.ipynb", [OVERLAY_SETUP])
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    watch_errors(page)
    try:
        open_notebook(page, lab_server, "overlay_tooltip.ipynb")
        run_all(page)
        page.wait_for_selector(f"{OVERLAY} canvas.aw-overlay-canvas", timeout=60_000)
        page.wait_for_function(f"() => Number(document.querySelector('{OVERLAY}').dataset.frameVersion) > 0")
        r, c = PATCH
        exact = json.loads(
            run_cell(
                page,
                f"print(json.dumps([float(ov.frame().values[{r}, {c}])] + "
                f"[float(aw.frame(vit, 0, head=h).values[0, 1 + {r} * 4 + {c}]) for h in range(3)]))",
            )
        )
        assert exact[0] == pytest.approx(exact[1], rel=1e-6)  # the overlay's frame is the query row
        assert len(set(exact[1:])) == 3, "the heads must differ at the hovered patch"
        # the colour bar's ticks: round values between the frame's exact ends, none twice
        ticks = page.locator(f"{OVERLAY} canvas.aw-overlay-bar").get_attribute("data-ticks").split("|")
        assert len(ticks) == len(set(ticks)) >= 3, ticks
        # alone, the overlay offers its own colour range
        assert page.locator(f"{OVERLAY} select.aw-color-range").is_visible()
        canvas = page.locator(f"{OVERLAY} canvas.aw-overlay-canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + (c + 0.5) * box["width"] / 4, box["y"] + (r + 0.5) * box["height"] / 4)
        page.wait_for_function(f"(sel) => ({TIP})(sel).status === 'exact'", arg=OVERLAY, timeout=20_000)
        text = page.evaluate(TIP, OVERLAY)["text"]
        assert f"patch ({r}, {c})" in text and "≈" not in text, text
        assert value_in(text) == pytest.approx(exact[1], rel=1e-5)
        screenshot(page.locator(OVERLAY).first, "tooltip-overlay")
        before = page.evaluate(TIP, OVERLAY)["version"]
        kernel_run(page, "ov.head = 2")
        page.wait_for_function(
            f"([sel, v]) => {{ const t = ({TIP})(sel); return t.status === 'exact' && t.version !== v; }}",
            arg=[OVERLAY, before],
            timeout=20_000,
        )
        assert value_in(page.evaluate(TIP, OVERLAY)["text"]) == pytest.approx(exact[3], rel=1e-5)
        assert page.errors == [], "\n\n".join(page.errors)
    finally:
        ctx.close()


def test_standalone_page_tooltip_says_its_value_is_the_colour_codes(browser, tmp_path):
    """A page written by ``to_html`` has no kernel to ask: the tooltip says ≈ and why. Its
    colour-range control re-codes the frames the page holds (``js/page-range.js``)."""
    import numpy as np

    import attnwidget as aw
    from attnwidget.store import Capture

    rng = np.random.default_rng(3)
    w = rng.random((1, 2, 6, 6)).astype(np.float32)
    cap = Capture()
    cap.add("enc.attn", 0, w / w.sum(-1, keepdims=True), kind="self")
    view = aw.Heatmap(cap, head=1, color_range="shared")
    path = aw.to_html(view, tmp_path / "page.html")
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    ctx.route(re.compile(r"^https?://"), lambda route: route.abort())
    page = ctx.new_page()
    watch_errors(page)
    try:
        page.goto(f"file://{path}")
        page.wait_for_selector(f"{HEATMAP} canvas.aw-canvas[data-plot]", timeout=30_000)
        assert page.locator(f"{HEATMAP} select.aw-color-range").count() == 1
        canvas = page.locator(f"{HEATMAP} canvas.aw-canvas")
        box = canvas.bounding_box()
        px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
        page.mouse.move(box["x"] + px + 3.5 * pw / 6, box["y"] + py + 1.5 * ph / 6)
        page.wait_for_function(f"(sel) => ({TIP})(sel).status === 'approximate'", arg=HEATMAP)
        text = page.evaluate(TIP, HEATMAP)["text"]
        assert "value ≈ " in text and "(colour code)" in text, text
        approx = float(re.search(r"value ≈ (\S+)", text).group(1))
        meta = view._frame_meta
        # within one colour step of the exact value, on the shared range the page was written with
        assert abs(approx - view.frame().values[1, 3]) <= (meta["vmax"] - meta["vmin"]) / 254 + 1e-3
        assert "shared colour range" in page.locator(f"{HEATMAP} .aw-caption").text_content()
        screenshot(page.locator(HEATMAP).first, "tooltip-page-approximate")
        assert page.errors == [], "\n\n".join(page.errors)
    finally:
        ctx.close()
