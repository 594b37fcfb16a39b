"""Colour you can trust and a tooltip that is always true, on the Python side.

The colour range modes (``color_range``: ``"frame"``, ``"fixed"``,
``"shared"``) are checked against ranges computed here from ``aw.frame`` on
their own, for the codes sent, the header, the head grid, the saved figure and
the caption. The ``{type: "row"}`` message is checked to answer the exact
float32 values of ``view.frame().values[row]`` with the version of the frame
shown, through the view's real message handler (only ``send``, the comm, is
captured, as there is no browser).
"""

from __future__ import annotations

import numpy as np
import pytest
import traitlets as t

import attnwidget as aw
from attnwidget import _view_state, wire
from attnwidget.colormaps import apply
from attnwidget.figures import save_view, view_figure
from attnwidget.store import Capture


def sent(view) -> np.ndarray:
    meta = view._frame_meta
    return np.frombuffer(view._frame, dtype=np.uint8).reshape(meta["shape"])


def site_extremes(cap, layer, sample=0) -> tuple[float, float]:
    """Min and max over every head and step of a site at full resolution, from aw.frame alone."""
    values = [
        aw.frame(cap, layer, head=h, sample=sample, step=s).values
        for s in range(cap.steps)
        for h in range(cap.num_heads(layer))
    ]
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


class Replies:
    """What a view sends back through its comm: (content, buffers) pairs."""

    def __init__(self, view):
        self.items: list = []
        view.send = lambda content, buffers=None: self.items.append((content, buffers))

    def last(self):
        return self.items[-1]


def ask_row(view, row, mid="row:1"):
    replies = Replies(view)
    view._on_message(view, {"type": "row", "row": row, "id": mid}, [])
    content, buffers = replies.last()
    return content, buffers


# ---------------------------------------------------------------------- the three ranges
def test_per_frame_is_the_default_and_spans_the_frame(torch_cap):
    view = aw.Heatmap(torch_cap, layer=1, head=2, step=1)
    assert view.color_range == "frame"
    values = view.frame().values
    meta = view._frame_meta
    assert (meta["vmin"], meta["vmax"]) == wire.value_range(values)
    assert np.array_equal(sent(view), wire.quantize(values, meta["vmin"], meta["vmax"]))
    assert sent(view).min() == 0 and sent(view).max() == wire.TOP
    # random nn.MultiheadAttention is close to 1/12 everywhere, and the caption says so
    assert meta["color_range"] == "frame" and meta["caption"] == wire.range_note(values)
    assert meta["caption"].endswith(": nearly uniform")
    assert meta["data_min"] == pytest.approx(float(values.min())) and meta["data_max"] == pytest.approx(
        float(values.max())
    )


def test_fixed_range_is_zero_to_one(torch_cap):
    view = aw.Heatmap(torch_cap, layer=0, head=1, color_range="fixed")
    values = view.frame().values
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == (0.0, 1.0)
    assert np.array_equal(sent(view), wire.quantize(values, 0.0, 1.0))
    # attention is far below 1 here: the codes do not stretch to the top any more
    assert sent(view).max() == round(float(values.max()) * wire.TOP) < wire.TOP
    assert view._frame_meta["caption"].startswith("fixed colour range 0-1")
    view.scale = "log"
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == (wire.LOG_FLOOR, 1.0)
    assert np.array_equal(sent(view), wire.quantize(view.frame().values, wire.LOG_FLOOR, 1.0, "log"))


