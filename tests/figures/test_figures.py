"""The seed figures: each is drawn from frames of attnwidget.frame, with the widget's colours.

Every test checks content that could be wrong (pixels, bar heights, labels,
which class), and leaves a PNG under ``artifacts/figures/`` for a person.
"""

from __future__ import annotations

import numpy as np
import pytest
from aw_figure_captures import CLASS_NAMES, mha_weights
from matplotlib.figure import Figure

from attnwidget._frame import frame
from attnwidget.colormaps import apply
from attnwidget.figures import cls_overlay, head_grid, heatmap
from attnwidget.figures._draw import save_figure
from attnwidget.recipes import (
    attention_summary,
    eeg_dashboard,
    inter_group,
    intra_group,
    layer_weight_comparison,
    layer_weight_heatmap,
    temporal_heatmap,
)
from attnwidget.store import Capture
from attnwidget.wire import quantize, value_range


def coloured(values, cmap, lo=None, hi=None):
    low, high = value_range(values)
    return apply(quantize(values, low if lo is None else lo, high if hi is None else hi), cmap)


def first_image(fig: Figure) -> np.ndarray:
    return np.asarray([ax for ax in fig.axes if ax.images][0].images[0].get_array())


def test_layer_weight_heatmap_per_class(audio_capture, artifacts):
    for label, name in CLASS_NAMES.items():
        fig = layer_weight_heatmap(audio_capture, label=label, class_names=CLASS_NAMES)
        fr = frame(audio_capture, "model.layer_weights", sample="mean", label=label)
        assert fr.shape == (6, 25)  # 6 samples of the class x 25 SSL layers
        assert np.array_equal(first_image(fig), coloured(fr.values, "YlOrRd"))
        assert name in fig.axes[0].get_title()
        save_figure(fig, artifacts / f"layer_weight_heatmap_{name}.png", dpi=80)
    only3 = layer_weight_heatmap(audio_capture, label=0, num_runs=3)
    assert first_image(only3).shape[0] == 3


def test_layer_weight_comparison_shares_one_scale(audio_capture, artifacts):
    fig = layer_weight_comparison(audio_capture, class_names=CLASS_NAMES)
    frames = [frame(audio_capture, 0, sample="mean", label=c) for c in (0, 1)]
    lo = min(f.values.min() for f in frames)
    hi = max(f.values.max() for f in frames)
    images = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]
    assert len(images) == 2
    for im, fr in zip(images, frames):
        assert np.array_equal(im, coloured(fr.values, "YlOrRd", lo, hi))
    # the mean line of each class is the column mean of its frame
    line_ax = [ax for ax in fig.axes if ax.lines][0]
    spoof_line = line_ax.lines[0].get_ydata()
    assert np.allclose(spoof_line, frames[0].values.mean(axis=0))
    # the classes really differ in this capture (spoof leans early, bonafide late)
    assert spoof_line[:5].mean() > line_ax.lines[1].get_ydata()[:5].mean()
    save_figure(fig, artifacts / "layer_weight_comparison.png", dpi=80)


def test_temporal_heatmap_is_layers_by_frames(audio_capture, artifacts):
    fig = temporal_heatmap(audio_capture, label=0, class_names=CLASS_NAMES)
    img = first_image(fig)
    assert img.shape[:2] == (25, 50)
    fr = frame(audio_capture, "model.intra_attn", sample="mean", label=0)
    assert np.array_equal(img, coloured(fr.values, "viridis"))
    assert fig.axes[0].get_xlabel() == "time frame"
    # spoof clips attend to the first frames: the left of the picture is brighter
    assert fr.values[:, :8].mean() > 2 * fr.values[:, 8:].mean()
    save_figure(fig, artifacts / "temporal_attention_heatmap_spoof.png", dpi=80)
    one = temporal_heatmap(audio_capture, label=1, sample=2)
    assert "sample 2" in one.axes[0].get_title()


