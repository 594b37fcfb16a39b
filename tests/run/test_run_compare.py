"""``attnwidget export a.npz --compare b.npz``: compare_layer{N}.png per site, and runs that do not match."""

from __future__ import annotations

import os

import numpy as np
from conftest import run
from PIL import Image

import attnwidget as aw


def captures(folders, tmp_path, capsys, *texts) -> list:
    paths = []
    for k, text in enumerate(texts):
        path = tmp_path / f"run{k}.npz"
        rc, _, err = run(["run", "--model", folders["gpt2"], "--input", text, "--layer", "0", "--capture", path,
                          "--out", tmp_path / f"figs{k}", "--quiet"], capsys)  # fmt: skip
        assert rc == 0, err
        paths.append(path)
    return paths


def test_compare_writes_one_figure_per_site_and_refuses_runs_that_differ(folders, tmp_path, capsys):
    a, b, short = captures(folders, tmp_path, capsys, "the cat sat", "the dog ran", "hello")
    rc, out, err = run(
        ["export", a, "--compare", b, "--names", "LA,DF", "--out", tmp_path / "cmp", "--quiet"], capsys
    )
    assert rc == 0, err
    assert sorted(os.listdir(tmp_path / "cmp")) == ["compare_layer0.png", "compare_layer1.png"]
    assert "wrote 2 file(s)" in out
    png = np.asarray(Image.open(tmp_path / "cmp" / "compare_layer1.png"))
    assert png.std() > 10
    expected = aw.compare(aw.load(a), aw.load(b), names=("LA", "DF"))
    assert [expected.filename(s) for s in expected.sites] == ["compare_layer0.png", "compare_layer1.png"]
    rc, _, err = run(
        ["export", a, "--compare", b, "--layer", "1", "--out", tmp_path / "one", "--quiet"], capsys
    )
    assert rc == 0, err
    assert os.listdir(tmp_path / "one") == ["compare_layer1.png"]
    rc, _, err = run(["export", a, "--compare", b, "--out", tmp_path / "cmp", "--quiet"], capsys)
    assert rc == 2 and "already exist" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run(["export", a, "--compare", short, "--out", tmp_path / "bad", "--quiet"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "transformer.h.0.attn" in err and "cannot be compared" in err
    assert not os.path.exists(tmp_path / "bad")
    rc, _, err = run(["export", a, "--compare", b, "--raw", "--out", tmp_path / "raw"], capsys)
    assert rc == 2 and "--raw does not go with --compare" in err
