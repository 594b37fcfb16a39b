"""The drawing helpers: widget colours, plain-text labels, tick thinning, file formats."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from attnwidget._frame import frame
from attnwidget.colormaps import apply, lut
from attnwidget.figures._draw import class_name, color_range, frame_rgb, save_figure, text_label, thin_ticks
from attnwidget.figures.heatmap import frame_figure
from attnwidget.wire import quantize, value_range


def test_frame_rgb_is_the_widget_colouring():
    v = np.random.default_rng(0).random((5, 7)).astype(np.float32)
    lo, hi = value_range(v)
    assert np.array_equal(frame_rgb(v, lo, hi, "linear", "plasma"), apply(quantize(v, lo, hi), "plasma"))
    # log scale goes through the same quantizer
    assert np.array_equal(frame_rgb(v, 0.01, 1.0, "log", "jet"), lut("jet")[quantize(v, 0.01, 1.0, "log")])


def test_color_range_defaults_like_the_widget_and_shares_over_frames():
    a, b = np.array([[0.1, 0.5]]), np.array([[0.2, 0.9]])
    assert color_range(a) == value_range(a)
    assert color_range([a, b]) == (pytest.approx(0.1), pytest.approx(0.9))
    assert color_range(a, vmin=0.0, vmax=2.0) == (0.0, 2.0)


def test_text_label_keeps_dollars_and_markup_literal():
    assert text_label("$x$") == r"\$x\$"
    assert text_label("<b>bold</b>") == "<b>bold</b>"
    fig = Figure()
    ax = fig.add_subplot()
    t = ax.text(0, 0, text_label("$x^2$"))
    assert t.get_text() == r"\$x^2\$"  # rendered as the characters $x^2$, not math


def test_thin_ticks_bounds_the_number_of_labels():
    assert len(thin_ticks(10, 40)) == 10
    idx = thin_ticks(1000, 40)
    assert len(idx) <= 40 and idx[0] == 0
    assert len(thin_ticks(0)) == 0


def test_save_figure_formats_and_errors(tmp_path, text_capture):
    fig = frame_figure(frame(text_capture, 0))
    assert open(save_figure(fig, tmp_path / "a.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert open(save_figure(fig, tmp_path / "a.pdf"), "rb").read(5) == b"%PDF-"
    assert b"<svg" in open(save_figure(fig, tmp_path / "a.svg"), "rb").read(2000)
    with pytest.raises(ValueError, match="png, .pdf or .svg"):
        save_figure(fig, tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="dpi"):
        save_figure(fig, tmp_path / "b.png", dpi=0)


def test_class_name_lookup():
    names = {0: "spoof", "1": "bonafide"}
    assert class_name(0, names) == "spoof"
    assert class_name(1, names) == "bonafide"
    assert class_name(np.int64(0), names) == "spoof"
    assert class_name(2, names) == "2"
    assert class_name(None, names) == "all"
    assert class_name(1, ["spoof", "bonafide"]) == "bonafide"
    assert class_name(5, ["spoof", "bonafide"]) == "5"


def test_unknown_colormap_and_scale_are_clear(text_capture):
    fr = frame(text_capture, 0)
    with pytest.raises(ValueError, match="unknown colormap 'rainbow'"):
        frame_figure(fr, colormap="rainbow")
    with pytest.raises(ValueError, match="scale must be one of"):
        frame_figure(fr, scale="sqrt")
