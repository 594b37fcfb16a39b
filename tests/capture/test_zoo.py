"""The engine's test zoo: the universal checks of issue 11 on every model of ``_zoo.ZOO``.

Every entry is a real model built from a tiny seeded config (see ``_zoo.py``).
Each is run three ways: uncaptured, inside ``aw.capture``, and uncaptured under
a recorder written here (a torch function mode plus module hooks) that keeps
every ``scaled_dot_product_attention`` and ``multi_head_attention_forward``
call with its arguments and output. Per entry, one test per rule:

- every site found: the site names equal the set derived from the model's
  own attention modules, and every call the recorder saw is a site;
- kinds: ``"cross"`` exactly where keys come from another tensor;
- outputs unchanged: bit-identical (``torch.equal``, NaN where NaN), the same
  structure (no attentions added); for ``nn.MultiheadAttention`` /
  ``nn.Transformer*`` in eval mode, equal to torch's standard path exactly,
  within 2e-6 of the fast path, and padded positions equal to the fast path's;
  in ``train()`` mode the gradients are identical too;
- rows of attention sites sum to 1 or 0;
- the weights reproduce the outputs: ``weights @ value`` of every recorded
  sdpa call gives its output (``value``'s projection and ``out_proj`` for
  ``multi_head_attention_forward``), row by row, masked rows included;
- ``aw.capture(model, verify=True)`` passes;
- the weights equal an independent reference within 1e-5 where one exists.

Every entry passes every check: the engine defects the zoo found (3-D softmax,
MHA weights read twice, Longformer's padded rows, float64 and autocast masks)
were fixed in the engine, not marked here.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode

import attnwidget as aw
from attnwidget._capture.verify import reproduces

sys.path.insert(0, str(Path(__file__).parent))
import _zoo  # noqa: E402

REF_TOL = 1e-5  # weights against an independent reference
FAST_PATH_TOL = 2e-6  # outputs of the torch modules' fused fast path against the captured standard path
ROW_TOL = 1e-5
# |weights @ value - output| allowed, relative to max(1, max |value|), by the output's dtype
IDENTITY_TOL = {torch.float64: 1e-5, torch.float32: 1e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}
_MHA_SIGNATURE = inspect.signature(F.multi_head_attention_forward)


# --------------------------------------------------------------------------- the recorder
class Recorder(TorchFunctionMode):
    """Keeps every sdpa and ``multi_head_attention_forward`` call of an uncaptured run, named by site.

    Names follow the engine's documented rule, written out independently: the
    innermost module of the model running when the call is made (the model's
    class name at its root), ``#n`` for its n-th further call.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.paths = {id(m): name for name, m in model.named_modules()}
        self.root = type(model).__name__
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.calls: list[dict] = []

    def __enter__(self):
        self._hooks = [
            register_module_forward_pre_hook(self._pre),
            register_module_forward_hook(self._post, always_call=True),
        ]
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self._hooks:
            h.remove()
        return super().__exit__(*exc)

    def _pre(self, module, args):
        if id(module) in self.paths:
            self.stack.append(self.paths[id(module)])

    def _post(self, module, args, output):
        if id(module) in self.paths and self.stack and self.stack[-1] == self.paths[id(module)]:
            self.stack.pop()

    def _name(self) -> str:
        base = (self.stack[-1] or self.root) if self.stack else self.root
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}#{n}"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            site = self._name()
            out = func(*args, **kwargs)
            names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
            call = dict(zip(names, args)) | kwargs
            self.calls.append(
                dict(
                    kind="sdpa", site=site, value=call["value"].detach().clone(), output=out.detach().clone()
                )
            )
            return out
        if func is F.multi_head_attention_forward:
            site = self._name()
            out = func(*args, **kwargs)
            bound = _MHA_SIGNATURE.bind(*args, **kwargs)
            bound.apply_defaults()
            self.calls.append(
                dict(kind="mha", site=site, call=dict(bound.arguments), output=out[0].detach().clone())
            )
            return out
        return func(*args, **kwargs)


# --------------------------------------------------------------------------- running an entry
@dataclass
class Result:
    case: Any = None
    plain: Any = None
    captured: Any = None
    standard: Any = None  # torch modules: the standard (non-fast) path, uncaptured
    cap: Any = None
    grads_plain: dict = field(default_factory=dict)
    grads_captured: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)
    error: BaseException | None = None


_RESULTS: dict[str, Result] = {}


