"""Capture options, site selection, error messages, cleanup, memory and the .npz round trip.

Every reduced capture is compared with the full-resolution capture of the
same forward call reduced by hand in numpy here (head mean/max/selection,
query rows, block pooling with a partial last block, float16), so the
options are checked against an independent implementation.
"""

from __future__ import annotations

import gc
import json
import math
import os
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnwidget as aw

H, D = 4, 8  # heads, head size
N, L, M = 2, 23, 17  # samples, query length (prime: partial blocks), memory length


# --------------------------------------------------------------------------- a small model
class Block(nn.Module):
    """Self-attention through F.scaled_dot_product_attention, optionally causal."""

    def __init__(self, causal=False):
        super().__init__()
        self.qkv = nn.Linear(H * D, 3 * H * D)
        self.causal = causal
        self.fail = False

    def forward(self, x):
        if self.fail:
            raise RuntimeError("boom inside the model")
        n, length, _ = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, H, D).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return x + y.transpose(1, 2).reshape(n, length, H * D)


class Cross(nn.Module):
    """Cross-attention to a memory of another length, with a padding mask (bool, True = keep)."""

    def __init__(self):
        super().__init__()
        self.q = nn.Linear(H * D, H * D)
        self.kv = nn.Linear(H * D, 2 * H * D)

    def forward(self, x, memory, keep):
        n, length, _ = x.shape
        q = self.q(x).reshape(n, length, H, D).transpose(1, 2)
        k, v = self.kv(memory).reshape(n, memory.shape[1], 2, H, D).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
        return x + y.transpose(1, 2).reshape(n, length, H * D)


class Tiny(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block(causal=True), Block()])
        self.cross = Cross()
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(H * D, 5)

    def forward(self, x, memory, keep):
        for b in self.blocks:
            x = self.drop(b(x))
        x = self.cross(x, memory, keep)
        return self.head(x)


SITES = ["blocks.0", "blocks.1", "blocks.2", "cross"]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = Tiny().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, L, H * D, generator=g)
    memory = torch.randn(N, M, H * D, generator=g)
    keep = torch.ones(N, M, dtype=torch.bool)
    keep[1, 12:] = False
    with torch.no_grad(), aw.capture(model) as full:
        model(x, memory, keep)
    return model, (x, memory, keep), full


def run(model, inputs, **options):
    with torch.no_grad(), aw.capture(model, **options) as cap:
        model(*inputs)
    return cap


# --------------------------------------------------------------------------- numpy reductions
def np_pool(a, axis, block, how):
    """Block-pool one axis; the last block holds what is left."""
    if block <= 1:
        return a
    n = a.shape[axis]
    parts = []
    for start in range(0, n, block):
        chunk = np.take(a, np.arange(start, min(start + block, n)), axis=axis)
        parts.append(
            chunk.mean(axis=axis, keepdims=True) if how == "mean" else chunk.max(axis=axis, keepdims=True)
        )
    return np.concatenate(parts, axis=axis)


def np_reduce(full, heads="all", rows=None, max_size=None, pool="mean"):
    a = full.astype(np.float64)
    if rows is not None:
        a = a[:, :, [r % a.shape[2] for r in rows]]
    if heads == "mean":
        a = a.mean(1, keepdims=True)
    elif heads == "max":
        a = a.max(1, keepdims=True)
    elif heads != "all":
        a = a[:, list(heads)]
    if max_size:
        bq = math.ceil(a.shape[2] / max_size)
        bk = math.ceil(a.shape[3] / max_size)
        a = np_pool(np_pool(a, 3, bk, pool), 2, bq, pool)
    return a


# --------------------------------------------------------------------------- the full capture
def test_full_capture_is_sane(setup):
    model, inputs, full = setup
    assert full.layers == SITES
    assert full.kinds == {"blocks.0": "self", "blocks.1": "self", "blocks.2": "self", "cross": "cross"}
    assert full.steps == 1
    for name in SITES[:3]:
        a = full.get(name)
        assert a.shape == (N, H, L, L) and a.dtype == np.float32
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    causal = full.get("blocks.1")
    assert causal[..., np.triu(np.ones((L, L), bool), 1)].max() == 0.0
    c = full.get("cross")
    assert c.shape == (N, H, L, M) and c[1, ..., 12:].max() == 0.0


