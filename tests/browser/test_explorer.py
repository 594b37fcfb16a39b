"""The explorer in a real browser: JupyterLab and Notebook 7, headless Chromium.

A notebook captures a real (tiny, randomly initialised) BERT with
``aw.capture``: 2 layers x 4 heads, 4 samples in two classes, 2 forward steps,
and tokens that include the hostile string ``<img src=x onerror=alert(1)>``.
It shows ``aw.show(cap, ...)``; the tests then drive the page like a person
(dropdowns, slider, hover, click) and compare the heatmap canvas, pixel by
pixel at cell centres, with the colours the kernel computes from the same
selection: ``colormaps.apply(wire.quantize(frame.values, *value_range))``.

Screenshots land in ``artifacts/screenshots/explorer-*.png``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from aw_browser import (
    THUMBS,
    open_notebook,
    run_all,
    run_cell,
    screenshot,
    wait_idle,
    watch_errors,
    write_notebook,
)

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
TOKENS = ["[CLS]", "the", HOSTILE, "cat", "sat", "on", "a", "mat", ".", "[SEP]"]

SETUP = f'''
import json
import numpy as np
import torch
import attnwidget as aw
from attnwidget import colormaps, wire
from transformers import BertConfig, BertModel

torch.manual_seed(0)
TOKENS = {TOKENS!r}
# a wide init makes attention peaked, so heads, layers, samples and steps differ visibly
cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64, max_position_embeddings=64, initializer_range=0.6)
model = BertModel(cfg).eval()
with aw.capture(model) as cap, torch.no_grad():
    model(input_ids=torch.randint(5, 100, (4, len(TOKENS))))   # step 0
    model(input_ids=torch.randint(5, 100, (4, len(TOKENS))))   # step 1
cap.labels = np.array([0, 1, 0, 1])

def expected(view):
    """What the canvas must show for the view's current selection, from the kernel's frame."""
    f = view.frame()
    scale = getattr(view, "scale", "linear")
    lo, hi = wire.value_range(f.values, scale)
    rgb = colormaps.apply(wire.quantize(f.values, lo, hi, scale), view.colormap)
    sel = {{k: (v.item() if hasattr(v, "item") else v) for k, v in view.selection().items()}}
    print(json.dumps({{"rgb": rgb.tolist(), "rows": f.row_labels, "cols": f.col_labels,
                      "sel": sel}}))
'''
SHOW = 'ex = aw.show(cap, tokens=TOKENS, class_names={0: "neg", 1: "pos"})\nex'

HEATMAP = ".aw-explorer .aw-heatmap"
HEADGRID = ".aw-explorer .aw-headgrid"

# Cell-centre colours of the main canvas: [h][w] -> [r, g, b, a]. The matrix
# occupies canvas.dataset.plot = "x,y,width,height" (CSS pixels) of the canvas,
# which also holds the axis labels and the colorbar.
READ_CELLS = """([sel, h, w]) => {
    const c = document.querySelector(sel + ' canvas.aw-canvas');
    const [px, py, pw, ph] = c.dataset.plot.split(',').map(Number);
    const sx = c.width / c.clientWidth, sy = c.height / c.clientHeight;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const out = [];
    for (let i = 0; i < h; i++) {
        const row = [];
        for (let j = 0; j < w; j++) {
            const x = Math.floor((px + (j + 0.5) * pw / w) * sx);
            const y = Math.floor((py + (i + 0.5) * ph / h) * sy);
            const k = 4 * (y * c.width + x);
            row.push([d[k], d[k + 1], d[k + 2], d[k + 3]]);
        }
        out.push(row);
    }
    return out;
}"""

VERSION = "(sel) => Number(document.querySelector(sel).dataset.frameVersion || 0)"


@pytest.fixture(scope="module", params=["lab_server", "nb7_server"])
def explorer(request, browser):
    """One page per server with the explorer notebook run; tests set the state they need."""
    server = request.getfixturevalue(request.param)
    name = "explorer.ipynb"
    write_notebook(server.root, name, [SETUP, SHOW])
    ctx = browser.new_context(viewport={"width": 1400, "height": 1600})
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    watch_errors(page)
    open_notebook(page, server, name)
    run_all(page)
    page.wait_for_function(f"(sel) => {VERSION}(sel) > 0", arg=HEATMAP, timeout=60_000)
    page.flavor = server.flavor
    yield page
    ctx.close()


# ---------------------------------------------------------------------- helpers
def kernel_expected(page, view="ex.heatmap") -> dict:
    return json.loads(run_cell(page, f"expected({view})"))


def canvas_cells(page, sel, h, w) -> np.ndarray:
    return np.array(page.evaluate(READ_CELLS, [sel, h, w]), dtype=np.uint8)


def wait_settled(page, sel, before: int | None = None, quiet_ms: int = 400) -> int:
    """Wait for a repaint after ``before`` (if given), then until no repaint for ``quiet_ms``."""
    if before is not None:
        page.wait_for_function(f"([sel, v]) => {VERSION}(sel) > v", arg=[sel, before], timeout=30_000)
    last = page.evaluate(VERSION, sel)
    while True:
        page.wait_for_timeout(quiet_ms)
        now = page.evaluate(VERSION, sel)
        if now == last:
            return now
        last = now


def assert_canvas_matches_kernel(page, sel=HEATMAP, view="ex.heatmap") -> dict:
    """Canvas cell centres == kernel colours for the current selection; returns the expectation."""
    wait_settled(page, sel)
    exp = kernel_expected(page, view)
    want = np.array(exp["rgb"], dtype=np.uint8)
    h, w = want.shape[:2]
    got = canvas_cells(page, sel, h, w)
    assert (got[..., 3] == 255).all(), "canvas has transparent cells"
    bad = np.argwhere((got[..., :3] != want).any(axis=-1))
    assert bad.size == 0, (
        f"{len(bad)} of {h * w} cells differ from the kernel's frame "
        f"{exp['sel']}; first {bad[:5].tolist()}: canvas "
        f"{got[tuple(bad[0])].tolist()} vs kernel {want[tuple(bad[0])].tolist()}"
    )
    return exp


def cell_point(page, sel, i, j, h, w) -> tuple[float, float]:
    """Page coordinates of the centre of displayed cell (i, j)."""
    canvas = page.locator(f"{sel} canvas.aw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
    return box["x"] + px + (j + 0.5) * pw / w, box["y"] + py + (i + 0.5) * ph / h


def set_state(page, **traits) -> None:
    """Set explorer traits from the kernel and wait for the heatmap to settle."""
    before = page.evaluate(VERSION, HEATMAP)
    assigns = "; ".join(f"ex.{k} = {v!r}" for k, v in traits.items())
    current = json.loads(run_cell(page, "print(json.dumps(ex.selection()))"))
    run_cell(page, assigns)
    changed = any(current.get(k) != v for k, v in traits.items())
    wait_settled(page, HEATMAP, before if changed else None)


def select_control(page, description: str, label: str) -> None:
    """Pick an option of the explorer dropdown whose description is ``description``."""
    box = page.locator(f".aw-controls .widget-dropdown:has(label:text-is('{description}'))")
    box.locator("select").select_option(label=label)


# ---------------------------------------------------------------------- tests
def test_canvas_shows_the_kernel_frame(explorer):
    page = explorer
    set_state(page, layer=0, head=0, label=None, sample=0, step=0)
    exp = assert_canvas_matches_kernel(page)
    rgb = np.array(exp["rgb"])
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 3, "frame too uniform to test anything"
    shape = page.evaluate(f"() => document.querySelector('{HEATMAP}').dataset.shape")
    assert shape == f"{len(TOKENS)},{len(TOKENS)}"
    # the head grid's thumbnails are the kernel's codes, coloured by the same table
    thumbs = json.loads(
        run_cell(
            page,
            (
                "print(json.dumps([{'layer': m['layer'], 'head': m['head'], "
                "'rgb': colormaps.apply(c, ex.headgrid.colormap).tolist()} "
                "for m, c in zip(ex.headgrid._thumbs_meta['thumbs'], ex.headgrid.thumbnails())]))"
            ),
        )
    )
    drawn = {(t["layer"], t["head"]): t for t in page.evaluate(THUMBS, HEADGRID)}
    assert len(thumbs) == 4 and set(drawn) == {(t["layer"], t["head"]) for t in thumbs}
    for t in thumbs:
        d = drawn[(t["layer"], t["head"])]
        got = np.array(d["rgba"], dtype=np.uint8).reshape(d["h"], d["w"], 4)
        np.testing.assert_array_equal(
            got[..., :3], np.array(t["rgb"], dtype=np.uint8), err_msg=f"thumbnail {t['layer'], t['head']}"
        )
    screenshot(page, f"explorer-{page.flavor}-initial")
    screenshot(page.locator(".aw-explorer").first, f"explorer-{page.flavor}-widget")


@pytest.mark.parametrize("control", ["layer", "head", "class", "step"])
def test_controls_repaint_the_canvas(explorer, control):
    page = explorer
    set_state(page, layer=0, head=0, label=None, sample=0, step=0)
    first = np.array(assert_canvas_matches_kernel(page)["rgb"])
    before = page.evaluate(VERSION, HEATMAP)
    if control == "layer":
        names = json.loads(run_cell(page, "print(json.dumps(cap.layers))"))
        select_control(page, "layer", names[1])
        want = {"layer": 1}
    elif control == "head":
        select_control(page, "head", "2")
        want = {"head": 2}
    elif control == "class":
        select_control(page, "class", "pos")
        want = {"label": 1}
    else:
        readout = page.locator(".aw-controls .widget-slider:has(label:text-is('step')) .widget-readout")
        readout.fill("1")
        readout.press("Enter")
        want = {"step": 1}
    wait_settled(page, HEATMAP, before)
    exp = assert_canvas_matches_kernel(page)
    for k, v in want.items():
        assert exp["sel"][k] == v, f"kernel selection {exp['sel']} after the {control} control"
    assert (np.array(exp["rgb"]) != first).any(), f"canvas did not change with the {control} control"
    screenshot(page.locator(".aw-explorer").first, f"explorer-{page.flavor}-{control}")


def test_hover_tooltip_names_the_token_pair(explorer):
    page = explorer
    set_state(page, layer=1, head=1, label=None, sample=0, step=0)
    exp = assert_canvas_matches_kernel(page)
    h, w = len(exp["rows"]), len(exp["cols"])
    for i, j in [(2, 3), (3, 2), (0, 9), (7, 4)]:
        page.mouse.move(*cell_point(page, HEATMAP, i, j, h, w))
        tip = page.locator(f"{HEATMAP} .aw-tooltip")
        tip.wait_for(state="visible", timeout=10_000)
        page.wait_for_function(
            "([sel, q, k]) => { const t = document.querySelector(sel + ' .aw-tooltip').textContent;"
            " return t.includes(q) && t.includes(k); }",
            arg=[HEATMAP, exp["rows"][i], exp["cols"][j]],
            timeout=10_000,
        )
        text = tip.text_content()
        q, k = exp["rows"][i], exp["cols"][j]
        # the query names the row and comes first, the key second
        assert text.index(q) < text.rindex(k) or q == k, f"tooltip {text!r} for query {q!r}, key {k!r}"
        if (i, j) == (2, 3):
            assert HOSTILE in text
            screenshot(page.locator(".aw-explorer").first, f"explorer-{page.flavor}-tooltip-hostile")
    page.mouse.move(0, 0)


def test_clicked_thumbnail_selects_its_head(explorer):
    page = explorer
    set_state(page, layer=1, head="mean", label=None, sample=0, step=0)
    before = page.evaluate(VERSION, HEATMAP)
    thumb = page.locator(f"{HEADGRID} .aw-thumb[data-layer='1'][data-head='3']")
    thumb.click()
    wait_settled(page, HEATMAP, before)
    exp = assert_canvas_matches_kernel(page)
    assert exp["sel"]["head"] == 3 and exp["sel"]["layer"] == 1, exp["sel"]
    # the grid highlights the clicked one, and the head dropdown follows
    page.wait_for_function(
        "(sel) => document.querySelector(sel + \" .aw-thumb[data-head='3']\")"
        ".classList.contains('aw-selected')",
        arg=HEADGRID,
        timeout=10_000,
    )
    assert (
        page.locator(".aw-controls .widget-dropdown:has(label:text-is('head')) select").evaluate(
            "s => s.options[s.selectedIndex].text"
        )
        == "3"
    )
    screenshot(page.locator(".aw-explorer").first, f"explorer-{page.flavor}-thumbnail-click")


def test_hostile_token_renders_as_text(explorer):
    page = explorer
    set_state(page, layer=0, head=0, label=None, sample=0, step=0)
    exp = assert_canvas_matches_kernel(page)
    assert exp["rows"][2] == HOSTILE
    h, w = len(exp["rows"]), len(exp["cols"])
    page.mouse.move(*cell_point(page, HEATMAP, 2, 3, h, w))
    tip = page.locator(f"{HEATMAP} .aw-tooltip")
    tip.wait_for(state="visible", timeout=10_000)
    # shown as the literal text, escaped in the markup, never parsed into an element
    assert HOSTILE in tip.text_content()
    assert "&lt;img" in tip.inner_html()
    assert tip.locator("img").count() == 0
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.dialogs == [], f"a JavaScript dialog opened: {page.dialogs}"
    page.mouse.move(0, 0)


def test_no_page_errors(explorer):
    page = explorer
    wait_idle(page)
    assert page.errors == [], "\n\n".join(page.errors)


def test_the_page_runs_the_bundle_once_for_every_view(explorer):
    # js/loader.js: every canvas view carries the bundle, and the page runs it once (anywidget
    # imports a widget's _esm anew for each widget: the bundle as _esm ran once per view)
    page = explorer
    views = page.evaluate("() => document.querySelectorAll('.aw-view').length")
    assert views >= 2, f"the explorer drew {views} canvas views"
    key = run_cell(page, "print(ex.heatmap._bundle_key)").strip()
    held = page.evaluate(
        "() => { const m = globalThis.__attnwidget_bundles__; return m ? [...m.keys()] : null; }"
    )
    assert held == [key], f"the page ran bundles {held}, not the one bundle {key} once"
