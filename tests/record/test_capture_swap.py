"""``view.capture = new_cap`` under open views: the selection kept where it exists, controls refreshed."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from _record_models import make_cap

import attnwidget as aw
from attnwidget.store import Capture
from attnwidget.widgets.headstats import stats_for

SITES = ["enc.0", "enc.1", "enc.2"]


def test_heatmap_keeps_the_site_by_name_and_clamps_what_the_new_capture_lacks():
    old = make_cap(SITES, heads=4, samples=6, steps=2)
    new = make_cap(["enc.2", "enc.0"], heads=2, samples=3, steps=5, seed=1)
    view = aw.Heatmap(old, layer="enc.2", head=3, sample=4, step=1)
    view.capture = new
    assert view.capture is new and view.cap is new
    assert (view.layer, view.head, view.sample, view.step) == (0, "mean", 2, 1)
    expected = aw.frame(new, 0, head="mean", sample=2, step=1, size=view.size)
    np.testing.assert_array_equal(view.frame().values, expected.values)
    assert view._frame_meta["title"] == expected.title
    # what it sent is the new frame, not one cached from the old capture
    assert view._frame_meta["shape"] == list(expected.values.shape)
    # back to a capture where the head exists: an index the site has is kept
    view.head = 1
    view.update(old)
    assert (view.layer, view.head, view.sample, view.step) == (2, 1, 2, 1)
    np.testing.assert_array_equal(view.frame().values, old.get(2, step=1)[2, 1])


def test_a_site_the_new_capture_lacks_falls_back_to_its_first_site_and_steps_are_clamped():
    view = aw.Heatmap(make_cap(SITES, steps=4), layer=1, step=3)
    new = make_cap(["dec.0", "dec.1"], steps=2, seed=2)
    view.update(new)
    assert (view.layer, view.step) == (0, 1)
    np.testing.assert_array_equal(view.frame().values, new.get(0, step=1)[0].mean(axis=0))


def test_the_zoom_holds_while_the_matrix_keeps_its_shape():
    view = aw.Heatmap(make_cap(SITES, tokens=8), region=[0, 4, 0, 4])
    view.capture = make_cap(SITES, tokens=8, seed=3)
    assert view.region == [0, 4, 0, 4] and view._frame_meta["region"] == [0, 4, 0, 4]
    view.capture = make_cap(SITES, tokens=6, seed=4)
    assert view.region is None and view._frame_meta["full_shape"] == [6, 6]


def test_explorer_controls_get_the_new_options_and_ranges():
    old = make_cap(SITES, heads=4, samples=6, steps=1, labels=[0, 1, 0, 1, 1, 0])
    ex = aw.show(old, layer="enc.1", head=2, sample=3)
    assert ex.controls.step.layout.display == "none"
    new = make_cap(["enc.1", "enc.3"], heads=3, samples=4, steps=6, labels=[0, 0, 1, 1], seed=5)
    ex.capture = new
    assert (ex.layer, ex.head, ex.sample, ex.step) == (0, 2, 3, 0)
    for view in ex.views:
        assert view.cap is new and (view.layer, view.head, view.sample) == (0, 2, 3)
    c = ex.controls
    assert [o[0] for o in c.layer.options] == ["enc.1", "enc.3"] and c.layer.value == 0
    assert [o[1] for o in c.head.options] == ["mean", "max", 0, 1, 2] and c.head.value == 2
    assert (c.step.max, c.play.max, c.sample.max, c.sample.value) == (5, 5, 3, 3)
    assert "step" in c.visible() and "play" in c.visible()
    np.testing.assert_array_equal(ex.frame().values, aw.frame(new, 0, head=2, sample=3).values)
    np.testing.assert_allclose(ex.headstats.stats["entropy"], stats_for(new, 0)["entropy"])
    frames = [f.values for f in ex.headgrid.frames()]
    assert len(frames) == 3 and len(ex.headgrid.thumbnails()) == 3
    # the controls drive the new capture
    c.step.value = 4
    assert ex.step == 4 and ex.heatmap.step == 4
    np.testing.assert_array_equal(ex.frame().values, aw.frame(new, 0, head=2, sample=3, step=4).values)
    # and shrink again: the step comes back within the range
    ex.update(old)
    assert ex.step == 0 and c.step.max == 0 and c.step.layout.display == "none"


def test_a_class_the_new_capture_lacks_is_dropped():
    ex = aw.show(make_cap(SITES, samples=6, labels=[0, 1, 2, 0, 1, 2]), label=2, sample=1)
    new = make_cap(SITES, samples=4, labels=[0, 0, 1, 1], seed=6)
    ex.capture = new
    assert ex.label is None and ex.sample == 1
    assert [o[0] for o in ex.controls.label.options] == ["all samples", "0", "1"]
    assert ex.controls.label.value == "__all__"
    ex.label = 1
    again = make_cap(SITES, samples=4, labels=[1, 1, 1, 0], seed=7)
    ex.capture = again
    assert ex.label == 1 and ex.sample == 1 and ex.controls.label.value == 1
    np.testing.assert_array_equal(ex.frame().values, aw.frame(again, 0, label=1, sample=1).values)


def test_a_capture_that_needs_other_views_gets_them():
    attention_only = make_cap(SITES)
    ex = aw.show(attention_only, layer=1)
    assert ex.weights is None
    both = make_cap(SITES, samples=6, seed=8)
    both.add(
        "pool.w",
        0,
        np.random.default_rng(0).random((6, 3, 5)).astype(np.float32),
        kind="weights",
        axes=("sample", "group", "layer"),
    )
    old_heatmap = ex.heatmap
    ex.capture = both
    assert ex.weights is not None and ex.heatmap is not old_heatmap and ex.layer == 1
    assert ex.weights.cap is both and ex.weights.layer == 3
    np.testing.assert_array_equal(ex.frame().values, aw.frame(both, 1).values)
    assert ex.controls.target is ex and ex.children[0] is ex.controls
    ex.head = 2  # the new views follow the explorer, the closed ones do not break it
    assert ex.heatmap.head == 2


def test_weights_view_and_overlay_follow_a_new_capture():
    rng = np.random.default_rng(9)
    old = Capture()
    for name in ("w.a", "w.b"):
        old.add(name, 0, rng.random((4, 2, 7)).astype(np.float32), kind="weights", axes=("sample", "g", "l"))
    view = aw.WeightsView(old, site="w.b")
    new = Capture()
    for name in ("w.b", "w.c", "w.d"):
        new.add(name, 0, rng.random((5, 2, 7)).astype(np.float32), kind="weights", axes=("sample", "g", "l"))
    view.capture = new
    assert view.layer == 0 and view.canvas.cap is new and view.canvas.layer == 0
    assert [o[0] for o in view.site.options] == ["w.b", "w.c", "w.d"] and view.site.value == 0
    np.testing.assert_array_equal(view.frame().values, aw.frame(new, 0).values)
    vit = make_cap(["vit.0"], heads=3, samples=2, tokens=17)
    overlay = aw.ImageOverlay(vit, image=np.zeros((16, 16, 3), np.uint8), head=2)
    overlay.capture = make_cap(["vit.0"], heads=3, samples=2, tokens=17, seed=10)
    assert (
        overlay.head == 2 and overlay.frame().shape == (4, 4) and overlay._image_meta["shape"][:2] == [16, 16]
    )


def test_anything_but_a_capture_is_refused_and_nothing_changes():
    cap = make_cap(SITES)
    view = aw.Heatmap(cap, layer=2)
    with pytest.raises(TypeError, match="expected an attnwidget Capture"):
        view.capture = "run.npz"
    with pytest.raises(ValueError, match="holds no sites"):
        view.capture = Capture()
    assert view.cap is cap and view.layer == 2


def test_a_view_made_with_a_site_name_and_a_head_index():
    # the head was checked against the site name before it became an index: a TypeError
    cap = make_cap(SITES, heads=4)
    view = aw.Heatmap(cap, site="enc.2", head=3)
    assert (view.layer, view.head) == (2, 3)
    ex = aw.show(cap, layer="enc.1", head=2)
    assert (ex.layer, ex.head, ex.heatmap.head) == (1, 2, 2)
    with pytest.raises(traitlets.TraitError, match="head 4 is out of range"):
        aw.Heatmap(cap, site="enc.2", head=4)
