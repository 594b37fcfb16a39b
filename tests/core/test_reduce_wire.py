"""Pure reductions, the uint8 wire codes and the shared colormap tables."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from attnwidget import colormaps, wire
from attnwidget.reduce import entropy, head_stats, pool_array, pool_axis, reduce_heads, rollout

ROOT = Path(__file__).resolve().parents[2]


def test_pool_axis_handles_partial_blocks():
    x = torch.arange(10, dtype=torch.float32)
    assert torch.allclose(pool_axis(x, 0, 4), torch.tensor([1.5, 5.5, 8.5]))
    assert torch.allclose(pool_axis(x, 0, 4, "max"), torch.tensor([3.0, 7.0, 9.0]))
    a = np.random.default_rng(0).random((5, 7)).astype(np.float32)
    p = pool_array(a, (2, 3))
    assert p.shape == (3, 3) and np.isclose(p[2, 2], a[4:, 6:].mean())


def test_reduce_heads():
    w = torch.rand(2, 4, 3, 3)
    assert torch.equal(reduce_heads(w, "all"), w)
    assert torch.allclose(reduce_heads(w, "mean")[:, 0], w.mean(1))
    assert torch.equal(reduce_heads(w, [3, 1]), w[:, [3, 1]])


def test_rollout_and_entropy():
    eye = np.eye(4, dtype=np.float32)
    assert np.allclose(rollout([eye, eye]), eye)
    uniform = np.full((4, 4), 0.25)
    assert np.allclose(rollout([uniform], residual=False), uniform)
    assert np.isclose(entropy(np.full(8, 1 / 8)), np.log(8), atol=1e-6)
    w = np.zeros((1, 2, 3, 4), np.float32)
    w[0, 0] = 0.25  # head 0 uniform
    w[0, 1, :, 0] = 1.0  # head 1 collapsed on key 0
    s = head_stats(w)
    assert np.allclose(s["entropy"], [1.0, 0.0], atol=1e-6)
    assert np.allclose(s["max"], [0.25, 1.0])
    assert s["sparsity"][1] == pytest.approx(0.75)


def test_quantize_linear_and_log():
    v = np.array([[0.0, 0.5, 1.0]])
    assert wire.quantize(v, 0, 1).tolist() == [[0, 127, wire.TOP]]  # codes 0..254; 255 is NaN
    lg = wire.quantize(np.array([[1e-3, 1e-2, 1e-1]]), 1e-3, 1e-1, "log")
    assert lg.tolist() == [[0, 127, wire.TOP]]
    header, payload = wire.encode(np.random.rand(7, 5))
    assert len(payload) == 35 and header["shape"] == [7, 5] and header["dtype"] == "uint8"
    with pytest.raises(ValueError, match="scale"):
        wire.quantize(v, 0, 1, "sqrt")


def test_js_colormaps_match_python_tables():
    text = (ROOT / "js" / "colormaps.js").read_text()
    assert text == colormaps._js_module(), "regenerate: python -m attnwidget.colormaps > js/colormaps.js"
    tables = re.search(r"const TABLES = (\{.*\});", text).group(1)
    import json

    for name, values in json.loads(tables).items():
        assert np.array_equal(np.array(values, dtype=np.uint8).reshape(256, 3), colormaps.lut(name))
    with pytest.raises(ValueError, match="unknown colormap"):
        colormaps.lut("rainbow")
