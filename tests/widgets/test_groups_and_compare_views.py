"""Views take groups= as frame() does, and show aw.compare's difference sites on a diverging scale."""

from __future__ import annotations

import numpy as np
import torch

import attnwidget as aw
from attnwidget.colormaps import DIVERGING


def _model_capture(seed: int) -> aw.Capture:
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0).eval()
    with torch.no_grad(), aw.capture(layer) as cap:
        layer(torch.randn(3, 8, 16))
    return cap


def test_views_group_positions_as_the_frame_does():
    cap = _model_capture(0)
    groups = {"query": {"first half": range(0, 4), "second half": range(4, 8)}}
    view = aw.show(cap, groups=groups, head=1, sample=2)
    fr = view.heatmap.frame()
    expected = aw.frame(cap, head=1, sample=2, groups=groups)
    np.testing.assert_array_equal(fr.values, expected.values)
    assert fr.row_labels == ["first half", "second half"] and len(fr.col_labels) == 8
    assert view.heatmap._frame_meta["shape"] == [2, 8]
    # the head grid's thumbnails are grouped too
    assert all(f.shape == (2, 8) for f in view.headgrid.frames())
    # a grouped figure of the view is the same frame
    view.heatmap.groups = None
    assert view.heatmap._frame_meta["shape"] == [8, 8]


def test_compare_difference_sites_open_on_a_diverging_scale():
    a, b = _model_capture(0), _model_capture(1)
    cmp = aw.compare(a, b, names=("A", "B"))
    sites = cmp.capture.sites
    diff = next(s for s in sites if "−" in s)
    hm = aw.Heatmap(cmp.capture, layer=sites.index(diff))
    assert hm.colormap == DIVERGING
    lo, hi = hm._frame_meta["vmin"], hm._frame_meta["vmax"]
    assert np.isclose(lo, -hi)
    hm.layer = 0  # run A: back to the colormap it had
    assert hm.colormap == "viridis"
    hm.layer = sites.index(diff)
    assert hm.colormap == DIVERGING
