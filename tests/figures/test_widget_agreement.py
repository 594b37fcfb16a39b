"""The exported figure and the widget agree: the PNG holds the colours the widget was sent.

Each test builds a real view, reads the uint8 codes it sends to the browser
(``_frame``, or ``_thumbs`` for the head grid), colours them with the shared
table, and compares with the pixels of ``view.save(...)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from aw_figure_captures import CLASS_NAMES, make_audio_capture, mha_weights
from PIL import Image

import attnwidget.widgets as widgets  # noqa: E402
from attnwidget.colormaps import apply
from attnwidget.figures import save_view, view_figure
from attnwidget.store import Capture


def sent(view) -> np.ndarray:
    meta = view._frame_meta
    return np.frombuffer(view._frame, dtype=np.uint8).reshape(meta["shape"])


def png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize(
    "colormap,scale", [("viridis", "linear"), ("magma", "log"), ("coolwarm", "linear"), ("jet", "log")]
)
def test_heatmap_png_without_axes_equals_the_sent_frame(tmp_path, text_capture, colormap, scale, artifacts):
    view = widgets.Heatmap(text_capture, layer=1, head=2, colormap=colormap, scale=scale)
    path = save_view(view, tmp_path / "bare.png", axes=False, pixels_per_cell=4)
    img = png(path)
    expected = apply(sent(view), colormap)
    assert img.shape == (expected.shape[0] * 4, expected.shape[1] * 4, 3)
    assert np.array_equal(img[::4, ::4], expected)
    assert np.array_equal(img[3::4, 3::4], expected)  # every pixel of a cell, not just its corner
    save_view(view, artifacts / f"heatmap_view_{colormap}_{scale}.png", dpi=80)


def test_heatmap_figure_image_is_the_sent_frame_and_follows_the_view(tmp_path, text_capture):
    view = widgets.Heatmap(text_capture, layer=0, colormap="plasma")
    fig = view_figure(view)
    assert np.array_equal(np.asarray(fig.axes[0].images[0].get_array()), apply(sent(view), "plasma"))
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[:2] == ["<s>", "Hello"]
    view.head = 3
    view.step = 2
    fig2 = view_figure(view)
    assert np.array_equal(np.asarray(fig2.axes[0].images[0].get_array()), apply(sent(view), "plasma"))
    assert "step 2" in fig2.axes[0].get_title()


def test_zoomed_and_pooled_heatmap_agrees(tmp_path):
    cap = Capture()
    cap.add("enc.attn", 0, mha_weights(40, 40, batch=1), kind="self")
    view = widgets.Heatmap(cap, size=16, region=[5, 37, 0, 40])
    assert sent(view).shape[0] <= 16  # the widget pooled it
    img = png(save_view(view, tmp_path / "z.png", axes=False))
    assert np.array_equal(img, apply(sent(view), "viridis"))


def test_view_save_method_writes_png_pdf_svg(tmp_path, text_capture):
    view = widgets.Heatmap(text_capture)
    assert png(view.save(str(tmp_path / "v.png"), dpi=300)).shape[0] > 1000  # 300 dpi is big
    assert open(view.save(str(tmp_path / "v.pdf")), "rb").read(5) == b"%PDF-"
    assert b"<svg" in open(view.save(str(tmp_path / "v.svg")), "rb").read(3000)


def test_weights_view_agrees(tmp_path, artifacts):
    cap = make_audio_capture()
    view = widgets.WeightsView(
        cap, layer=1, label=0, sample="mean", colormap="YlOrRd", class_names=CLASS_NAMES
    )
    img = png(save_view(view, tmp_path / "w.png", axes=False))
    assert np.array_equal(img, apply(sent(view.canvas), "YlOrRd"))
    view.save(str(artifacts / "weights_view_temporal_spoof.png"), dpi=80)


def test_head_grid_panels_are_the_sent_thumbnails(text_capture, artifacts):
    view = widgets.HeadGrid(text_capture, layer=2, colormap="inferno")
    fig = view_figure(view)
    thumbs = view.thumbnails()
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == len(thumbs) == 4
    for im, codes in zip(images, thumbs):
        assert np.array_equal(np.asarray(im.get_array()), apply(codes, "inferno"))
    view.save(str(artifacts / "headgrid_view.png"), dpi=80)


def test_overlay_patch_grid_is_the_sent_frame(tmp_path, artifacts):
    cap = Capture()
    cap.add("vit.blocks.11.attn", 0, mha_weights(17, 17, batch=1), kind="self")
    yy, xx = np.mgrid[0:64, 0:64]
    image = np.stack([xx / 63, yy / 63, 0.5 * np.ones_like(xx)], axis=-1)
    view = widgets.ImageOverlay(cap, image, opacity=0.6)
    fig = view_figure(view)
    patch_ax = [ax for ax in fig.axes if ax.get_title() == "patch attention"][0]
    assert np.array_equal(np.asarray(patch_ax.images[0].get_array()), apply(sent(view), "jet"))
    img = png(save_view(view, tmp_path / "o.png", axes=False))
    assert np.array_equal(img, apply(sent(view), "jet"))
    view.save(str(artifacts / "overlay_view.png"), dpi=80)


def test_head_stats_and_explorer_save(tmp_path, text_capture):
    stats = widgets.HeadStats(text_capture, layer=1)
    fig = view_figure(stats)
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 3 * 4
    heights = sorted(round(b.get_height(), 5) for b in bars[:4])
    assert heights == sorted(round(v, 5) for v in stats.stats["entropy"])
    ex = widgets.Explorer(text_capture, layer=1)
    img = png(save_view(ex, tmp_path / "ex.png", axes=False))
    assert np.array_equal(img, apply(sent(ex.heatmap), "viridis"))
    with pytest.raises(ValueError, match="bar chart"):
        save_view(stats, tmp_path / "s.png", axes=False)


def test_save_view_rejects_what_is_not_a_view(tmp_path, text_capture):
    with pytest.raises(TypeError, match="expected an attnwidget view"):
        save_view(text_capture, tmp_path / "x.png")
