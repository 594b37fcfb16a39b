"""The gallery (``attnwidget export``) of a statistics capture: class means, difference maps, arrays.

Real captures of the tiny attention model of the collect tests (two classes,
two self-attention sites), streamed with ``aw.collect(..., keep="stats"|"both")``.
A written PNG is checked cell by cell: the heatmap is found in the image and
the colour at the centre of each cell must be the widget's colour of the
frame :func:`attnwidget.frame` computes for that class.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "collect"))
from _collect_models import Tapped, batches, data, stats_captures  # noqa: E402
from aw_figure_captures import make_text_capture  # noqa: E402

import attnwidget as aw  # noqa: E402
from attnwidget.cli import main  # noqa: E402
from attnwidget.colormaps import apply  # noqa: E402
from attnwidget.figures import heatmap  # noqa: E402
from attnwidget.recipes import export_gallery  # noqa: E402
from attnwidget.recipes.gallery import plan_gallery  # noqa: E402
from attnwidget.wire import quantize, value_range  # noqa: E402

NAMES = {0: "bonafide", 1: "spoof"}
STATS_FIELDS = ("classes", "count", "mean", "var", "min", "max", "entropy")


@pytest.fixture(scope="module")
def caps():
    caps = stats_captures()
    stats, both = caps["stats"], caps["both"]
    assert stats.num_samples == 0 and stats.labels is None and both.labels.tolist() == [1]
    return caps


def coloured(values, colormap="viridis", symmetric=False):
    lo, hi = value_range(values, "linear", symmetric)
    return apply(quantize(values, lo, hi), colormap)


def first_image(fig) -> np.ndarray:
    return np.asarray([ax for ax in fig.axes if ax.images][0].images[0].get_array())


def heat_cells(path, shape) -> np.ndarray:
    """The colour at the centre of each cell of the heatmap in a written PNG ``[h, w, 3]``.

    The heatmap is the first (leftmost) block of columns that are mostly ink;
    the colorbar comes after a white gap.
    """
    img = np.asarray(Image.open(path).convert("RGB"))
    ink = np.abs(img.astype(int) - 255).sum(axis=2) > 30
    cols = ink.sum(axis=0)
    wide = np.flatnonzero(cols > 0.5 * cols.max())
    gaps = np.flatnonzero(np.diff(wide) > 1)
    x0, x1 = wide[0], (wide[gaps[0]] if gaps.size else wide[-1])
    rows = ink[:, x0 : x1 + 1].sum(axis=1)
    tall = np.flatnonzero(rows > 0.5 * (x1 - x0 + 1))
    y0, y1 = tall[0], tall[-1]
    h, w = shape
    ys = (y0 + (np.arange(h) + 0.5) * (y1 - y0 + 1) / h).astype(int)
    xs = (x0 + (np.arange(w) + 0.5) * (x1 - x0 + 1) / w).astype(int)
    return img[np.ix_(ys, xs)]


# ---------------------------------------------------------------------- heatmap()
def test_heatmap_draws_a_class_statistic_and_a_difference_map(caps):
    cap = caps["stats"]
    fr = aw.frame(cap, 1, head=0, stat="var", label=0)
    fig = heatmap(cap, 1, head=0, stat="var", label=0)
    assert np.array_equal(first_image(fig), coloured(fr.values))
    assert "class 0 · var" in fig.axes[0].get_title()

    diff = aw.frame(cap, 1, difference=(1, 0))
    assert diff.values.min() < 0 < diff.values.max()
    fig = heatmap(cap, 1, difference=(1, 0))
    # the diverging colormap, centred on zero: -m..m with m the largest absolute value
    assert np.array_equal(first_image(fig), coloured(diff.values, "coolwarm", symmetric=True))
    m = float(np.abs(diff.values).max())
    assert fig.axes[-1].get_ylim() == pytest.approx((-m, m))  # the colorbar
    # the caller's colormap and range are kept
    fig = heatmap(cap, 1, difference=(1, 0), colormap="magma", vmin=-1, vmax=1)
    assert np.array_equal(first_image(fig), apply(quantize(diff.values, -1, 1), "magma"))
    # without stat or difference: as before (a kept sample, viridis, the frame's own range)
    both = caps["both"]
    assert np.array_equal(first_image(heatmap(both, 0)), coloured(aw.frame(both, 0).values))


# ---------------------------------------------------------------------- plan_gallery
def test_plan_of_a_statistics_capture(caps):
    cap = caps["stats"]
    names = [j.filename for j in plan_gallery(cap, class_names=NAMES)]
    want = []
    for i in range(2):
        site = f"layer_{i}_blocks.{i}"
        want += [
            f"heatmap_{site}.png",
            f"multihead_{site}.png",  # the mean of every sample
            f"class_mean_{site}_bonafide.png",
            f"class_mean_{site}_spoof.png",
            f"class_difference_{site}_spoof_minus_bonafide.png",
        ]
    assert names == want
    # without names: the labels; pdf
    assert "class_difference_layer_1_blocks.1_1_minus_0.pdf" in [
        j.filename for j in plan_gallery(cap, fmt="pdf")
    ]
    # one class: its means alone (no kept sample to draw, no difference)
    assert [j.filename for j in plan_gallery(cap, label=1, class_names=NAMES)] == [
        "class_mean_layer_0_blocks.0_spoof.png",
        "class_mean_layer_1_blocks.1_spoof.png",
    ]
    with pytest.raises(ValueError, match=r"unknown class 7; classes are: 0 \(bonafide\), 1 \(spoof\)"):
        plan_gallery(cap, label=7, class_names=NAMES)
    unlabelled = make_text_capture()
    unlabelled.labels = None
    with pytest.raises(ValueError, match="no labels and no class statistics"):
        plan_gallery(unlabelled, label=0)


def test_plan_of_a_capture_keeping_some_classes(caps):
    cap = caps["both"]
    # class 0 keeps no sample: the figures of kept samples are not planned for it
    jobs = plan_gallery(cap, label=0, class_names=NAMES)
    assert [j.filename for j in jobs] == [
        "class_mean_layer_0_blocks.0_bonafide.png",
        "class_mean_layer_1_blocks.1_bonafide.png",
    ]
    # class 1 keeps one: its sample figures, then its statistics
    assert [j.filename for j in plan_gallery(cap, label=1, class_names=NAMES, layers=[1])] == [
        "heatmap_layer_1_blocks.1.png",
        "multihead_layer_1_blocks.1.png",
        "class_mean_layer_1_blocks.1_spoof.png",
    ]
    # raw: kept samples and statistics of each site
    raw = [j.filename for j in plan_gallery(cap, raw=True, layers=[0])]
    assert raw[-9:] == (
        ["attn_raw_layer_0_blocks.0.npy"]
        + [f"attn_stats_layer_0_blocks.0_{f}.npy" for f in STATS_FIELDS]
        + ["capture.npz"]
    )


# ---------------------------------------------------------------------- what is written
def test_written_class_maps_show_each_class_statistic(caps, tmp_path):
    cap = caps["stats"]
    written = export_gallery(cap, tmp_path, class_names=NAMES, progress=False, layers=[1], dpi=80)
    assert len(written) == 5
    cells = {}
    for c, name in NAMES.items():
        fr = aw.frame(cap, "blocks.1", stat="mean", label=c)
        cells[c] = heat_cells(tmp_path / f"class_mean_layer_1_blocks.1_{name}.png", fr.shape)
        assert np.array_equal(cells[c], coloured(fr.values))
    assert not np.array_equal(cells[0], cells[1])  # the classes really differ
    fr = aw.frame(cap, "blocks.1", difference=(1, 0))
    got = heat_cells(tmp_path / "class_difference_layer_1_blocks.1_spoof_minus_bonafide.png", fr.shape)
    assert np.array_equal(got, coloured(fr.values, "coolwarm", symmetric=True))
    assert not np.array_equal(got, coloured(fr.values))


def test_class_maps_of_several_steps_show_step_0_and_gifs_walk_the_steps(caps, tmp_path):
    cap = caps["steps"]
    jobs = {j.filename: j for j in plan_gallery(cap, layers=[1], label=0)}
    assert list(jobs) == ["class_mean_layer_1_blocks.1_0.png", "class_mean_steps_layer_1_blocks.1_0.gif"]
    every = [j.filename for j in plan_gallery(cap, layers=[1])]
    assert "class_difference_steps_layer_1_blocks.1_1_minus_0.gif" in every
    gif = tmp_path / "steps.gif"
    jobs["class_mean_steps_layer_1_blocks.1_0.gif"].write(str(gif))
    with Image.open(gif) as im:
        assert im.n_frames == 3  # one frame per step of the statistics
    path = tmp_path / "m.png"
    jobs["class_mean_layer_1_blocks.1_0.png"].write(str(path))
    at = {s: aw.frame(cap, 1, stat="mean", label=0, step=s) for s in (0, 2)}
    got = heat_cells(path, at[0].shape)
    assert np.array_equal(got, coloured(at[0].values))
    assert not np.array_equal(got, coloured(at[2].values))


# ---------------------------------------------------------------------- the command
def test_export_command_class_of_a_statistics_capture(caps, tmp_path, capsys):
    run = caps["stats"].save(tmp_path / "stats.npz")
    out = tmp_path / "spoof"
    assert (
        main(
            [
                "export",
                run,
                "--out",
                str(out),
                "--quiet",
                "--class",
                "spoof",
                "--class-names",
                "0=bonafide,1=spoof",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "class_mean_layer_0_blocks.0_spoof.png",
        "class_mean_layer_1_blocks.1_spoof.png",
    ]
    # names in label order, and the label itself, work too
    out0 = tmp_path / "zero"
    assert (
        main(
            ["export", run, "--out", str(out0), "--quiet", "--class", "0", "--class-names", "bonafide,spoof"]
        )
        == 0
    )
    assert sorted(p.name for p in out0.iterdir()) == [
        "class_mean_layer_0_blocks.0_bonafide.png",
        "class_mean_layer_1_blocks.1_bonafide.png",
    ]
    capsys.readouterr()
    never = tmp_path / "never"
    assert (
        main(["export", run, "--out", str(never), "--class", "fake", "--class-names", "0=bonafide,1=spoof"])
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown class 'fake'; classes are: 0 (bonafide), 1 (spoof)" in err and "Traceback" not in err
    assert not never.exists()


def test_export_command_class_with_statistics_alone_in_a_both_capture(caps, tmp_path, capsys):
    run = caps["both"].save(tmp_path / "both.npz")
    out = tmp_path / "o"
    assert (
        main(
            [
                "export",
                run,
                "--out",
                str(out),
                "--quiet",
                "--class",
                "bonafide",
                "--class-names",
                "0=bonafide,1=spoof",
                "--layer",
                "0",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["class_mean_layer_0_blocks.0_bonafide.png"]
    assert main(["export", run, "--out", str(tmp_path / "n"), "--class", "2"]) == 2
    assert "unknown class '2'; classes are: 0, 1" in capsys.readouterr().err


def test_export_command_no_class_anywhere(tmp_path, capsys):
    cap = make_text_capture()
    cap.labels = None
    run = cap.save(tmp_path / "t.npz")
    assert main(["export", run, "--out", str(tmp_path / "n"), "--class", "0"]) == 2
    err = capsys.readouterr().err
    assert "no labels and no class statistics" in err and "Traceback" not in err
    assert not (tmp_path / "n").exists()


def test_export_command_raw_writes_the_statistics(caps, tmp_path):
    cap = caps["stats"]
    run = cap.save(tmp_path / "stats.npz")
    out = tmp_path / "raw"
    assert main(["export", run, "--out", str(out), "--quiet", "--raw"]) == 0
    names = {p.name for p in out.iterdir()}
    assert not any(n.startswith("attn_raw_") for n in names)  # no sample was kept
    for i in range(2):
        for field in STATS_FIELDS:
            assert f"attn_stats_layer_{i}_blocks.{i}_{field}.npy" in names
    st = cap.stats["blocks.1"][0]
    np.testing.assert_array_equal(np.load(out / "attn_stats_layer_1_blocks.1_mean.npy"), st["mean"])
    assert np.load(out / "attn_stats_layer_1_blocks.1_classes.npy").tolist() == ["all", "0", "1"]
    assert "capture.npz" in names


def test_classes_whose_names_clash_as_file_names_keep_apart(caps):
    names = [j.filename for j in plan_gallery(caps["stats"], layers=[0], class_names={0: "a/b", 1: "a_b"})]
    assert "class_mean_layer_0_blocks.0_a_b_0.png" in names
    assert "class_mean_layer_0_blocks.0_a_b_1.png" in names
    assert "class_difference_layer_0_blocks.0_a_b_1_minus_a_b_0.png" in names
    assert len(names) == len(set(names))


def test_tapped_weights_streamed_over_a_data_set_get_per_class_figures_and_a_difference(tmp_path):
    torch.manual_seed(0)
    ids, labels = data(18)
    cap = aw.collect(Tapped().eval(), batches(ids, labels, 5), labels=1, keep="stats", progress=False)
    jobs = {j.filename: j for j in plan_gallery(cap, layers=["gate"], class_names=NAMES)}
    # the per-class figures of a tapped site draw each class's streamed mean (no class_mean_ twin)
    assert list(jobs) == [
        "weights_layer_0_gate_bonafide.png",
        "weights_layer_0_gate_spoof.png",
        "class_difference_layer_0_gate_spoof_minus_bonafide.png",
    ]
    path = tmp_path / "spoof.png"
    jobs["weights_layer_0_gate_spoof.png"].write(str(path))
    fr = aw.frame(cap, "gate", stat="mean", label=1)  # one row: the mean gate over the class
    assert fr.shape == (1, 8)
    np.testing.assert_allclose(fr.values[0], cap.stats["gate"][0]["mean"][2], rtol=1e-6)
    assert np.array_equal(heat_cells(path, fr.shape), coloured(fr.values))
    unlabelled = aw.collect(Tapped().eval(), batches(ids, labels, 5), keep="stats", progress=False)
    assert [j.filename for j in plan_gallery(unlabelled, layers=["gate"])] == ["weights_layer_0_gate_all.png"]


class SeedTaps(torch.nn.Module):
    """Seed 000's four tapped weight sites, from the input alone (no parameters to train)."""

    def forward(self, x):
        b = x.shape[0]
        aw.tap("layer_weights", torch.softmax(x[:, :6], -1), axes=("sample", "layer"))
        aw.tap("temporal", torch.softmax(x[:, :30].reshape(b, 6, 5), -1), axes=("sample", "layer", "frame"))
        aw.tap("intra", torch.softmax(x[:, :6].reshape(b, 2, 3), -1), axes=("sample", "group", "member"))
        aw.tap("inter", torch.softmax(x[:, :2], -1), axes=("sample", "group"))
        return x.sum(-1)


