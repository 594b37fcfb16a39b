"""Generation assembled: the rows of a step-by-step loop put together as one attention matrix.

A model that generates step by step (Hugging Face ``generate``, or any loop
calling the model once per token) is recorded as one array per step. With a
KV cache, step 0 holds the prompt's rows (query = key = prompt length) and
each later step holds the rows of its new queries, whose keys extend the
previous step's by those queries. Without a cache, each step recomputes the
whole prefix (query = key = the sequence so far). Either way the rows, put
below one another in step order, are the attention of the whole sequence:
for a causal model the same, row by row, as one forward over the final
sequence (teacher forcing).

How a site's steps chain is read from their shapes alone:

- **self-attention**: a step whose keys are the keys so far plus its own
  queries adds all its rows (a cache); a step whose queries are its keys and
  longer than the keys so far recomputes the prefix and adds its last rows,
  those beyond the keys so far (no cache). Step 0 may hold fewer queries than
  keys (it read a cache filled before the capture).
- **cross-attention** (generated tokens x source): the keys are the source at
  every step, and the rows each step adds are those its decoder's
  self-attention adds: the self-attention site that ran at the same steps
  with the same queries per step, the nearest by module path
  (``decoder.layers.0.self_attn`` for ``decoder.layers.0.encoder_attn``).
  Shapes alone cannot tell one cached query per step from a growing prefix,
  nor a decoder from a diffusion model that repeats one shape.

Steps that chain neither way (diffusion steps repeating one shape, sample
counts that change) cannot be assembled. Beam search keeps its batch
(``batch x beams`` samples) and so chains by shape, but it reorders the
beams between steps: one sample's rows then come from different hypotheses.
A capture of Hugging Face ``generate`` records its beams
(``cap.metadata["generation"]["num_beams"]``), and such a capture is
refused with that reason; a hand-written beam search cannot be told apart.
Assemble greedy or sampled generations.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import SelectionError, listing

if TYPE_CHECKING:
    from .store import Capture

__all__ = ["assembled", "generation", "assembled_valid", "nearest_self_sites"]


@dataclass(frozen=True)
class _Plan:
    """How a site's steps chain: the rows each adds (its last ones) and the matrix so far after each."""

    steps: tuple[int, ...]
    queries: tuple[int, ...]  # query rows each step holds
    new: tuple[int, ...]  # rows each step adds: its last `new` rows
    revealed: tuple[tuple[int, int], ...]  # (rows, keys) of the matrix after each step


# capture -> site -> (signature the plan was read from, plan or the reason there is none)
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def assembled(cap: Capture, site: int | str) -> np.ndarray:
    """The attention of a whole generated sequence at one site, as one ``[sample, head, query, key]`` array.

    Parameters
    ----------
    cap : Capture
        A capture of a generation loop (``with aw.capture(model): model.generate(...)``).
    site : int or str
        The site, by index in ``cap.sites`` or by name.

    Returns
    -------
    numpy.ndarray
        ``[sample, head, rows, keys]``, the stored dtype: the rows of every
        step of the site in step order (each step's new rows only, see the
        module docstring). Self-attention: ``keys`` is the final key length
        and a row is 0 beyond the keys of its own step, as a causal mask
        leaves it. Cross-attention: ``keys`` is the source.

    Raises
    ------
    SelectionError
        The site's steps do not chain as generation (the message gives each
        step's shape), it holds no kept arrays, or it cannot be assembled: a
        ``"weights"`` site, one pooled by ``max_size=`` or one whose query
        rows were picked by ``rows=``.
    """
    name = cap.site_name(site)
    plan = _plan(cap, name)
    if isinstance(plan, str):
        raise SelectionError(plan)
    first = cap.get(name, plan.steps[0])
    rows, keys = plan.revealed[-1]
    out = np.zeros((first.shape[0], first.shape[1], rows, keys), dtype=first.dtype)
    at = 0
    for step, queries, new in zip(plan.steps, plan.queries, plan.new, strict=True):
        a = cap.get(name, step)
        out[:, :, at : at + new, : a.shape[3]] = a[:, :, queries - new :, :]
        at += new
    return out


def generation(cap: Capture, site: int | str) -> list[tuple[int, int]] | None:
    """How a generation reveals the assembled matrix of a site, step by step; None where it is no generation.

    Parameters
    ----------
    cap : Capture
        The capture.
    site : int or str
        The site, by index or by name.

    Returns
    -------
    list of (int, int) or None
        One ``(rows, keys)`` per step of ``cap.steps_of(site)``, in that
        order: after that step, the first ``rows`` rows and ``keys`` key
        columns of :func:`assembled` are known (``assembled(cap, site)[:, :,
        :rows, :keys]``); the last entry is the whole matrix. None where the
        site ran at fewer than two steps (a single forward, an encoder that
        ran once) or its steps do not chain, or it cannot be assembled (why:
        :func:`assembled` raises and says). Never raises for such a site: only
        for a site the capture does not have.
    """
    name = cap.site_name(site)
    plan = _plan(cap, name)
    if isinstance(plan, str) or len(plan.steps) < 2:
        return None
    return list(plan.revealed)


