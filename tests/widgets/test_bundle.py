"""The checked-in bundles in attnwidget/static are what `npm run build` makes now."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATIC = ROOT / "attnwidget" / "static"
VIEWS = ("heatmap", "headgrid", "overlay", "weights")


def test_bundles_are_up_to_date(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed, so the bundles cannot be rebuilt")
    if not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.skip("node_modules/esbuild is missing: run `npm ci` first")
    out = tmp_path / "static"
    done = subprocess.run(
        ["node", "js/build.mjs", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for view in VIEWS:
        fresh = (out / f"{view}.js").read_text()
        assert (STATIC / f"{view}.js").read_text() == fresh, (
            f"attnwidget/static/{view}.js is stale: run `npm run build` and check it in"
        )


def test_each_view_module_exports_render():
    for view in VIEWS:
        text = (STATIC / f"{view}.js").read_text()
        assert "export {" in text and "render" in text, f"{view}.js exports no render()"
        assert "innerHTML" not in text, f"{view}.js uses innerHTML: token strings must stay text"
        assert "http://" not in text and "https://" not in text, f"{view}.js loads something from the web"