def test_intra_and_inter_group(audio_capture, artifacts):
    fig = intra_group(audio_capture, label=1, class_names=CLASS_NAMES)
    fr = frame(audio_capture, "model.group_intra", sample="mean", label=1)
    assert first_image(fig).shape[:2] == (9, 3)
    assert np.array_equal(first_image(fig), coloured(fr.values, "viridis"))
    assert len(fig.axes[0].texts) == 27  # each weight printed on its cell
    save_figure(fig, artifacts / "intra_group_attention_bonafide.png", dpi=80)

    bars = inter_group(audio_capture, label=1, class_names=CLASS_NAMES)
    fr = frame(audio_capture, "model.group_inter", sample="mean", label=1)
    heights = [p.get_height() for p in bars.axes[0].patches]
    assert np.allclose(heights, fr.values.mean(axis=0))
    assert "bonafide (n=6)" in bars.axes[0].get_title()
    save_figure(bars, artifacts / "inter_group_attention_bonafide.png", dpi=80)


def test_weight_figures_refuse_the_wrong_site(audio_capture):
    with pytest.raises(ValueError, match=r"axes \('sample', 'layer'\)"):
        layer_weight_heatmap(audio_capture, layer="model.group_inter")
    empty = Capture()
    empty.add("x", 0, np.ones((2, 3), np.float32), kind="weights", axes=("sample", "thing"))
    with pytest.raises(ValueError, match="no site with axes"):
        temporal_heatmap(empty)
    with pytest.raises(ValueError, match="no sample has label 7"):
        intra_group(audio_capture, label=7)


def test_heatmap_and_head_grid(text_capture, artifacts):
    fig = heatmap(text_capture, "decoder.layers.0.cross_attn", head=1, step=1, colormap="magma")
    fr = frame(text_capture, "decoder.layers.0.cross_attn", head=1, step=1)
    assert np.array_equal(first_image(fig), coloured(fr.values, "magma"))
    xt = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert xt == [r"안녕", "하", "세요", r"\$5", "<b>", "</s>"]  # text, `$` escaped for matplotlib
    save_figure(fig, artifacts / "heatmap_cross.png", dpi=80)

    grid = head_grid(text_capture, 1)
    panels = [ax for ax in grid.axes if ax.images]
    assert [ax.get_title() for ax in panels] == [f"head {h}" for h in range(4)]
    frames = [frame(text_capture, 1, head=h) for h in range(4)]
    lo = min(f.values.min() for f in frames)
    hi = max(f.values.max() for f in frames)
    for ax, f in zip(panels, frames):  # one shared scale across heads
        assert np.array_equal(np.asarray(ax.images[0].get_array()), coloured(f.values, "viridis", lo, hi))
    save_figure(grid, artifacts / "multihead_cross.png", dpi=80)
    weights_only = Capture()
    weights_only.add("w", 0, np.ones((2, 3), np.float32), kind="weights", axes=("sample", "layer"))
    with pytest.raises(ValueError, match="no head axis"):
        head_grid(weights_only, 0)


def test_cls_overlay(artifacts, tmp_path):
    cap = Capture()
    cap.add("vit.blocks.11.attn", 0, mha_weights(50, 50, batch=1), kind="self")  # CLS + 7x7
    yy, xx = np.mgrid[0:112, 0:112]
    image = (np.stack([xx, yy, 255 - xx], axis=-1) * 2).clip(0, 255).astype(np.uint8)
    fig = cls_overlay(cap, image=image, alpha=0.4)
    row = frame(cap, 0, region=(0, 1, 1, 50)).values.reshape(7, 7)
    patch_ax = [ax for ax in fig.axes if ax.get_title() == "patch attention"][0]
    assert np.array_equal(np.asarray(patch_ax.images[0].get_array()), coloured(row, "jet"))
    save_figure(fig, artifacts / "cls_overlay.png", dpi=80)
    from PIL import Image

    Image.fromarray(image).save(tmp_path / "img.png")
    cls_overlay(cap, image=tmp_path / "img.png", query=3)  # a path works, and another query row
    with pytest.raises(ValueError, match="square grid"):
        cls_overlay(cap, image=image, skip=0)
    with pytest.raises(ValueError, match="needs the image"):
        cls_overlay(cap)
    with pytest.raises(FileNotFoundError):
        cls_overlay(cap, image=tmp_path / "missing.png")