def test_shared_range_spans_every_head_and_step_and_holds_through_play_and_zoom(torch_cap):
    lo, hi = site_extremes(torch_cap, 1)
    view = aw.Heatmap(torch_cap, layer=1, head=0, color_range="shared")
    seen_codes = []
    for step in range(torch_cap.steps):
        for head in range(4):
            view.step, view.head = step, head
            meta = view._frame_meta
            assert (meta["vmin"], meta["vmax"]) == pytest.approx((lo, hi), abs=1e-7)
            assert np.array_equal(sent(view), wire.quantize(view.frame().values, meta["vmin"], meta["vmax"]))
            seen_codes.append(sent(view))
    # the range is the site's: its max is reached in one frame, not in every frame
    tops = [int(c.max()) for c in seen_codes]
    assert max(tops) == wire.TOP and min(tops) < wire.TOP
    # the mean over heads and a zoomed region stay on the same range
    view.head = "mean"
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == pytest.approx((lo, hi), abs=1e-7)
    view.region = [2, 7, 0, 5]
    assert view._frame_meta["shape"] == [5, 5]
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == pytest.approx((lo, hi), abs=1e-7)
    assert "shared colour range" in view._frame_meta["caption"]
    # another site has its own shared range
    view.layer = 0
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == pytest.approx(
        site_extremes(torch_cap, 0), abs=1e-7
    )


def test_shared_range_covers_pooled_frames_and_is_computed_once_per_site(big_cap, monkeypatch):
    calls = []
    real = _view_state.view_frame
    monkeypatch.setattr(
        _view_state, "view_frame", lambda *a, **k: calls.append(a[2]["head"]) or real(*a, **k)
    )
    view = aw.Heatmap(big_cap, size=64, color_range="shared")
    full = [big_cap.get(0)[0, h] for h in range(2)]
    lo, hi = min(float(f.min()) for f in full), max(float(f.max()) for f in full)
    assert max(view._frame_meta["shape"]) <= 64  # pooled: the pooled values span less
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == pytest.approx((lo, hi))
    assert sent(view).max() < wire.TOP
    assert sorted(calls) == [0, 1]  # one full-resolution frame per head, once
    view.head = 1
    view.head = 0
    view.region = [0, 100, 0, 100]
    assert sorted(calls) == [0, 1]  # heads and zoom reuse the site's range
    view.refresh()  # after a change in place the range is computed again
    assert sorted(calls) == [0, 0, 1, 1]


def test_color_range_is_checked(torch_cap):
    with pytest.raises(t.TraitError, match="color_range"):
        aw.Heatmap(torch_cap, color_range="global")


def test_difference_maps_stay_symmetric_in_every_mode(cap):
    view = aw.Heatmap(cap, sample="mean", difference=(0, 1), color_range="fixed")
    assert (view._frame_meta["vmin"], view._frame_meta["vmax"]) == (-1.0, 1.0)
    view.color_range = "shared"
    lo, hi = view._frame_meta["vmin"], view._frame_meta["vmax"]
    assert lo == -hi and hi > 0
    every = [aw.frame(cap, 0, head=h, difference=(0, 1)).values for h in range(4)]
    assert hi == pytest.approx(max(float(np.abs(v).max()) for v in every))


# ---------------------------------------------------------------------- other canvas views
def test_head_grid_thumbnails_share_one_range_when_asked(torch_cap):
    grid = aw.HeadGrid(torch_cap, layer=1, step=2)
    ranges = {(m["vmin"], m["vmax"]) for m in grid._thumbs_meta["thumbs"]}
    assert len(ranges) == 4  # each its own
    grid.color_range = "shared"
    ranges = {(m["vmin"], m["vmax"]) for m in grid._thumbs_meta["thumbs"]}
    assert len(ranges) == 1
    ((lo, hi),) = ranges
    assert (lo, hi) == pytest.approx(site_extremes(torch_cap, 1), abs=1e-7)
    for codes, fr in zip(grid.thumbnails(), grid.frames()):
        assert np.array_equal(codes, wire.quantize(fr.values, lo, hi))
    grid.mode = "model"  # every site: one range over all of them
    ends = [site_extremes(torch_cap, i) for i in range(2)]
    ranges = {(m["vmin"], m["vmax"]) for m in grid._thumbs_meta["thumbs"]}
    assert ranges == {(min(e[0] for e in ends), max(e[1] for e in ends))}
    grid.color_range = "fixed"
    assert {(m["vmin"], m["vmax"]) for m in grid._thumbs_meta["thumbs"]} == {(0.0, 1.0)}


