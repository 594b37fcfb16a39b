"""heatmap(difference=(a, b), significance=q): the cells where two classes differ are outlined and
counted in the title; a difference built into the data is found there and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection

import attnwidget as aw
from attnwidget.figures import heatmap


@pytest.fixture
def two_classes() -> aw.Capture:
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(6), size=(40, 2, 6)).astype(np.float32)  # [sample, head, query, key]
    labels = np.repeat([0, 1], 20)
    w[labels == 1, :, 0, 0] += 0.5  # class 1 puts more weight on cell (0, 0), in both heads
    cap = aw.Capture.from_attentions({"enc": w})
    cap.labels = labels
    return cap


def test_the_built_in_difference_is_outlined_and_counted(two_classes):
    fig = heatmap(two_classes, difference=(1, 0), head=0, significance=0.05)
    title = fig.axes[0].get_title()
    assert "1 of 6^2 cells differ at q < 0.05" in title
    lines = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    assert len(lines) == 1
    # the outline is the four edges of cell (0, 0): x and y within -0.5..0.5
    points = np.concatenate(lines[0].get_segments())
    assert points.min() == -0.5 and points.max() == 0.5
    every = heatmap(two_classes, difference=(1, 0), head="mean", significance=0.05)
    assert "(in some head)" in every.axes[0].get_title()


def test_two_halves_of_one_class_outline_nothing(two_classes):
    labels = two_classes.labels.copy()
    two_classes.labels = np.where(np.arange(40) % 2 == 0, 0, 2)  # two halves, no built-in difference
    two_classes.labels[labels == 1] = 3
    fig = heatmap(two_classes, difference=(0, 2), head=0, significance=0.05)
    assert "0 of 6^2 cells" in fig.axes[0].get_title()
    assert not [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]


def test_significance_needs_a_difference_and_the_whole_matrix(two_classes):
    with pytest.raises(ValueError, match="difference=\\(a, b\\)"):
        heatmap(two_classes, significance=0.05)
    with pytest.raises(ValueError, match="captured cells"):
        heatmap(two_classes, difference=(1, 0), size=3, significance=0.05)
    with pytest.raises(ValueError, match="captured cells"):
        heatmap(two_classes, difference=(1, 0), groups=[range(0, 3), range(3, 6)], significance=0.05)


def test_a_region_is_tested_over_the_whole_matrix_and_cut(two_classes):
    inside = heatmap(two_classes, difference=(1, 0), head=0, region=(0, 3, 0, 3), significance=0.05)
    assert "1 of 6^2 cells differ" in inside.axes[0].get_title()
    assert "1 in this region" in inside.axes[0].get_title()
    assert [c for c in inside.axes[0].collections if isinstance(c, LineCollection)]
    outside = heatmap(two_classes, difference=(1, 0), head=0, region=(2, 6, 2, 6), significance=0.05)
    assert "0 in this region" in outside.axes[0].get_title()
    assert not [c for c in outside.axes[0].collections if isinstance(c, LineCollection)]
