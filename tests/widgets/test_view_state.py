"""One function says what a view shows; views describe themselves; one vocabulary of errors and names.

Each view sends exactly :func:`attnwidget._view_state.view_state` of its spec
and selection, the figures and the standalone page draw from
``view.describe()`` alone, and the same condition gives the same message in a
widget, in ``aw.frame`` and in the gallery. Also the small defects: a zoom
that outlives a change of shape, the head grid's second ``refresh``, the
hand-written HTML escape.
"""

from __future__ import annotations

import html

import numpy as np
import pytest
import traitlets

import attnwidget as aw
from attnwidget import errors
from attnwidget._frame import frame
from attnwidget._view_state import SELECTION, ViewDescription, view_state
from attnwidget.figures import head_grid, heatmap, view_figure
from attnwidget.figures.html import page_table
from attnwidget.recipes.gallery import plan_gallery
from attnwidget.store import Capture
from attnwidget.widgets import headstats
from attnwidget.widgets._view import View
from attnwidget.widgets.controls import Controls


def without_timing(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k != "compute_ms"}


def test_every_view_sends_view_state_of_its_spec_and_selection(cap, vit_cap, weights_cap):
    views = [
        aw.Heatmap(cap, layer=1, head=2, region=[0, 6, 2, 9], scale="log"),
        aw.HeadGrid(cap, layer=2, sample="mean", label=1),
        aw.ImageOverlay(vit_cap, np.zeros((8, 8, 3), np.uint8), query=3),
        aw.WeightsView(weights_cap, layer=1, label=0).canvas,
    ]
    for view in views:
        assert tuple(view.selection()) == SELECTION
        state = view_state(view.cap, view.view_spec(), view.selection())
        for name, value in state.items():
            sent = getattr(view, name)
            if name.endswith("_meta"):
                assert without_timing(sent) == without_timing(value), name
            else:
                assert sent == value, name
    assert views[1]._thumbs and len(views[1].thumbnails()) == 4


class Described:
    """Not a widget: only a description, which is all a figure or a page may read."""

    def __init__(self, description: ViewDescription):
        self._d = description

    def describe(self) -> ViewDescription:
        return self._d


def test_figures_and_pages_need_only_the_description(cap):
    hm = aw.Heatmap(cap, layer=2, head=1, colormap="magma")
    stand_in = Described(hm.describe())
    a, b = view_figure(hm), view_figure(stand_in)
    assert np.array_equal(
        np.asarray(a.axes[0].images[0].get_array()), np.asarray(b.axes[0].images[0].get_array())
    )
    assert (
        page_table(stand_in, layers=[2], heads=[1], samples=1)["table"]
        == page_table(hm, layers=[2], heads=[1], samples=1)["table"]
    )
    grid = aw.HeadGrid(cap, layer=1)
    images = [ax.images[0] for ax in view_figure(Described(grid.describe())).axes if ax.images]
    assert len(images) == len(grid.thumbnails()) == 4
    chart = aw.HeadStats(cap, layer=1).describe()
    assert chart.kind == "headstats" and chart.spec is None
    assert list(chart.bars) == ["entropy", "max", "sparsity"]
    with pytest.raises(TypeError, match="bar chart"):
        page_table(Described(chart))


def test_a_zoom_holds_across_steps_of_one_shape_and_goes_when_the_shape_changes(torch_cap):
    hm = aw.Heatmap(torch_cap, region=[0, 4, 0, 4])
    hm.step = 1  # diffusion-like: every step has the same 12 x 12 matrix
    assert hm.region == [0, 4, 0, 4] and hm._frame_meta["shape"] == [4, 4]
    gen = Capture()  # generation: step 0 reads the prompt, step 1 one new query row
    rng = np.random.default_rng(0)
    gen.add("dec.attn", 0, rng.random((1, 2, 6, 6)).astype(np.float32), kind="self")
    gen.add("dec.attn", 1, rng.random((1, 2, 1, 7)).astype(np.float32), kind="self")
    hm = aw.Heatmap(gen, region=[0, 4, 0, 4])
    hm.step = 1
    # the generated text so far (7 x 7, assembled from the steps), not a cut of the prompt's 4 x 4 zoom
    assert hm.region is None and hm._frame_meta["shape"] == [7, 7]