def test_overlay_and_weights_follow_the_mode(vit_cap, weights_cap):
    overlay = aw.ImageOverlay(vit_cap, np.zeros((8, 8, 3), np.uint8), query=0, color_range="shared")
    rows = [aw.frame(vit_cap, 0, head=h).values[0, 1:] for h in range(3)]
    lo, hi = min(float(r.min()) for r in rows), max(float(r.max()) for r in rows)
    assert (overlay._frame_meta["vmin"], overlay._frame_meta["vmax"]) == pytest.approx((lo, hi))
    overlay.head = 2
    assert (overlay._frame_meta["vmin"], overlay._frame_meta["vmax"]) == pytest.approx((lo, hi))
    canvas = aw.WeightsView(weights_cap, layer=1).canvas
    canvas.color_range = "fixed"
    assert (canvas._frame_meta["vmin"], canvas._frame_meta["vmax"]) == (0.0, 1.0)
    assert np.array_equal(sent(canvas), wire.quantize(canvas.frame().values, 0.0, 1.0))


# ---------------------------------------------------------------------- the figure agrees
@pytest.mark.parametrize("mode", ["fixed", "shared"])
def test_saved_figure_uses_the_range_the_widget_sent(tmp_path, torch_cap, mode):
    view = aw.Heatmap(torch_cap, layer=1, head=3, step=1, color_range=mode, colormap="magma")
    img = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).open(save_view(view, tmp_path / "b.png", axes=False))
    )[..., :3]
    assert np.array_equal(img, apply(sent(view), "magma"))
    fig = view_figure(view)
    assert np.array_equal(np.asarray(fig.axes[0].images[0].get_array()), apply(sent(view), "magma"))
    norm = fig.axes[1]._colorbar.norm  # the colour bar's own axes
    assert (norm.vmin, norm.vmax) == pytest.approx((view._frame_meta["vmin"], view._frame_meta["vmax"]))
    assert view._frame_meta["caption"] in fig.axes[0].get_title()
    grid = aw.HeadGrid(torch_cap, layer=1, color_range=mode, colormap="magma")
    panels = [ax.images[0] for ax in view_figure(grid).axes if ax.images]
    for im, codes in zip(panels, grid.thumbnails()):
        assert np.array_equal(np.asarray(im.get_array()), apply(codes, "magma"))


# ---------------------------------------------------------------------- caption and NaN
def test_a_nearly_uniform_frame_is_called_out_in_the_caption_and_the_figure(cap):
    peaked = cap
    cap = Capture()
    row = np.array([0.110, 0.1112, 0.1125, 0.113, 0.1118, 0.1109, 0.1121, 0.1113, 0.1111], np.float32)
    cap.add("pool.attn", 0, np.broadcast_to(row, (1, 1, 3, 9)).copy(), kind="self")
    view = aw.Heatmap(cap)
    assert view._frame_meta["caption"] == "range 0.110-0.113: nearly uniform"
    assert "range 0.110-0.113: nearly uniform" in view_figure(view).axes[0].get_title()
    view.color_range = "fixed"  # the caption says it, whatever the colour range
    assert view._frame_meta["caption"].endswith("range 0.110-0.113: nearly uniform")
    assert wire.range_note(np.array([[0.0, 1.0]])) is None
    assert wire.range_note(np.full((2, 2), 0.25)) == "every value 0.25: uniform"
    assert aw.Heatmap(peaked)._frame_meta["caption"] == ""  # a frame that varies needs no caption
    assert wire.range_note(np.zeros((2, 2))) is None  # zero everywhere is not a tiny range


