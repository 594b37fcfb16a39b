"""Per-head scores of one attention site at one step, over valid positions: the engine of :func:`heads` and :func:`check`.

A site's array ``[sample, head, query, key]`` is read in chunks of whole
samples (torch on the host, float32), so the memory held at once is a few
times the chunk, never the whole site. Two passes: the first finds which
positions are valid and whether the site is causal, the second sums each
score over the query rows it is defined for.

Which positions count
---------------------
* A query row is valid when its weights sum to more than 0 in some head: a
  row of zeros is no distribution (a padded position, or a query whose every
  key was masked with ``-inf``).
* Positions the engine recorded as padding (:meth:`Capture.valid_mask`) are left out.
* Keys are all valid, unless the capture says the site was zero-padded
  (``cap.info[site]["padded"]``, set by ``collect`` when samples of several
  lengths were stacked): then a sample's keys end where its own sequence
  ends. ``mask=`` (``[sample, position]``, 1 for a real token, e.g. the
  tokenizer's ``attention_mask``) names them explicitly, at the sites with
  as many keys as it has positions (and the queries of those sites'
  self-attention).
* A self-attention site whose weights above the diagonal are all exactly 0
  (every sample, every head) is causal: query ``i`` sees keys ``0..i``.
* A query row that sees fewer than two keys says nothing about a head (its
  only key gets all the weight, whatever the head does) and is left out.

Query positions: for a self-attention site query ``i`` is key position ``i``;
with fewer queries than keys (decoding with a KV cache) the queries are the
last ones; with ``capture(rows=...)`` they are those rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..store import Capture, split_tokens

__all__ = ["SiteScores", "site_scores", "SCORES", "CHUNK_CELLS", "COLLAPSE_ROWS"]

#: the per-head scores computed here, in the order tables show them
SCORES = (
    "previous",
    "first",
    "own",
    "local",
    "broad",
    "same",
    "induction",
    "entropy",
    "max",
    "sparsity",
    "collapse",
    "peak",
)

#: collapse onto one position is read only in samples with at least this many scored query rows:
#: two or three queries may well look at the same key (two target digits from one source word)
COLLAPSE_ROWS = 4

#: weights read at once (float32 cells; a chunk holds at least one sample)
CHUNK_CELLS = 1 << 23


@dataclass
class SiteScores:
    """What :func:`site_scores` found for one site and step.

    ``scores[name]`` is float64 ``[head]`` (NaN where the score is defined
    for no query row); ``rows`` the number of (sample, query) rows scored;
    ``similarity`` the mean pairwise cosine similarity of the heads' maps
    (NaN for one head); ``causal`` whether the site was read as causal.
    """

    site: str
    kind: str
    step: int
    heads: list[int]
    scores: dict[str, np.ndarray]
    rows: int
    samples: int
    similarity: float
    causal: bool
    source: str = "samples"
    extra: dict[str, Any] = field(default_factory=dict)


def _chunks(n: int, per_sample: int):
    size = max(1, CHUNK_CELLS // max(per_sample, 1))
    for s0 in range(0, n, size):
        yield s0, min(n, s0 + size)


def query_positions(cap: Capture, name: str, q: int, k: int) -> np.ndarray:
    """Key position of each query row of a self-attention site (see the module docstring)."""
    rows = (cap.info.get(name) or {}).get("rows")
    if rows is not None and len(rows) == q:
        return np.asarray([int(r) % k if -k <= int(r) < k else int(r) for r in rows], dtype=np.int64)
    return np.arange(q, dtype=np.int64) + max(k - q, 0)


def _token_codes(tokens: Any, name: str, kind: str, samples: int, q: int, k: int):
    """Integer codes ``(query [S, Q] or None, key [S, K])`` of the tokens, or None without tokens.

    Positions without a token get a code of their own (negative), so they never match.
    """
    if tokens is None:
        return None
    vocab: dict[Any, int] = {}

    def codes(seq, n: int) -> np.ndarray:
        out = -1 - np.arange(n, dtype=np.int64)  # unmatched: unique negatives
        for i, t in enumerate(list(seq)[:n]):
            out[i] = vocab.setdefault(t if isinstance(t, (int, np.integer)) else str(t), len(vocab))
        return out

    per_sample = (isinstance(tokens, np.ndarray) and tokens.ndim == 2) or (
        isinstance(tokens, (list, tuple))
        and len(tokens) > 0
        and isinstance(tokens[0], (list, tuple, np.ndarray, torch.Tensor))
    )
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
        per_sample = tokens.ndim == 2
    if per_sample:
        if len(tokens) != samples:
            raise ValueError(
                f"tokens= gives {len(tokens)} sequences for site {name!r}, which has {samples} "
                "sample(s); pass one token sequence per sample, or one sequence for all"
            )
        seqs = [np.asarray(s).tolist() for s in tokens]
        keys = np.stack([codes(s, k) for s in seqs])
        if kind == "cross":
            return None  # one sequence per sample reads as the key side only: no query tokens
        return None, keys
    qt, kt = split_tokens(tokens, name, kind)
    if kt is None:
        return None
    keys = np.tile(codes(kt, k), (samples, 1))
    if kind == "cross":
        if qt is None:
            return None
        return np.tile(codes(qt, q), (samples, 1)), keys
    return None, keys


def _valid(cap: Capture, name: str, data: np.ndarray, pos_q: np.ndarray, mask: Any, step: int | None = None):
    """First pass: valid query rows ``[S, Q]``, valid keys ``[S, K]`` and whether the site is causal.

    ``step``: where the data are the site's own samples at that step, the padding the engine
    recorded there (:meth:`Capture.valid_mask`) is left out too."""
    s_n, _, q_n, k_n = data.shape
    kind = cap.kinds[name]
    padded = bool((cap.info.get(name) or {}).get("padded"))
    vq = np.zeros((s_n, q_n), bool)
    last_key = np.full(s_n, -1, np.int64)
    causal = kind == "self" and q_n > 1
    above = torch.from_numpy(np.arange(k_n)[None, :] > pos_q[:, None])  # [Q, K]
    for s0, s1 in _chunks(s_n, data[0].size):
        w = torch.from_numpy(np.ascontiguousarray(data[s0:s1])).float()
        vq[s0:s1] = (w.sum(-1) > 0).any(1).numpy()
        nz = (w != 0).any(1).any(1)  # [s, K]: a key some row of some head attends to
        idx = torch.arange(k_n).expand_as(nz)
        last_key[s0:s1] = torch.where(nz, idx, -1).amax(-1).numpy()
        if causal and bool((w != 0).logical_and_(above).any()):
            causal = False
        del w
    vk = np.ones((s_n, k_n), bool)
    if padded:
        if kind == "self" and q_n == k_n:
            vk = vq.copy()
        else:
            vk = np.arange(k_n)[None, :] <= last_key[:, None]
    recorded = cap.valid_mask(name, step) if step is not None else None
    if recorded is not None and recorded[0].shape == vq.shape and recorded[1].shape == vk.shape:
        vq &= recorded[0]
        vk &= recorded[1]
    if mask is not None:
        m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        m = m.astype(bool)
        if m.ndim != 2 or m.shape[0] != s_n:
            raise ValueError(
                f"mask= must be [sample, position] with one row per sample ({s_n} at site "
                f"{name!r}), not shape {m.shape}"
            )
        # a mask describes the sites as long as it (an encoder's mask, not its decoder's)
        if m.shape[1] == k_n:
            vk &= m
            if kind == "self":
                inside = (pos_q >= 0) & (pos_q < k_n)
                vq &= np.where(inside[None, :], m[:, np.clip(pos_q, 0, k_n - 1)], False)
    return vq, vk, causal


def site_scores(
    cap: Capture,
    name: str,
    step: int,
    *,
    tokens: Any = None,
    window: int = 2,
    mask: Any = None,
    data: np.ndarray | None = None,
    keep_masks: bool = False,
) -> SiteScores:
    """Score every head of one attention site at one step (see the module docstring).

    ``data`` overrides the site's array (e.g. a mean map ``[1, head, query, key]``);
    ``keep_masks`` keeps the valid rows and keys and the causal mask in ``extra``
    (``vq`` ``[S, Q]``, ``vk`` ``[S, K]``, ``allowed`` ``[Q, K]``) for a later pass.
    """
    source = "samples"
    if data is not None and cap.holds(name, step) == "stats":
        source = "mean map"
    if data is None:
        if cap.holds(name, step) == "stats":
            data = np.asarray(cap.stat(name, step, "mean"))[None]
            source = "mean map"
        else:
            data = cap.get(name, step)
    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError(f"site {name!r} holds shape {data.shape}, not [sample, head, query, key]")
    kind = cap.kinds[name]
    s_n, h_n, q_n, k_n = data.shape
    if min(s_n, q_n, k_n) == 0:  # nothing to score: an empty axis
        empty = {sc: np.full(h_n, np.nan) for sc in SCORES}
        return SiteScores(name, kind, step, list(range(h_n)), empty, 0, s_n, math.nan, False, source)
    self_site = kind == "self"
    pos_q = query_positions(cap, name, q_n, k_n) if self_site else np.full(q_n, -(10**9), np.int64)
    vq, vk, causal = _valid(cap, name, data, pos_q, mask, step if source == "samples" else None)
    codes = _token_codes(tokens, name, kind, s_n, q_n, k_n)

    kk = torch.arange(k_n)
    pq = torch.from_numpy(pos_q)
    allowed = torch.ones(q_n, k_n, dtype=torch.bool)
    if causal:
        allowed = kk[None, :] <= pq[:, None]
    band = (kk[None, :] - pq[:, None]).abs() <= window if self_site else None
    first_k = np.where(vk.any(1), vk.argmax(1), 0)

    num = {s: torch.zeros(h_n, dtype=torch.float64) for s in SCORES}
    den = {s: torch.zeros(h_n, dtype=torch.float64) for s in SCORES}
    rows = 0
    sims: list[float] = []

    def add(score: str, value: torch.Tensor, defined: torch.Tensor) -> None:
        # value [s, H, Q]; defined [s, Q] or [s, H, Q]
        d = defined if defined.ndim == 3 else defined[:, None, :].expand_as(value)
        num[score] += torch.where(d, value, 0).double().sum((0, 2))
        den[score] += d.double().sum((0, 2))

    def at(w: torch.Tensor, v: torch.Tensor, index: torch.Tensor):
        # the weight at one key per query row (index [s, Q]), and whether that key is visible
        inside = (index >= 0) & (index < k_n)
        ix = index.clamp(0, k_n - 1)
        val = torch.gather(w, 3, ix[:, None, :, None].expand(-1, h_n, -1, 1))[..., 0]
        ok = torch.gather(v, 2, ix[..., None])[..., 0] & inside
        return val, ok

    for s0, s1 in _chunks(s_n, data[0].size):
        w = torch.from_numpy(np.ascontiguousarray(data[s0:s1])).float()
        n = s1 - s0
        v = torch.from_numpy(vq[s0:s1])[:, :, None] & torch.from_numpy(vk[s0:s1])[:, None, :] & allowed
        nvis = v.sum(-1)  # [s, Q]
        used = nvis >= 2
        rows += int(used.sum())
        w = w * v[:, None]  # weight on what a row may see, 0 elsewhere
        rowsum = w.sum(-1)  # [s, H, Q]

        if band is not None:  # self-attention: queries and keys share positions
            idx = pq[None, :].expand(n, -1)
            val, ok = at(w, v, idx - 1)
            add("previous", val, used & ok)
            val, ok = at(w, v, idx)
            add("own", val, used & ok)
            bv = band[None] & v
            add("local", (w * bv[:, None]).sum(-1), used & bv.any(-1))
        fk = torch.from_numpy(first_k[s0:s1])[:, None].expand(-1, q_n)
        val, ok = at(w, v, fk)
        add("first", val, used & ok)

        # entropy of each row renormalised over the keys it sees
        live = used[:, None, :] & (rowsum > 0)
        p = w / torch.where(rowsum > 0, rowsum, 1)[..., None]
        ent = -torch.special.xlogy(p, p).sum(-1)
        del p
        add("entropy", ent, live)
        logn = torch.log(nvis.clamp(min=2).double()).float()[:, None, :]
        add("broad", (ent / logn).clamp(0, 1), live)
        mx = w.amax(-1)
        add("max", mx, used)
        inv = 1.0 / nvis.clamp(min=1).float()[:, None, :]
        add("peak", ((mx - inv) / (1 - inv)).clamp(0, 1), used)
        below = ((w < 0.1 * inv[..., None]) & v[:, None]).sum(-1).float()
        add("sparsity", below / nvis.clamp(min=1).float()[:, None, :], used)
        # collapse: the share of each row on the one key the sample's rows attend to most
        colmass = (w * used[:, None, :, None]).sum(2)  # [s, H, K]
        kstar = colmass.argmax(-1)  # [s, H]
        on = torch.gather(w, 3, kstar[:, :, None, None].expand(-1, -1, q_n, 1))[..., 0]
        add("collapse", on, used & (used.sum(-1, keepdim=True) >= COLLAPSE_ROWS))

        if codes is not None:
            qc, kc = codes
            kc_t = torch.from_numpy(np.ascontiguousarray(kc[s0:s1]))  # [s, K]
            if self_site:
                ix = pq.clamp(0, k_n - 1)
                qc_t = torch.where(((pq >= 0) & (pq < k_n))[None, :], kc_t[:, ix], -(10**12))
            else:
                qc_t = torch.from_numpy(np.ascontiguousarray(qc[s0:s1]))
            same = qc_t[:, :, None] == kc_t[:, None, :]  # [s, Q, K]
            if self_site:
                same &= kk[None, None, :] != pq[None, :, None]
            same &= v
            add("same", (w * same[:, None]).sum(-1), used & same.any(-1))
            if self_site:
                # key j + 1 after an earlier copy j of the query's token, before the query itself
                prev_tok = torch.cat([torch.full((n, 1), -(10**12), dtype=kc_t.dtype), kc_t[:, :-1]], 1)
                ind = (qc_t[:, :, None] == prev_tok[:, None, :]) & (kk[None, None, :] < pq[None, :, None])
                ind &= v
                add("induction", (w * ind[:, None]).sum(-1), used & ind.any(-1))

        if h_n > 1:
            flat = (w * used[:, None, :, None]).reshape(n, h_n, -1)
            norm = flat.norm(dim=-1)  # [s, H]
            gram = flat @ flat.transpose(1, 2)
            ok = (norm > 0).all(-1)
            if bool(ok.any()):
                cos = gram[ok] / (norm[ok][:, :, None] * norm[ok][:, None, :])
                iu = torch.triu_indices(h_n, h_n, 1)
                sims.extend(cos[:, iu[0], iu[1]].mean(-1).double().tolist())
        del w

    scores = {}
    for s in SCORES:
        d = den[s].numpy()
        scores[s] = np.where(d > 0, num[s].numpy() / np.maximum(d, 1), np.nan)
    heads_info = (cap.info.get(name) or {}).get("heads")
    head_ids = (
        [int(h) % max(h_n, 1) if int(h) < 0 else int(h) for h in heads_info]
        if isinstance(heads_info, (list, tuple)) and len(heads_info) == h_n
        else list(range(h_n))
    )
    return SiteScores(
        site=name,
        kind=kind,
        step=step,
        heads=head_ids,
        scores=scores,
        rows=rows,
        samples=s_n,
        similarity=float(np.mean(sims)) if sims else math.nan,
        causal=causal,
        source=source,
        extra={"vq": vq, "vk": vk, "allowed": allowed} if keep_masks else {},
    )


def attention_sites(cap: Capture, sites: Sequence[Any] | None = None) -> list[str]:
    """The query x key sites (``"self"``/``"cross"``) of a capture, or of ``sites`` (indices or names)."""
    if sites is None:
        return [n for n in cap.sites if cap.kinds[n] in ("self", "cross")]
    names = [cap.site_name(s) for s in sites]
    bad = [n for n in names if cap.kinds[n] not in ("self", "cross")]
    if bad:
        raise ValueError(
            f"site(s) {bad} hold tapped weights (kind 'weights'), not query x key attention; "
            "pass self- or cross-attention sites"
        )
    return names
