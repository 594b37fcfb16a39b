"""``aw.check``: the warning signs the guides tell readers to look for, measured, per site and step.

Each sign is one number compared with one threshold from :data:`THRESHOLDS`
(overridable per call), and each finding says what was measured, where, and
what it may mean. The numbers come from the same pass over valid positions
as :func:`attnwidget.analysis.heads` (:mod:`attnwidget.analysis._scores`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import SelectionError, listing
from ..store import Capture
from ._scores import CHUNK_CELLS, SiteScores, attention_sites, site_scores

__all__ = ["check", "Finding", "Findings", "THRESHOLDS", "SIGNS"]

#: the signs, each with the threshold it is flagged at; pass ``thresholds={"uniform": 0.9}`` to change one.
#: Measured on the lesson models (tests/analysis/test_check.py) and pretrained MiniLM, the
#: values lie well inside on trained models and beyond on untrained copies, as noted per sign.
THRESHOLDS: dict[str, float] = {
    # the least normalised row entropy among a site's heads (1 = uniform): flagged above it,
    # i.e. every head spreads its weight almost evenly over everything it sees
    # (trained ViT <= 0.76, translator <= 0.87, denoiser <= 0.91, MiniLM <= 0.54; untrained >= 0.98)
    "uniform": 0.95,
    # a head's mean share of each query row on the one key the sample's rows attend to most:
    # flagged above it, every query looks at the same position (trained lessons and MiniLM <= 0.89)
    "collapse": 0.95,
    # cross-attention: the best head's mean row peak, (max - 1/n) / (1 - 1/n), 0 for a flat row and
    # 1 for one key: flagged below it, no head has a clear peak per query
    # (trained translator and denoiser >= 0.68; untrained <= 0.18)
    "diffuse": 0.3,
    # the mean pairwise cosine similarity of a site's head maps: flagged above it
    # (trained ViT <= 0.64, translator encoder <= 0.78, MiniLM <= 0.89; untrained ViT 0.94-0.99;
    # near-uniform heads are alike, so an untrained site is often flagged here too)
    "copies": 0.95,
    # the mean total-variation distance, 0.5 * sum |w_t - w_(t-1)| per row, between a site's
    # attention at consecutive steps of the same shape: flagged above it
    # (the denoiser's 20 DDIM steps change by <= 0.08 from step to step)
    "unstable": 0.25,
    # with groups=: (within - chance) / (1 - chance), within = the mean share of a grouped query's
    # weight on keys of its own group, chance = that share under uniform attention: flagged below it
    # (trained denoiser's parts >= 0.25 at its noisiest step; untrained about 0)
    "separation": 0.15,
}
SIGNS = tuple(THRESHOLDS)

_MEANING = {
    "uniform": "every head spreads its attention almost evenly: the site has not learned where to look "
    "(an untrained or badly trained model looks like this)",
    "collapse": "every query puts its weight on one and the same position (attention collapse); "
    "a sink on the first token can be healthy in large language models, elsewhere it suggests "
    "the head carries no information",
    "diffuse": "no head has a clear peak per query: the cross-attention is not aligning the two "
    "sequences (the model may not be learning alignment)",
    "copies": "the heads of this site are near copies of each other: little diversity across heads, "
    "so the site may have more heads than it uses",
    "unstable": "the attention changes abruptly from the previous step: look at the steps around it "
    "for instability across diffusion or generation steps",
    "separation": "queries of a group attend to other groups about as much as to their own: the "
    "parts do not separate",
}


@dataclass(frozen=True)
class Finding:
    """One warning sign: where (``site``, ``step``, ``head`` or None for the whole site), which
    ``sign`` (a key of :data:`THRESHOLDS`), the measured ``value``, the ``threshold`` and a ``message``."""

    site: str
    step: int
    head: int | None
    sign: str
    value: float
    threshold: float
    message: str


class Findings(list):
    """The list :func:`check` returns (of :class:`Finding`); its repr is one line per finding."""

    @property
    def signs(self) -> list[str]:
        """The signs found, each once, in :data:`SIGNS` order."""
        return [s for s in SIGNS if any(f.sign == s for f in self)]

    def __repr__(self) -> str:
        if not self:
            return "Findings([]): no warning sign"
        lines = [f"Findings: {len(self)} warning sign(s)"]
        lines += [f"  {f.message}" for f in self[:30]]
        if len(self) > 30:
            lines.append(f"  ... and {len(self) - 30} more")
        return "\n".join(lines)


def _thresholds(given: Mapping[str, float] | None) -> dict[str, float]:
    out = dict(THRESHOLDS)
    if given:
        unknown = [k for k in given if k not in THRESHOLDS]
        if unknown:
            raise ValueError(f"unknown threshold(s) {unknown}; the signs are {listing(SIGNS)}")
        for k, v in given.items():
            if (
                not isinstance(v, (int, float, np.floating, np.integer))
                or isinstance(v, bool)
                or math.isnan(v)
            ):
                raise ValueError(f"threshold {k!r} must be a number, not {v!r}")
            out[k] = float(v)
    return out


def _positions(spec: Any, what: str) -> np.ndarray:
    if isinstance(spec, range) or isinstance(spec, (list, tuple, np.ndarray)):
        arr = np.asarray(list(spec) if isinstance(spec, range) else spec)
        if arr.size == 0:
            raise ValueError(f"{what} is empty; give at least one position")
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise ValueError(f"{what} must be a range or a list of int positions, not {spec!r}")
        return arr.astype(np.int64)
    raise ValueError(f"{what} must be a range or a list of int positions, not {spec!r}")


def _groups(groups: Mapping[str, Any] | None) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """``(name, query positions, key positions, cross)`` per group."""
    if groups is None:
        return []
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError(
            "groups= is a dict {name: positions} (a range or list, for self-attention) or "
            "{name: {'query': positions, 'key': positions}} (for cross-attention)"
        )
    out = []
    for name, spec in groups.items():
        if isinstance(spec, Mapping):
            if set(spec) != {"query", "key"}:
                raise ValueError(f"group {name!r} must give 'query' and 'key' positions, not {sorted(spec)}")
            q = _positions(spec["query"], f"group {name!r} query positions")
            k = _positions(spec["key"], f"group {name!r} key positions")
            out.append((str(name), q, k, True))
        else:
            p = _positions(spec, f"group {name!r}")
            out.append((str(name), p, p, False))
    return out


def _site_groups(groups, kind: str, q_n: int, k_n: int):
    """The groups that describe a site: plain positions for self-attention, query/key pairs for cross."""
    mine = [g for g in groups if g[3] == (kind == "cross")]
    if not mine:
        return []
    if any(g[1].min() < 0 or g[1].max() >= q_n or g[2].min() < 0 or g[2].max() >= k_n for g in mine):
        return []  # positions beyond this site's axes: the groups are another site's
    return mine


def _separation(data: np.ndarray, sc: SiteScores, groups) -> tuple[float, str, float]:
    """``(separation, worst group, its separation)`` over the grouped query rows (see THRESHOLDS)."""
    s_n, h_n, q_n, k_n = data.shape
    vq, vk, allowed = sc.extra["vq"], sc.extra["vk"], sc.extra["allowed"]
    within = {g[0]: [0.0, 0.0, 0.0] for g in groups}  # name -> [within sum, chance sum, rows]
    for s0 in range(0, s_n, max(1, CHUNK_CELLS // max(data[0].size, 1))):
        s1 = min(s_n, s0 + max(1, CHUNK_CELLS // max(data[0].size, 1)))
        w = torch.from_numpy(np.ascontiguousarray(data[s0:s1])).double()
        v = torch.from_numpy(vq[s0:s1])[:, :, None] & torch.from_numpy(vk[s0:s1])[:, None, :] & allowed
        w = w * v[:, None]
        rowsum = w.sum(-1)  # [s, H, Q]
        nvis = v.sum(-1)  # [s, Q]
        for name, qp, kp, _ in groups:
            keys = torch.zeros(k_n, dtype=torch.bool)
            keys[torch.from_numpy(kp)] = True
            qi = torch.from_numpy(qp)
            inside = (w[:, :, qi][..., keys]).sum(-1)  # [s, H, q]
            seen = (v[:, qi][..., keys]).sum(-1).double()  # [s, q]
            rows = (nvis[:, qi] >= 2)[:, None, :] & (rowsum[:, :, qi] > 0)
            share = torch.where(rows, inside / torch.where(rows, rowsum[:, :, qi], 1), 0)
            chance = (seen / nvis[:, qi].clamp(min=1))[:, None, :].expand_as(share)
            acc = within[name]
            acc[0] += float(share[rows].sum())
            acc[1] += float(chance[rows].sum())
            acc[2] += int(rows.sum())

    def index(sums: list[float]) -> float:
        a, c, n = sums
        if n == 0:
            return math.nan
        a, c = a / n, c / n
        return (a - c) / (1 - c) if c < 1 else math.nan

    overall = index([sum(v[i] for v in within.values()) for i in range(3)])
    per = {k: index(v) for k, v in within.items()}
    finite = {k: v for k, v in per.items() if np.isfinite(v)}
    worst = min(finite, key=finite.__getitem__) if finite else ""
    return overall, worst, finite.get(worst, math.nan)


def _step_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean total-variation distance between the rows of two steps (rows with weight in both)."""
    total, rows = 0.0, 0
    size = max(1, CHUNK_CELLS // max(a[0].size, 1))
    for s0 in range(0, len(a), size):
        x = torch.from_numpy(np.ascontiguousarray(a[s0 : s0 + size])).double()
        y = torch.from_numpy(np.ascontiguousarray(b[s0 : s0 + size])).double()
        live = (x.sum(-1) > 0) & (y.sum(-1) > 0)
        tv = 0.5 * (x - y).abs().sum(-1)
        total += float(tv[live].sum())
        rows += int(live.sum())
    return total / rows if rows else math.nan


def _array(cap: Capture, name: str, step: int) -> np.ndarray:
    if cap.holds(name, step) == "stats":
        return np.asarray(cap.stat(name, step, "mean"))[None]
    return cap.get(name, step)


def check(
    cap: Capture,
    groups: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, float] | None = None,
    *,
    sites: Sequence[Any] | None = None,
    steps: Sequence[int] | None = None,
    mask: Any = None,
) -> Findings:
    """The warning signs the guides describe, measured per site and step, with value and threshold.

    ========== ===== =====================================================================
    sign       where measured value (flagged against :data:`THRESHOLDS`)
    ========== ===== =====================================================================
    uniform    site  the least ``broad`` score (normalised row entropy, see :func:`heads`)
                     among the site's heads: above the threshold, every head is near uniform
    collapse   head  mean over query rows of the weight on the one key that the sample's
                     rows attend to most (samples with 4 rows or more): above, every query looks
                     at the same position
    diffuse    site  cross-attention only: the largest, over heads, of the mean row peak
                     ``(max w - 1/n) / (1 - 1/n)``: below, no head has a clear peak
    copies     site  mean over samples of the mean pairwise cosine similarity of the heads'
                     maps (valid rows, flattened): above, the heads are near copies
    unstable   site  where the site ran at the step before with the same shape: the mean
                     over samples, heads and rows of ``0.5 * sum |w_t - w_(t-1)|``
                     (0 = the same, 1 = disjoint): above, the attention jumped
    separation site  with ``groups=``: ``(within - chance) / (1 - chance)`` where
                     ``within`` is the mean share of a grouped query's weight on its own
                     group's keys and ``chance`` that share under uniform attention: below,
                     the parts do not separate (0 = no better than uniform)
    ========== ===== =====================================================================

    Scores are over valid positions, as :func:`heads` reads them. A site of
    statistics alone (``collect(keep="stats")``) is checked on its mean map
    over every streamed sample, where ``uniform`` and ``copies`` read flatter
    and closer than the samples themselves.

    Parameters
    ----------
    cap : Capture
    groups : dict, optional
        ``{name: positions}`` (a range or a list) for self-attention sites, the
        same positions on both axes; ``{name: {"query": positions, "key":
        positions}}`` for cross-attention (e.g. a diffusion model's latent
        queries of each part and that part's condition token). Groups apply
        to the sites whose axes hold their positions.
    thresholds : dict, optional
        Overrides of :data:`THRESHOLDS`, e.g. ``{"uniform": 0.9}``.
    sites : sequence of int or str, optional
        Sites to check (default: every self- and cross-attention site).
    steps : sequence of int, optional
        Steps to check (default: every step each site holds).
    mask : array-like, optional
        ``[sample, position]`` real tokens, as for :func:`heads`.

    Returns
    -------
    Findings
        A list of :class:`Finding`, by site then step; empty when nothing is flagged.
    """
    limits = _thresholds(thresholds)
    parsed = _groups(groups)
    names = attention_sites(cap, sites)
    if not names:
        raise SelectionError(
            f"check() needs self- or cross-attention sites; this capture's sites are "
            f"{listing(f'{n} ({cap.kinds[n]})' for n in cap.sites)}"
        )
    out = Findings()
    grouped_any = False
    for name in names:
        ran = cap.site_steps(name)
        wanted = ran if steps is None else [s for s in ran if s in {cap._step(t) for t in steps}]
        for step in wanted:
            data = _array(cap, name, step)
            sc = site_scores(cap, name, step, mask=mask, data=data, keep_masks=True)
            out.extend(_findings(sc, limits))
            if step - 1 in ran:
                before = _array(cap, name, step - 1)
                if before.shape == data.shape:
                    change = _step_change(before, data)
                    if np.isfinite(change) and change > limits["unstable"]:
                        out.append(_finding(sc, None, "unstable", change, limits, f"from step {step - 1}"))
            mine = _site_groups(parsed, sc.kind, data.shape[2], data.shape[3])
            if mine:
                grouped_any = True
                sep, worst, worst_value = _separation(data, sc, mine)
                if np.isfinite(sep) and sep < limits["separation"]:
                    note = f"least separated group: {worst!r} ({worst_value:.2f})" if worst else ""
                    out.append(_finding(sc, None, "separation", sep, limits, note))
    if parsed and not grouped_any:
        raise ValueError(
            "groups= fit no site: plain positions describe self-attention sites and "
            "{'query': ..., 'key': ...} pairs cross-attention sites, and every position must lie "
            "within the site's axes; the sites are "
            + listing(f"{n} ({cap.kinds[n]}, {_shape(cap, n)})" for n in names)
        )
    return out


