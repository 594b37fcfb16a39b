"""Explorer / show(): views chosen from the capture, controls hidden when
there is nothing to choose, and every view linked to the explorer."""

from __future__ import annotations

import numpy as np

import attnwidget as aw
from attnwidget._view_state import view_frame
from attnwidget.store import Capture


def test_views_fit_the_capture(cap, weights_cap, vit_cap):
    ex = aw.show(cap)
    assert ex.heatmap is not None and ex.headgrid is not None and ex.headstats is not None
    assert ex.weights is None and ex.overlay is None
    ex2 = aw.show(weights_cap)
    assert ex2.weights is not None and ex2.heatmap is not None
    ex3 = aw.show(vit_cap, image=np.zeros((16, 16, 3), np.uint8))
    assert ex3.overlay is not None and ex3.overlay.frame().shape == (4, 4)
    only = Capture()
    only.add("tap", 0, np.ones((2, 3, 4), np.float32), kind="weights", axes=("sample", "group", "layer"))
    ex4 = aw.show(only)
    assert ex4.views == [ex4.weights]


def test_controls_with_one_option_are_hidden():
    c = Capture()  # one site, one head, one sample, one step, no labels
    c.add("only", 0, np.ones((1, 1, 3, 3), np.float32) / 3, kind="self")
    ex = aw.show(c)
    # nothing to choose in the row (the colour range is chosen in the matrix's toolbar)
    assert ex.controls.visible() == []
    assert ex.controls.step.layout.display == "none"


def test_controls_shown_where_there_is_a_choice(cap, torch_cap):
    assert aw.show(cap).controls.visible() == ["layer", "head", "label", "sample", "mean"]
    assert aw.show(torch_cap).controls.visible() == ["layer", "head", "sample", "mean", "play", "step"]


def test_explorer_traits_drive_every_view(cap):
    ex = aw.show(cap, tokens=None)
    ex.layer = 2
    ex.head = 3
    assert ex.heatmap.layer == ex.headgrid.layer == ex.headstats.layer == 2
    assert ex.heatmap.head == ex.headgrid.head == ex.headstats.head == 3
    np.testing.assert_allclose(ex.heatmap.frame().values, cap.get(2)[0, 3])
    assert ex.controls.layer.value == 2 and ex.controls.head.value == 3


def test_selecting_in_one_view_updates_the_others(cap):
    ex = aw.show(cap)
    ex.headgrid._msg_select({"layer": 1, "head": 2})
    assert (ex.layer, ex.head) == (1, 2)
    assert (ex.heatmap.layer, ex.heatmap.head) == (1, 2)
    ex.headstats.bars.selected = [0]
    assert ex.head == 0 and ex.heatmap.head == 0 and ex.headgrid.head == 0


def test_controls_write_the_selection(cap):
    ex = aw.show(cap, class_names={0: "spoof", 1: "bonafide"})
    assert [o[0] for o in ex.controls.label.options] == ["all samples", "spoof", "bonafide"]
    ex.controls.label.value = 1  # pick "bonafide"
    assert ex.label == 1 and ex.heatmap.label == 1
    assert ex.sample == "mean"  # a class shows its mean ...
    assert ex.controls.sample.max == 2  # ... and the slider walks its 3 samples
    ex.controls.mean.value = False
    ex.controls.sample.value = 2
    assert ex.heatmap.sample == 2
    np.testing.assert_allclose(
        ex.heatmap.frame().values, cap.get(ex.layer)[np.flatnonzero(cap.labels == 1)[2]].mean(axis=0)
    )
    ex.controls.head.value = "max"
    assert ex.heatmap.head == "max"


def test_ipywidgets_link_works_on_view_traits(cap):
    import ipywidgets

    a, b = aw.Heatmap(cap), aw.Heatmap(cap)
    ipywidgets.link((a, "head"), (b, "head"))
    a.head = 1
    assert b.head == 1


def test_step_slider_and_play(torch_cap):
    ex = aw.show(torch_cap)
    assert ex.controls.play.max == 2
    ex.controls.step.value = 2
    assert ex.heatmap.step == 2
    np.testing.assert_allclose(ex.heatmap.frame().values, torch_cap.get(0, 2)[0].mean(axis=0), rtol=1e-6)


def test_matrix_views_share_one_colormap(cap):
    ex = aw.show(cap, colormap="plasma")
    assert ex.heatmap.colormap == ex.headgrid.colormap == "plasma"
    ex.headgrid.colormap = "jet"
    assert ex.heatmap.colormap == "jet"


def test_weights_view_keeps_its_own_site_beside_attention(weights_cap):
    ex = aw.show(weights_cap, class_names={0: "spoof", 1: "bonafide"})
    assert ex.layer == 0 and ex.heatmap.layer == 0  # the attention site
    assert ex.weights.layer == 1  # the weights site
    assert ex.weights.frame().row_axis == "group"
    ex.label = 1
    assert ex.weights.label == 1 and ex.weights.canvas.label == 1
    ex.layer = 0
    assert ex.weights.layer == 1


def test_layer_dropdown_is_wide_enough_for_long_site_names():
    from attnwidget.store import Capture
    from attnwidget.widgets.controls import Controls

    c = Capture()
    for name in ("encoder.layers.0.self_attn", "decoder.layers.0.cross_attn"):
        c.add(name, 0, np.full((1, 2, 3, 3), 1 / 3, np.float32), kind="self")
    width = Controls(aw.Heatmap(c)).layer.layout.min_width
    assert width.endswith("px") and int(width[:-2]) >= 90 + 7 * len("decoder.layers.0.cross_attn")


def test_class_names_given_to_show_name_the_classes_in_every_title_and_the_saved_figure(tmp_path):
    """aw.show(cap, class_names=...) names the classes in the views' titles, as its class control does."""
    c = Capture()
    c.add("s", 0, np.random.default_rng(0).random((4, 2, 3, 3), dtype=np.float32), kind="self")
    c.labels, c.predictions = np.array([0, 1, 0, 1]), np.array([1, 1, 0, 0])
    ex = aw.show(c, class_names={0: "spoof", 1: "bonafide"})
    assert "true spoof → pred bonafide" in ex.heatmap.frame().title
    ex.label = 1
    assert "class 1 (bonafide)" in ex.heatmap.frame().title
    d = ex.heatmap.describe()  # what view.save and the standalone page draw from
    assert "class 1 (bonafide)" in view_frame(d.cap, d.spec, d.selection).title
    # a view alone, and the capture's own names, as before
    assert "true 0 → pred 1" in aw.Heatmap(c).frame().title
    assert c.metadata.get("class_names") is None  # the user's capture is not changed
