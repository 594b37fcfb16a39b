"""The controls row laid out for one line, and the colour range in the matrix's toolbar.

What the browser test (tests/browser/test_explorer_layout.py) measures on screen
rests on these: the layer dropdown sized to its names within a most width, its
whole name as tooltip; the sliders narrow; the sample's text hidden where it
repeats the slider's readout; the colour-range choice shown once, in the toolbar
of the matrix shown, and still driving every view through ``explorer.color_range``.
"""

from __future__ import annotations

import numpy as np

import attnwidget as aw
from attnwidget.store import Capture
from attnwidget.widgets.controls import LAYER_MOST_PX, SLIDER_WIDTH, Controls


def _px(width: str) -> int:
    assert width.endswith("px"), width
    return int(width[:-2])


def _two_sites(*names: str) -> Capture:
    c = Capture()
    for name in names:
        c.add(name, 0, np.full((1, 2, 3, 3), 1 / 3, np.float32), kind="self")
    return c


def test_the_layer_dropdown_is_as_wide_as_its_names_and_no_wider():
    short = Controls(aw.Heatmap(_two_sites("a.attn", "b.attn"))).layer.layout
    long = Controls(aw.Heatmap(_two_sites("layers.0.cross_attn", "layers.1.cross_attn"))).layer.layout
    assert short.width == short.min_width and long.width == long.min_width  # a flex row cannot shrink it
    assert _px(short.width) < _px(long.width) < LAYER_MOST_PX
    huge = Controls(aw.Heatmap(_two_sites("x" * 80, "y" * 80))).layer.layout
    assert _px(huge.width) == LAYER_MOST_PX


def test_the_layer_dropdown_names_the_whole_site_in_its_tooltip():
    name = "encoder.block.0.layer.0.SelfAttention.very_long_name"
    ex = aw.show(_two_sites(name, "encoder.block.1.layer.0.SelfAttention"))
    assert ex.controls.layer.tooltip == name
    ex.layer = 1
    assert ex.controls.layer.tooltip == "encoder.block.1.layer.0.SelfAttention"


def test_sliders_and_buttons_are_narrow(torch_cap):
    c = aw.show(torch_cap).controls
    assert c.sample.layout.width == c.step.layout.width == SLIDER_WIDTH
    assert _px(SLIDER_WIDTH) <= 180 and _px(c.head.layout.width) <= 112 and _px(c.mean.layout.width) <= 64


def test_the_sample_text_is_hidden_where_it_repeats_the_readout(cap):
    ex = aw.show(cap)
    c = ex.controls
    assert c.sample_name.value == "sample 0" and c.sample_name.layout.display == "none"
    ex.sample = "mean"  # how many: the pressed button's tooltip says it, the row stays one line
    assert c.sample_name.value == "mean of 6 samples" and c.sample_name.layout.display == "none"
    assert "mean of 6 samples" in c.mean.tooltip
    ex.sample = 2
    assert "mean of 6" not in c.mean.tooltip
    ex.sample = 0
    ex.label = 1  # within a class the readout counts that class's samples: the text names the sample
    ex.sample = 1
    assert c.sample.value == 1 and c.sample_name.value != "sample 1"
    assert c.sample_name.layout.display is None


def test_the_colour_range_is_chosen_in_the_matrix_toolbar(vit_cap, weights_cap):
    ex = aw.show(vit_cap, image=np.zeros((8, 8, 3), np.uint8))
    # one choice on screen: the heatmap's toolbar; the row's dropdown and the overlay's are hidden
    assert ex.heatmap._range_in_toolbar is True and ex.heatmap.get_state()["_range_in_toolbar"] is True
    assert ex.overlay._range_in_toolbar is False
    assert "color_range" not in ex.controls.visible()
    # that choice drives every view, as explorer.color_range does
    ex.heatmap.color_range = "fixed"
    assert ex.color_range == "fixed"
    assert [v.color_range for v in (ex.headgrid, ex.overlay)] == ["fixed", "fixed"]
    assert ex.controls.color_range.value == "fixed"  # the hidden dropdown stays linked
    assert (ex.overlay._frame_meta["vmin"], ex.overlay._frame_meta["vmax"]) == (0.0, 1.0)

    both = aw.show(weights_cap)  # each tab's matrix offers it; one tab is shown at a time
    assert both.heatmap._range_in_toolbar is True and both.weights.canvas._range_in_toolbar is True
    both.weights.canvas.color_range = "shared"
    assert both.color_range == both.heatmap.color_range == "shared"


def test_a_rebuilt_explorer_keeps_the_choice_in_the_toolbar(cap, weights_cap):
    ex = aw.show(cap)
    ex.update(weights_cap)  # other views: built anew
    assert ex.heatmap._range_in_toolbar is True and ex.weights.canvas._range_in_toolbar is True
    assert "color_range" not in ex.controls.visible()
