"""A live class-difference map outlines the cells where the classes differ, as the figures do.

The view sends the significant cells in its frame header (``outline``: one bit per cell,
numpy.packbits order, base64) with the test's count in the caption; a zoomed view gets the
whole-matrix test cut to its region; pooled cells say why they are not tested; the saved
figure carries the same outline. The page draws it (tests/js/outline.test.js, and the
browser test of the explorer).
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
import traitlets as t
from matplotlib.collections import LineCollection

import attnwidget as aw
from attnwidget.figures import view_figure


@pytest.fixture
def two_classes() -> aw.Capture:
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(8), size=(40, 2, 8)).astype(np.float32)  # [sample, head, query, key]
    labels = np.repeat([0, 1], 20)
    w[labels == 1, :, 2, 5] += 0.5  # class 1 puts more weight on cell (2, 5), in both heads
    w[labels == 1, 1, 6, 1] += 0.5  # and on (6, 1) in head 1 only
    cap = aw.Capture.from_attentions({"enc": w})
    cap.labels = labels
    return cap


def outline_of(view) -> np.ndarray | None:
    meta = view._frame_meta
    if "outline" not in meta:
        return None
    rows, cols = meta["shape"]
    bits = np.unpackbits(np.frombuffer(base64.b64decode(meta["outline"]), np.uint8))[: rows * cols]
    return bits.reshape(rows, cols).astype(bool)


def test_the_difference_map_outlines_the_cells_the_test_finds(two_classes):
    hm = aw.Heatmap(two_classes, difference=(1, 0), head=0)
    expected = np.zeros((8, 8), bool)
    expected[2, 5] = True
    np.testing.assert_array_equal(outline_of(hm), expected)
    assert "1 of 8^2 cells differ at q < 0.05" in hm._frame_meta["caption"]
    np.testing.assert_array_equal(outline_of(hm), aw.significance(two_classes, 1, 0, "enc", head=0).mask)
    hm.head = 1  # the head-only difference appears with its head
    assert outline_of(hm)[6, 1] and outline_of(hm).sum() == 2
    hm.head = "mean"  # a head mean: the cells where some head differs
    assert outline_of(hm).sum() == 2 and "(in some head)" in hm._frame_meta["caption"]


def test_no_outline_without_a_difference_or_with_significance_off(two_classes):
    hm = aw.Heatmap(two_classes, head=0)
    assert outline_of(hm) is None and "cells differ" not in hm._frame_meta["caption"]
    hm.difference = (1, 0)
    assert outline_of(hm) is not None
    hm.significance = None
    assert outline_of(hm) is None and "cells differ" not in hm._frame_meta["caption"]
    hm.significance = 0.2
    assert outline_of(hm) is not None and "q < 0.2" in hm._frame_meta["caption"]
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(t.TraitError, match="between 0 and 1"):
            hm.significance = bad


def test_a_zoomed_view_cuts_the_whole_matrix_test_and_pooled_cells_say_why(two_classes):
    hm = aw.Heatmap(two_classes, difference=(1, 0), head=0, region=[1, 4, 4, 8])
    mask = outline_of(hm)
    assert mask.shape == (3, 4) and mask[1, 1] and mask.sum() == 1  # cell (2, 5) of the matrix
    assert "1 of 8^2 cells differ" in hm._frame_meta["caption"]
    assert "1 in this region" in hm._frame_meta["caption"]
    hm.region = None
    hm.size = 4  # 8 x 8 pooled to 4 x 4: not the captured cells
    assert outline_of(hm) is None
    assert "not on pooled cells" in hm._frame_meta["caption"]


def test_the_explorer_and_the_saved_figure_carry_the_outline(two_classes, tmp_path):
    ex = aw.show(two_classes, head=0)
    ex.heatmap.difference = (1, 0)
    assert outline_of(ex.heatmap).sum() == 1
    fig = view_figure(ex.heatmap)
    lines = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    assert len(lines) == 1
    points = np.concatenate(lines[0].get_segments())
    # the four edges of cell (2, 5): x 4.5..5.5, y 1.5..2.5
    assert points[:, 0].min() == 4.5 and points[:, 0].max() == 5.5
    assert points[:, 1].min() == 1.5 and points[:, 1].max() == 2.5
    assert "1 of 8^2 cells differ" in fig.axes[0].get_title()
