"""A view's first frame imports no plotting library: the explorer's first paint in a fresh kernel
is not held up by importing matplotlib (about a second, cold), which only a class-difference
frame's significance test (attnwidget.analysis) and the figures need."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import numpy as np
import attnwidget as aw
from attnwidget.store import Capture

rng = np.random.default_rng(0)
cap = Capture()
for i in range(2):
    cap.add(f"layer.{i}", 0, rng.random((2, 4, 6, 6)).astype(np.float32), kind="self")
before = "matplotlib" in sys.modules
views = [aw.Heatmap(cap), aw.HeadGrid(cap, mode="model"), aw.Explorer(cap)]
print(json.dumps({"before": before, "after": "matplotlib" in sys.modules,
                  "frames": [len(views[0]._frame), len(views[1]._thumbs)]}))
"""


def test_views_draw_their_first_frame_without_matplotlib():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["frames"] == [36, 2 * 4 * 36]  # the views did compute their frames
    assert not got["before"], "importing attnwidget imports matplotlib"
    assert not got["after"], "a heatmap, head grid or explorer imported matplotlib for its first frame"
