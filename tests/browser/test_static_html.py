"""``aw.to_html`` pages in headless Chromium, offline: the canvas draws and a control changes it.

Every request that is not the page's own ``file://`` URL is blocked with
``page.route`` and recorded; the tests assert that none was attempted. Each
page is tested with a small hand-written ES module that follows the views'
contract (``render({model, el})`` reading ``_frame``/``_frame_meta``), and
with the real bundle from ``attnwidget/static/`` once that one draws a canvas.
Screenshots go to ``artifacts/browser/``.

An explorer's page (``to_html(aw.show(cap))``) is tested on lesson captures
(the translation lesson's model: head grid, statistics, steps and Play; the
vision lesson's ViT with one digit per sample: the image overlay), on class
statistics from ``aw.collect`` (the class-difference map and its significance
outline) and on a capture with attention and weights sites (a tab each):
every panel is drawn, every control on the page changes the picture, the
title follows the selection, nothing is fetched and nothing is logged as an
error. Those screenshots, at 1400 x 1000, go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import pathlib
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "figures"))
from aw_browser import THUMBS  # noqa: E402
from aw_figure_captures import CLASS_NAMES, make_audio_capture, make_text_capture  # noqa: E402

from attnwidget import colormaps  # noqa: E402
from attnwidget.figures import to_html  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "browser"

# A minimal view following the widgets' contract: one canvas, one pixel per cell,
# grey level = colour code, redrawn on change of _frame or colormap.
MINIMAL_ESM = """
function draw(model, canvas) {
  const meta = model.get("_frame_meta") || {};
  const view = model.get("_frame");
  const [h, w] = meta.shape || [0, 0];
  canvas.width = Math.max(w, 1); canvas.height = Math.max(h, 1);
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  const tint = model.get("colormap") === "magma" ? 0 : 1;
  for (let i = 0; i < h * w; i++) {
    const c = view.getUint8(i);
    img.data[4 * i] = c; img.data[4 * i + 1] = c * tint; img.data[4 * i + 2] = 255 - c; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.version = String(Number(canvas.dataset.version || 0) + 1);
}
export default {
  render({ model, el }) {
    const canvas = document.createElement("canvas");
    canvas.className = "aw-canvas";
    canvas.style.width = "300px"; canvas.style.imageRendering = "pixelated";
    const title = document.createElement("div");
    title.className = "aw-title";
    el.append(title, canvas);
    const redraw = () => { draw(model, canvas); title.textContent = (model.get("_frame_meta") || {}).title || ""; };
    model.on("change:_frame", redraw);
    model.on("change:colormap", redraw);
    redraw();
    return () => model.off("change:_frame", redraw);
  },
};
"""


@pytest.fixture(scope="module")
def chromium(browser):
    """The session's Chromium (tests/browser/conftest.py): one Playwright per test run,
    since a second sync Playwright cannot start while the first one's loop runs."""
    return browser


def open_offline(browser, path: pathlib.Path, size=(1100, 800)):
    """Open a file page with every non-file request blocked; returns (page, blocked, errors)."""
    ctx = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, offline=True, accept_downloads=True
    )
    page = ctx.new_page()
    blocked, errors = [], []

    def guard(route):
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", guard)
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file://", "data:", "blob:")) else blocked.append(r.url),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(path.as_uri())
    wait_until(page, "document.body.dataset.awReady !== undefined")
    return page, blocked, errors


