"""Exports of statistics captures (``aw.collect(..., keep="stats"|"both")``).

``to_html`` embeds each class's statistics (and the class-difference maps)
exactly as the widget sends them, ``animate`` walks the steps of a class
statistic, and ``save_arrays`` and the ``attnwidget`` command handle captures
that keep no sample. Real models: the tiny attention model of the collect tests.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "collect"))
from _collect_models import stats_captures  # noqa: E402

import attnwidget as aw  # noqa: E402
import attnwidget.widgets as widgets  # noqa: E402
from attnwidget import wire  # noqa: E402
from attnwidget._collect.stats import FIELDS  # noqa: E402
from attnwidget.cli import main  # noqa: E402
from attnwidget.figures import animate, save_arrays, to_html  # noqa: E402
from attnwidget.figures.animate import gif_frames, step_frames  # noqa: E402
from attnwidget.figures.html import page_table, read_page, resolved  # noqa: E402

ESM = "export default { render({ model, el }) { el.textContent = 'x'; } };"
LAYERS = ("blocks.0", "blocks.1")


@pytest.fixture(scope="module")
def caps():
    caps = stats_captures()
    stats, both, steps = caps["stats"], caps["both"], caps["steps"]
    assert stats.num_samples == 0 and both.num_samples == 1 and both.labels.tolist() == [1]
    assert steps.steps == 3
    return caps


def embedded(path) -> dict:
    """A written page's data, each state with its bytes and labels in place."""
    return read_page(path, resolve=True)


def table_of(view, **kwargs) -> dict:
    """``page_table`` with each state's bytes and labels in place."""
    data = page_table(view, **kwargs)
    data["initial"] = resolved(data, data["initial"])
    data["states"] = [resolved(data, st) for st in data["states"]]
    return data


def key(data: dict, **sel) -> str:
    return json.dumps([sel[k] for k in data["keys"]], separators=(",", ":"), ensure_ascii=False)


def codes_of(state: dict) -> np.ndarray:
    meta = state["_frame_meta"]
    return np.frombuffer(state["_frame"], dtype=np.uint8).reshape(meta["shape"])


def assert_embeds(state: dict, fr, symmetric: bool = False) -> None:
    """The embedded entry is ``fr`` as the wire sends it: same codes, range within one code step."""
    header, payload = wire.encode(fr.values, "linear", symmetric=symmetric)
    codes = codes_of(state)
    np.testing.assert_array_equal(codes, np.frombuffer(payload, dtype=np.uint8).reshape(header["shape"]))
    meta = state["_frame_meta"]
    assert meta["vmin"] == pytest.approx(header["vmin"]) and meta["vmax"] == pytest.approx(header["vmax"])
    back = wire.dequantize(codes, meta["vmin"], meta["vmax"])
    step = (meta["vmax"] - meta["vmin"]) / wire.TOP
    assert np.abs(back - fr.values).max() <= step / 2 + 1e-7
    assert meta["title"] == fr.title