def test_nan_cells_get_their_own_code_and_leave_the_range_alone():
    cap = Capture()
    w = np.full((1, 1, 2, 3), 0.5, np.float32)
    w[0, 0, 0] = [0.2, np.nan, 0.8]
    cap.add("s", 0, w, kind="self")
    view = aw.Heatmap(cap)
    codes = sent(view)
    assert codes[0, 1] == wire.NAN_CODE
    assert (view._frame_meta["data_min"], view._frame_meta["data_max"]) == pytest.approx((0.2, 0.8))
    assert codes[0, 0] == 0 and codes[0, 2] == wire.TOP


# ---------------------------------------------------------------------- the row message
def test_row_message_answers_the_exact_float32_values_of_the_frame_shown(torch_cap):
    view = aw.Heatmap(torch_cap, layer=1, head=2, step=2)
    for row in (0, 5, 11):
        content, buffers = ask_row(view, row, f"row:{row}")
        assert content == {
            "type": "ok",
            "id": f"row:{row}",
            "row": row,
            "cols": 12,
            "version": view._frame_version,
        }
        values = np.frombuffer(bytes(buffers[0]), dtype="<f4")
        assert np.array_equal(values, view.frame().values[row])
        assert values.dtype == np.float32 and values.size == 12
    before = view._frame_version
    view.head = 3  # a new frame: a new version, and the row is the new frame's
    assert view._frame_version == before + 1
    content, buffers = ask_row(view, 4)
    assert content["version"] == view._frame_version
    assert np.array_equal(np.frombuffer(bytes(buffers[0]), dtype="<f4"), view.frame().values[4])
    assert not np.array_equal(view.frame().values[4], aw.frame(torch_cap, 1, head=2, step=2).values[4])


def test_row_message_on_a_zoomed_and_pooled_frame_is_its_displayed_row(big_cap):
    view = aw.Heatmap(big_cap, size=50, head=0)
    content, buffers = ask_row(view, 7)
    assert content["cols"] == 50
    assert np.array_equal(np.frombuffer(bytes(buffers[0]), dtype="<f4"), view.frame().values[7])
    view.region = [100, 130, 200, 240]
    content, buffers = ask_row(view, 29)
    assert np.array_equal(np.frombuffer(bytes(buffers[0]), dtype="<f4"), big_cap.get(0)[0, 0, 129, 200:240])


def test_row_message_nan_and_errors(torch_cap):
    cap = Capture()
    w = np.full((1, 1, 2, 3), 0.5, np.float32)
    w[0, 0, 1, 2] = np.nan
    cap.add("s", 0, w, kind="self")
    view = aw.Heatmap(cap)
    _, buffers = ask_row(view, 1)
    values = np.frombuffer(bytes(buffers[0]), dtype="<f4")
    assert values[0] == 0.5 and np.isnan(values[2])
    content, buffers = ask_row(view, 2, "row:9")
    assert content["type"] == "error" and content["id"] == "row:9" and buffers is None
    assert "row 2 is out of range: the frame shown has 2 rows (0..1)" in content["message"]
    content, _ = ask_row(view, "1")
    assert content["type"] == "error" and "integer row index" in content["message"]
    content, _ = ask_row(view, True)
    assert content["type"] == "error"


def test_frame_version_is_transport_not_view_state(torch_cap):
    view = aw.Heatmap(torch_cap, color_range="shared")
    d = view.describe()
    assert "_frame_version" not in d.state
    assert d.spec.color_range == "shared" and d.state["color_range"] == "shared"


def test_saved_figure_of_a_compare_site_is_symmetric_like_the_widget(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(5)
    cap = Capture()
    cap.add("a-b", 0, (rng.random((1, 2, 4, 4)) - 0.3).astype(np.float32), kind="self")
    cap.metadata["difference_sites"] = ["a-b"]
    view = aw.Heatmap(cap, head=0)
    lo, hi = view._frame_meta["vmin"], view._frame_meta["vmax"]
    assert lo == -hi  # aw.compare's difference sites are drawn about zero
    img = np.asarray(Image.open(save_view(view, tmp_path / "d.png", axes=False)))[..., :3]
    assert np.array_equal(img, apply(sent(view), view.colormap))