def test_attention_summary_labels_are_tokens(text_capture, artifacts):
    fig = attention_summary(text_capture, "decoder.layers.0.cross_attn", "decoder.layers.0.self_attn")
    main = [ax for ax in fig.axes if ax.images][:2]
    assert main[0].get_title().startswith("cross-attention")
    assert main[1].get_title().startswith("self-attention")
    assert [t.get_text() for t in main[1].get_yticklabels()] == ["<s>", "Hello", "&", r"\$x\$", "!", "</s>"]
    self_fr = frame(text_capture, "decoder.layers.0.self_attn")
    assert np.array_equal(np.asarray(main[1].images[0].get_array()), coloured(self_fr.values, "viridis"))
    assert np.triu(self_fr.values, 1).max() < 1e-6  # causal: the picture is lower-triangular
    heads = [ax for ax in fig.axes if ax.images][2:]
    assert len(heads) == 4
    save_figure(fig, artifacts / "attention_summary.png", dpi=80)
    only_self = Capture()
    only_self.add("enc.attn", 0, mha_weights(5, 5), kind="self")
    assert len([ax for ax in attention_summary(only_self, heads=False).axes if ax.images]) == 1


def test_eeg_dashboard(artifacts):
    epochs, channels, steps = 6, 3, 16
    cap = Capture()
    # a batch of one recording: time within (epoch, channel), channels within epoch, epochs
    cap.add("enc.temporal", 0, mha_weights(steps, steps, batch=epochs * channels, seed=1), kind="self")
    cap.add("enc.channel", 0, mha_weights(channels, channels, batch=epochs, seed=2), kind="self")
    cap.add("seq.epoch", 0, mha_weights(epochs, epochs, batch=1, seed=3), kind="self")
    stages = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}
    fig = eeg_dashboard(
        cap,
        "seq.epoch",
        "enc.channel",
        "enc.temporal",
        epochs=[0, 4],
        channel_names=["EEG1", "EEG2", "EEG3"],
        epoch_labels=[0, 1, 2, 2, 3, 4],
        epoch_predictions=[0, 1, 2, 3, 3, 4],
        class_names=stages,
    )
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 1 + 2 * (1 + 3)
    assert [t.get_text() for t in panels[0].get_yticklabels()][3] == "3: N2→N3"
    # epoch 4, channel EEG2 is temporal sample (0 * 6 + 4) * 3 + 1 = 13
    t_fr = frame(cap, "enc.temporal", sample=13)
    target = [ax for ax in panels if ax.get_title() == "epoch 4 · EEG2 · time"][0]
    assert np.array_equal(np.asarray(target.images[0].get_array()), coloured(t_fr.values, "viridis"))
    c_fr = frame(cap, "enc.channel", sample=4, tokens=["EEG1", "EEG2", "EEG3"])
    ch_ax = [ax for ax in panels if ax.get_title() == "epoch 4 · channels"][0]
    assert np.array_equal(np.asarray(ch_ax.images[0].get_array()), coloured(c_fr.values, "viridis"))
    assert [t.get_text() for t in ch_ax.get_xticklabels()] == ["EEG1", "EEG2", "EEG3"]
    save_figure(fig, artifacts / "eeg_dashboard.png", dpi=70)
    with pytest.raises(IndexError, match="epoch 9 is out of range"):
        eeg_dashboard(cap, "seq.epoch", epochs=[9])