def _shape(cap: Capture, name: str) -> str:
    steps = cap.site_steps(name)
    if not steps:
        return "nothing recorded"
    q, k = _array(cap, name, steps[0]).shape[2:]
    return f"{q} queries x {k} keys"


def _finding(sc: SiteScores, head: int | None, sign: str, value: float, limits, note: str = "") -> Finding:
    where = f"{sc.site} step {sc.step}" + (f" head {head}" if head is not None else "")
    rel = ">" if sign in ("uniform", "collapse", "copies", "unstable") else "<"
    message = f"{where}: {sign} ({value:.3f} {rel} {limits[sign]:g}): {_MEANING[sign]}"
    if note:
        message += f"; {note}"
    return Finding(sc.site, int(sc.step), head, sign, float(value), float(limits[sign]), message)


def _findings(sc: SiteScores, limits: dict[str, float]) -> list[Finding]:
    found = []
    broad = sc.scores["broad"]
    if np.isfinite(broad).any():
        least = float(np.nanmin(broad))
        if least > limits["uniform"]:
            found.append(_finding(sc, None, "uniform", least, limits))
    for i, head in enumerate(sc.heads):
        c = sc.scores["collapse"][i]
        if np.isfinite(c) and c > limits["collapse"]:
            found.append(_finding(sc, head, "collapse", float(c), limits))
    if sc.kind == "cross":
        peak = sc.scores["peak"]
        if np.isfinite(peak).any():
            best = float(np.nanmax(peak))
            if best < limits["diffuse"]:
                found.append(_finding(sc, None, "diffuse", best, limits))
    if np.isfinite(sc.similarity) and sc.similarity > limits["copies"]:
        found.append(_finding(sc, None, "copies", sc.similarity, limits))
    return found
