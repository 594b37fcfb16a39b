"""The step axis as a GIF, and the raw arrays (.npy per layer, .npz per capture)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import attnwidget as aw
from attnwidget._frame import frame
from attnwidget.figures import animate, save_arrays
from attnwidget.figures.animate import gif_frames, step_frames


def test_animate_capture_one_gif_frame_per_step(text_capture, tmp_path, artifacts):
    path = animate(text_capture, tmp_path / "steps.gif", fps=2, layer=1, head=0)
    with Image.open(path) as im:
        assert im.n_frames == 3
        assert im.info["duration"] == 500  # fps=2
        assert im.info.get("loop") == 0
    frames = gif_frames(path)
    assert not np.array_equal(frames[0], frames[1])  # the attention changes over steps
    fr = step_frames(text_capture, layer=1, head=0)
    assert [f.selection["step"] for f in fr] == [0, 1, 2]
    assert np.array_equal(fr[2].values, frame(text_capture, 1, head=0, step=2).values)
    animate(text_capture, artifacts / "steps_cross.gif", fps=2, layer=1)


def test_animate_view_uses_its_selection_and_leaves_it_alone(text_capture, tmp_path):
    import attnwidget.widgets as widgets

    view = widgets.Heatmap(text_capture, layer=2, head=1, colormap="magma")
    path = aw.animate(view, tmp_path / "v.gif", fps=4)
    with Image.open(path) as im:
        assert im.n_frames == 3 and im.info["duration"] == 250
    assert view.step == 0 and view.layer == 2  # the live view was not moved
    fr = step_frames(view)
    assert np.array_equal(fr[1].values, frame(text_capture, 2, head=1, step=1, size=view.size).values)


def test_animate_errors(text_capture, tmp_path):
    with pytest.raises(ValueError, match="GIF"):
        animate(text_capture, tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="fps"):
        animate(text_capture, tmp_path / "a.gif", fps=0)
    with pytest.raises(IndexError, match="layer 9"):
        animate(text_capture, tmp_path / "a.gif", layer=9)


def test_save_arrays_npy_per_layer_and_npz_capture(audio_capture, text_capture, tmp_path):
    written = save_arrays(audio_capture, tmp_path / "raw")
    names = sorted(p.split("/")[-1] for p in written)
    assert "attn_raw_layer_0_model.layer_weights.npy" in names and "capture.npz" in names
    a = np.load(tmp_path / "raw" / "attn_raw_layer_1_model.intra_attn.npy")
    assert np.array_equal(a, audio_capture.get(1))
    back = aw.load(tmp_path / "raw" / "capture.npz")
    assert back.layers == audio_capture.layers
    assert np.array_equal(back.labels, audio_capture.labels)
    assert np.array_equal(back.get(3), audio_capture.get(3))
    # several steps: one file per step
    steps = save_arrays(text_capture, tmp_path / "steps", layers=[0], npz=False)
    assert [p.split("/")[-1] for p in steps] == [
        f"attn_raw_layer_0_decoder.layers.0.self_attn_step_{s}.npy" for s in range(3)
    ]
    with pytest.raises(TypeError, match="Capture"):
        save_arrays({"a": 1}, tmp_path)
