"""``aw.rollout``: attention flow through a stack of self-attention layers, as a capture of its own.

Attention rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in
Transformers") follows how much each output position draws on each input
position through every layer, not only the last one. The result is a
:class:`~attnwidget.store.Capture` with one site per layer depth
(``"rollout@<site>"``: the flow from the input up to that layer's output), so
the explorer, the image overlay, the figures and the files show it like any
site.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import NotFoundError, check_head, listing
from ..store import Capture

__all__ = ["rollout", "ROLLOUT_PREFIX", "stack_sites"]

#: the prefix of every site :func:`rollout` makes: ``"rollout@" + the site the flow reaches``
ROLLOUT_PREFIX = "rollout@"

_CHUNK_BYTES = 64 << 20  # float64 bytes of one [sample, query, key] chunk of the product
_LAYER_NUMBER = re.compile(r"\.\d+(\.|$)")

_FORMULA = (
    "R_l = A'_l @ ... @ A'_1 (first layer rightmost), A = the layer's attention reduced over heads, "
    "restricted to each sample's valid positions with its rows renormalised to sum 1; with the "
    "residual A' = (A + I) / rowsum(A + I) (= 0.5 A + 0.5 I where A's rows sum to 1), without it A' = A"
)


def _full_length(cap: Capture, name: str, array: np.ndarray) -> tuple[int, int]:
    """The query and key lengths a site had before any pooling or row selection."""
    info = cap.info.get(name) or {}
    q, k = info.get("query_len"), info.get("key_len")
    return int(array.shape[-2] if q is None else q), int(array.shape[-1] if k is None else k)


def _stack(name: str) -> str:
    """The stack a site belongs to: its name up to its layer number (``encoder.layer.3.attention.self``
    -> ``encoder.layer``; ``decoder.layers.0.self_attn`` -> ``decoder.layers``)."""
    base = name.split("#", 1)[0]  # a module that ran twice in a step is the same stack
    m = _LAYER_NUMBER.search(base)
    return base[: m.start()] if m else base


def stack_sites(cap: Capture, step: int = 0) -> tuple[list[str], dict[str, str]]:
    """The self-attention sites :func:`rollout` follows by default, and why the others are left out.

    Every ``"self"`` site that holds kept samples at ``step``, in run order,
    whose queries and keys are one sequence as long as the first such site's.
    Where the capture also has cross-attention (an encoder-decoder), only the
    sites of the first self-attention site's stack: the encoder's (a stack is
    a site name up to its layer number, ``encoder.layers`` in
    ``encoder.layers.3.self_attn``).

    Returns
    -------
    (list of str, dict)
        The sites, and ``{site: reason}`` for each attention site left out.
    """
    left_out: dict[str, str] = {}
    selfs = []
    for name in cap.sites:
        kind = cap.kinds[name]
        if kind == "weights":
            continue
        if kind != "self":
            left_out[name] = "cross-attention (queries and keys from two sequences)"
        elif cap.holds(name, step) != "samples":
            left_out[name] = f"keeps no samples at step {step}"
        else:
            selfs.append(name)
    if not selfs:
        raise NotFoundError(
            f"rollout follows self-attention, and no self-attention site keeps samples at step {step}; "
            f"the sites: {listing(f'{n} ({cap.kinds[n]})' for n in cap.sites)}"
        )
    if any(cap.kinds[n] == "cross" for n in cap.sites):
        stack = _stack(selfs[0])
        for name in selfs[1:]:
            if _stack(name) != stack:
                left_out[name] = f"another stack than {stack!r} (an encoder-decoder: the encoder is followed)"
        selfs = [n for n in selfs if _stack(n) == stack]
    q0, k0 = _full_length(cap, selfs[0], cap.get(selfs[0], step))
    chosen = []
    for name in selfs:
        q, k = _full_length(cap, name, cap.get(name, step))
        if (q, k) != (q0, k0) or q != k:
            left_out[name] = f"{q} queries x {k} keys, not the stack's {q0} x {k0}"
        else:
            chosen.append(name)
    return chosen, left_out


def _check_sites(cap: Capture, names: list[str], step: int) -> int:
    """Refuse what a rollout cannot follow, naming the sites; returns the sequence length."""
    problems = []
    for name in names:
        kind = cap.kinds[name]
        if kind == "cross":
            problems.append(f"{name!r} is cross-attention (its queries and keys are two sequences)")
        elif kind != "self":
            problems.append(f"{name!r} holds tapped weights, not query x key attention")
        elif cap.holds(name, step) == "stats":
            problems.append(f"{name!r} holds statistics only at step {step} (collected with keep='stats')")
        elif cap.holds(name, step) is None:
            problems.append(f"{name!r} did not run at step {step} (it ran at steps {cap.site_steps(name)})")
    if problems:
        raise ValueError(
            "rollout follows self-attention kept per sample; " + "; ".join(problems) + ". Choose other sites"
        )
    for name in names:
        info = cap.info.get(name) or {}
        block = tuple(info.get("block") or (1, 1))
        if block != (1, 1):
            problems.append(f"{name!r} is pooled {block[0]} x {block[1]} (capture(max_size=...))")
        if info.get("rows") is not None:
            problems.append(f"{name!r} keeps query rows {listing(info['rows'], 8)} only (capture(rows=...))")
    if problems:
        raise ValueError(
            "rollout needs every query row and key at full resolution; "
            + "; ".join(problems)
            + ". Capture again without max_size= and rows=, or pass sites= without them"
        )
    shapes = {name: cap.get(name, step).shape for name in names}
    samples = {s[0] for s in shapes.values()}
    sizes = {s[-2:] for s in shapes.values()}
    if len(sizes) > 1 or any(q != k for q, k in sizes) or len(samples) > 1:
        described = listing(f"{n} ({s[0]} samples, {s[-2]} x {s[-1]})" for n, s in shapes.items())
        raise ValueError(
            "rollout multiplies the layers' attention, so every site must be square self-attention of "
            f"one sequence, with the same samples; these differ: {described}. Pass sites= of one stack"
        )
    return int(next(iter(sizes))[0])


def _valid_tokens(cap: Capture, names: list[str], step: int, samples: int, n: int) -> np.ndarray | None:
    """``[sample, position]``: True where a position is no padding at every site (None: nothing is)."""
    valid = None
    for name in names:
        mask = cap.valid_mask(name, step)
        if mask is None:
            continue
        here = np.asarray(mask[0], bool) & np.asarray(mask[1], bool)
        if here.shape != (samples, n):
            continue  # recorded for another shape: say nothing rather than guess
        valid = here if valid is None else valid & here
    return valid


def _head_reduced(data: np.ndarray, head: Any) -> np.ndarray:
    """``[sample, head, query, key]`` -> ``[sample, query, key]`` float64."""
    if head == "mean":
        return data.mean(axis=1, dtype=np.float64)
    if head == "max":
        return data.max(axis=1).astype(np.float64)
    return data[:, int(head)].astype(np.float64)


def _layer_matrix(a: np.ndarray, valid: np.ndarray | None, residual: bool) -> np.ndarray:
    """One layer's ``A'`` for a chunk of samples (float64 ``[sample, query, key]``)."""
    n = a.shape[-1]
    if valid is not None:
        cells = valid[:, :, None] & valid[:, None, :]
        a = np.where(cells, a, 0.0)
    rows = a.sum(-1, keepdims=True)
    a = np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
    if residual:
        eye = np.broadcast_to(np.eye(n), a.shape)
        if valid is not None:
            eye = eye * valid[:, :, None]
        a = a + eye
        rows = a.sum(-1, keepdims=True)
        a = np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
    return a


def _site_tokens(tokens: Any, names: list[str], new: dict[str, str]) -> Any:
    """``cap.tokens`` for the rollout sites: per-site entries renamed, any other form as it is."""
    if isinstance(tokens, dict) and any(n in tokens for n in names):
        return {new[n]: tokens[n] for n in names if n in tokens}
    return tokens


def rollout(cap: Capture, sites: Sequence[int | str] | None = None, *, residual: bool = True,
            head: int | str = "mean", step: int = 0) -> Capture:  # fmt: skip
    """Attention rollout: how much each position's representation after each layer draws on each input position.

    For each sample and layer ``l`` of the stack (in run order),

    * ``A_l`` is the layer's attention ``[query, key]`` reduced over heads
      (``head``: the mean, the max, or one head), restricted to the sample's
      valid positions, rows renormalised to sum 1;
    * with the residual (``residual=True``, Abnar & Zuidema's form), the
      skip connection carries each position's own value through the layer:
      ``A'_l = (A_l + I) / rowsum(A_l + I)``, which is ``0.5 A_l + 0.5 I``
      since ``A_l``'s rows sum to 1; without it ``A'_l = A_l``;
    * the flow up to layer ``l`` is ``R_l = A'_l @ A'_(l-1) @ ... @ A'_1``
      (the first layer applied first, i.e. rightmost), accumulated in float64.

    ``R_l[i, j]`` is the share of input position ``j`` in position ``i``'s
    representation after layer ``l``; every valid row sums to 1.

    Padding: where the capture recorded padding (``cap.valid_mask``), each
    sample's rollout is computed on its valid positions alone: a position
    padded at any site of the stack has its rows and columns set to 0 in every
    ``A_l`` (the identity included), the valid rows are renormalised over the
    valid keys, so padded keys get no flow and padded rows of ``R_l`` are 0.
    The rollout capture keeps those valid positions (its frames crop them).

    Parameters
    ----------
    cap : Capture
    sites : list of int or str, optional
        The self-attention sites to follow, in the order given (the first
        layer first). Default: :func:`stack_sites`, every self-attention site
        of one length in run order (an encoder-decoder's encoder, whose stack
        runs first; its decoder's causal self-attention, interleaved with
        cross-attention, is left out); the sites left out and why are in
        ``metadata["rollout"]["left_out"]``.
    residual : bool
        Add the identity for the residual connection (default) or not.
    head : "mean", "max" or int
        How each layer's heads become one matrix (the max is renormalised row
        by row like the rest); an int takes that head at every layer.
    step : int
        The forward step whose attention is followed (generation, diffusion).

    Returns
    -------
    Capture
        One site ``"rollout@<site>"`` per site followed, kind ``"self"``,
        ``[sample, 1, query, key]`` float32 at step 0; labels, predictions,
        tokens, sample names and valid positions of the input capture;
        ``metadata["rollout"]`` says how it was computed (sites, residual,
        head, step, formula, left-out sites).

    Raises
    ------
    NotFoundError
        No self-attention site keeps samples at ``step``.
    ValueError
        A site that is cross-attention, tapped weights, statistics only,
        pooled (``max_size=``), limited to some query rows (``rows=``), or of
        another size than the others; the message names them.

    Examples
    --------
    >>> r = aw.rollout(cap)  # doctest: +SKIP
    >>> aw.show(r, tokens=tokens)  # doctest: +SKIP
    >>> r.get(-1)[:, 0, 0]  # where the first token's final representation comes from  # doctest: +SKIP
    """
    if not isinstance(residual, (bool, np.bool_)):
        raise TypeError(f"residual must be True or False, not {residual!r}")
    step = cap._step(step)
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
        raise TypeError(f"step must be an int, not {step!r}")
    left_out: dict[str, str] = {}
    if sites is None:
        names, left_out = stack_sites(cap, int(step))
    else:
        if isinstance(sites, (str, int, np.integer)):
            sites = [sites]
        names = [cap.site_name(s) for s in sites]
        if not names:
            raise ValueError("sites= is empty; give at least one self-attention site, or None for the stack")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"sites= names {listing(twice)} more than once; give each layer once")
    n = _check_sites(cap, names, int(step))
    heads = min(cap.get(name, step).shape[1] for name in names)
    if not (isinstance(head, str) and head in ("mean", "max")):
        check_head(head, heads, names[0], cap.sites.index(names[0]))
    first = cap.get(names[0], step)
    samples = int(first.shape[0])
    valid = _valid_tokens(cap, names, int(step), samples, n)

    out = {name: np.empty((samples, 1, n, n), np.float32) for name in names}
    chunk = max(1, _CHUNK_BYTES // max(n * n * 8, 1))
    for s0 in range(0, samples, chunk):
        s1 = min(samples, s0 + chunk)
        v = None if valid is None else valid[s0:s1]
        flow = None
        for name in names:
            a = _layer_matrix(_head_reduced(cap.get(name, step)[s0:s1], head), v, bool(residual))
            flow = a if flow is None else a @ flow
            out[name][s0:s1, 0] = flow

    new = {name: ROLLOUT_PREFIX + name for name in names}
    r = Capture()
    for name in names:
        source = cap.info.get(name) or {}
        r.add(
            new[name],
            0,
            out[name],
            kind="self",
            info={
                "heads": "rollout",
                "num_heads": 1,
                "rows": None,
                "block": [1, 1],
                "query_len": n,
                "key_len": n,
                "rollout_of": name,
                "source_heads": source.get("heads", "all"),
            },
        )
        if valid is not None:
            r.add_valid(new[name], 0, valid, valid)
        if name in cap.sample_axes:
            r.sample_axes[new[name]] = [list(f) for f in cap.sample_axes[name]]
    r.steps = 1
    if cap.labels is not None and len(cap.labels) == samples:
        r.labels = cap.labels
    if cap.predictions is not None and len(cap.predictions) == samples:
        r.predictions = cap.predictions
    r.tokens = _site_tokens(cap.tokens, names, new)
    if "class_names" in (cap.metadata or {}):
        r.metadata["class_names"] = cap.metadata["class_names"]
    r.metadata["rollout"] = {
        "sites": list(names),
        "residual": bool(residual),
        "head": head if isinstance(head, str) else int(head),
        "step": int(step),
        "formula": _FORMULA,
        "padding": "none recorded"
        if valid is None
        else "each sample on its valid positions (padding at any site of the stack): rows and columns of "
        "padded positions are 0, valid rows renormalised over valid keys",
        "left_out": left_out,
        "reference": "Abnar & Zuidema 2020, Quantifying Attention Flow in Transformers",
    }
    return r
