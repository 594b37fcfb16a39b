"""The explorer's layout and what its views ask of the kernel: save, move, pick a patch.

Messages are sent as the browser sends them (``view._on_message``) and the
replies read from what the view sends back; the figures are real PNG files.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image

import attnwidget as aw
from attnwidget.widgets._browser import save_name


def _replies(view):
    """Send messages to ``view`` as the browser does; collect what it answers."""
    sent = []
    view.send = lambda content, buffers=None: sent.append(content)

    def ask(**content):
        view._on_message(view, content, [])
        return sent[-1]

    return ask


def test_the_side_panel_has_a_fixed_place_beside_the_matrix(vit_cap):
    ex = aw.show(vit_cap, image=np.zeros((16, 16, 3), np.uint8))
    controls, row, stats = ex.children
    assert controls is ex.controls and stats is ex.headstats
    main, side = row.children
    assert main is ex.heatmap and main.layout.width == main.layout.min_width
    # the overlay beside the matrix, above the head grid, in a panel of fixed width
    assert list(side.children) == [ex.overlay, ex.headgrid]
    assert side.layout.width.endswith("px") and row.layout.flex_flow == "row nowrap"


def test_attention_and_weights_get_a_tab_each(weights_cap):
    ex = aw.show(weights_cap)
    assert ex.tabs is not None and ex.tabs.selected_index == 0
    attention, weights = ex.tabs.children
    assert ex.headstats in attention.children and weights.children == ()  # only the tab shown holds views
    ex.tabs.selected_index = 1
    assert weights.children == (ex.weights,) and attention.children == ()
    ex = aw.show(weights_cap, layer="pool.layer_weights")
    assert ex.tabs.selected_index == 1  # a weights site asked for opens on its tab


def test_the_overlay_follows_the_pinned_row_and_a_patch_pins_its_row(vit_cap):
    ex = aw.show(vit_cap, image=np.zeros((16, 16, 3), np.uint8))
    ex.heatmap.pinned = {"axis": "query", "index": 6}
    assert ex.overlay.query == 6
    np.testing.assert_allclose(
        ex.overlay.frame().values, vit_cap.get(0)[0].mean(0)[6, 1:].reshape(4, 4), rtol=1e-6
    )
    ex.heatmap.pinned = None
    assert ex.overlay.query == 0  # back to CLS
    reply = _replies(ex.overlay)(type="pick", id=1, row=2, col=3)
    assert reply["type"] == "ok" and reply["query"] == 1 + 2 * 4 + 3  # CLS, then row-major patches
    assert ex.heatmap.pinned == {"axis": "query", "index": 12}
    bad = _replies(ex.overlay)(type="pick", id=2, row=9, col=0)
    assert bad["type"] == "error" and "outside the 4 x 4 patch grid" in bad["message"]


def test_save_writes_the_figure_named_from_the_selection(torch_cap, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hm = aw.Heatmap(torch_cap, layer=1, head=3, step=2)
    assert save_name(hm) == "heatmap_layer1_head3_step2.png"
    reply = _replies(hm)(type="save", id=7, dpi=100)
    assert reply["type"] == "ok" and reply["id"] == 7
    path = tmp_path / "heatmap_layer1_head3_step2.png"
    assert reply["path"] == str(path) and path.exists()
    small = Image.open(path).size
    _replies(hm)(type="save", id=8, dpi=300)
    big = Image.open(path).size
    # the figure (title, axes, colour bar), not a screenshot: its size follows the DPI
    assert big[0] == pytest.approx(small[0] * 3, rel=0.05) and big[1] == pytest.approx(small[1] * 3, rel=0.05)
    refused = _replies(hm)(type="save", id=9, dpi=5000)
    assert refused["type"] == "error" and "dpi" in refused["message"]
    hm.sample = "mean"
    assert save_name(hm) == "heatmap_layer1_head3_step2_samplemean.png"


def test_arrow_keys_move_head_layer_and_step_and_stop_at_the_ends(torch_cap):
    hm = aw.Heatmap(torch_cap)
    ask = _replies(hm)
    assert (hm.layer, hm.head, hm.step) == (0, "mean", 0)
    ask(type="move", id=-1, what="head", by=1)
    assert hm.head == "max"
    ask(type="move", id=-2, what="head", by=1)
    assert hm.head == 0
    ask(type="move", id=-3, what="layer", by=1)
    ask(type="move", id=-4, what="layer", by=1)
    assert hm.layer == 1  # the last site: it stays
    for k in range(5):
        ask(type="move", id=-5 - k, what="step", by=1)
    assert hm.step == torch_cap.steps - 1
    ask(type="move", id=-20, what="head", by=-1)
    ask(type="move", id=-21, what="head", by=-1)
    ask(type="move", id=-22, what="head", by=-1)
    assert hm.head == "mean"
    bad = ask(type="move", id=-23, what="sample", by=1)
    assert bad["type"] == "error" and "move needs" in bad["message"]


def test_moves_in_a_view_reach_the_explorer(torch_cap):
    ex = aw.show(torch_cap)
    _replies(ex.heatmap)(type="move", id=-1, what="step", by=1)
    assert ex.step == 1 and ex.headgrid.step == 1 and ex.controls.step.value == 1


def test_views_carry_the_theme_style_sheet(vit_cap):
    ex = aw.show(vit_cap, image=np.zeros((16, 16, 3), np.uint8))
    for view in (ex.heatmap, ex.headgrid, ex.overlay):
        css = view._css
        assert "--jp-layout-color" in css or "--jp-ui-font-color1" in css
    assert isinstance(ex.headstats.toggle, widgets.ToggleButton)
