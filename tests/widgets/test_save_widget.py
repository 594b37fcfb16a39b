"""view.save() goes through attnwidget.figures and draws the frame the view shows."""

from __future__ import annotations

import numpy as np

import attnwidget as aw
from attnwidget.colormaps import apply


def test_save_writes_a_png_of_each_view(cap, tmp_path):
    ex = aw.show(cap, layer=1, head=2)
    for view in (ex.heatmap, ex.headgrid, ex.headstats, ex):
        path = view.save(tmp_path / f"{type(view).__name__}.png", dpi=60)
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_bare_export_has_the_widget_colours(cap, tmp_path):
    import matplotlib.image

    import attnwidget.figures as figures

    hm = aw.Heatmap(cap, layer=2, head=1, colormap="magma")
    path = figures.save_view(hm, tmp_path / "bare.png", axes=False, pixels_per_cell=1)
    png = (matplotlib.image.imread(path)[..., :3] * 255).round().astype(np.uint8)
    codes = np.frombuffer(hm._frame, np.uint8).reshape(hm._frame_meta["shape"])
    np.testing.assert_array_equal(png, apply(codes, "magma"))