# ---------------------------------------------------------------------- to_html
def test_stats_page_embeds_every_class_statistic(caps, tmp_path):
    cap = caps["stats"]
    names = {0: "<b>neg</b>", 1: "pos"}
    view = aw.show(cap, class_names=names)
    path = to_html(view, tmp_path / "stats.html", esm=ESM, class_names=names)
    data = embedded(path)
    assert data["keys"] == ["layer", "head", "sample", "label", "step", "stat", "difference", "scale"]
    # no sample is kept: the sample control offers the class statistic alone
    assert data["options"]["samples"] == {"null": ["mean"], "0": ["mean"], "1": ["mean"]}
    assert all(json.loads(k)[2] == "mean" for k in data["table"])
    assert [entry["name"] for entry in data["options"]["labels"]] == ["all samples", "<b>neg</b>", "pos"]
    assert [s for s, _ in data["options"]["stats"]] == list(FIELDS)
    assert [d["value"] for d in data["options"]["differences"]] == [[0, 1], [1, 0]]
    size = view.heatmap.size
    for li, name in enumerate(LAYERS):
        for head in ("mean", "max", 0, 1):
            for label in (None, 0, 1):
                for stat in FIELDS:
                    state = data["states"][
                        data["table"][
                            key(
                                data,
                                layer=li,
                                head=head,
                                sample="mean",
                                label=label,
                                step=0,
                                stat=stat,
                                difference=None,
                                scale="linear",
                            )
                        ]
                    ]
                    assert_embeds(
                        state,
                        aw.frame(cap, name, head=head, label=label, stat=stat, size=size, class_names=names),
                    )
            # the class-difference map: stored once, symmetric about zero
            state = data["states"][
                data["table"][
                    key(
                        data,
                        layer=li,
                        head=head,
                        sample="mean",
                        label=None,
                        step=0,
                        stat="mean",
                        difference=[0, 1],
                        scale="linear",
                    )
                ]
            ]
            fr = aw.frame(cap, name, head=head, difference=(0, 1), size=size, class_names=names)
            assert_embeds(state, fr, symmetric=True)
            assert state["_frame_meta"]["vmin"] == -state["_frame_meta"]["vmax"]
    # the class means differ, so the page does not show one picture for every class
    mean0 = data["table"][
        key(
            data,
            layer=1,
            head="mean",
            sample="mean",
            label=0,
            step=0,
            stat="mean",
            difference=None,
            scale="linear",
        )
    ]
    mean1 = data["table"][
        key(
            data,
            layer=1,
            head="mean",
            sample="mean",
            label=1,
            step=0,
            stat="mean",
            difference=None,
            scale="linear",
        )
    ]
    assert not np.array_equal(codes_of(data["states"][mean0]), codes_of(data["states"][mean1]))
    # what the widget shows for a selection is the embedded entry, byte for byte
    hm = view.heatmap
    view.layer, view.label, view.stat = 1, 0, "var"
    state = data["states"][
        data["table"][
            key(
                data,
                layer=1,
                head="mean",
                sample="mean",
                label=0,
                step=0,
                stat="var",
                difference=None,
                scale="linear",
            )
        ]
    ]
    assert state["_frame"] == hm._frame
    view.difference = (1, 0)
    state = data["states"][
        data["table"][
            key(
                data,
                layer=1,
                head="mean",
                sample="mean",
                label=None,
                step=0,
                stat="mean",
                difference=[1, 0],
                scale="linear",
            )
        ]
    ]
    assert state["_frame"] == hm._frame
    assert data["difference"]["ignored"] == {"label": None, "sample": "mean", "stat": "mean"}
    assert data["difference"]["forced"] == {"scale": "linear"}
    assert data["difference"]["colormap"] == "coolwarm"
    text = open(path, encoding="utf-8").read()
    assert "<b>neg</b>" not in text  # a class name is text in JSON, never markup
    assert "default-src 'none'" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)


def test_stats_page_of_a_heatmap_and_a_head_grid(caps, tmp_path):
    cap = caps["stats"]
    data = embedded(to_html(widgets.Heatmap(cap), tmp_path / "h.html", esm=ESM))
    state = data["states"][
        data["table"][
            key(
                data,
                layer=0,
                head=1,
                sample="mean",
                label=1,
                step=0,
                stat="max",
                difference=None,
                scale="linear",
            )
        ]
    ]
    assert_embeds(state, aw.frame(cap, 0, head=1, label=1, stat="max", size=512))

    grid = widgets.HeadGrid(cap)
    data = table_of(grid, stats=("mean",), differences=False)
    assert data["keys"] == ["layer", "head", "sample", "label", "step", "stat"]
    assert data["difference"] is None and data["options"]["differences"] == []
    state = data["states"][
        data["table"][key(data, layer=1, head=0, sample="mean", label=0, step=0, stat="mean")]
    ]
    thumbs = np.frombuffer(state["_thumbs"], dtype=np.uint8)
    for meta in state["_thumbs_meta"]["thumbs"]:
        got = thumbs[meta["offset"] : meta["offset"] + np.prod(meta["shape"])].reshape(meta["shape"])
        fr = aw.frame(cap, 1, head=meta["head"], label=0, stat="mean", size=grid.thumb)
        assert np.array_equal(
            got, np.frombuffer(wire.encode(fr.values)[1], dtype=np.uint8).reshape(got.shape)
        )
    to_html(grid, tmp_path / "g.html", esm=ESM)  # writes


def test_stats_page_options_and_errors(caps, tmp_path):
    cap = caps["steps"]
    data = table_of(widgets.Heatmap(cap), stats=("var", "mean"), layers=[1], heads=["mean"])
    assert [s for s, _ in data["options"]["stats"]] == ["var", "mean"]
    site = {k: v for k, v in data["options"]["layers"][0].items() if k in ("index", "name", "heads", "steps")}
    assert len(data["options"]["layers"]) == 1
    assert site == {"index": 1, "name": "blocks.1", "heads": ["mean"], "steps": [0, 1, 2]}
    # 3 steps x 3 classes x 2 statistics, plus 3 steps x 2 difference maps
    assert len(data["table"]) == 3 * 3 * 2 + 3 * 2
    state = data["states"][
        data["table"][
            key(
                data,
                layer=1,
                head="mean",
                sample="mean",
                label=0,
                step=2,
                stat="var",
                difference=None,
                scale="linear",
            )
        ]
    ]
    assert_embeds(state, aw.frame(cap, 1, label=0, step=2, stat="var", size=512))
    with pytest.raises(ValueError, match="stats must be"):
        page_table(widgets.Heatmap(cap), stats=("median",))
    with pytest.raises(ValueError, match="stats must be"):
        page_table(widgets.Heatmap(cap), stats=())
    from aw_figure_captures import make_text_capture

    with pytest.raises(ValueError, match="no class statistics"):
        page_table(widgets.Heatmap(make_text_capture()), stats=("mean",))


