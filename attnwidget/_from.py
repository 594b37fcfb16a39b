"""Captures from attention another tool already computed (what ``Capture.from_attentions`` builds).

Users often hold attention weights before they meet attnwidget: Hugging Face
``outputs.attentions`` (or the encoder / decoder / cross tuples of a
sequence-to-sequence model, or of ``generate``), a TransformerLens
``ActivationCache``, or a dict of arrays from their own code. This module
turns each into a :class:`~attnwidget.store.Capture` so the explorer, the
figures and the files work on it unchanged.

Everything is read by duck typing (attributes and key names), so neither
transformers nor TransformerLens is imported here. Each array is converted at
most once: a CPU float32 tensor or array is used as it is (the capture shares
its memory), a tensor on another device or of another dtype is moved and cast
in one ``.to("cpu", torch.float32)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .errors import AttentionFormatError, NotFoundError, listing
from .store import ATTENTION_AXES, Capture

__all__ = ["from_attentions"]

_SEQ2SEQ = ("encoder_attentions", "decoder_attentions", "cross_attentions")
_PATTERN = re.compile(r"^blocks\.(\d+)\.attn\.hook_pattern$")
_EAGER = (
    "load the model with attn_implementation='eager' and call it with output_attentions=True "
    "(sdpa and flash attention return no weights), or capture it with `with aw.capture(model)`"
)
_ACCEPTED = (
    "Capture.from_attentions reads a tuple or list of [batch, head, query, key] tensors "
    "(Hugging Face outputs.attentions), a Hugging Face output with attentions / encoder_attentions / "
    "decoder_attentions / cross_attentions, a TransformerLens ActivationCache "
    "(blocks.{i}.attn.hook_pattern), a dict of name -> tensor or array, or one tensor or array"
)


def from_attentions(obj: Any, tokens: Any = None) -> Capture:
    """Build a capture from attention weights computed elsewhere.

    Parameters
    ----------
    obj : tuple, list, Hugging Face output, ActivationCache, dict, tensor or array
        - A tuple or list of ``[batch, head, query, key]`` tensors, one per layer
          (Hugging Face ``outputs.attentions``): sites ``layers.{i}``, kind
          ``"self"``. A tuple of such tuples is one per step (``generate(...,
          output_attentions=True, return_dict_in_generate=True).attentions``).
        - A Hugging Face output (anything with those attributes) holding
          ``encoder_attentions``, ``decoder_attentions`` and / or
          ``cross_attentions``: sites ``encoder.layers.{i}`` and
          ``decoder.layers.{i}`` (``"self"``) and ``decoder.layers.{i}.cross``
          (``"cross"``), decoder steps as above; or holding ``attentions``.
        - A mapping with keys ``blocks.{i}.attn.hook_pattern`` (a TransformerLens
          ``ActivationCache``; its other entries are ignored): sites
          ``blocks.{i}.attn``, in block order.
        - A dict of name -> tensor or array, ``[sample, head, query, key]``,
          ``[head, query, key]`` (one sample) or ``[query, key]`` (one sample,
          one head): one site per name, in the dict's order. A site is
          ``"cross"`` when its name contains ``cross`` or its query and key
          lengths differ, ``"self"`` otherwise.
        - One tensor or array of those shapes: the site ``attention``.
    tokens : optional
        Token strings, stored as ``cap.tokens`` (any form ``aw.show`` takes).
        For a sequence-to-sequence output, ``{"encoder": [...], "decoder": [...]}``
        labels each site's axes: encoder sites with the encoder's tokens,
        decoder sites with the decoder's, cross sites with decoder queries and
        encoder keys.

    Returns
    -------
    Capture
        float32 arrays; a CPU float32 input is not copied (the capture shares
        its memory, so copy it first if you will change it in place).

    Raises
    ------
    attnwidget.errors.AttentionFormatError
        (a ``ValueError``) An array with the wrong number of axes, or layers
        of one tuple whose batch, query or key lengths differ.
    attnwidget.errors.NotFoundError
        (a ``LookupError``) An object holding no attention (an output of a
        model run without ``output_attentions=True``), or one of a kind this
        function does not read.
    """
    if isinstance(obj, Capture):
        raise TypeError("this is already a Capture: pass it to aw.show or aw.frame as it is")
    cap = Capture()
    described = type(obj).__name__
    seq2seq = False
    if _is_output(obj):
        seq2seq = _from_output(cap, obj)
    elif isinstance(obj, (tuple, list)):
        _from_layers(cap, "layers", obj, "self", "attentions")
    elif _is_tensor(obj):
        _from_named(cap, {"attention": obj}, "the array")
    elif _is_mapping(obj):
        keys = list(obj.keys())
        if any(isinstance(k, str) and _PATTERN.match(k) for k in keys):
            _from_cache(cap, obj, keys)
        elif any(isinstance(k, str) and k.startswith("blocks.") and ".hook_" in k for k in keys):
            raise NotFoundError(
                f"this {described} holds no attention patterns (no blocks.{{i}}.attn.hook_pattern "
                f"among {listing(keys, 6)}): run model.run_with_cache with a names_filter that keeps "
                "'hook_pattern'"
            )
        else:
            _from_named(cap, obj, "dict entry")
    else:
        raise NotFoundError(f"no attention found in a {described}: {_ACCEPTED}")
    if not cap.layers:
        raise NotFoundError(f"this {described} holds no attention weights: {_EAGER}")
    cap.tokens = _site_tokens(cap, tokens) if seq2seq else _plain_tokens(tokens)
    cap.metadata = {"source": "from_attentions", "from": f"{type(obj).__module__}.{type(obj).__qualname__}"}
    return cap


# ------------------------------------------------------------------ what the object is
def _is_tensor(obj: Any) -> bool:
    return isinstance(obj, (torch.Tensor, np.ndarray))


def _is_mapping(obj: Any) -> bool:
    # ActivationCache is no Mapping subclass; keys() and item access are what it has
    return isinstance(obj, Mapping) or (callable(getattr(obj, "keys", None)) and hasattr(obj, "__getitem__"))


def _is_output(obj: Any) -> bool:
    # a Hugging Face ModelOutput is a dict too: its attributes decide before the dict rules would
    if isinstance(obj, (tuple, list)) or _is_tensor(obj):
        return False
    fields = (*_SEQ2SEQ, "attentions")
    if callable(getattr(obj, "to_tuple", None)) and isinstance(obj, Mapping):
        return True
    return not isinstance(obj, Mapping) and any(hasattr(obj, f) for f in fields)


# ------------------------------------------------------------------ readers
def _field(out: Any, name: str) -> Any:
    """An output's attention field, None where absent: transformers fills the fields a model does not
    have with None or with () (BERT's ``cross_attentions``)."""
    value = getattr(out, name, None)
    return None if isinstance(value, (tuple, list)) and not value else value


def _from_output(cap: Capture, out: Any) -> bool:
    """Read a Hugging Face output; True when it is an encoder-decoder one."""
    enc, dec, cross = (_field(out, f) for f in _SEQ2SEQ)
    if enc is None and dec is None and cross is None:
        plain = getattr(out, "attentions", None)
        if plain is None:
            raise NotFoundError(f"this {type(out).__name__} holds no attention weights: {_EAGER}")
        _from_layers(cap, "layers", plain, "self", "outputs.attentions")
        return False
    if enc is not None:
        _from_layers(cap, "encoder.layers", enc, "self", "outputs.encoder_attentions")
    dec_steps = _steps(dec, "outputs.decoder_attentions")
    cross_steps = _steps(cross, "outputs.cross_attentions")
    for step in range(max(len(dec_steps), len(cross_steps))):
        d = _layer_arrays(
            dec_steps[step] if step < len(dec_steps) else (), "outputs.decoder_attentions", step
        )
        c = _layer_arrays(
            cross_steps[step] if step < len(cross_steps) else (), "outputs.cross_attentions", step
        )
        _check_same(d, "outputs.decoder_attentions", step, query=True, key=True)
        _check_same(c, "outputs.cross_attentions", step, query=True, key=True)
        if d and c and d[0][1].shape[2] != c[0][1].shape[2]:
            raise AttentionFormatError(
                f"at step {step} the decoder's self-attention has {d[0][1].shape[2]} query positions "
                f"and its cross-attention {c[0][1].shape[2]}; both come from one decoder pass, so "
                "pass the tuples of one output together"
            )
        # the order a decoder layer runs them: its self-attention, then its cross-attention
        for i in range(max(len(d), len(c))):
            if i < len(d):
                _add(cap, f"decoder.layers.{i}", step, d[i][1], "self")
            if i < len(c):
                _add(cap, f"decoder.layers.{i}.cross", step, c[i][1], "cross")
    _check_samples(cap, "this output")
    return True


def _from_layers(cap: Capture, prefix: str, layers: Any, kind: str, where: str) -> None:
    """One site per layer of a tuple (one step) or of each tuple of a tuple (one per step)."""
    for step, one in enumerate(_steps(layers, where)):
        arrays = _layer_arrays(one, where, step if _nested(layers) else None)
        _check_same(arrays, where, step if _nested(layers) else None, query=True, key=True)
        for i, a in arrays:
            _add(cap, f"{prefix}.{i}", step, a, kind)
    _check_samples(cap, where)


def _from_cache(cap: Capture, cache: Any, keys: list) -> None:
    """TransformerLens: ``blocks.{i}.attn.hook_pattern`` entries, in block order."""
    blocks = sorted((int(m.group(1)), k) for k in keys if isinstance(k, str) and (m := _PATTERN.match(k)))
    for i, key in blocks:
        a = _array(cache[key], f"cache[{key!r}]", (3, 4))
        _add(cap, f"blocks.{i}.attn", 0, a, "self")
    _check_samples(cap, "this cache")


def _from_named(cap: Capture, named: Any, what: str) -> None:
    """A dict of name -> array: each its own site, of any lengths."""
    for name in named.keys():
        if not isinstance(name, str):
            raise AttentionFormatError(f"{what} {name!r}: site names are strings, not {type(name).__name__}")
        value = named[name]
        if isinstance(value, (tuple, list)):
            raise AttentionFormatError(
                f"{what} {name!r} is a {type(value).__name__}: a dict maps each name to one tensor or "
                "array; pass a tuple of layers (outputs.attentions) to from_attentions by itself"
            )
        a = _array(value, f"{what} {name!r}", (2, 3, 4))
        cross = "cross" in name.lower() or a.shape[2] != a.shape[3]
        _add(cap, name, 0, a, "cross" if cross else "self")


# ------------------------------------------------------------------ arrays
def _nested(layers: Any) -> bool:
    return isinstance(layers, (tuple, list)) and any(isinstance(x, (tuple, list)) for x in layers)


def _steps(layers: Any, where: str) -> list:
    """The per-step tuples of layers: ``[layers]`` for one step, ``list(layers)`` for a tuple of steps."""
    if layers is None:
        return []
    if not isinstance(layers, (tuple, list)):
        raise AttentionFormatError(
            f"{where} is a {type(layers).__name__}; expected a tuple of [batch, head, query, key] "
            "tensors, one per layer"
        )
    if not _nested(layers):
        return [layers]
    if not all(isinstance(x, (tuple, list)) for x in layers):
        raise AttentionFormatError(
            f"{where} mixes tuples and tensors: it is either one tensor per layer or one tuple of "
            "layers per step (generate), not both"
        )
    return list(layers)


def _layer_arrays(layers: Sequence, where: str, step: int | None) -> list[tuple[int, np.ndarray]]:
    at = "" if step is None else f"[{step}]"
    return [(i, _array(x, f"{where}{at}[{i}]", (4,))) for i, x in enumerate(layers)]


def _check_same(arrays: list, where: str, step: int | None, *, query: bool, key: bool) -> None:
    """Layers of one forward pass share the batch and the positions (heads may differ: pruned layers)."""
    if not arrays:
        return
    at = "" if step is None else f"[{step}]"
    i0, first = arrays[0]
    checks = [("batch", 0)] + ([("query", 2)] if query else []) + ([("key", 3)] if key else [])
    for i, a in arrays[1:]:
        for axis_name, axis in checks:
            if a.shape[axis] != first.shape[axis]:
                raise AttentionFormatError(
                    f"{where}{at}[{i}] has shape {tuple(a.shape)} and {where}{at}[{i0}] "
                    f"{tuple(first.shape)}: layers of one pass have one {axis_name} length; for sites of "
                    "different lengths pass a dict of name -> array"
                )


def _check_samples(cap: Capture, where: str) -> None:
    counts = {n: {int(a.shape[0]) for a in cap._data[n].values()} for n in cap.layers}
    seen = sorted(set().union(*counts.values())) if counts else []
    if len(seen) > 1:
        raise AttentionFormatError(
            f"{where} holds batches of {listing(seen)} samples ("
            + ", ".join(f"{n}: {listing(sorted(c))}" for n, c in counts.items())
            + "); every tensor of one run has the same batch"
        )


def _array(value: Any, where: str, dims: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float32 numpy array ``[sample, head, query, key]``, converted at most once."""
    if value is None:
        raise AttentionFormatError(f"{where} is None, not attention weights: {_EAGER}")
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.is_complex():
            raise AttentionFormatError(
                f"{where} holds complex values ({t.dtype}); attention weights are real"
            )
        if t.device.type != "cpu" or t.dtype != torch.float32:
            # one transfer: moved and cast together, then viewed by numpy without another copy
            t = t.to(device="cpu", dtype=torch.float32)
        a = t.numpy()
    elif isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            raise AttentionFormatError(f"{where} holds {a.dtype} values; attention weights are real numbers")
        if a.dtype != np.float32:
            a = a.astype(np.float32)
    else:
        raise AttentionFormatError(f"{where} is a {type(value).__name__}, not a torch tensor or numpy array")
    if a.ndim not in dims:
        want = " or ".join(
            {4: "[batch, head, query, key]", 3: "[head, query, key]", 2: "[query, key]"}[d] for d in dims
        )
        raise AttentionFormatError(f"{where} has {a.ndim} axes {tuple(a.shape)}; expected {want}")
    # a missing sample or head axis is one of length 1 (views, no copy)
    while a.ndim < 4:
        a = a[None]
    return a


def _add(cap: Capture, name: str, step: int, a: np.ndarray, kind: str) -> None:
    info = {
        "heads": "all",
        "num_heads": int(a.shape[1]),
        "rows": None,
        "block": [1, 1],
        "query_len": int(a.shape[2]),
        "key_len": int(a.shape[3]),
    }
    cap.add(name, step, a, kind=kind, axes=ATTENTION_AXES, info=info)


# ------------------------------------------------------------------ tokens
def _plain_tokens(tokens: Any) -> Any:
    if isinstance(tokens, Mapping) and tokens and set(tokens) <= {"encoder", "decoder"}:
        raise ValueError(
            "tokens={'encoder': ..., 'decoder': ...} labels an encoder-decoder output, and this "
            "attention has no encoder: pass one token list (or {'query': [...], 'key': [...]})"
        )
    return tokens


def _site_tokens(cap: Capture, tokens: Any) -> Any:
    """``{"encoder": ..., "decoder": ...}`` spelled out per site; any other form is kept as given."""
    if not (isinstance(tokens, Mapping) and tokens and set(tokens) <= {"encoder", "decoder"}):
        return tokens
    enc, dec = tokens.get("encoder"), tokens.get("decoder")
    per_site = {}
    for name in cap.layers:
        if name.startswith("encoder."):
            q, k = enc, enc
        elif cap.kinds[name] == "cross":
            q, k = dec, enc
        else:
            q, k = dec, dec
        per_site[name] = {"query": q, "key": k}
    return per_site
