"""aw.show(rec) is live: the explorer follows the recorder's capture as training records new steps."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from _record_models import VOCAB

import attnwidget as aw


def _train(model, rec, steps: int) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    for _ in range(steps):
        x = torch.randint(0, VOCAB, (4, 6))
        loss = F.cross_entropy(model(x).flatten(0, 1), x.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step()


def test_the_explorer_follows_the_recorder_and_its_step_slider_grows(tiny):
    rec = aw.record(tiny, torch.arange(6)[None] % VOCAB, every=2, tokens=list("abcdef"))
    ex = aw.show(rec, head=1)
    assert ex.cap is rec.capture and rec.views == [ex]
    assert ex.controls.step.layout.display == "none"  # one record so far
    _train(tiny, rec, 6)
    cap = rec.capture
    assert cap.steps == 4 and rec.labels == [0, 2, 4, 6]
    c = ex.controls
    assert (c.step.max, c.play.max) == (3, 3) and {"step", "play", "step_label"} <= set(c.visible())
    # left on the newest record, it moved on with each one
    assert ex.step == ex.heatmap.step == 3 and c.step.value == 3
    assert c.step_label.value == "training step 6"
    expected = aw.frame(cap, 0, head=1, step=3, size=ex.heatmap.size)
    np.testing.assert_array_equal(ex.frame().values, expected.values)
    assert ex.heatmap._frame_meta["title"] == expected.title and expected.title.endswith("training step 6")
    assert ex.heatmap._labels["cols"] == list("abcdef")
    # Play replays how attention formed: every record is there to step through
    c.step.value = 1
    assert ex.step == 1 and c.step_label.value == "training step 2"
    np.testing.assert_array_equal(ex.frame().values, aw.frame(cap, 0, head=1, step=1).values)
    # a view moved back to an earlier record stays there while training goes on
    _train(tiny, rec, 2)
    assert ex.step == 1 and c.step.max == 4 and ex.head == 1
    np.testing.assert_array_equal(
        ex.headgrid.frames()[1].values, aw.frame(cap, 0, head=1, step=1, size=64).values
    )


def test_single_views_follow_too_and_closed_ones_are_dropped(tiny):
    rec = aw.record(tiny, torch.arange(5)[None], every=1)
    heatmap, stats = aw.Heatmap(rec), aw.HeadStats(rec)
    explorer = aw.show(rec)
    assert rec.views == [heatmap, stats, explorer]
    explorer.close()
    _train(tiny, rec, 2)
    assert rec.views == [heatmap, stats]
    assert heatmap.step == 2 and stats.step == 2 and explorer.cap.steps == 3
    np.testing.assert_array_equal(heatmap.frame().values, aw.frame(rec.capture, 0, step=2).values)
    # assigning the recorder to an open view makes it follow from then on
    other = aw.Heatmap(rec.capture, step=0)
    other.capture = rec
    _train(tiny, rec, 1)
    assert other in rec.views and other.step == 0 and other.cap.steps == 4