def test_the_head_grid_refreshes_as_every_view_does(cap):
    assert aw.HeadGrid.refresh is View.refresh
    grid = aw.HeadGrid(cap, layer=0)
    cap.get(0)[0, 3] = 0.1  # in place: only a refresh can see it
    grid.refresh()
    np.testing.assert_array_equal(grid.thumbnails()[3], np.zeros((10, 10), np.uint8))


def test_head_stats_text_is_escaped_by_html_escape(weights_cap):
    assert not hasattr(headstats, "_escape")
    hs = aw.HeadStats(weights_cap, layer=1)
    msg = "site 'pool.layer_weights' holds weights, not heads of query x key attention"
    assert hs.message.value == f"<i>{html.escape(msg, quote=False)}</i>"
    assert headstats._legend_html(["<b>&"], ["#000"]).count("&lt;b&gt;&amp;") == 1


def test_a_head_out_of_range_is_one_error_with_one_message_everywhere(cap):
    with pytest.raises(errors.SelectionError) as in_frame:
        frame(cap, 0, head=9)
    with pytest.raises(errors.SelectionError) as in_gallery:
        plan_gallery(cap, layers=[0], head=9)
    hm = aw.Heatmap(cap)
    with pytest.raises(traitlets.TraitError) as in_widget:
        hm.head = 9
    assert str(in_frame.value) == str(in_gallery.value) == str(in_widget.value)
    assert str(in_widget.value).startswith("head 9 is out of range: layer 0 has 4 head(s), 0..3")


def test_a_capture_without_labels_says_so_in_one_message(vit_cap):
    with pytest.raises(errors.NoLabelsError) as in_frame:
        frame(vit_cap, 0, label=0)
    hm = aw.Heatmap(vit_cap)
    with pytest.raises(traitlets.TraitError) as in_widget:
        hm.label = 0
    assert str(in_frame.value) == str(in_widget.value) == errors.no_labels("filtering by class")


def test_legends_controls_and_titles_name_a_class_alike():
    rng = np.random.default_rng(0)
    c = Capture()
    c.add("enc.attn", 0, rng.random((4, 2, 3, 3)).astype(np.float32), kind="self")
    c.add(
        "pool.w",
        0,
        rng.random((4, 2, 5)).astype(np.float32),
        kind="weights",
        axes=("sample", "group", "layer"),
    )
    c.labels = np.array([False, True, True, False])
    c.metadata["class_names"] = ["real", "fake"]  # a list indexed by the label
    controls = Controls(aw.Heatmap(c))
    assert [o[0] for o in controls.label.options] == ["all samples", "real", "fake"]
    assert "class True (fake)" in frame(c, 0, label=True).title
    wv = aw.WeightsView(c, class_names=c.metadata["class_names"])
    assert list(wv._bars.labels) == ["real", "fake"]


def test_views_and_figures_take_site_for_layer(cap):
    assert aw.Heatmap(cap, site="encoder.layer.2.attention").layer == 2
    assert aw.HeadGrid(cap, site=1).layer == 1
    assert aw.HeadStats(cap, site=2).layer == 2
    ex = aw.show(cap, site=1)
    assert ex.layer == ex.heatmap.layer == 1
    with pytest.raises(TypeError, match="both site=1 and layer=1"):
        aw.Heatmap(cap, site=1, layer=1)
    fig = heatmap(cap, site="encoder.layer.1.attention", head=0)
    assert fig.axes[0].get_title().startswith("encoder.layer.1.attention · head 0")
    assert len([ax for ax in head_grid(cap, site=1).axes if ax.images]) == 4
    with pytest.raises(TypeError, match="site= only"):
        heatmap(cap, site=0, layer=0)


def test_recipes_take_site_for_layer():
    from attnwidget.recipes import intra_group

    c = Capture()
    c.add(
        "pool.intra",
        0,
        np.random.default_rng(0).random((4, 3, 2)).astype(np.float32),
        kind="weights",
        axes=("sample", "group", "member"),
    )
    c.labels = np.array([0, 1, 0, 1])
    by_site = intra_group(c, site="pool.intra", label=0)
    by_layer = intra_group(c, layer=0, label=0)
    assert np.array_equal(
        np.asarray(by_site.axes[0].images[0].get_array()), np.asarray(by_layer.axes[0].images[0].get_array())
    )
    with pytest.raises(TypeError, match=r"intra_group\(\) got both"):
        intra_group(c, site=0, layer=0)
