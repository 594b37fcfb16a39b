"""The first capture in a fresh process pulls in no heavy module (what a notebook pays on first use)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_first_capture_and_collect_do_not_import_sympy():
    # torch.broadcast_shapes, for one, imports torch's symbolic shapes and sympy: ~40 MiB and ~1 s
    script = textwrap.dedent("""
        import sys
        import torch
        import torch.nn.functional as F
        import attnwidget as aw

        class Net(torch.nn.Module):
            def forward(self, x):
                q = x.reshape(2, 3, 4, 8)
                return F.scaled_dot_product_attention(q, q, q)

        assert "sympy" not in sys.modules, "torch itself imported sympy"
        net = Net()
        with aw.capture(net) as cap:
            net(torch.randn(2, 96))
        assert cap.get(cap.layers[0]).shape == (2, 3, 4, 4)
        aw.collect(Net(), [torch.randn(2, 96)] * 3, keep="stats", progress=False)
        print(sorted(m for m in sys.modules if m.split(".")[0] == "sympy")[:5])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