def test_steps_count_forward_calls(setup):
    model, (x, memory, keep), full = setup
    with torch.no_grad(), aw.capture(model) as cap:
        model(x, memory, keep)
        model.blocks[0](x[:, :10])  # a submodule alone is not a step of the model
        model(x[:, :10], memory, keep)
    assert cap.steps == 2
    np.testing.assert_array_equal(cap.get("blocks.2", step=0), full.get("blocks.2"))
    assert cap.get("blocks.2", step=1).shape == (N, H, 10, 10)
    assert cap.get("cross", step=-1).shape == (N, H, 10, M)
    assert cap.steps_of("blocks.1") == [0, 1]


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("heads", ["mean", "max", [2, 0], [3], [-1]])
def test_heads(setup, heads):
    model, inputs, full = setup
    cap = run(model, inputs, heads=heads)
    for name in SITES:
        expected = np_reduce(full.get(name), heads=heads)
        got = cap.get(name)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("rows", [[0], [0, 5, 22], [-1, 3]])
def test_rows(setup, rows):
    model, inputs, full = setup
    cap = run(model, inputs, rows=rows)
    for name in SITES:
        got = cap.get(name)
        assert got.shape[2] == len(rows)
        np.testing.assert_allclose(got, np_reduce(full.get(name), rows=rows), atol=1e-6)


@pytest.mark.parametrize("pool", ["mean", "max"])
@pytest.mark.parametrize("max_size", [1, 5, 8, 12, 40])
def test_max_size_pooling(setup, pool, max_size):
    model, inputs, full = setup
    cap = run(model, inputs, max_size=max_size, pool=pool)
    for name in SITES:
        got = cap.get(name)
        expected = np_reduce(full.get(name), max_size=max_size, pool=pool)
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        assert got.shape[2] <= max_size and got.shape[3] <= max_size
        np.testing.assert_allclose(got, expected, atol=1e-6)
        info = cap.info[name]
        assert info["query_len"] == L
        assert info["key_len"] == (M if name == "cross" else L)
        assert list(info["block"]) == [math.ceil(L / max_size), math.ceil(info["key_len"] / max_size)]


@pytest.mark.parametrize("heads,pool", [("mean", "max"), ("max", "mean"), ([1, 2], "max")])
def test_heads_rows_and_pooling_combined(setup, heads, pool):
    model, inputs, full = setup
    rows = list(range(3, 16))
    cap = run(model, inputs, heads=heads, rows=rows, max_size=4, pool=pool)
    for name in SITES:
        expected = np_reduce(full.get(name), heads=heads, rows=rows, max_size=4, pool=pool)
        np.testing.assert_allclose(cap.get(name), expected, atol=1e-6)


def test_tiles_give_the_same_answer(setup, monkeypatch):
    """Tiny tiles (many query tiles per call) must not change any result, causal masks included."""
    import attnwidget._capture.sdpa as sdpa_module

    model, inputs, full = setup
    monkeypatch.setattr(sdpa_module, "TILE_ELEMENTS", 2 * N * H * L)  # ~2 query rows per tile
    tiled = run(model, inputs)
    for name in SITES:
        np.testing.assert_allclose(tiled.get(name), full.get(name), atol=1e-6)
    pooled = run(model, inputs, max_size=5, pool="max", heads="mean")
    for name in SITES:
        expected = np_reduce(full.get(name), heads="mean", max_size=5, pool="max")
        np.testing.assert_allclose(pooled.get(name), expected, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, "float16"])
def test_float16(setup, dtype):
    model, inputs, full = setup
    cap = run(model, inputs, dtype=dtype, max_size=8)
    for name in SITES:
        got = cap.get(name)
        assert got.dtype == np.float16
        expected = np_reduce(full.get(name), max_size=8)
        np.testing.assert_allclose(got.astype(np.float64), expected, atol=1e-3, rtol=1e-3)


def test_default_dtype_is_float32(setup):
    model, inputs, full = setup
    assert all(full.get(n).dtype == np.float32 for n in SITES)