def test_both_page_classes_without_kept_samples_embed_their_statistics(caps, tmp_path):
    cap = caps["both"]
    view = aw.show(cap)
    data = embedded(to_html(view, tmp_path / "both.html", esm=ESM))
    # class 0 keeps no sample: its statistics only; class 1 and "all" keep sample 0
    assert data["options"]["samples"] == {"null": ["mean", 0], "0": ["mean"], "1": ["mean", 0]}
    sel = dict(layer=0, head="mean", step=0, stat="mean", difference=None, scale="linear")
    assert key(data, sample=0, label=0, **sel) not in data["table"]
    assert_embeds(
        data["states"][data["table"][key(data, sample="mean", label=0, **sel)]],
        aw.frame(cap, 0, label=0, stat="mean", size=512),
    )
    # "mean" of a class with statistics is the statistic over every streamed sample
    assert_embeds(
        data["states"][data["table"][key(data, sample="mean", label=1, **sel)]],
        aw.frame(cap, 0, label=1, stat="mean", size=512),
    )
    # a kept sample is itself
    assert_embeds(
        data["states"][data["table"][key(data, sample=0, label=1, **sel)]],
        aw.frame(cap, 0, sample=0, label=1, size=512),
    )
    assert data["initial"]["sample"] == 0 and data["initial"]["label"] is None
    # the statistic does not change a kept sample's frame: one state for all four
    ids = {data["table"][key(data, sample=0, label=1, **dict(sel, stat=s))] for s in FIELDS}
    assert len(ids) == 1


def test_page_starts_at_the_views_difference_map(caps):
    cap = caps["stats"]
    view = widgets.Heatmap(cap, layer=1, label=1, stat="min", scale="log")
    view.difference = (0, 1)
    assert view.colormap == "coolwarm" and view.scale == "linear"
    data = table_of(view)
    init = data["initial"]
    # the class and statistic the view had stay selected; the frame is the difference map
    assert (init["layer"], init["label"], init["stat"], init["difference"]) == (1, 1, "min", [0, 1])
    assert init["_frame"] == view._frame
    assert data["difference"]["before"] == {"colormap": "viridis", "scale": "log"}


# ---------------------------------------------------------------------- animate
def test_animate_a_statistics_capture_walks_the_steps(caps, tmp_path):
    cap = caps["steps"]
    path = animate(cap, tmp_path / "mean.gif", layer=1, label=0, stat="var", head=1)
    with Image.open(path) as im:
        assert im.n_frames == 3
    frames = step_frames(cap, layer=1, label=0, stat="var", head=1)
    for s, fr in enumerate(frames):
        np.testing.assert_array_equal(fr.values, aw.frame(cap, 1, label=0, stat="var", head=1, step=s).values)
    assert not np.array_equal(frames[0].values, frames[1].values)
    pictures = gif_frames(path)
    assert not np.array_equal(pictures[0], pictures[2])

    # default: the mean of every sample at each step
    assert Image.open(animate(cap, tmp_path / "all.gif")).n_frames == 3
    # a view: its statistic, class and colormap; the view itself does not move
    view = widgets.Heatmap(cap, layer=0, label=1, stat="max", colormap="magma")
    with Image.open(aw.animate(view, tmp_path / "view.gif")) as im:
        assert im.n_frames == 3
    assert view.step == 0
    fr = step_frames(view)[2]
    want = aw.frame(cap, 0, label=1, stat="max", step=2, size=view.size)
    np.testing.assert_array_equal(fr.values, want.values)
    # the class-difference map, coloured symmetric about zero
    diff = step_frames(cap, difference=(1, 0))
    assert [f.selection["difference"] for f in diff] == [(1, 0)] * 3
    with Image.open(animate(cap, tmp_path / "diff.gif", difference=(1, 0))) as im:
        assert im.n_frames == 3