def test_seed000_weight_figures_of_a_class_streamed_over_a_data_set(tmp_path):
    from attnwidget.recipes import inter_group, intra_group, layer_weight_heatmap, temporal_heatmap

    g = torch.Generator().manual_seed(0)
    data3 = [(torch.randn(4, 40, generator=g), torch.tensor([0, 1, 0, 1])) for _ in range(3)]
    cap = aw.collect(SeedTaps().eval(), data3, labels=1, keep="stats", progress=False)
    names = [j.filename for j in plan_gallery(cap, class_names=NAMES)]
    assert names[:3] == [
        "layer_weight_heatmap_bonafide.png",
        "layer_weight_heatmap_spoof.png",
        "layer_weight_comparison.png",
    ]  # seed 000's files, from the statistics
    assert "temporal_attention_heatmap_spoof.png" in names and "inter_group_attention_bonafide.png" in names
    written = export_gallery(cap, tmp_path / "gallery", class_names=NAMES, progress=False)
    assert sorted(pathlib.Path(p).name for p in written) == sorted(names)
    for draw, site in (
        (layer_weight_heatmap, "layer_weights"),
        (temporal_heatmap, "temporal"),
        (intra_group, "intra"),
        (inter_group, "inter"),
    ):
        fig = draw(cap, site, label=1, class_names=NAMES)
        assert "spoof (n=6)" in fig.axes[0].get_title()  # the streamed count, not the one drawn row
    title = temporal_heatmap(cap, "temporal", label=1, sample=0).axes[0].get_title()
    assert "sample" not in title  # no sample is kept: the figure is the class mean, and says so
    ax = inter_group(cap, "inter", label=1).axes[0]
    bars = next(c for c in ax.containers if hasattr(c, "lines"))  # the error bars' container
    half = [abs(b[1] - a[1]) / 2 for a, b in bars.lines[2][0].get_segments()]
    np.testing.assert_allclose(half, np.sqrt(cap.stats["inter"][0]["var"][2]), rtol=1e-5)