def assembled_valid(cap: Capture, site: int | str) -> tuple[np.ndarray, np.ndarray] | None:
    """Which rows and keys of the assembled matrix of a site are not padding.

    Read from ``cap.valid_mask(site, step)`` at each step: a row is valid
    where its own step recorded it valid, and a key where any step that
    recorded validity saw it valid (a step that recorded none holds no
    padding; a sliding window that hides early keys from late queries is not
    padding). Keys no recording step had are valid.

    Parameters
    ----------
    cap : Capture
        The capture.
    site : int or str
        The site, by index or by name.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) or None
        bool ``[sample, rows]`` and ``[sample, keys]``, the axes of
        :func:`assembled`; None where no step recorded padding.

    Raises
    ------
    SelectionError
        As :func:`assembled`, or a recorded validity whose shape is not that
        of its step's attention.
    """
    name = cap.site_name(site)
    plan = _plan(cap, name)
    if isinstance(plan, str):
        raise SelectionError(plan)
    masks = [cap.valid_mask(name, step) for step in plan.steps]
    if all(m is None for m in masks):
        return None
    samples = cap.get(name, plan.steps[0]).shape[0]
    rows, keys = plan.revealed[-1]
    query_valid = np.ones((samples, rows), bool)
    key_valid = np.zeros((samples, keys), bool)
    seen = np.zeros(keys, bool)
    at = 0
    for step, queries, new, mask in zip(plan.steps, plan.queries, plan.new, masks, strict=True):
        if mask is not None:
            q, k = mask
            shape = cap.get(name, step).shape
            if q.shape != (samples, queries) or k.shape != (samples, shape[3]):
                raise SelectionError(
                    f"site {name!r} step {step}: the recorded validity is {q.shape} x {k.shape}, "
                    f"not [sample, query] x [sample, key] of its attention {tuple(shape)}"
                )
            query_valid[:, at : at + new] = q[:, queries - new :]
            key_valid[:, : k.shape[1]] |= k
            seen[: k.shape[1]] = True
        at += new
    key_valid[:, ~seen] = True
    return query_valid, key_valid


# ---------------------------------------------------------------------- chaining
def _signature(cap: Capture, name: str) -> tuple:
    return tuple((step, cap.get(name, step).shape) for step in cap.steps_of(name))


def _plan(cap: Capture, name: str) -> _Plan | str:
    """The site's plan, or the one-line reason it has none; cached per capture while its shapes stay."""
    per_site = _PLANS.setdefault(cap, {})
    signature = _signature(cap, name)
    kind = cap.kinds.get(name)
    key = (kind, signature, len(cap.sites))
    cached = per_site.get(name)
    if cached is not None and cached[0] == key:
        plan, partner = cached[1], cached[2]
        # a cross-attention plan holds while the self-attention site it was read from keeps its shapes
        if partner is None or partner[1] == _signature(cap, partner[0]):
            return plan
    plan, partner = _read_plan(cap, name, kind, signature)
    per_site[name] = (key, plan, partner)
    return plan


def _shapes(signature: tuple) -> str:
    return listing((f"{step}: {'x'.join(str(n) for n in shape)}" for step, shape in signature), most=12)