def test_animate_one_step_statistics_and_clear_errors(caps, tmp_path):
    # one step: a one-frame GIF of the class statistic, as for a capture that keeps samples
    with Image.open(aw.animate(widgets.Heatmap(caps["stats"]), tmp_path / "one.gif")) as im:
        assert im.n_frames == 1
    with Image.open(aw.animate(caps["stats"], tmp_path / "cap.gif", label=1)) as im:
        assert im.n_frames == 1
    # a class that keeps no sample: say so, and how to animate its statistics
    with pytest.raises(ValueError, match=r"no sample has label 0.*stat='mean'") as err:
        animate(caps["both"], tmp_path / "x.gif", label=0)
    assert "concatenate" not in str(err.value)
    assert Image.open(animate(caps["both"], tmp_path / "ok.gif", label=0, stat="mean")).n_frames == 1
    with pytest.raises(ValueError, match="no statistics for class 7") as err:
        animate(caps["steps"], tmp_path / "x.gif", label=7)
    assert "stat='mean'" not in str(err.value)  # a statistic would not help there
    with pytest.raises(ValueError, match="sample 3 is out of range"):
        animate(caps["both"], tmp_path / "x.gif", sample=3)
    assert not (tmp_path / "x.gif").exists()


# ---------------------------------------------------------------------- arrays, command line
def test_save_arrays_writes_the_statistics(caps, tmp_path):
    cap = caps["stats"]
    written = save_arrays(cap, tmp_path / "raw")
    names = [pathlib.Path(p).name for p in written]
    assert names[-1] == "capture.npz"
    assert not any(n.startswith("attn_raw_") for n in names)  # no sample was kept
    for field in ("classes", "count", "mean", "var", "min", "max", "entropy"):
        assert f"attn_stats_layer_1_blocks.1_{field}.npy" in names
    st = cap.stats["blocks.1"][0]
    stored = lambda field: np.load(tmp_path / "raw" / f"attn_stats_layer_1_blocks.1_{field}.npy")  # noqa: E731
    assert stored("classes").tolist() == ["all", "0", "1"]
    np.testing.assert_array_equal(stored("mean"), st["mean"])
    np.testing.assert_array_equal(stored("count"), st["count"])
    back = aw.load(tmp_path / "raw" / "capture.npz")
    np.testing.assert_array_equal(back.stats["blocks.1"][0]["var"], st["var"])

    both = save_arrays(caps["both"], tmp_path / "both", layers=[0], npz=False)
    assert [pathlib.Path(p).name for p in both][:2] == [
        "attn_raw_layer_0_blocks.0.npy",
        "attn_stats_layer_0_blocks.0_classes.npy",
    ]
    steps = save_arrays(caps["steps"], tmp_path / "steps", layers=[0], npz=False)
    assert "attn_stats_layer_0_blocks.0_step_2_mean.npy" in [pathlib.Path(p).name for p in steps]


def test_command_line_on_saved_statistics_captures(caps, tmp_path, capsys):
    stats = caps["stats"].save(tmp_path / "stats.npz")
    both = caps["both"].save(tmp_path / "both.npz")
    assert main(["info", stats, "--class-names", "0=neg,1=pos"]) == 0
    out = capsys.readouterr().out
    assert "statistics [head=2, query=8, key=8]" in out
    assert "statistics: 40 sample(s); classes 0 (neg): 21, 1 (pos): 19" in out
    assert main(["info", both]) == 0
    out = capsys.readouterr().out
    assert "[sample=1, head=2, query=8, key=8] + statistics" in out and "classes: 1: 1" in out

    out_dir = tmp_path / "figs"
    assert main(["export", stats, "--out", str(out_dir), "--quiet", "--raw"]) == 0
    names = sorted(p.name for p in out_dir.iterdir())
    figures = [n for n in names if n.endswith(".png")]
    assert figures == sorted(
        f"{kind}_layer_{i}_blocks.{i}{tail}.png"
        for i in range(2)
        for kind, tail in [
            ("heatmap", ""),
            ("multihead", ""),
            ("class_mean", "_0"),
            ("class_mean", "_1"),
            ("class_difference", "_1_minus_0"),
        ]
    )
    assert "capture.npz" in names and len([n for n in names if n.startswith("attn_stats_")]) == 14
    with Image.open(out_dir / "heatmap_layer_1_blocks.1.png") as im:
        assert im.format == "PNG" and im.size[0] > 300
    capsys.readouterr()

    # a class with statistics and no kept sample: its statistics figures (tests/figures/test_stats_gallery.py)
    assert main(["export", stats, "--out", str(tmp_path / "s0"), "--class", "0", "--quiet"]) == 0
    assert main(["export", both, "--out", str(tmp_path / "b0"), "--class", "0", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "b0").iterdir()) == [
        "class_mean_layer_0_blocks.0_0.png",
        "class_mean_layer_1_blocks.1_0.png",
    ]

    done = subprocess.run(
        [sys.executable, "-m", "attnwidget", "info", stats], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "statistics: 40 sample(s)" in done.stdout