def wait_until(page, expression: str, timeout: float = 20.0) -> None:
    """Poll a JS expression from Python: the page's CSP forbids the eval that
    ``page.wait_for_function`` uses, which is part of what these tests check."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def canvas_pixels(page) -> np.ndarray:
    data = page.evaluate("""() => {
      const c = document.querySelector('#aw-root canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      return {w: c.width, h: c.height, px: Array.from(d.data)};
    }""")
    return np.array(data["px"], dtype=np.uint8).reshape(data["h"], data["w"], 4)


def choose(page, control: str, value: str) -> None:
    before = page.evaluate("document.body.dataset.awVersion || '0'")
    page.select_option(f"select.aw-ctl-{control}", value=value)
    wait_until(page, f"(document.body.dataset.awVersion || '0') !== {before!r}")


def test_heatmap_page_draws_offline_and_controls_change_it(chromium, tmp_path):
    from attnwidget.widgets import Heatmap

    cap = make_text_capture()
    view = Heatmap(cap, layer=1)
    path = pathlib.Path(to_html(view, tmp_path / "heatmap.html", esm=MINIMAL_ESM, scales=("linear", "log")))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        first = canvas_pixels(page)
        assert first.shape[:2] == tuple(view._frame_meta["shape"])
        # the canvas shows exactly the codes the widget sends for this selection
        codes = np.frombuffer(view._frame, dtype=np.uint8).reshape(view._frame_meta["shape"])
        assert np.array_equal(first[..., 0], codes)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "static_heatmap_layer1.png"))

        choose(page, "layer", "0")
        second = canvas_pixels(page)
        assert not np.array_equal(first, second), "changing the layer did not change the picture"
        view.layer = 0
        codes0 = np.frombuffer(view._frame, dtype=np.uint8).reshape(view._frame_meta["shape"])
        assert np.array_equal(second[..., 0], codes0)

        choose(page, "head", "2")
        third = canvas_pixels(page)
        assert not np.array_equal(second, third)
        choose(page, "step", "2")
        fourth = canvas_pixels(page)
        assert not np.array_equal(third, fourth)
        choose(page, "scale", '"log"')
        assert not np.array_equal(fourth, canvas_pixels(page)), "the scale control did nothing"
        page.screenshot(path=str(SHOTS / "static_heatmap_layer0_head2_step2.png"))
        # token strings arrive as text: the markup-looking token is not an element
        assert page.locator("#aw-root b").count() == 0
        assert "<b>" not in page.inner_html(".aw-title")
    finally:
        page.close()
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []


def test_weights_page_class_control(chromium, tmp_path):
    from attnwidget.widgets import WeightsView

    cap = make_audio_capture()
    view = WeightsView(cap, layer=0, class_names=CLASS_NAMES)
    path = pathlib.Path(to_html(view, tmp_path / "weights.html", esm=MINIMAL_ESM, class_names=CLASS_NAMES))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        names = page.eval_on_selector_all("select.aw-ctl-label option", "os => os.map(o => o.textContent)")
        assert names == ["all samples", "spoof", "bonafide"]
        before = canvas_pixels(page)
        choose(page, "label", "1")
        after = canvas_pixels(page)
        assert before.shape != after.shape or not np.array_equal(before, after)
        choose(page, "colormap", '"magma"')
        assert not np.array_equal(after, canvas_pixels(page)), "colormap control did nothing"
        page.screenshot(path=str(SHOTS / "static_weights_bonafide.png"))
    finally:
        page.close()
    assert blocked == []
    assert errors == []


def test_real_heatmap_bundle_page(chromium, tmp_path):
    from attnwidget.widgets import Heatmap

    view = Heatmap(make_text_capture(), layer=1)
    path = pathlib.Path(to_html(view, tmp_path / "real_heatmap.html"))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        page.wait_for_selector("#aw-root canvas.aw-canvas")
        shot = lambda: page.locator("#aw-root canvas.aw-canvas").first.screenshot()  # noqa: E731
        before = shot()
        page.screenshot(path=str(SHOTS / "real_heatmap_before.png"))
        choose(page, "layer", "0")
        page.wait_for_timeout(300)
        after = shot()
        page.screenshot(path=str(SHOTS / "real_heatmap_after.png"))
        assert before != after, "the real bundle did not repaint when the layer control changed"
    finally:
        page.close()
    assert blocked == []
    assert errors == []


def assert_thumbs_over_their_pixels(page) -> None:
    """Every ``.aw-thumb`` sits over its rect of the ``canvas.aw-grid`` beneath it (``data-pixels``,
    device pixels, at the canvas's scale), its outline 2 px outside it."""
    placed = page.evaluate(
        """() => [...document.querySelectorAll('.aw-thumb')].map(t => {
            const c = t.closest('.aw-thumbs').querySelector('canvas.aw-grid');
            const box = c.getBoundingClientRect(), r = t.getBoundingClientRect();
            const scale = c.width / box.width;
            const [x, y, w, h] = t.dataset.pixels.split(',').map(Number);
            return {got: [r.left - box.left, r.top - box.top, r.width, r.height],
                    want: [x / scale - 2, y / scale - 2, w / scale + 4, h / scale + 4]};
        })"""
    )
    assert placed
    for p in placed:
        np.testing.assert_allclose(
            p["got"], p["want"], atol=0.5, err_msg="a thumbnail is not over its pixels"
        )


def test_real_head_grid_click_is_answered_by_the_page(chromium, tmp_path):
    from attnwidget.widgets import HeadGrid

    view = HeadGrid(make_text_capture(), layer=1)
    path = pathlib.Path(to_html(view, tmp_path / "grid.html"))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        thumbs = page.locator(".aw-thumb")
        assert thumbs.count() == 4
        # each thumbnail's element lies over its pixels in the grid's one canvas (the page carries the
        # views' style sheet), and the pixels are the thumbnails the kernel made
        assert_thumbs_over_their_pixels(page)
        drawn = page.evaluate(THUMBS, ".aw-headgrid")
        for meta, codes, got in zip(view._thumbs_meta["thumbs"], view.thumbnails(), drawn, strict=True):
            assert (got["layer"], got["head"]) == (meta["layer"], meta["head"])
            rgb = np.array(got["rgba"], dtype=np.uint8).reshape(got["h"], got["w"], 4)[..., :3]
            np.testing.assert_array_equal(rgb, colormaps.apply(codes, view.colormap))
        before = page.evaluate("document.body.dataset.awVersion || '0'")
        thumbs.nth(2).click()  # the bundle sends {type: "select", layer, head}; the page answers
        wait_until(page, f"(document.body.dataset.awVersion || '0') !== {before!r}")
        assert page.input_value("select.aw-ctl-head") == "2"
        outline = page.locator(".aw-thumb.aw-selected").evaluate("e => getComputedStyle(e).borderTopColor")
        assert page.locator(".aw-thumb.aw-selected").get_attribute("data-head") == "2"
        assert outline not in ("rgba(0, 0, 0, 0)", "transparent"), outline
        assert page.evaluate("document.body.dataset.awSelection").startswith("[1,2,")
        page.screenshot(path=str(SHOTS / "real_headgrid_head2.png"))
        choose(page, "layer", "2")  # another layer's heads: new thumbnails
        page.screenshot(path=str(SHOTS / "real_headgrid_layer2.png"))
    finally:
        page.close()
    assert blocked == []
    assert errors == []


def test_real_bundle_scale_control_uses_the_embedded_log_frames(chromium, tmp_path):
    from attnwidget.widgets import Heatmap

    view = Heatmap(make_text_capture(), layer=1)
    path = pathlib.Path(to_html(view, tmp_path / "scales.html", scales=("linear", "log")))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        scale_select = page.locator("#aw-root select").filter(has=page.locator("option[value=log]"))
        assert scale_select.count() == 1
        before = page.evaluate("document.body.dataset.awVersion || '0'")
        scale_select.select_option("log")  # the bundle's own control: model.set + save_changes
        wait_until(page, f"(document.body.dataset.awVersion || '0') !== {before!r}")
        assert page.evaluate("document.body.dataset.awSelection").endswith(',"log"]')
        assert page.input_value("select.aw-ctl-scale") == '"log"'
        page.screenshot(path=str(SHOTS / "real_heatmap_log.png"))
    finally:
        page.close()
    assert blocked == []
    assert errors == []


# ---------------------------------------------------------------------- statistics captures
@pytest.fixture(scope="module")
def stats_capture():
    """``aw.collect(..., keep="stats")`` on the collect tests' tiny model: class statistics, no sample."""
    sys.path.insert(0, str(ROOT / "tests" / "collect"))
    from _collect_models import batches, data, model

    import attnwidget as aw

    ids, labels = data(40)
    return aw.collect(model(), batches(ids, labels, 8), labels=1, keep="stats", progress=False)


def test_statistics_page_draws_each_class_and_the_difference_map(chromium, tmp_path, stats_capture):
    from attnwidget.widgets import Heatmap

    view = Heatmap(stats_capture, layer=1)
    path = pathlib.Path(
        to_html(view, tmp_path / "stats.html", esm=MINIMAL_ESM, class_names={0: "<b>neg</b>", 1: "pos"})
    )

    def shown_codes():
        return np.frombuffer(view._frame, dtype=np.uint8).reshape(view._frame_meta["shape"])

    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        first = canvas_pixels(page)
        assert first[..., 0].max() > first[..., 0].min(), "the statistics page drew a blank canvas"
        assert np.array_equal(first[..., 0], shown_codes())
        # no sample is kept: no sample control; class, statistic and difference controls instead
        assert page.locator("label.aw-ctl-sample-wrap").is_hidden()
        names = page.eval_on_selector_all("select.aw-ctl-label option", "os => os.map(o => o.textContent)")
        assert names == ["all samples", "<b>neg</b>", "pos"]  # text, not markup
        assert page.locator("#aw-controls b").count() == 0

        choose(page, "label", "0")
        view.label = 0
        class0 = canvas_pixels(page)
        assert np.array_equal(class0[..., 0], shown_codes())
        choose(page, "stat", '"var"')
        view.stat = "var"
        assert np.array_equal(canvas_pixels(page)[..., 0], shown_codes())

        choose(page, "difference", "[0,1]")
        view.difference = (0, 1)
        assert np.array_equal(canvas_pixels(page)[..., 0], shown_codes())
        # as in the widget: a diverging colormap, the class and statistic controls disabled
        assert page.input_value("select.aw-ctl-colormap") == '"coolwarm"'
        assert page.locator("select.aw-ctl-label").is_disabled()
        assert page.input_value("select.aw-ctl-label") == "0"  # the class choice is kept
        page.screenshot(path=str(SHOTS / "static_stats_difference.png"))

        choose(page, "difference", "null")
        view.difference = None
        assert page.input_value("select.aw-ctl-colormap") == '"viridis"'
        assert np.array_equal(canvas_pixels(page)[..., 0], shown_codes())  # class 0's variance again
        assert (
            page.evaluate("document.body.dataset.awSelection") == '[1,"mean","mean",0,0,"var",null,"linear"]'
        )
    finally:
        page.close()
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []


def test_real_bundle_statistics_page(chromium, tmp_path, stats_capture):
    import attnwidget as aw

    path = pathlib.Path(to_html(aw.show(stats_capture), tmp_path / "real_stats.html"))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        canvas = page.locator("#aw-root canvas.aw-canvas").first
        canvas.wait_for()
        pixels = page.evaluate("""() => {
          const c = document.querySelector('#aw-root canvas.aw-canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const seen = new Set();
          for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
          return seen.size;
        }""")
        assert pixels > 8, "the real bundle drew a blank statistics page"
        before = canvas.screenshot()
        choose(page, "label", "1")
        page.wait_for_timeout(300)
        assert canvas.screenshot() != before, "the class control did not change the picture"
        page.screenshot(path=str(SHOTS / "real_stats_class1.png"))
        choose(page, "difference", "[1,0]")
        # the bundle's own colormap control follows the page's switch to a diverging colormap
        own = page.locator("#aw-root select").filter(has=page.locator("option[value=coolwarm]")).first
        assert own.input_value() == "coolwarm"
        page.screenshot(path=str(SHOTS / "real_stats_difference.png"))
    finally:
        page.close()
    assert blocked == []
    assert errors == []


# ---------------------------------------------------------------------- an explorer's page
PAGE_SHOTS = ROOT / "artifacts" / "screenshots"
EXPLORER_SIZE = (1400, 1000)


def picture(page) -> bytes:
    """What the page shows: a screenshot of every panel (the controls row left out)."""
    page.wait_for_timeout(60)  # the views paint in an animation frame after the change
    return page.locator("#aw-page").screenshot()


def version(page) -> str:
    return page.evaluate("document.body.dataset.awVersion || '0'")


def wait_for_change(page, before: str) -> None:
    wait_until(page, f"(document.body.dataset.awVersion || '0') !== {before!r}")


def title_follows(page) -> str:
    """The page's title and its heading say the same, and return it."""
    title = page.evaluate("document.title")
    assert page.inner_text("#aw-title") == title
    return title


def controls_shown(page) -> list[str]:
    """The names of the page's own controls that are shown and enabled."""
    return page.evaluate("""() => [...document.querySelectorAll('#aw-controls select.aw-ctl, #aw-page select.aw-ctl')]
      .filter((s) => !s.disabled && !s.closest('label').hidden && s.offsetParent !== null)
      .map((s) => [...s.classList].find((c) => c.startsWith('aw-ctl-')).slice(7))""")


def every_control_changes_the_picture(page) -> list[str]:
    """Choose another option in every control shown, one at a time: each must change what is drawn,
    and the title must follow it (for what the title names). Returns the controls tried."""
    tried = []
    for name in controls_shown(page):
        if name not in controls_shown(page):
            continue  # an earlier choice left nothing to choose here (a class of one sample)
        sel = page.locator(f"select.aw-ctl-{name}")
        values = sel.evaluate("s => [...s.options].map((o) => o.value)")
        now = sel.input_value()
        other = next(v for v in values if v != now)
        before, shown = picture(page), version(page)
        sel.select_option(other)
        wait_for_change(page, shown)
        assert picture(page) != before, f"the {name} control did not change the picture"
        text = sel.evaluate("s => s.options[s.selectedIndex].textContent")
        if name in ("layer", "head", "step", "stat", "difference"):
            assert text in title_follows(page), f"the title does not follow the {name} control"
        tried.append(name)
    return tried


def view_selects_change_the_picture(page) -> int:
    """The views' own choices shown in the panels (colormaps): each changes the picture."""
    count = page.locator("#aw-page .aw-view select:visible").count()
    for i in range(count):
        sel = page.locator("#aw-page .aw-view select:visible").nth(i)
        values = sel.evaluate("s => [...s.options].map((o) => o.value)")
        now = sel.input_value()
        before = picture(page)
        sel.select_option(next(v for v in values if v != now))
        page.wait_for_timeout(200)
        assert picture(page) != before, f"the view's own {values[:3]}... choice did not change the picture"
    return count


def drawn_colours(page, selector: str) -> int:
    """How many distinct colours a canvas holds (a blank one holds one or two)."""
    return page.evaluate(
        """(sel) => { const c = document.querySelector(sel);
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const seen = new Set(); for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i+1]},${d[i+2]}`);
          return seen.size; }""",
        selector,
    )


def stats_bars(page) -> dict:
    """The head statistics the page draws: statistic -> value per head."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.aw-headstats svg.aw-chart')]
      .map((svg) => [svg.querySelector('text').textContent, JSON.parse(svg.dataset.values)[0]]))""")


def assert_bars_are_the_widgets(page, explorer) -> None:
    drawn, shown = stats_bars(page), explorer.headstats.stats
    assert list(drawn) == list(shown)
    for name, values in shown.items():
        np.testing.assert_allclose(drawn[name], values, rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def translation_explorer():
    """The translation lesson's model (seeded weights) translating one date: 6 sites, 4 heads,
    11 generation steps, the decoder's query axis growing with each step."""
    sys.path.insert(0, str(ROOT / "notebooks"))
    import torch
    from lessons import translation

    import attnwidget as aw

    torch.manual_seed(0)
    model = translation.Translator().eval()
    source = "march twenty first nineteen ninety two"
    with aw.capture(model) as cap:
        out = translation.translate(model, source)
    return aw.show(cap, tokens=translation.site_tokens(cap, source, out))


def test_explorer_page_of_the_translation_lesson(chromium, tmp_path, translation_explorer):
    ex = translation_explorer
    path = pathlib.Path(to_html(ex, tmp_path / "translation.html"))
    page, blocked, errors = open_offline(chromium, path, EXPLORER_SIZE)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        # every panel is drawn: the matrix, a thumbnail per head, a bar chart per statistic
        assert drawn_colours(page, "#aw-root canvas.aw-canvas") > 8
        assert page.locator(".aw-panel-headgrid .aw-thumb").count() == 4
        assert_bars_are_the_widgets(page, ex)
        assert "encoder.layers.0.self_attn" in title_follows(page)
        PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-translation.png"))

        # a thumbnail clicked selects its head, in every panel and control
        before, shown = picture(page), version(page)
        page.locator(".aw-panel-headgrid .aw-thumb").nth(2).click()
        wait_for_change(page, shown)
        assert page.input_value("select.aw-ctl-head") == "2"
        assert "head 2" in title_follows(page)
        assert page.locator(".aw-headstats rect.aw-bar-marked").count() == 3  # head 2's bar in each chart
        assert picture(page) != before
        # a statistics bar clicked selects its head
        shown = version(page)
        page.locator(".aw-headstats svg.aw-chart-max rect.aw-bar").nth(1).dispatch_event("click")
        wait_for_change(page, shown)
        assert page.input_value("select.aw-ctl-head") == "1"

        # arrow keys on the matrix move the head, as in the notebook
        shown = version(page)
        page.focus("#aw-root")
        page.keyboard.press("ArrowRight")
        wait_for_change(page, shown)
        assert page.input_value("select.aw-ctl-head") == "2"

        tried = every_control_changes_the_picture(page)
        assert {"layer", "head", "step"} <= set(tried), tried
        assert view_selects_change_the_picture(page) >= 2  # the matrix's and the head grid's colormaps
        page.select_option(".aw-headstats select.aw-headstats-show", "statistics")  # it tried the roles
        # the head statistics follow the site: as the widget computes them
        page.select_option("select.aw-ctl-layer", "3")
        page.select_option("select.aw-ctl-head", '"mean"')
        page.wait_for_timeout(200)
        ex.layer, ex.head, ex.step = 3, "mean", int(page.input_value("select.aw-ctl-step"))
        assert_bars_are_the_widgets(page, ex)

        # Play walks the steps and stops when pressed again
        page.select_option("select.aw-ctl-step", "0")
        page.wait_for_timeout(100)
        page.click("button.aw-page-play")
        wait_until(page, "JSON.parse(document.body.dataset.awSelection)[4] >= 2")
        page.click("button.aw-page-play")
        held = page.evaluate("document.body.dataset.awSelection")
        page.wait_for_timeout(900)
        assert page.evaluate("document.body.dataset.awSelection") == held, "Play did not stop"
        assert page.inner_text("button.aw-page-play").endswith("play")

        # the statistics collapse and come back
        page.click("button.aw-headstats-toggle")
        assert page.locator(".aw-headstats svg.aw-chart").count() == 0
        page.click("button.aw-headstats-toggle")
        assert page.locator(".aw-headstats svg.aw-chart").count() == 3

        # the matrix's save button downloads the picture on screen
        with page.expect_download() as got:
            page.locator("#aw-root button.aw-save").click()
        assert got.value.suggested_filename == "heatmap.png"
    finally:
        page.close()
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []


@pytest.fixture(scope="module")
def vision_explorer():
    """The vision lesson's ViT (seeded weights) on six digits, each sample with its own image."""
    sys.path.insert(0, str(ROOT / "notebooks"))
    import torch
    from lessons import vision

    import attnwidget as aw

    torch.manual_seed(0)
    model = vision.ViT().eval()
    _, _, images, labels = vision.load_digits()
    images, labels = images[:6], labels[:6]
    with aw.capture(model) as cap, torch.no_grad():
        model(torch.from_numpy(images))
    cap.labels = labels
    names = dict(enumerate(vision.CLASS_NAMES))
    return aw.show(cap, tokens=vision.tokens(), image=images, patch_grid=vision.PATCH_GRID, class_names=names)


def test_explorer_page_of_the_vision_lesson_overlay(chromium, tmp_path, vision_explorer):
    ex = vision_explorer
    path = pathlib.Path(to_html(ex, tmp_path / "vision.html"))
    page, blocked, errors = open_offline(chromium, path, EXPLORER_SIZE)
    overlay = ".aw-panel-overlay canvas.aw-overlay-canvas"
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        assert drawn_colours(page, overlay) > 8
        assert page.locator(".aw-panel-headgrid .aw-thumb").count() == 4
        # the class control names the classes as the explorer does
        names = page.eval_on_selector_all("select.aw-ctl-label option", "os => os.map(o => o.textContent)")
        assert names[0] == "all samples" and names[1:] == [str(c) for c in ex.cap.classes()]
        PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-vision.png"))

        # each sample shows its own digit under the overlay
        first = page.locator(overlay).screenshot()
        shown = version(page)
        page.select_option("select.aw-ctl-sample", "3")
        wait_for_change(page, shown)
        page.wait_for_timeout(100)
        assert page.locator(overlay).screenshot() != first
        assert "sample 3" in title_follows(page)

        # a patch clicked shows its own query row, and pins that row on the matrix (as the explorer)
        matrix = page.locator("#aw-root canvas.aw-canvas").screenshot()
        row = page.locator(overlay).screenshot()
        box = page.locator(overlay).bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)  # patch (1, 2)
        page.wait_for_timeout(300)
        assert "query 1,2" in page.inner_text(".aw-panel-overlay .aw-overlay-title")
        assert page.locator(overlay).screenshot() != row
        assert page.locator("#aw-root canvas.aw-canvas").screenshot() != matrix, "the row was not pinned"
        # a row pinned on the matrix is the overlay's row
        canvas = page.locator("#aw-root canvas.aw-canvas")
        px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
        cbox = canvas.bounding_box()
        page.mouse.click(
            cbox["x"] + px + pw * 0.5, cbox["y"] + py + ph * (0.5 + 16) / 17
        )  # row 16: patch 3,3
        page.wait_for_timeout(300)
        assert "query 3,3" in page.inner_text(".aw-panel-overlay .aw-overlay-title")

        tried = every_control_changes_the_picture(page)
        assert {"layer", "head", "label", "sample"} <= set(tried), tried
        assert view_selects_change_the_picture(page) >= 3  # matrix, overlay and head grid colormaps
        opacity = page.locator(".aw-panel-overlay input.aw-opacity")
        before = page.locator(overlay).screenshot()
        opacity.fill("0.9")
        page.wait_for_timeout(200)
        assert page.locator(overlay).screenshot() != before, "the opacity slider did nothing"
    finally:
        page.close()
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []


def test_explorer_page_of_class_statistics_outlines_the_difference(chromium, tmp_path, stats_capture):
    import attnwidget as aw

    ex = aw.show(stats_capture, class_names={0: "neg", 1: "pos"})
    path = pathlib.Path(to_html(ex, tmp_path / "stats_explorer.html"))
    page, blocked, errors = open_offline(chromium, path, EXPLORER_SIZE)
    canvas = "#aw-root canvas.aw-canvas"
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        assert page.locator(".aw-panel-headgrid .aw-thumb").count() == 2
        # statistics only: the entropy of the statistics, as the widget, with its note
        assert_bars_are_the_widgets(page, ex)
        assert "per-head entropy" in page.inner_text(".aw-headstats-note")
        assert page.get_attribute(canvas, "data-outline") == ""  # no difference: no outline

        shown = version(page)
        page.select_option("select.aw-ctl-difference", "[0,1]")
        wait_for_change(page, shown)
        page.wait_for_timeout(100)
        # the significant cells of the difference map are outlined, their count in the caption
        assert page.get_attribute(canvas, "data-outline") not in ("", None)
        ex.difference = (0, 1)
        assert ex.heatmap._frame_meta["caption"] in page.inner_text("#aw-root .aw-caption")
        assert "differ at q < 0.05" in page.inner_text("#aw-root .aw-caption")
        assert "neg − pos" in title_follows(page)
        assert page.locator("select.aw-ctl-label").is_disabled()
        PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-stats-difference.png"))
        # a zoomed outline stays on its cells: the head grid's thumbnails are differences too
        assert drawn_colours(page, ".aw-panel-headgrid canvas.aw-grid") > 4

        page.select_option("select.aw-ctl-difference", "null")
        page.wait_for_timeout(200)
        assert page.get_attribute(canvas, "data-outline") == ""
        tried = every_control_changes_the_picture(page)
        assert {"layer", "head", "label", "stat", "difference"} <= set(tried), tried
    finally:
        page.close()
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []


def test_explorer_page_with_attention_and_weights_has_a_tab_each(chromium, tmp_path):
    import attnwidget as aw

    cap = make_text_capture()
    audio = make_audio_capture(n=2)
    for s in range(cap.steps):
        for name in ("model.layer_weights", "model.intra_attn"):
            cap.add(name, s, audio.get(name), kind="weights", axes=audio.axes[name])
    ex = aw.show(cap, class_names=CLASS_NAMES)
    path = pathlib.Path(to_html(ex, tmp_path / "tabs.html"))
    page, blocked, errors = open_offline(chromium, path, EXPLORER_SIZE)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        assert page.locator(".aw-page-tab-weights").is_hidden()
        page.click("button.aw-tab-weights")
        assert page.locator(".aw-page-tab-attention").is_hidden()
        assert drawn_colours(page, ".aw-panel-weights canvas.aw-canvas") > 8
        # the class chart: the widget's, bars per class along the site's last axis
        drawn = page.evaluate(
            "JSON.parse(document.querySelector('.aw-weights-chart svg.aw-chart').dataset.values)"
        )
        np.testing.assert_allclose(drawn, np.asarray(ex.weights._bars.y), rtol=1e-5, atol=1e-6)
        assert page.locator(".aw-weights-chart svg.aw-chart rect.aw-bar").count() == 2 * 25
        PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-weights-tab.png"))
        # the weights view's own site control, and the class control, change the weights
        tried = every_control_changes_the_picture(page)
        assert {"weights", "label", "step"} <= set(tried), tried
        assert page.locator(".aw-weights-chart svg polyline").count() == 2  # time axis: a line per class
        # the attention tab comes back with its views drawn
        page.click("button.aw-tab-attention")
        assert drawn_colours(page, "#aw-root canvas.aw-canvas") > 8
        assert {"layer", "head"} <= set(every_control_changes_the_picture(page))
    finally:
        page.close()
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []


def matrix_ticks(page) -> list[str]:
    """The colour bar's labels of the page's matrix, top (its vmax) first."""
    return page.get_attribute("#aw-root canvas.aw-canvas", "data-ticks").split("|")


#: the colour-range choice of an explorer's page: in the matrix's toolbar, as in the explorer
RANGE = "#aw-root select.aw-color-range"


def choose_range(page, value: str) -> None:
    shown = version(page)
    page.select_option(RANGE, value)
    wait_for_change(page, shown)
    page.wait_for_timeout(100)


def drag_cells(page, r0: int, c0: int, r1: int, c1: int) -> None:
    """Drag a zoom box on the matrix from the middle of cell (r0, c0) to the middle of (r1, c1)."""
    canvas = page.locator("#aw-root canvas.aw-canvas")
    px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
    rows, cols = (int(v) for v in page.get_attribute("#aw-root", "data-shape").split(","))
    box = canvas.bounding_box()

    def at(r, c):
        return box["x"] + px + (c + 0.5) * pw / cols, box["y"] + py + (r + 0.5) * ph / rows

    shown = version(page)
    page.mouse.move(*at(r0, c0))
    page.mouse.down()
    page.mouse.move(*at(r1, c1), steps=4)
    page.mouse.up()
    wait_for_change(page, shown)
    page.wait_for_timeout(150)


def hover_text(page, r: int, c: int) -> str:
    """The tooltip over cell (r, c) of the matrix drawn."""
    canvas = page.locator("#aw-root canvas.aw-canvas")
    px, py, pw, ph = (float(v) for v in canvas.get_attribute("data-plot").split(","))
    rows, cols = (int(v) for v in page.get_attribute("#aw-root", "data-shape").split(","))
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + px + (c + 0.5) * pw / cols, box["y"] + py + (r + 0.5) * ph / rows)
    page.wait_for_timeout(100)
    return page.inner_text("#aw-root .aw-tooltip")