def main_of(case, out) -> torch.Tensor:
    if case.main is not None:
        return case.main(out)
    for key in ("logits", "last_hidden_state", "sample"):
        if getattr(out, key, None) is not None:
            return getattr(out, key)
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def _forward(case, model, grad: bool):
    """One forward (and, with ``grad``, a backward): returns (output, {param: grad})."""
    with case.context():
        if not grad:
            with torch.no_grad():
                return case.forward(model), {}
        model.zero_grad(set_to_none=True)
        out = case.forward(model)
        y = main_of(case, out)
        (y.float() * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad(set_to_none=True)
        return out, grads


def run_entry(entry) -> Result:
    """Build the entry once and run it uncaptured, captured and recorded (cached per entry)."""
    if entry.id in _RESULTS:
        return _RESULTS[entry.id]
    res = Result()
    _RESULTS[entry.id] = res
    try:
        case = res.case = entry.build()
        model = case.model
        res.plain, res.grads_plain = _forward(case, model, case.grad)
        with aw.capture(model) as cap:
            res.captured, res.grads_captured = _forward(case, model, case.grad)
        res.cap = cap
        if case.torch_fast_path:
            before = torch.backends.mha.get_fastpath_enabled()
            torch.backends.mha.set_fastpath_enabled(False)
            try:
                res.standard, _ = _forward(case, model, False)
            finally:
                torch.backends.mha.set_fastpath_enabled(before)
        eager = case.eager_model if case.eager_model is not None else model
        with Recorder(eager) as rec:
            _forward(case, eager, False)
        res.calls = rec.calls
    except (Exception, pytest.skip.Exception) as e:  # kept, and raised again by every check of the entry
        res.error = e
    return res


def result(entry) -> Result:
    res = run_entry(entry)
    if res.error is not None:
        raise res.error
    return res


#: the zoo as pytest params, one per entry
PARAMS = [pytest.param(entry, id=entry.id) for entry in _zoo.ZOO]


# --------------------------------------------------------------------------- comparing outputs
def tensor_pairs(a, b, path="output", depth=0):
    """Walk two outputs side by side: same structure, yielding (path, tensor_a, tensor_b)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} captured as {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        yield path, a, b
    elif isinstance(a, dict):  # ModelOutput is an OrderedDict: no keys (attentions) added or lost
        assert list(a.keys()) == list(b.keys()), f"{path}: keys {list(a.keys())} became {list(b.keys())}"
        for k in a:
            yield from tensor_pairs(a[k], b[k], f"{path}.{k}", depth + 1)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{path}: {len(a)} elements became {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from tensor_pairs(x, y, f"{path}[{i}]", depth + 1)
    elif a is None or isinstance(a, (bool, int, float, str)):
        assert a == b, f"{path}: {a!r} became {b!r}"
    elif depth < 6 and hasattr(a, "__dict__"):  # caches and other holders of tensors
        yield from tensor_pairs(dict(vars(a)), dict(vars(b)), path, depth + 1)


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-identical values, NaN where NaN (``torch.equal`` says NaN != NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return torch.equal(a, b)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().nan_to_num(0.0).max()) if a.numel() else 0.0


# --------------------------------------------------------------------------- checks
@pytest.mark.parametrize("entry", PARAMS)
def test_every_site_found(entry):
    res = result(entry)
    cap, expected = res.cap, res.case.sites
    assert expected, "the zoo entry expects no site"
    assert res.case.count is not None and len(expected) == res.case.count, (
        f"{len(expected)} attention modules derived from the model, its config declares {res.case.count}"
    )
    assert set(cap.layers) == set(expected), (
        f"sites {cap.layers}; expected {list(expected)}; missing {sorted(set(expected) - set(cap.layers))}, "
        f"extra {sorted(set(cap.layers) - set(expected))}"
    )
    assert len(cap.layers) == len(expected)
    assert cap.steps == 1
    recorded = {c["site"] for c in res.calls}
    assert recorded <= set(cap.layers), f"attention calls not captured as sites: {recorded - set(cap.layers)}"
    for name in cap.layers:
        a = cap.get(name)
        assert a.ndim == 4 and a.dtype == np.float32 and a.size > 0, (name, a.shape, a.dtype)
        assert np.isfinite(a).all(), f"site {name} has non-finite weights"


@pytest.mark.parametrize("entry", PARAMS)
def test_kinds(entry):
    res = result(entry)
    got = {n: res.cap.kinds[n] for n in res.cap.layers}
    assert got == res.case.sites, f"kinds {got}, expected {res.case.sites}"


@pytest.mark.parametrize("entry", PARAMS)
def test_outputs_unchanged(entry):
    res = result(entry)
    case = res.case
    pairs = list(tensor_pairs(res.plain, res.captured))
    assert pairs, "the output holds no tensor"
    if not case.torch_fast_path:
        for path, a, b in pairs:
            assert identical(a, b), f"{path}: capturing changed the output by {max_diff(a, b):.3g}"
    else:
        standard = dict((p, t) for p, t, _ in tensor_pairs(res.standard, res.captured))
        padded, checked = None, False
        if case.padded is not None:
            padded = case.padded.expand_as(main_of(case, res.plain))
        for path, a, b in pairs:
            if not a.is_floating_point():
                assert torch.equal(a, b), path
                continue
            diff = max_diff(a, b)
            assert diff <= FAST_PATH_TOL, f"{path}: captured differs from the fast path by {diff:.3g}"
            valid = torch.ones_like(b, dtype=torch.bool)
            if padded is not None and b.shape == padded.shape:
                # the fast path leaves padded positions at 0 (or norm(0)): exactly those values
                assert identical(a[padded], b[padded]), (
                    f"{path}: padded positions differ from the fast "
                    f"path by {max_diff(a[padded], b[padded]):.3g}"
                )
                valid, checked = ~padded, True
            s = standard[path]
            assert identical(s[valid], b[valid]), (
                f"{path}: captured differs from torch's standard path by {max_diff(s[valid], b[valid]):.3g}"
            )
        assert padded is None or checked, "the padded positions were never compared"
    if case.grad:
        assert res.grads_plain, "the backward pass reached no parameter"
        assert res.grads_plain.keys() == res.grads_captured.keys()
        for name, g in res.grads_plain.items():
            assert identical(g, res.grads_captured[name]), (
                f"gradient of {name} differs by {max_diff(g, res.grads_captured[name]):.3g}"
            )


@pytest.mark.parametrize("entry", PARAMS)
def test_rows_sum_to_one_or_zero(entry):
    res = result(entry)
    for name in res.cap.layers:
        if res.cap.kinds[name] == "weights":
            continue
        sums = res.cap.get(name).astype(np.float64).sum(-1)
        off = np.minimum(np.abs(sums - 1.0), np.abs(sums))
        assert off.max() <= ROW_TOL, (
            f"site {name}: row sums {np.unique(sums.round(4))[:8]} are neither 1 nor 0 "
            f"(worst {off.max():.3g})"
        )


def _mha_reconstruction(weights: torch.Tensor, call: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """``out_proj(weights @ v_proj(value))`` of one ``multi_head_attention_forward`` call, and ``v``."""
    value = call["value"]
    if value.dim() == 2:  # unbatched [S, E]
        value = value.unsqueeze(1)
    if call["use_separate_proj_weight"]:
        wv = call["v_proj_weight"]
    else:
        wv = call["in_proj_weight"].chunk(3)[2]
    bv = call["in_proj_bias"].chunk(3)[2] if call["in_proj_bias"] is not None else None
    v = F.linear(value, wv, bv)  # [S, N, E]
    s, n, e = v.shape
    h = call["num_heads"]
    v = v.reshape(s, n, h, e // h).permute(1, 2, 0, 3)  # [N, H, S, d]
    o = torch.matmul(weights.to(v.dtype), v)  # [N, H, L, d]
    o = o.permute(2, 0, 1, 3).reshape(o.shape[2], n, e)
    return F.linear(o, call["out_proj_weight"], call["out_proj_bias"]), v


@pytest.mark.parametrize("entry", PARAMS)
def test_weights_reproduce_outputs(entry):
    res = result(entry)
    if not res.calls:
        # weights from eager code (no sdpa or multi_head_attention_forward call to reproduce):
        # then the model's own weights must be there to compare with, and agree
        assert reference_of(res) is not None, f"{entry.id}: neither a call to reproduce nor a reference"
        check_reference(res)
        return
    check_reproduces(res)


def check_reproduces(res) -> None:
    """Every recorded sdpa / multi_head_attention_forward call's output from the captured weights."""
    with torch.no_grad():
        for c in res.calls:
            w = torch.from_numpy(res.cap.get(c["site"]))
            out = c["output"]
            tol = IDENTITY_TOL[out.dtype]
            if c["kind"] == "sdpa":
                v = c["value"]
                vv = v.reshape(-1, *v.shape[-3:]) if v.ndim > 4 else v
                if vv.shape[1] != w.shape[1]:  # grouped-query heads share a value head
                    vv = vv.repeat_interleave(w.shape[1] // vv.shape[1], dim=1)
                recon = torch.matmul(w.double(), vv.double()).reshape(out.shape)
                scale = float(v.abs().max())
                worst, allowed = reproduces(w, v, out)
                assert worst <= allowed, f"{c['site']}: verify.reproduces says {worst:.3g} > {allowed:.3g}"
            else:
                recon, vv = _mha_reconstruction(
                    w.double(),
                    {
                        k: (t.double() if isinstance(t, torch.Tensor) and t.is_floating_point() else t)
                        for k, t in c["call"].items()
                    },
                )
                scale = float(vv.abs().max())
            diff = (recon - out.double()).abs()
            diff = diff[~out.isnan()] if out.is_floating_point() else diff
            worst = float(diff.max()) if diff.numel() else 0.0
            assert worst <= tol * max(1.0, scale), (
                f"site {c['site']} ({c['kind']}): weights @ value differs from the call's output by "
                f"{worst:.3g} (allowed {tol * max(1.0, scale):.3g}, output {out.dtype})"
            )


@pytest.mark.parametrize("entry", PARAMS)
def test_verify_passes(entry):
    res = result(entry)
    case = res.case
    with aw.capture(case.model, verify=True) as cap:
        out, _ = _forward(case, case.model, case.grad)
    assert cap.layers == res.cap.layers
    # a second captured run gives the same weights: nothing is left over from the first
    for name in cap.layers:
        assert np.array_equal(cap.get(name), res.cap.get(name)), name
    for path, a, b in tensor_pairs(res.captured, out):
        assert identical(a, b), path


def torch_mha_reference(calls: list[dict]) -> dict[str, torch.Tensor]:
    """Per-head weights torch itself returns for each recorded ``multi_head_attention_forward`` call."""
    ref = {}
    for c in calls:
        if c["kind"] == "mha":
            kw = dict(c["call"], need_weights=True, average_attn_weights=False, dropout_p=0.0, training=False)
            with torch.no_grad():
                _, w = F.multi_head_attention_forward(**kw)
            ref[c["site"]] = w if w.dim() == 4 else w.unsqueeze(0)
    return ref


def reference_of(res) -> dict | None:
    """The weights an independent source gives for the entry's sites, or None where none exists."""
    case = res.case
    if case.reference is not None:
        return case.reference()
    if any(c["kind"] == "mha" for c in res.calls):  # nn.Transformer*: torch's own per-head weights
        return torch_mha_reference(res.calls)
    return None


def check_reference(res) -> None:
    case = res.case
    ref = reference_of(res)
    assert set(ref) == set(case.sites), f"reference sites {sorted(ref)} vs expected {sorted(case.sites)}"
    for name, expected in ref.items():
        got = res.cap.get(name)
        exp = expected.detach().float().numpy()
        assert got.shape == exp.shape, (name, got.shape, exp.shape)
        if case.valid_rows is not None and res.case.sites[name] == "self":
            keep = case.valid_rows[:, None, :, None]
            got, exp = np.where(keep, got, 0.0), np.where(keep, exp, 0.0)
        diff = float(np.abs(got - exp).max())
        assert diff <= REF_TOL, f"site {name} differs from the reference by {diff:.3g}"


@pytest.mark.parametrize("entry", PARAMS)
def test_matches_reference(entry):
    res = result(entry)
    if reference_of(res) is None:
        # no independent reference (low precision, or the library returns none): the weights are
        # then held by reproducing every call's output from them
        assert res.calls, f"{entry.id}: neither a reference nor a call to reproduce"
        check_reproduces(res)
        return
    check_reference(res)


def test_zoo_covers_the_brief():
    """The zoo holds what issue 11 names (a guard against entries dropped by accident)."""
    names = {e.id for e in _zoo.ZOO}
    assert len(names) == len(_zoo.ZOO), "duplicate zoo ids"
    for needed in (
        "bert-sdpa",
        "bert-eager",
        "roberta",
        "distilbert",
        "albert-shared-layers",
        "electra",
        "deberta-v2",
        "mpnet",
        "longformer",
        "gpt2-right-padded",
        "gpt2-left-padded",
        "llama-gqa",
        "bart",
        "t5",
        "vit",
        "whisper",
        "diffusers-unet",
        "diffusers-dit",
        "xt-encoder",
        "xt-decoder",
        "xt-cross-decoder",
        "compiled-encoder",
        "bert-train-grad",
        "sdpa-autocast-bf16",
        "sdpa-float16",
        "sdpa-bfloat16",
        "sdpa-float64",
        "sdpa-minus-1e9-rows",
        "sdpa-finfo-min-rows",
        "transformer-batch-first",
    ):
        assert needed in names, needed
