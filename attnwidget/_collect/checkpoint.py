"""Checkpoint files of ``collect(..., checkpoint=...)``, and the fingerprint a resumed run must match.

A checkpoint is a ``.npz`` file with one JSON header, written and read by the
same code as capture files (:mod:`attnwidget._files`): written atomically and
durably (a crash at any moment leaves the previous checkpoint or the new one,
and the next write deletes a killed writer's temporary file), read with every
array's header checked before its data, never unpickled. Any problem reading
one is a :class:`~attnwidget.errors.CaptureFileError` whose message ends with
"delete it to start over".

:func:`fingerprint` records what decides a collection's result besides its
options: the model's parameter and buffer names, shapes, dtypes and a cheap
hash of their values, and the code of the callables passed (``forward=``,
``labels=``, ``predict=``, ``index=``, callable capture options). A resumed
call whose fingerprint differs (:func:`fingerprint_differences`) would mix the
samples of two runs, so :class:`~attnwidget._collect.state.CollectState`
refuses it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import linecache
import math
import os
import re
from typing import Any

import numpy as np
import torch

from .._files import DEFAULT_MAX_BYTES, Archive, decode_values, encode_values, json_text, write_archive
from ..errors import CaptureFileError, listing

__all__ = [
    "write_checkpoint",
    "read_checkpoint",
    "rank_path",
    "fingerprint",
    "fingerprint_differences",
    "code_text",
    "checkpoint_error",
    "check_fields",
    "member",
]

_FORMAT = "attnwidget-collect-checkpoint"
_VERSION = 2  # 2: a fingerprint of the model and callables; coded labels/predictions (header 'values')
_ADVICE = "pass another checkpoint= path if this is not a checkpoint, or delete it to start over"
_SAMPLE = 16  # values per tensor hashed exactly, evenly spread over it
_CHUNK = 1 << 24  # elements per reduction


def rank_path(path: str | os.PathLike, rank: int, world: int) -> str:
    """The checkpoint file of one rank: ``run.npz`` -> ``run.rank1.npz`` when ``world > 1``."""
    path = os.fspath(path)
    if world <= 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.rank{rank}{ext or '.npz'}"


# --------------------------------------------------------------------------------------------- the file
def write_checkpoint(path: str, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``header`` (JSON-able) and ``arrays`` to ``path`` atomically and durably.

    Arrays of strings or Python objects (labels with ``None``) are stored as
    codes with a table in the header, and :func:`read_checkpoint` restores
    them. A value that cannot be stored raises ``CaptureFileError`` before
    anything is written (the previous checkpoint stays).
    """

    def refuse(problem: str, advice: str | None = None) -> CaptureFileError:
        return CaptureFileError(
            f"cannot write checkpoint {path!r}: {problem}"
            + (f"; {advice}" if advice else "")
            + "; the previous checkpoint is kept"
        )

    body, tables = {}, {}
    for key, a in arrays.items():
        codes, table = encode_values(np.asarray(a), key, refuse)
        body[key] = codes  # np.savez writes any layout; ascontiguousarray would make 0-d arrays 1-d
        if table is not None:
            tables[key] = table
    header = dict(header, format=_FORMAT, version=_VERSION)
    if tables:
        header["values"] = tables
    write_archive(path, json_text(header, "the checkpoint", refuse), body)


