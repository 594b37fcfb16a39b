"""``to_html`` without a browser: what the page embeds, and that it is safe and offline."""

from __future__ import annotations

import re

import numpy as np
import pytest
from aw_figure_captures import CLASS_NAMES, make_audio_capture

import attnwidget.widgets as widgets  # noqa: E402
from attnwidget.figures import to_html
from attnwidget.figures.html import inline_module, page_table, read_page, resolved

ESM = "export default { render({ model, el }) { el.textContent = 'x'; } };"


def embedded(path) -> dict:
    """A written page's data, each state with its bytes and labels in place."""
    return read_page(path, resolve=True)


def test_table_holds_what_the_view_sends_for_each_selection(text_capture):
    view = widgets.Heatmap(text_capture, layer=0)
    data = page_table(view)
    layers = [entry["index"] for entry in data["options"]["layers"]]
    assert layers == [0, 1, 2]
    assert data["options"]["layers"][0]["heads"] == ["mean", "max", 0, 1, 2, 3]
    assert data["options"]["samples"] == {"null": ["mean", 0, 1], "0": ["mean", 0], "1": ["mean", 0]}
    # 3 layers x 6 heads x (3 + 2 + 2 samples) x 3 steps
    assert len(data["table"]) == 3 * 6 * 7 * 3
    assert len(data["states"]) <= len(data["table"])
    view.layer, view.head, view.step = 2, 3, 1
    assert data["keys"] == ["layer", "head", "sample", "label", "step", "scale"]
    entry = resolved(data, data["states"][data["table"]['[2,3,0,null,1,"linear"]']])
    assert entry["_frame"] == view._frame
    assert entry["_frame_meta"]["title"] == view._frame_meta["title"]


def test_page_is_self_contained_and_tokens_stay_text(text_capture, tmp_path):
    view = widgets.Heatmap(text_capture, layer=1)
    path = to_html(view, tmp_path / "p.html", esm=ESM)
    text = open(path, encoding="utf-8").read()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing fetched
    assert "<b>" not in text  # the token "<b>" is escaped inside the JSON (\u003c)
    data = embedded(path)
    assert any("<b>" in st["_frame_meta"]["col_labels"] for st in data["states"])
    assert "innerHTML" not in text.split('id="aw-data"')[0] + text.split("</script>")[-2][-20000:]


def test_page_inlines_the_real_bundle_when_built(text_capture, tmp_path):
    view = widgets.Heatmap(text_capture)
    text = open(to_html(view, tmp_path / "r.html"), encoding="utf-8").read()
    bundle = view._esm.read_text(encoding="utf-8") if hasattr(view._esm, "read_text") else view._esm
    assert "render" in bundle, "the heatmap bundle is not built: npm run build"
    assert "awPage(" in text
    assert 'id="aw-esm"' in text or "__awModule" in text


def test_inline_module_forms():
    assert "__awModule.default = " in inline_module("const a = 1;\nexport default { render() {} };")
    assert "__awModule = { default: x }" in inline_module("var x = {render(){}};\nexport { x as default };\n")
    assert inline_module("import y from './y.js';\nexport default y;") is None
    assert "<\\/script" in inline_module("export default { s: '</script>' };")


def test_both_scales_can_be_embedded(text_capture):
    view = widgets.Heatmap(text_capture, layer=1)
    data = page_table(view, layers=[1], steps=[0], scales=("linear", "log"))
    lin = resolved(data, data["states"][data["table"]['[1,"mean",0,null,0,"linear"]']])
    log = resolved(data, data["states"][data["table"]['[1,"mean",0,null,0,"log"]']])
    assert lin["_frame"] != log["_frame"] and log["_frame_meta"]["scale"] == "log"
    view.scale = "log"
    assert log["_frame"] == view._frame
    with pytest.raises(ValueError, match="no colour scale"):
        page_table(widgets.HeadGrid(text_capture), scales=("log",))


def test_head_grid_stores_equal_thumbnails_once(text_capture):
    view = widgets.HeadGrid(text_capture)
    data = page_table(view, samples=1)
    # picking another head only moves the highlight: the thumbnails are shared
    assert len(data["states"]) * 6 <= len(data["table"])
    assert "_thumbs" in data["states"][0] and "_thumbs_meta" in data["states"][0]


def test_weights_page_and_class_names(tmp_path):
    cap = make_audio_capture()
    view = widgets.WeightsView(cap, layer=0, class_names=CLASS_NAMES)
    data = embedded(to_html(view, tmp_path / "w.html", esm=ESM))
    assert [c["name"] for c in data["options"]["labels"]] == ["all samples", "spoof", "bonafide"]
    assert [s["index"] for s in data["options"]["layers"]] == [0, 1, 2, 3]
    assert data["options"]["layers"][0]["heads"] == ["mean"]


def test_limits_and_errors(text_capture, tmp_path):
    view = widgets.Heatmap(text_capture)
    with pytest.raises(ValueError, match="embed fewer"):
        to_html(view, tmp_path / "big.html", esm=ESM, max_bytes=2000)
    with pytest.raises(ValueError, match=r"\.html"):
        to_html(view, tmp_path / "p.txt", esm=ESM)
    small = embedded(
        to_html(view, tmp_path / "s.html", esm=ESM, layers=[1], heads=["mean"], samples=[0], steps=[0])
    )
    assert len(small["table"]) == 6  # (mean, sample 0) for all samples, class 0 and class 1
    with pytest.raises(TypeError, match="expected an attnwidget view"):
        to_html(np.zeros(3), tmp_path / "x.html")
