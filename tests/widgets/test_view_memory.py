"""A view of a large capture needs memory for what it shows, not copies of the capture."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_show_peaks_within_half_the_capture_plus_a_fixed_amount():
    script = textwrap.dedent("""
        import resource
        import numpy as np
        import attnwidget as aw
        import attnwidget.widgets  # noqa: F401  (imports counted before the baseline)
        rng = np.random.default_rng(0)
        w = rng.random((100, 8, 256, 256), dtype=np.float32)
        w /= w.sum(-1, keepdims=True)
        cap = aw.Capture()
        cap.add("attn", 0, w, kind="self")
        small = aw.Capture()
        small.add("attn", 0, w[:1].copy(), kind="self")
        aw.show(small)  # warm-up: first-use costs of the widgets are not the view's
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        ex = aw.show(cap)
        ex.sample = 3
        ex.headstats.refresh() if hasattr(ex.headstats, "refresh") else None
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(peak - base, cap.nbytes)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    extra, size = map(int, out.stdout.split())
    # head statistics once made float64 copies: 7x the capture
    assert extra <= 0.5 * size + (64 << 20), (extra / 2**20, size / 2**20)