@pytest.mark.parametrize(
    "bad",
    [
        dict(heads="median"),
        dict(heads=[]),
        dict(max_size=0),
        dict(max_size=-3),
        dict(pool="sum"),
        dict(dtype=torch.int8),
        dict(dtype="float64"),
        dict(rows=[]),
    ],
)
def test_bad_option_values(setup, bad):
    model, inputs, _ = setup
    key, value = next(iter(bad.items()))
    with pytest.raises((ValueError, TypeError)) as err:
        run(model, inputs, **bad)
    assert key in str(err.value), f"the message should name the option {key!r}: {err.value}"


# --------------------------------------------------------------------------- include / exclude
@pytest.mark.parametrize(
    "include,exclude,expected",
    [
        ("blocks.1", None, ["blocks.1"]),
        ("blocks.*", None, ["blocks.0", "blocks.1", "blocks.2"]),
        (["blocks.0", "cross"], None, ["blocks.0", "cross"]),
        (None, "blocks.*", ["cross"]),
        (None, ["blocks.0", "blocks.2"], ["blocks.1", "cross"]),
        ("blocks.*", "*.1", ["blocks.0", "blocks.2"]),
        (lambda name: name.endswith("2") or name == "cross", None, ["blocks.2", "cross"]),
        (None, lambda name: name.startswith("blocks"), ["cross"]),
    ],
)
def test_include_exclude(setup, include, exclude, expected):
    model, inputs, full = setup
    cap = run(model, inputs, include=include, exclude=exclude)
    assert cap.layers == expected
    for name in expected:
        np.testing.assert_array_equal(cap.get(name), full.get(name))


# --------------------------------------------------------------------------- errors
def test_no_attention_sites():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(LookupError) as err:
        with aw.capture(model):
            model(torch.randn(2, 4))
    msg = str(err.value)
    assert "no attention sites" in msg and "Sequential" in msg
    assert "tap" in msg and "include" in msg, "the message should say what to do"
    assert_clean(model)


def test_no_forward_inside_block(setup):
    model, _, _ = setup
    with pytest.raises(LookupError, match="no attention sites"):
        with aw.capture(model):
            pass


@pytest.mark.parametrize("include", ["nothing*", ["blocks.0", "nope"]])
def test_include_matching_nothing(setup, include):
    model, inputs, _ = setup
    with pytest.raises(LookupError) as err:
        run(model, inputs, include=include)
    msg = str(err.value)
    assert ("nothing*" if include == "nothing*" else "nope") in msg
    for name in SITES:
        assert name in msg, f"the message should list the sites that ran: {msg}"
    assert_clean(model)


def test_layer_and_step_errors(setup):
    _, _, full = setup
    with pytest.raises(IndexError) as err:
        full.get(len(SITES))
    assert "out of range" in str(err.value) and all(n in str(err.value) for n in SITES)
    with pytest.raises(IndexError):
        full.get(-len(SITES) - 1)
    assert np.array_equal(full.get(-1), full.get("cross"))
    with pytest.raises(KeyError) as err:
        full.get("blocks.9")
    assert "blocks.9" in str(err.value) and "blocks.0" in str(err.value)
    with pytest.raises(IndexError) as err:
        full.get(0, step=3)
    assert "step 3" in str(err.value) and "1 step" in str(err.value)
    with pytest.raises(TypeError):
        full.get(1.5)


def test_option_out_of_range_for_the_model(setup):
    model, inputs, _ = setup
    with pytest.raises(IndexError) as err:
        run(model, inputs, heads=[0, 7])
    assert "7" in str(err.value) and str(H) in str(err.value) and "heads" in str(err.value)
    assert_clean(model)
    with pytest.raises(IndexError) as err:
        run(model, inputs, rows=[L])
    assert str(L) in str(err.value) and "rows" in str(err.value)
    assert_clean(model)


def test_capture_needs_a_module_and_extract_needs_include():
    with pytest.raises(TypeError, match="Module"):
        aw.capture(lambda x: x)
    with pytest.raises(TypeError, match="include"):
        aw.capture(nn.Linear(2, 2), extract="weights")