def read_checkpoint(path: str, max_bytes: int | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_checkpoint`: ``(header, arrays)``.

    ``max_bytes`` bounds what its arrays take in memory (default: the larger
    of 4 GiB and the file's size, since only a compressed file can hold more
    than its size). Raises ``CaptureFileError`` ending in "delete it to start
    over" for anything that is not a readable checkpoint.
    """
    path = os.fspath(path)
    if max_bytes is None:
        max_bytes = max(DEFAULT_MAX_BYTES, os.path.getsize(path))
    with Archive(path, "collect() checkpoint", _ADVICE) as ar:
        header = ar.header(_FORMAT, _VERSION, max_bytes)
        names = [n for n in ar.members if n != "header"]
        for name in names:
            ar.require(name, f"array {name!r}")
        ar.limit(ar.members, max_bytes)
        arrays = {name: ar.read(name) for name in names}
        tables = header.get("values") or {}
        if not isinstance(tables, dict):
            raise ar.fail("its header's 'values' is not an object")
        for name, table in tables.items():
            if name not in arrays:
                raise ar.fail(f"its header has a table for array {name!r}, which it does not hold")
            arrays[name] = decode_values(arrays[name], table, name, ar.fail)
    return header, arrays


def checkpoint_error(path: str, problem: str) -> CaptureFileError:
    """The error for a checkpoint whose header does not describe a collection."""
    return CaptureFileError(f"{path!r} is not a readable collect() checkpoint: {problem}; {_ADVICE}")


# ------------------------------------------------------------------------------------------ fingerprint
def fingerprint(model: torch.nn.Module, callables: dict[str, Any]) -> dict[str, Any]:
    """What decides a collection's result besides its options, JSON-able; see the module docstring.

    Parameters
    ----------
    model : torch.nn.Module
    callables : dict
        Argument name (``"forward"``, ``"labels"``, ...) -> the value passed;
        values that are not callable are left out (they are options).

    Returns
    -------
    dict
        ``{"model": {"class", "training", "tensors": [...]}, "callables": {name: {"name", "digest"}}}``.
        Each tensor entry holds its name, kind (parameter or buffer), shape,
        dtype, sum and L2 norm (with the tolerance their rounding needs) and
        a digest of 16 values spread evenly over it, compared exactly: two
        reductions of each tensor on its own device, once per ``collect`` call.
    """
    return {
        "model": _model_fingerprint(model),
        "callables": {
            name: {
                "name": _short_name(fn),
                "digest": hashlib.sha256(code_text(fn).encode("utf-8", "surrogatepass")).hexdigest()[:32],
            }
            for name, fn in callables.items()
            if callable(fn)
        },
    }


def _model_fingerprint(model: torch.nn.Module) -> dict[str, Any]:
    entries, summaries = [], []
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            entries.append(
                {
                    "name": name,
                    "kind": kind,
                    "shape": list(t.shape),
                    "dtype": str(t.dtype).replace("torch.", ""),
                }
            )
            summaries.append(_summary(t))
    # one copy to the host per device, not one per tensor
    by_device: dict[torch.device, list[int]] = {}
    for i, s in enumerate(summaries):
        if s is not None:
            by_device.setdefault(s.device, []).append(i)
    for idx in by_device.values():
        values = torch.stack([summaries[i] for i in idx]).cpu().numpy()
        for i, row in zip(idx, values):
            # sums in another order (another device, thread count) round differently: a pairwise sum's
            # error is a few eps of the L1 norm, at most sqrt(n) * L2; measured ~1e-3 of this bound
            eps = float(np.finfo(np.float64 if entries[i]["dtype"] == "float64" else np.float32).eps)
            tol = 8 * eps * math.sqrt(math.prod(entries[i]["shape"])) * float(row[1])
            entries[i].update(
                sum=float(row[0]),
                l2=float(row[1]),
                tol=tol,
                sample=hashlib.sha256(np.ascontiguousarray(row[2:]).tobytes()).hexdigest()[:16],
            )
    return {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "training": bool(model.training),
        "tensors": entries,
    }


def _summary(t: torch.Tensor) -> torch.Tensor | None:
    """``[sum, l2, 16 sampled values]``, float64, on the tensor's device (None: values unknowable)."""
    try:
        t = t.detach()
        if t.is_meta or t.numel() == 0 or t.layout != torch.strided or t.is_quantized:
            return None
        if t.is_complex():
            t = torch.view_as_real(t)
        if not t.is_floating_point():
            t = t.to(torch.float64)  # integer and bool buffers: small, and norms need floats
        flat = t.reshape(-1)
        n = flat.numel()
        picks = torch.arange(0, n, max(1, n // _SAMPLE), device=flat.device)[:_SAMPLE]
        sample = torch.zeros(_SAMPLE, dtype=torch.float64, device=flat.device)
        sample[: len(picks)] = flat[picks].to(torch.float64)
        # reduced in float32 (float64 for float64 data; a float64 pass over float32 data is ten times
        # slower on a CPU) by pairwise sums over chunks, whose partial sums add up in float64; chunks
        # bound a float16 tensor's float32 copy to 64 MiB however large the tensor
        parts = []
        for chunk in flat.split(_CHUNK):
            c = chunk if chunk.dtype in (torch.float32, torch.float64) else chunk.to(torch.float32)
            parts.append(torch.stack([c.sum(), torch.dot(c, c)]))
        stats = torch.stack(parts).to(torch.float64).sum(0)
        return torch.cat([stats[:1], stats[1:].sqrt(), sample])
    except (RuntimeError, TypeError, NotImplementedError):
        return None  # a tensor subclass or layout without these ops: names, shapes and dtypes still count


def _short_name(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return f"partial({_short_name(fn.func)})"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__qualname__


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _simple(value: Any, depth: int = 0) -> str:
    """A stable text for values a function closes over or defaults to (a type name for big objects)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)[:200]
    if isinstance(value, (list, tuple)) and depth < 2 and len(value) <= 32:
        return "(" + ", ".join(_simple(v, depth + 1) for v in value) + ")"
    if isinstance(value, dict) and depth < 2 and len(value) <= 32:
        return "{" + ", ".join(f"{_simple(k, 2)}: {_simple(v, depth + 1)}" for k, v in value.items()) + "}"
    if inspect.isfunction(value) or inspect.ismethod(value):
        return f"<function {_short_name(value)}>"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def code_text(fn: Any) -> str:
    """The text that identifies what a callable computes, for :func:`fingerprint`.

    Functions: their source (``inspect.getsource``); lambdas: the lambda
    expression alone, so the same lambda written on another line matches;
    where no source exists, the bytecode, constants and names. Bound methods
    add their class; closures and defaults add the simple values they hold.
    Other callables: their class's source and their ``repr`` without memory
    addresses.
    """
    if isinstance(fn, functools.partial):
        return f"partial({code_text(fn.func)}, args={_simple(fn.args)}, keywords={_simple(fn.keywords)})"
    if inspect.ismethod(fn):
        return f"method of {type(fn.__self__).__qualname__}: {code_text(fn.__func__)}"
    if inspect.isfunction(fn):
        parts = [
            _function_source(fn),
            f"defaults={_simple(fn.__defaults__)}",
            f"kwdefaults={_simple(fn.__kwdefaults__)}",
        ]
        if fn.__closure__:
            cells = []
            for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                try:
                    cells.append(f"{var}={_simple(cell.cell_contents)}")
                except ValueError:  # a cell not filled yet
                    cells.append(f"{var}=<empty>")
            parts.append("closure: " + ", ".join(cells))
        return "\n".join(parts)
    if inspect.isclass(fn):
        try:
            return inspect.getsource(fn)
        except (OSError, TypeError):
            return f"class {fn.__module__}.{fn.__qualname__}"
    if inspect.isbuiltin(fn) or inspect.isroutine(fn):
        return _ADDRESS.sub("", repr(fn))
    cls = type(fn)  # a callable object: what its class does, and what its repr says about its state
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = f"class {cls.__module__}.{cls.__qualname__}"
    return f"{source}\nrepr: {_ADDRESS.sub('', repr(fn))}"


def _function_source(fn) -> str:
    code = fn.__code__
    if fn.__name__ == "<lambda>":
        text = _lambda_source(code)
        if text is not None:
            return f"lambda{inspect.signature(fn)}: {text}"
    else:
        try:
            return inspect.getsource(fn)
        except (OSError, TypeError):
            pass
    return _bytecode_text(code)


def _lambda_source(code) -> str | None:
    """The source of a lambda's body, from its code's positions (its line may hold much else)."""
    spans = [
        (l0, c0, l1, c1)
        for l0, l1, c0, c1 in code.co_positions()
        if None not in (l0, l1, c0, c1) and (l1, c1) > (l0, c0)
    ]
    lines = linecache.getlines(code.co_filename)
    if not spans or not lines:
        return None
    (l0, c0), (l1, c1) = min((s[0], s[1]) for s in spans), max((s[2], s[3]) for s in spans)
    if l1 > len(lines):
        return None
    # columns are UTF-8 byte offsets
    chunk = [line.encode("utf-8") for line in lines[l0 - 1 : l1]]
    if len(chunk) == 1:
        text = chunk[0][c0:c1]
    else:
        text = chunk[0][c0:] + b"".join(chunk[1:-1]) + chunk[-1][:c1]
    return " ".join(text.decode("utf-8", "replace").split())


def _bytecode_text(code) -> str:
    consts = [(_bytecode_text(c) if inspect.iscode(c) else repr(c)) for c in code.co_consts]
    return (
        f"code {code.co_code.hex()} consts={consts} names={code.co_names} vars={code.co_varnames} "
        f"args={code.co_argcount}/{code.co_kwonlyargcount}"
    )


def fingerprint_differences(theirs: Any, ours: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's fingerprint and this call's, in words (empty when equal)."""
    if not isinstance(theirs, dict):
        return ["its fingerprint is unreadable"]
    out = []
    tm, om = theirs.get("model") or {}, ours["model"]
    if tm.get("class") != om["class"]:
        out.append(f"the model is a {tm.get('class')} there, a {om['class']} now")
    if tm.get("training") != om["training"]:
        mode = {True: "train", False: "eval"}
        out.append(
            f"the model was in {mode.get(tm.get('training'), '?')} mode there, "
            f"{mode[om['training']]} mode now"
        )
    there = {e.get("name"): e for e in tm.get("tensors") or [] if isinstance(e, dict)}
    here = {e["name"]: e for e in om["tensors"]}
    gone, new = [n for n in there if n not in here], [n for n in here if n not in there]
    if gone or new:
        out.append(
            "the model has other parameters or buffers (only there: "
            f"{listing(gone, 5)}; only now: {listing(new, 5)})"
        )
    shapes = [n for n in here if n in there and there[n].get("shape") != here[n]["shape"]]
    if shapes:
        out.append("the model's parameter shapes differ (" + _pairs(shapes, there, here, "shape") + ")")
    dtypes = [n for n in here if n in there and n not in shapes and there[n].get("dtype") != here[n]["dtype"]]
    if dtypes:
        out.append("the model's parameter dtypes differ (" + _pairs(dtypes, there, here, "dtype") + ")")
    changed = {"parameter": [], "buffer": []}
    for n, e in here.items():
        if n in there and n not in shapes and n not in dtypes and not _same_values(there[n], e):
            changed[e["kind"]].append(n)
    for kind, names in changed.items():
        if names:
            out.append(f"the model's {kind}s differ ({listing(names, 5)})")
    tc, oc = theirs.get("callables") or {}, ours["callables"]
    for arg in sorted(set(tc) | set(oc)):
        a, b = tc.get(arg), oc.get(arg)
        if a is None or b is None:
            out.append(
                f"{arg}= is {'a function' if a else 'not a function'} there, "
                f"{'a function' if b else 'not a function'} now"
            )
        elif not isinstance(a, dict) or a.get("digest") != b["digest"]:
            name = a.get("name") if isinstance(a, dict) else "?"
            out.append(f"{arg}= is a different function ({name} there, {b['name']} now)")
    return out


def _pairs(names: list[str], there: dict, here: dict, key: str) -> str:
    text = ", ".join(f"{n}: {there[n].get(key)} there, {here[n][key]} now" for n in names[:3])
    return text + (f", ... {len(names)} in all" if len(names) > 3 else "")


def _same_values(a: dict, b: dict) -> bool:
    if a.get("sample") != b.get("sample"):
        return False
    tol = max(b.get("tol") or 0.0, a.get("tol") if isinstance(a.get("tol"), float) else 0.0)
    for key in ("sum", "l2"):
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            if x is not y:
                return False
        elif not isinstance(x, (int, float)):
            return False
        elif math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return False
        elif x != y and not abs(x - y) <= tol:  # the bound covers the L2 norm too (|l2 - l2'| <= tol)
            return False
    return True


def check_fields(path: str, header: dict, fields: dict[str, type]) -> None:
    """Each header field present with the type given, else a ``CaptureFileError`` saying so."""
    for key, kind in fields.items():
        value = header.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise checkpoint_error(
                path, f"its header's {key!r} is {type(value).__name__}, not {getattr(kind, '__name__', kind)}"
            )


def member(path: str, arrays: dict, name: Any, where: str) -> np.ndarray:
    """``arrays[name]`` for a name a checkpoint header gives, else a ``CaptureFileError``."""
    if not isinstance(name, str) or name not in arrays:
        raise checkpoint_error(path, f"{where} names array {name!r}, which it does not hold")
    return arrays[name]
