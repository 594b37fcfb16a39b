"""The explorer's colour-range control: one choice on screen, linked to every view.

``explorer.color_range`` (``"frame"``, ``"fixed"``, ``"shared"``) drives the
heatmap, head grid, overlay and weights; the main matrix's toolbar offers the
choice (``_range_in_toolbar`` true, the trait the browser reads) beside its
colormap and scale, so the controls row fits one line; the row's "colour
range" dropdown stays linked but hidden, and the overlay's toolbar leaves its
own out, so there is only one on screen. The ranges are checked
against ranges computed here from ``aw.frame`` alone.
"""

from __future__ import annotations

import numpy as np
import pytest
import traitlets as t

import attnwidget as aw
from attnwidget import wire


def site_extremes(cap, layer, step=0) -> tuple[float, float]:
    """Min and max of a site over its heads at one step, sample 0, from aw.frame alone."""
    values = [aw.frame(cap, layer, head=h, step=step).values for h in range(cap.num_heads(layer))]
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


def sent_range(view) -> tuple[float, float]:
    return view._frame_meta["vmin"], view._frame_meta["vmax"]


def test_the_dropdown_offers_the_three_ranges_and_is_shown(cap):
    ex = aw.show(cap)
    dropdown = ex.controls.color_range
    assert dropdown.description == "colour range"
    assert list(dropdown.options) == [("this frame", "frame"), ("fixed 0–1", "fixed"), ("shared", "shared")]
    assert ex.color_range == dropdown.value == "frame"
    # on screen in the matrix's toolbar; the row's dropdown stays, linked, for an overlay alone
    assert "color_range" not in ex.controls.visible() and ex.heatmap._range_in_toolbar is True
    assert dropdown in ex.controls.children


def test_the_dropdown_sets_every_view_and_their_frames(vit_cap, weights_cap):
    ex = aw.show(vit_cap, image=np.zeros((8, 8, 3), np.uint8), head=1)
    views = [ex.heatmap, ex.headgrid, ex.overlay]
    ex.controls.color_range.value = "fixed"
    assert ex.color_range == "fixed"
    assert [v.color_range for v in views] == ["fixed"] * 3
    assert sent_range(ex.heatmap) == sent_range(ex.overlay) == (0.0, 1.0)
    assert {(m["vmin"], m["vmax"]) for m in ex.headgrid._thumbs_meta["thumbs"]} == {(0.0, 1.0)}

    ex.controls.color_range.value = "shared"
    lo, hi = site_extremes(vit_cap, 0)
    assert sent_range(ex.heatmap) == pytest.approx((lo, hi), abs=1e-7)
    codes = np.frombuffer(ex.heatmap._frame, np.uint8).reshape(ex.heatmap._frame_meta["shape"])
    assert np.array_equal(codes, wire.quantize(ex.heatmap.frame().values, *sent_range(ex.heatmap)))

    ex.controls.color_range.value = "frame"
    own = aw.frame(vit_cap, 0, head=1).values
    assert sent_range(ex.heatmap) == pytest.approx((float(own.min()), float(own.max())), abs=1e-7)

    both = aw.show(weights_cap)  # attention and weights: the weights tab follows the one control too
    both.controls.color_range.value = "fixed"
    assert both.weights.color_range == both.weights.canvas.color_range == "fixed"
    assert sent_range(both.weights.canvas) == (0.0, 1.0)


def test_code_and_views_move_the_dropdown(cap):
    ex = aw.show(cap)
    ex.color_range = "shared"
    assert ex.controls.color_range.value == "shared" and ex.headgrid.color_range == "shared"
    # a view's own change (its toolbar, where it has one) reaches the explorer and its dropdown
    ex.heatmap.color_range = "fixed"
    assert (ex.color_range, ex.controls.color_range.value, ex.headgrid.color_range) == ("fixed",) * 3


def test_one_dropdown_on_screen_inside_an_explorer(vit_cap, weights_cap):
    ex = aw.show(vit_cap, image=np.zeros((8, 8, 3), np.uint8))
    assert ex.heatmap._range_in_toolbar is True and ex.heatmap.get_state()["_range_in_toolbar"] is True
    assert ex.overlay._range_in_toolbar is False  # one choice on screen, the matrix's
    assert ex.overlay.get_state()["_range_in_toolbar"] is False  # what the browser reads
    assert "color_range" not in ex.controls.visible()
    both = aw.show(weights_cap)
    assert both.heatmap._range_in_toolbar is True and both.weights.canvas._range_in_toolbar is True
    # alone, a view offers its own
    assert aw.Heatmap(vit_cap)._range_in_toolbar is True
    assert aw.ImageOverlay(vit_cap, np.zeros((8, 8, 3), np.uint8))._range_in_toolbar is True
    assert aw.WeightsView(weights_cap).canvas._range_in_toolbar is True


def test_show_takes_a_colour_range_and_checks_it(cap):
    ex = aw.show(cap, color_range="fixed")
    assert ex.controls.color_range.value == "fixed"
    assert all(v.color_range == "fixed" for v in (ex.heatmap, ex.headgrid))
    assert sent_range(ex.heatmap) == (0.0, 1.0)
    with pytest.raises(t.TraitError, match="color_range"):
        aw.show(cap, color_range="global")
    with pytest.raises(t.TraitError):
        ex.controls.color_range.value = "global"


def test_weights_view_links_its_canvas(weights_cap):
    view = aw.WeightsView(weights_cap, color_range="fixed")
    assert view.canvas.color_range == "fixed" and sent_range(view.canvas) == (0.0, 1.0)
    view.color_range = "frame"
    values = view.frame().values
    assert view.canvas.color_range == "frame"
    assert sent_range(view.canvas) == pytest.approx((float(values.min()), float(values.max())), abs=1e-7)
    view.canvas.color_range = "shared"
    assert view.color_range == "shared"


def test_the_range_stays_linked_when_the_views_are_built_anew(cap, weights_cap):
    ex = aw.show(cap, color_range="shared")
    old_controls, old_heatmap = ex.controls, ex.heatmap
    ex.update(weights_cap)  # a weights site appears: the views are built anew
    assert ex.weights is not None and ex.controls is not old_controls
    assert ex.controls.color_range.value == "shared"
    assert ex.heatmap.color_range == ex.weights.canvas.color_range == "shared"
    ex.controls.color_range.value = "fixed"
    assert ex.heatmap.color_range == ex.weights.canvas.color_range == "fixed"
    # the old controls and views are no longer linked to the explorer
    old_controls.color_range.value = "frame"
    old_heatmap.color_range = "frame"
    assert ex.color_range == "fixed"