def _read_plan(
    cap: Capture, name: str, kind: str | None, signature: tuple
) -> tuple[_Plan | str, tuple | None]:
    """(plan or reason, (partner site, its signature) for a cross-attention plan, else None)."""
    if kind == "weights":
        return (
            f"site {name!r} holds tapped weights, not query x key attention: there are no rows to assemble",
            None,
        )
    if not signature:
        return (
            f"site {name!r} kept no per-sample arrays (statistics only, collect(..., keep='stats')): "
            "capture the generation with aw.capture(model) to assemble it",
            None,
        )
    info = cap.info.get(name) or {}
    if info.get("rows") is not None:
        return (
            f"site {name!r} kept only the query rows {info['rows']} (capture(rows=...)): "
            "capture without rows= to assemble its generation",
            None,
        )
    if list(info.get("block", [1, 1])) != [1, 1]:
        return (
            f"site {name!r} is pooled in blocks of {info['block'][0]} x {info['block'][1]} "
            "(capture(max_size=...)): capture without max_size= to assemble its generation",
            None,
        )
    beams = ((cap.metadata or {}).get("generation") or {}).get("num_beams", 1)
    if isinstance(beams, int) and beams > 1 and kind in ("self", "cross") and len(signature) > 1:
        return (
            f"site {name!r} was captured from generate(num_beams={beams}): beam search reorders its "
            "hypotheses between steps, so one sample's rows at successive steps come from different "
            "beams and do not make one matrix. Generate with num_beams=1 (greedy or sampling), or "
            "capture one forward over the chosen output (model(input_ids, decoder_input_ids=output) "
            "for an encoder-decoder), which gives that hypothesis's whole matrix",
            None,
        )
    outer = {shape[:2] for _, shape in signature}
    if len(outer) > 1:
        return (
            f"site {name!r} does not chain as generation: its steps hold different numbers of samples "
            f"or heads (beam search or a batch that changes); steps (sample x head x query x key): "
            f"{_shapes(signature)}",
            None,
        )
    if kind == "self":
        return _self_plan(cap, name, signature), None
    return _cross_plan(cap, name, signature)


def _self_plan(cap: Capture, name: str, signature: tuple) -> _Plan | str:
    queries, new, revealed = [], [], []
    rows = keys = 0
    for i, (step, shape) in enumerate(signature):
        q, k = shape[2], shape[3]
        if i == 0 and q <= k:
            n = q  # the prompt (or the first rows after a cache filled before the capture)
        elif i > 0 and k - q == keys:
            n = q  # a cache: its keys are the keys so far plus its own queries
        elif i > 0 and q == k > keys:
            n = k - keys  # no cache: the whole prefix again, of which the last rows are new
        else:
            if i == 0:
                why = f"step {step} has more queries ({q}) than keys ({k})"
            else:
                why = (
                    f"step {step} has {q} queries x {k} keys after {keys} keys: its keys are neither "
                    f"the {keys} so far plus its queries (a cache) nor its queries, more than {keys} (no cache)"
                )
            return (
                f"site {name!r} does not chain as generation: {why}; steps (sample x head x query x key): "
                f"{_shapes(signature)}{_pooling_hint(cap)}"
            )
        queries.append(q)
        new.append(n)
        rows, keys = rows + n, k
        revealed.append((rows, keys))
    return _Plan(tuple(s for s, _ in signature), tuple(queries), tuple(new), tuple(revealed))


def _cross_plan(cap: Capture, name: str, signature: tuple) -> tuple[_Plan | str, tuple | None]:
    sources = {shape[3] for _, shape in signature}
    if len(sources) > 1:
        return (
            f"site {name!r} does not chain as generation: cross-attention reads one source at every "
            f"step, and its key lengths differ; steps (sample x head x query x key): "
            f"{_shapes(signature)}{_pooling_hint(cap)}",
            None,
        )
    steps = tuple(s for s, _ in signature)
    queries = tuple(shape[2] for _, shape in signature)
    for other in nearest_self_sites(cap, name):
        other_signature = _signature(cap, other)
        if tuple(s for s, _ in other_signature) != steps:
            continue
        # the same samples and queries at every step (its head count may differ)
        if any(
            (a[0], a[2]) != (b[0], b[2]) for (_, a), (_, b) in zip(signature, other_signature, strict=True)
        ):
            continue
        partner = _plan(cap, other)
        if isinstance(partner, str):
            continue
        source = sources.pop()
        plan = _Plan(steps, queries, partner.new, tuple((rows, source) for rows, _ in partner.revealed))
        return plan, (other, other_signature)
    if len(steps) == 1:
        return _Plan(steps, queries, queries, ((queries[0], sources.pop()),)), None
    return (
        f"site {name!r} does not chain as generation: its rows per step are read from the "
        "self-attention site that generates with it (same steps, samples and queries per step), "
        "and no self-attention site of this capture does (capture the decoder's self-attention "
        f"too); steps (sample x head x query x key): {_shapes(signature)}",
        None,
    )


def nearest_self_sites(cap: Capture, name: str) -> list[str]:
    """Self-attention sites, nearest module path first (most leading path parts in common)."""
    parts = name.split(".")

    def shared(other: str) -> int:
        n = 0
        for a, b in zip(parts, other.split("."), strict=False):
            if a != b:
                break
            n += 1
        return n

    candidates = [s for s in cap.sites if cap.kinds.get(s) == "self"]
    return sorted(candidates, key=lambda s: -shared(s))


def _pooling_hint(cap: Capture) -> str:
    max_size = ((cap.metadata or {}).get("options") or {}).get("max_size")
    if max_size:
        return f" (captured with max_size={max_size}: steps longer than that are pooled)"
    return ""