# --------------------------------------------------------------------------- tap and extract
class Tapping(nn.Module):
    """Model code that computes attention by hand and taps it (and a non-attention tensor)."""

    def __init__(self, axes=("sample", "head", "query", "key")):
        super().__init__()
        self.proj = nn.Linear(8, 16)
        self.axes = axes

    def forward(self, x):
        q, k = self.proj(x).reshape(x.shape[0], x.shape[1], 2, 2, 4).permute(2, 0, 3, 1, 4)
        w = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
        aw.tap("scores", w, axes=self.axes)
        aw.tap("gate", x.mean(-1), axes=("sample", "time"))
        return (w @ q).sum()


class Outer(nn.Module):
    def __init__(self, axes=("sample", "head", "query", "key")):
        super().__init__()
        self.inner = Tapping(axes)

    def forward(self, x):
        return self.inner(x)


def test_tap_records_and_is_a_no_op_outside():
    torch.manual_seed(2)
    m = Outer()
    x = torch.randn(3, 6, 8)
    t = torch.rand(2, 2)
    assert aw.tap("outside", t) is t  # nothing open: returns its input, records nothing
    with torch.no_grad(), aw.capture(m) as cap:
        m(x)
    assert cap.layers == ["inner.scores", "inner.gate"]
    assert cap.kinds == {"inner.scores": "self", "inner.gate": "weights"}
    assert tuple(cap.axes["inner.gate"]) == ("sample", "time")
    q, k = m.inner.proj(x).reshape(3, 6, 2, 2, 4).permute(2, 0, 3, 1, 4)
    expected = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1).detach().numpy()
    np.testing.assert_allclose(cap.get("inner.scores"), expected, atol=1e-6)
    np.testing.assert_allclose(cap.get("inner.gate"), x.mean(-1).numpy(), atol=1e-6)
    # tapped attention sites take the reduction options like any other
    with torch.no_grad(), aw.capture(m, heads="mean", include="inner.scores") as cap:
        m(x)
    assert cap.layers == ["inner.scores"]
    np.testing.assert_allclose(cap.get(0), expected.mean(1, keepdims=True), atol=1e-6)


def test_tap_with_mismatched_axes_names():
    m = Outer(axes=("sample", "query", "key"))  # 3 names for a 4D tensor
    x = torch.randn(2, 6, 8)
    with pytest.raises(ValueError) as err:
        with aw.capture(m):
            m(x)
    msg = str(err.value)
    assert "scores" in msg and "('sample', 'query', 'key')" in msg and "(2, 2, 6, 6)" in msg
    assert_clean(m)
    with pytest.raises(ValueError, match="repeat"):
        with aw.capture(Outer(axes=("sample", "head", "query", "query"))):
            Outer(axes=("sample", "head", "query", "query"))(x)


