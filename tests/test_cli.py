"""The command line: ``attnwidget info`` and ``attnwidget export`` on saved captures.

The main test runs seed 000's audio lesson model (untrained: the capture's
shape is what matters) through ``aw.collect``, saves the capture, and checks
that ``export`` writes every file of seed 000's gallery. A contact sheet of
the PNGs is left in ``artifacts/cli/`` for a person to look at.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from attnwidget.cli import main, parse_class_names

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "figures"))
from aw_figure_captures import make_text_capture  # noqa: E402

SEED000 = [
    "layer_weight_heatmap_spoof.png",
    "layer_weight_heatmap_bonafide.png",
    "layer_weight_comparison.png",
    "temporal_attention_heatmap_spoof.png",
    "temporal_attention_heatmap_bonafide.png",
    "intra_group_attention_spoof.png",
    "intra_group_attention_bonafide.png",
    "inter_group_attention_spoof.png",
    "inter_group_attention_bonafide.png",
]


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory) -> pathlib.Path:
    """The audio lesson's capture, saved as the notebook would save it."""
    import torch

    sys.path.insert(0, str(ROOT / "notebooks"))
    from lessons import audio

    torch.manual_seed(0)
    model = audio.LayerAttentionModel().eval()
    cap = audio.collect(model, n=16)
    return pathlib.Path(cap.save(tmp_path_factory.mktemp("run") / "run.npz"))


def contact_sheet(paths, out: pathlib.Path, width: int = 420) -> None:
    thumbs = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        im.thumbnail((width, width))
        thumbs.append(im)
    cols = 3
    rows = -(-len(thumbs) // cols)
    sheet = Image.new("RGB", (cols * width, rows * width), "white")
    for i, im in enumerate(thumbs):
        sheet.paste(im, ((i % cols) * width, (i // cols) * width))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    print(f"contact sheet: {out}")


def test_export_writes_seed_000_gallery(audio_run, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["export", str(audio_run), "--out", str(out), "--class-names", "0=spoof,1=bonafide"]) == 0
    written = sorted(p.name for p in out.iterdir())
    for name in SEED000:
        assert name in written, f"{name} missing from {written}"
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.size[0] > 300
    # the attention sites of the encoder get their heatmaps and head grids too
    assert any(n.startswith("heatmap_layer_0_") for n in written)
    assert any(n.startswith("multihead_layer_0_") for n in written)
    err = capsys.readouterr().err
    assert "attnwidget export" in err and "100%" in err  # the progress bar ran
    contact_sheet([out / n for n in SEED000], ROOT / "artifacts" / "cli" / "seed000_gallery.png")


def test_export_filters_layer_head_class_format(audio_run, tmp_path):
    out = tmp_path / "one"
    args = [
        "export",
        str(audio_run),
        "--out",
        str(out),
        "--class-names",
        "spoof,bonafide",
        "--class",
        "bonafide",
        "--layer",
        "layer_weights",
        "--layer",
        "0",
        "--head",
        "1",
        "--format",
        "pdf",
        "--dpi",
        "72",
        "--quiet",
    ]
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "heatmap_layer_0_encoder.0.self_attn.pdf",
        "layer_weight_comparison.pdf",
        "layer_weight_heatmap_bonafide.pdf",
        "multihead_layer_0_encoder.0.self_attn.pdf",
    ]
    assert (out / names[0]).read_bytes()[:5] == b"%PDF-"


def test_export_svg_and_raw_arrays(tmp_path):
    cap = make_text_capture()
    run = cap.save(tmp_path / "text.npz")
    out = tmp_path / "svg"
    assert (
        main(
            [
                "export",
                run,
                "--out",
                str(out),
                "--format",
                "svg",
                "--raw",
                "--quiet",
                "--layer",
                "decoder.layers.0.cross_attn",
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert "heatmap_layer_1_decoder.layers.0.cross_attn.svg" in names
    assert "steps_layer_1_decoder.layers.0.cross_attn.gif" in names  # 3 steps -> an animation
    assert "attention_summary.svg" in names
    assert "attn_raw_layer_1_decoder.layers.0.cross_attn_step_2.npy" in names
    assert np.array_equal(
        np.load(out / "attn_raw_layer_1_decoder.layers.0.cross_attn_step_2.npy"), cap.get(1, 2)
    )


def test_info_prints_what_the_capture_holds(audio_run, capsys):
    assert main(["info", str(audio_run), "--class-names", "0=spoof,1=bonafide"]) == 0
    out = capsys.readouterr().out
    assert "13 site(s), 1 step(s), 16 sample(s)" in out
    assert "layer_weights" in out and "[sample=16, layer=9]" in out
    assert "classes: 0 (spoof): 8, 1 (bonafide): 8" in out


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--layer", "99"], "unknown layer '99'"),
        (["--layer", "decoder.nope"], "unknown layer 'decoder.nope'"),
        (["--head", "7"], "head 7 is out of range"),
        (["--head", "first"], "--head must be an int"),
        (["--class", "fake"], "unknown class 'fake'; classes are: 0 (spoof), 1 (bonafide)"),
        (["--dpi", "0"], "--dpi must be positive"),
    ],
)
def test_export_bad_input_is_one_clear_line(audio_run, tmp_path, capsys, extra, message):
    out = tmp_path / "never"
    code = main(
        [
            "export",
            str(audio_run),
            "--out",
            str(out),
            "--class-names",
            "0=spoof,1=bonafide",
            "--quiet",
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not out.exists()  # nothing written


def test_missing_and_corrupt_files(tmp_path, capsys, audio_run):
    assert main(["info", str(tmp_path / "nope.npz")]) == 2
    assert "no capture file at" in capsys.readouterr().err
    broken = tmp_path / "broken.npz"
    broken.write_bytes(audio_run.read_bytes()[:500])
    assert main(["export", str(broken), "--out", str(tmp_path / "o")]) == 2
    assert "is not a readable attnwidget capture" in capsys.readouterr().err
    other = tmp_path / "other.npz"
    np.savez(other, x=np.ones(3))
    assert main(["info", str(other)]) == 2
    assert "no attnwidget header" in capsys.readouterr().err
    assert main(["info", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_class_names_parsing():
    assert parse_class_names("0=spoof,1=bonafide") == {0: "spoof", 1: "bonafide"}
    cap = make_text_capture()
    cap.metadata["class_names"] = ["spoof", "bonafide"]  # a list stored by a notebook
    assert parse_class_names(None, cap) == {0: "spoof", 1: "bonafide"}
    assert parse_class_names("1=real", cap) == {0: "spoof", 1: "real"}
    assert parse_class_names("a=x") == {"a": "x"}
    assert parse_class_names(None) == {}


def test_python_dash_m(tmp_path):
    run = make_text_capture().save(tmp_path / "t.npz")
    done = subprocess.run(
        [sys.executable, "-m", "attnwidget", "info", run],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "decoder.layers.0.cross_attn" in done.stdout and "cross" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "attnwidget", "export", run],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == 2 and "--out" in bad.stderr