def assert_roles_are_the_widgets(page, explorer) -> None:
    """The head roles the page draws (one series per role) are those the widget's picker shows."""
    drawn = page.evaluate(
        "JSON.parse(document.querySelector('.aw-headstats svg.aw-chart-roles').dataset.values)"
    )
    shown = explorer.headstats.stats
    assert list(shown) == ["previous", "first", "own", "local", "broad"]
    np.testing.assert_allclose(drawn, [shown[r] for r in shown], rtol=1e-6, atol=1e-7)


def test_explorer_page_colour_range_zoom_and_head_roles(chromium, tmp_path, translation_explorer):
    """The page is the explorer: its colour range (this frame, 0 to 1, shared), zoom by a dragged
    box with reset, and the head statistics' picker showing the head roles, all offline."""
    ex = translation_explorer
    ex.layer, ex.head, ex.step, ex.color_range = 0, "mean", 0, "frame"
    ex.headstats.show = "statistics"
    path = pathlib.Path(to_html(ex, tmp_path / "explorer.html"))
    page, blocked, errors = open_offline(chromium, path, EXPLORER_SIZE)
    caption = "#aw-root .aw-caption"
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        # the colour range: the explorer's three choices, in the matrix's toolbar as in the explorer
        assert page.locator(RANGE).is_visible()
        options = page.eval_on_selector_all(f"{RANGE} option", "os => os.map(o => o.value)")
        assert options == ["frame", "fixed", "shared"]
        own = matrix_ticks(page)
        assert float(own[0]) < 1  # the frame's own range ends below 1
        before = picture(page)
        choose_range(page, "fixed")
        assert picture(page) != before, "fixed 0–1 did not change the picture"
        ends = matrix_ticks(page)
        assert (float(ends[0]), float(ends[-1])) == (1.0, 0.0), ends  # the colour bar reads 0 to 1
        assert "fixed colour range 0-1" in page.inner_text(caption)
        PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-range.png"))
        # shared: one range over the site's heads and steps, so switching heads keeps the colour bar
        fixed = picture(page)
        choose_range(page, "shared")
        assert picture(page) != fixed
        shared = matrix_ticks(page)
        assert "shared colour range" in page.inner_text(caption)
        for head in ("0", "3"):
            choose(page, "head", head)
            assert matrix_ticks(page) == shared, f"head {head} changed the shared colour range"
        choose(page, "step", "1")
        assert matrix_ticks(page) == shared
        choose(page, "step", "0")
        choose(page, "head", '"mean"')
        choose_range(page, "frame")
        assert matrix_ticks(page) == own and page.inner_text(caption) == ""

        # zoom: a box dragged over the matrix shows its cells larger, labelled, with their own range
        assert page.locator("#aw-root button.aw-reset").is_visible()
        whole = page.locator("#aw-root canvas.aw-canvas").screenshot()
        drag_cells(page, 2, 2, 3, 4)
        assert page.get_attribute("#aw-root", "data-shape") == "2,3"
        assert page.locator("#aw-root canvas.aw-canvas").screenshot() != whole
        assert matrix_ticks(page) != own  # "this frame": the range of the cells shown
        tip = hover_text(page, 0, 0)
        assert "query: first" in tip and "key: first" in tip, tip  # the labels of the region
        assert "query: nineteen" in hover_text(page, 1, 2) and "key: ninety" in hover_text(page, 1, 2)
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-zoom.png"))
        # the colour range follows the choice while zoomed
        choose_range(page, "fixed")
        assert float(matrix_ticks(page)[0]) == 1.0
        assert page.get_attribute("#aw-root", "data-shape") == "2,3"
        choose_range(page, "frame")
        shown = version(page)
        page.click("#aw-root button.aw-reset")
        wait_for_change(page, shown)
        page.wait_for_timeout(150)
        assert page.get_attribute("#aw-root", "data-shape") == "6,6"
        assert matrix_ticks(page) == own

        # the head statistics' picker: the head roles aw.heads scores, as the widget shows them
        picker = page.locator(".aw-headstats select.aw-headstats-show")
        assert picker.is_visible()
        stats = page.locator(".aw-headstats .aw-page-chart").screenshot()
        shown = version(page)
        picker.select_option("roles")
        wait_for_change(page, shown)
        assert page.locator(".aw-headstats .aw-page-chart").screenshot() != stats
        assert page.inner_text(".aw-headstats-caption") == "roles over all 1 sample(s), valid positions"
        ex.headstats.show = "roles"
        assert_roles_are_the_widgets(page, ex)
        # the roles follow the site, and a bar clicked selects its head
        choose(page, "layer", "3")
        ex.layer = 3
        assert_roles_are_the_widgets(page, ex)
        shown = version(page)
        page.locator(".aw-headstats svg.aw-chart-roles rect.aw-bar").nth(2).dispatch_event("click")
        wait_for_change(page, shown)
        assert page.input_value("select.aw-ctl-head") == "2"
        page.screenshot(path=str(PAGE_SHOTS / "page-explorer-roles.png"))
        picker.select_option("statistics")
        assert page.locator(".aw-headstats svg.aw-chart").count() == 3

        # no dead control: every one of the page's controls, and of the views, changes the picture
        tried = every_control_changes_the_picture(page)
        assert {"layer", "head", "step"} <= set(tried), tried
        # the matrix's colormap and colour range, the head grid's colormap, the statistics' picker
        assert view_selects_change_the_picture(page) >= 4
    finally:
        page.close()
        ex.headstats.show = "statistics"
        ex.layer, ex.head, ex.step = 0, "mean", 0
    assert blocked == [], f"the page tried the network: {blocked}"
    assert errors == []