class Stash(nn.Module):
    """Keeps its weights in an attribute and also returns them in a tuple."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 16)

    def forward(self, x):
        q, k = self.proj(x).reshape(x.shape[0], x.shape[1], 2, 2, 4).permute(2, 0, 3, 1, 4)
        self.probs = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        return x * 2, self.probs.mean(1)  # [sample, query, key] in the tuple


class StashModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Stash(), Stash()])

    def forward(self, x):
        for layer in self.layers:
            x, _ = layer(x)
        return x


@pytest.mark.parametrize("extract", ["probs", 1, lambda module, inputs, output: module.probs])
def test_extract(extract):
    torch.manual_seed(3)
    m = StashModel()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        plain = m(x)
        with aw.capture(m, include="layers.*", extract=extract) as cap:
            out = m(x)
    assert torch.equal(plain, out)
    assert cap.layers == ["layers.0", "layers.1"]
    for i, layer in enumerate(m.layers):
        expected = layer.probs.numpy()
        if extract == 1:
            expected = expected.mean(1, keepdims=True)  # a head axis of 1 is added
        np.testing.assert_allclose(cap.get(i), expected, atol=1e-6)


def test_extract_attribute_missing_names_what_exists():
    m = StashModel()
    with pytest.raises(AttributeError) as err:
        with aw.capture(m, include="layers.*", extract="weights"):
            m(torch.randn(1, 3, 8))
    assert "weights" in str(err.value) and "probs" in str(err.value)
    assert_clean(m)


# --------------------------------------------------------------------------- cleanup
_SDPA = F.scaled_dot_product_attention
_MHA = F.multi_head_attention_forward


def hook_counts(model):
    counts = {}
    for name, mod in model.named_modules():
        for attr in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
            "_forward_hooks_with_kwargs",
            "_forward_pre_hooks_with_kwargs",
            "_forward_hooks_always_called",
        ):
            counts[(name, attr)] = len(getattr(mod, attr, {}) or {})
    return counts


def assert_clean(model):
    """No hook, mode or patch of the capture is left behind, and a new capture can open."""
    assert all(v == 0 for v in hook_counts(model).values()), {
        k: v for k, v in hook_counts(model).items() if v
    }
    from torch.nn.modules import module as torch_module

    assert not torch_module._global_forward_hooks and not torch_module._global_forward_pre_hooks
    assert torch._C._len_torch_function_stack() == 0, "a torch function mode is still active"
    assert F.scaled_dot_product_attention is _SDPA and F.multi_head_attention_forward is _MHA
    assert torch.nn.functional.scaled_dot_product_attention is torch._C._nn.scaled_dot_product_attention
    q = torch.randn(1, 2, 3, 4)
    out = F.scaled_dot_product_attention(q, q, q)
    expected = torch.softmax(q @ q.transpose(-1, -2) / 2.0, -1) @ q
    torch.testing.assert_close(out, expected)
    t = torch.ones(2)
    assert aw.tap("after", t) is t
    lin = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(LookupError):  # can open again (no "already open" error)
        with aw.capture(lin):
            lin(t)


def test_hooks_removed_after_exit(setup):
    model, inputs, _ = setup
    assert all(v == 0 for v in hook_counts(model).values())
    run(model, inputs)
    assert_clean(model)


def test_hooks_removed_when_forward_raises(setup):
    model, inputs, _ = setup
    model.blocks[1].fail = True
    try:
        with pytest.raises(RuntimeError, match="boom inside the model"):
            with aw.capture(model):
                model(*inputs)
    finally:
        model.blocks[1].fail = False
    assert_clean(model)
    # and the model works normally after, inside and outside a capture
    with torch.no_grad():
        a = model(*inputs)
        cap = run(model, inputs)
        b = model(*inputs)
    assert torch.equal(a, b) and cap.layers == SITES


def test_nested_capture_is_refused_cleanly(setup):
    model, inputs, _ = setup
    with aw.capture(model) as cap:
        with pytest.raises(RuntimeError, match="already open"):
            with aw.capture(model):
                pass
        with torch.no_grad():
            model(*inputs)
    assert cap.layers == SITES
    assert_clean(model)


def test_training_behaviour_unchanged():
    """Dropout in training mode draws the same random numbers; outputs and gradients are identical."""
    torch.manual_seed(4)
    model = Tiny(dropout=0.3).train()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(N, L, H * D, generator=g)
    memory = torch.randn(N, M, H * D, generator=g)
    keep = torch.ones(N, M, dtype=torch.bool)

    def step(capturing):
        model.zero_grad()
        torch.manual_seed(123)
        if capturing:
            with aw.capture(model) as cap:
                out = model(x, memory, keep)
        else:
            out, cap = model(x, memory, keep), None
        out.square().mean().backward()
        grads = [p.grad.clone() for p in model.parameters()]
        return out.detach(), grads, torch.get_rng_state(), cap

    out0, g0, rng0, _ = step(False)
    out1, g1, rng1, cap = step(True)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(out0, out1)
    assert all(torch.equal(a, b) for a, b in zip(g0, g1))
    assert torch.equal(rng0, rng1), "capturing consumed random numbers"
    assert cap.layers == SITES


def test_memory_flat_over_repeated_captures(setup):
    import psutil

    model, inputs, _ = setup
    proc = psutil.Process()

    def once():
        with torch.no_grad(), aw.capture(model, heads="mean") as cap:
            model(*inputs)
        assert cap.layers == SITES

    for _ in range(30):  # warm up allocators and caches
        once()
    gc.collect()
    tracemalloc.start()
    try:
        rss0 = proc.memory_info().rss
        snap0 = tracemalloc.take_snapshot()
        for _ in range(200):
            once()
        gc.collect()
        rss1 = proc.memory_info().rss
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    py_growth = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    assert py_growth < 200_000, f"Python allocations grew by {py_growth} bytes over 200 captures"
    assert rss1 - rss0 < 40 * 2**20, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB over 200 captures"
    assert_clean(model)


# --------------------------------------------------------------------------- save / load
def rich_capture(setup):
    model, inputs, _ = setup
    with torch.no_grad(), aw.capture(model, dtype=torch.float16, max_size=7) as cap:
        model(*inputs)
        model(*inputs)
    t = Outer()
    with torch.no_grad(), aw.capture(t) as tcap:
        t(torch.randn(2, 6, 8))
    # add the tapped sites (a "weights" site with its own axes) to one capture
    for name in tcap.layers:
        cap.add(name, 0, tcap.get(name), kind=tcap.kinds[name], axes=tcap.axes[name], info=tcap.info[name])
    cap.tokens = {"query": [f"q{i}" for i in range(L)], "key": [f"k{i}" for i in range(L)]}
    cap.labels = np.array([1, 0])
    cap.predictions = np.array([1, 1])
    cap.metadata["note"] = "round trip ü"
    return cap


def test_save_load_round_trip_bit_exact(setup, tmp_path):
    cap = rich_capture(setup)
    assert cap.steps == 2
    path = cap.save(tmp_path / "run")
    assert path.endswith("run.npz") and os.path.exists(path)
    back = aw.load(path)
    assert back.layers == cap.layers
    assert back.kinds == cap.kinds
    assert {k: tuple(v) for k, v in back.axes.items()} == {k: tuple(v) for k, v in cap.axes.items()}
    assert back.steps == cap.steps
    assert json.dumps(back.info, sort_keys=True) == json.dumps(cap.info, sort_keys=True)
    assert back.tokens == cap.tokens and back.metadata == cap.metadata
    np.testing.assert_array_equal(back.labels, cap.labels)
    np.testing.assert_array_equal(back.predictions, cap.predictions)
    n = 0
    for name in cap.layers:
        assert back.steps_of(name) == cap.steps_of(name)
        for step in cap.steps_of(name):
            a, b = cap.get(name, step), back.get(name, step)
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes(), f"{name} step {step} is not bit-exact"
            n += 1
    assert n == 4 * 2 + 2
    assert cap.get("blocks.0", 1).dtype == np.float16
    # plain numpy can read it without unpickling anything
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    assert all(a.dtype != object for a in arrays.values())
    assert json.loads(str(arrays["header"]))["format"]


class Evil:
    """Unpickling this would run code (it records that it ran)."""

    ran = []

    def __reduce__(self):
        return (Evil.ran.append, ("unpickled!",))


def test_crafted_files_are_rejected_without_unpickling(tmp_path, setup):
    good = tmp_path / "good.npz"
    rich_capture(setup).save(good)
    with np.load(good, allow_pickle=False) as z:
        header = str(z["header"])
        key = json.loads(header)["arrays"]["blocks.0"]["0"]
    Evil.ran.clear()
    cases = {
        # a valid header pointing at an object array holding a pickle
        "object_array.npz": dict(header=np.array(header), **{key: np.array([Evil()], dtype=object)}),
        # the header itself an object array
        "object_header.npz": dict(header=np.array([Evil()], dtype=object)),
        # not ours at all
        "foreign.npz": dict(data=np.arange(3)),
    }
    for fname, arrays in cases.items():
        path = tmp_path / fname
        np.savez(path, **arrays)
        with pytest.raises(ValueError) as err:
            aw.load(path)
        assert fname in str(err.value) or "capture" in str(err.value)
    raw = tmp_path / "pickle.npz"
    import pickle

    raw.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError):
        aw.load(raw)
    assert Evil.ran == [], "loading a crafted file ran code"
    with pytest.raises(FileNotFoundError):
        aw.load(tmp_path / "missing.npz")
