"""A class-difference map in the explorer outlines its significant cells, in a real browser.

A two-class capture whose class 1 puts more weight on one cell (query 2, key 5)
is shown with ``aw.show``; the difference map (class 1 minus class 0) is picked
from Python. The canvas must draw the outline around that cell and nowhere
else (the pixels on its edges are the outline's dark ink; the edges of an
unmarked cell are not), and the caption must say how many cells differ.

Screenshot: ``artifacts/screenshots/significance-lab.png``.
"""

from __future__ import annotations

import pytest
from aw_browser import open_notebook, run_all, screenshot, watch_errors, write_notebook

pytestmark = pytest.mark.browser

SETUP = """
import numpy as np
import attnwidget as aw

rng = np.random.default_rng(0)
w = rng.dirichlet(np.ones(8), size=(40, 2, 8)).astype(np.float32)   # [sample, head, query, key]
labels = np.repeat([0, 1], 20)
w[labels == 1, :, 2, 5] += 0.5                                       # class 1: more weight on (2, 5)
cap = aw.Capture.from_attentions({"encoder.layer.0.attention": w})
cap.labels = labels
cap.metadata["class_names"] = {0: "bonafide", 1: "spoof"}
tokens = ["[CLS]", "the", "cat", "sat", "on", "a", "warm", "mat"]
ex = aw.show(cap, tokens=tokens, head=0)
ex.heatmap.difference = (1, 0)
ex
"""
CANVAS = ".aw-heatmap canvas.aw-canvas"

# the darkest channel sum (0..765) along a short line across a cell edge (the outline: #111 over a white halo)
INK = """([sel, x0, y0, x1, y1]) => {
    const c = document.querySelector(sel);
    const ctx = c.getContext('2d');
    const scale = c.width / c.getBoundingClientRect().width;
    let darkest = 765;
    for (let i = 0; i <= 8; i++) {
        const x = Math.round((x0 + (x1 - x0) * i / 8) * scale), y = Math.round((y0 + (y1 - y0) * i / 8) * scale);
        const d = ctx.getImageData(x, y, 1, 1).data;
        darkest = Math.min(darkest, d[0] + d[1] + d[2]);
    }
    return darkest;
}"""


def test_the_difference_map_outlines_the_cell_that_differs(lab_server, browser):
    write_notebook(lab_server.root, "significance.ipynb", [SETUP])
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    watch_errors(page)
    try:
        open_notebook(page, lab_server, "significance.ipynb")
        run_all(page)
        page.wait_for_selector(f"{CANVAS}[data-outline]:not([data-outline=''])", timeout=60_000)
        canvas = page.locator(CANVAS).first
        assert canvas.get_attribute("data-outline") == "4"  # the four sides of one cell
        caption = page.locator(".aw-heatmap .aw-caption").first.text_content()
        assert "1 of 8^2 cells differ at q < 0.05" in caption, caption
        px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
        cw, ch = pw / 8, ph / 8

        def across_top_edge(row: int, col: int) -> int:
            x = px + (col + 0.5) * cw
            return page.evaluate(INK, [CANVAS, x, py + row * ch - 3, x, py + row * ch + 3])

        screenshot(page.locator(".aw-explorer").first, "significance-lab")
        marked, unmarked = across_top_edge(2, 5), across_top_edge(4, 3)
        # the outline's dark line (antialiased over its light halo) against the pale cells around it
        assert marked < 400, f"no dark outline on the top edge of cell (2, 5): darkest {marked}"
        assert unmarked > marked + 250, f"cell (4, 3) is outlined too: darkest {unmarked} vs {marked}"
        assert not page.errors, page.errors
    finally:
        ctx.close()
