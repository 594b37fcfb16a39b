"""``aw.to_html`` pages in headless Chromium, offline: the canvas draws and a control changes it.

Every request that is not the page's own ``file://`` URL is blocked with
``page.route`` and recorded; the tests assert that none was attempted. Each
page is tested with a small hand-written ES module that follows the views'
contract (``render({model, el})`` reading ``_frame``/``_frame_meta``), and
with the real bundle from ``attnwidget/static/`` once that one draws a canvas.
Screenshots go to ``artifacts/browser/``.
"""

from __future__ import annotations

import pathlib
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "figures"))
from aw_figure_captures import CLASS_NAMES, make_audio_capture, make_text_capture  # noqa: E402

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


def open_offline(browser, path: pathlib.Path):
    """Open a file page with every non-file request blocked; returns (page, blocked, errors)."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, offline=True)
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


def test_real_head_grid_click_is_answered_by_the_page(chromium, tmp_path):
    from attnwidget.widgets import HeadGrid

    view = HeadGrid(make_text_capture(), layer=1)
    path = pathlib.Path(to_html(view, tmp_path / "grid.html"))
    page, blocked, errors = open_offline(chromium, path)
    try:
        assert page.evaluate("document.body.dataset.awReady") == "1", page.inner_text("#aw-status")
        thumbs = page.locator("canvas.aw-thumb")
        assert thumbs.count() == 4
        before = page.evaluate("document.body.dataset.awVersion || '0'")
        thumbs.nth(2).click()  # the bundle sends {type: "select", layer, head}; the page answers
        wait_until(page, f"(document.body.dataset.awVersion || '0') !== {before!r}")
        assert page.input_value("select.aw-ctl-head") == "2"
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
