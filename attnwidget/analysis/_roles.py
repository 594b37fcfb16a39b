"""``aw.heads``: what each head does, as named scores in [0, 1] per (site, head).

The roles are the patterns the literature names (Clark et al. 2019, "What
does BERT look at?"; Olsson et al. 2022 on induction heads; Xiao et al. 2023
on attention sinks). Each score is a mean of one number per query row; the
rows, the valid positions and the causal reading are those of
:mod:`attnwidget.analysis._scores`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SelectionError, listing
from ..store import Capture
from ._scores import SiteScores, attention_sites, site_scores

__all__ = ["heads", "HeadRoles", "ROLES", "ROLE_MIN", "COLUMNS"]

#: the named roles, in the order that breaks ties (a more specific role first)
ROLES = ("induction", "same", "previous", "first", "own", "local", "broad")
#: a head whose strongest role scores below this is ``"other"`` (it does something unnamed)
ROLE_MIN = 0.4
#: the columns of a row of :class:`HeadRoles`
_FLOATS = ("previous", "first", "own", "local", "broad", "same", "induction", "entropy", "max", "sparsity")
COLUMNS = ("site", "kind", "step", "head", "role", *_FLOATS, "rows", "source")


def strongest_role(row: dict) -> str:
    """The role a head shows most: the highest of :data:`ROLES`, ``"other"`` below :data:`ROLE_MIN`.

    ``local`` contains the previous and the own token, so it competes with
    what those two leave: ``local - max(previous, own)``.
    """
    best, value = "other", ROLE_MIN
    for role in ROLES:
        score = row.get(role)
        if score is None or not np.isfinite(score):
            continue
        if role == "local":
            inner = [row.get(r) for r in ("previous", "own")]
            score -= max([x for x in inner if x is not None and np.isfinite(x)] or [0.0])
        if score > value + 1e-9:
            best, value = role, score
    return best


class HeadRoles(list):
    """The rows of :func:`heads`: a list of dicts (one per site and head) that is also a table.

    ``pandas.DataFrame(roles)`` takes it as it is (no pandas needed here);
    :attr:`array` / :meth:`to_numpy` give the same rows as a structured
    numpy array; :meth:`grid` one score as ``[site, head]``; :meth:`best`
    the heads that show a role most; :meth:`figure` the sites x heads chart.
    """

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS

    @property
    def sites(self) -> list[str]:
        """The sites in the rows, in capture order."""
        out: list[str] = []
        for r in self:
            if r["site"] not in out:
                out.append(r["site"])
        return out

    def to_numpy(self) -> np.ndarray:
        """The rows as a structured array (fields :data:`COLUMNS`; strings as unicode, scores float64)."""
        width = max([len(r["site"]) for r in self] + [1])
        dtype = [
            ("site", f"U{width}"),
            ("kind", "U5"),
            ("step", "i8"),
            ("head", "i8"),
            ("role", "U9"),
            *[(f, "f8") for f in _FLOATS],
            ("rows", "i8"),
            ("source", "U8"),
        ]
        return np.array([tuple(r[c] for c in COLUMNS) for r in self], dtype=dtype)

    @property
    def array(self) -> np.ndarray:
        """:meth:`to_numpy`."""
        return self.to_numpy()

    def grid(self, column: str) -> np.ndarray:
        """One column as float ``[site, head]`` in :attr:`sites` order (NaN where a site has fewer heads)."""
        if column not in _FLOATS:
            raise ValueError(f"grid() shows a score, one of {listing(_FLOATS)}; not {column!r}")
        sites = self.sites
        width = max([r["head"] for r in self] + [-1]) + 1
        out = np.full((len(sites), width), np.nan)
        for r in self:
            out[sites.index(r["site"]), r["head"]] = r[column]
        return out

    def best(self, role: str, n: int = 1) -> list[dict]:
        """The ``n`` rows with the highest ``role`` score (NaN last)."""
        if role not in _FLOATS:
            raise ValueError(f"best() ranks by a score, one of {listing(_FLOATS)}; not {role!r}")
        ranked = sorted(
            self, key=lambda r: -r[role] if np.isfinite(r[role]) else np.inf
        )  # stable: capture order breaks ties
        return ranked[:n]

    def figure(self, **kwargs):
        """:func:`attnwidget.analysis.heads_figure` of these rows."""
        from ._figure import heads_figure

        return heads_figure(self, **kwargs)

    def __repr__(self) -> str:
        if not self:
            return "HeadRoles([])"
        lines = [f"HeadRoles: {len(self)} heads of {len(self.sites)} site(s)"]
        for r in self[:20]:
            lines.append(
                f"  {r['site']} head {r['head']}: {r['role']}  "
                + " ".join(f"{c}={r[c]:.2f}" for c in ROLES if np.isfinite(r[c]))
            )
        if len(self) > 20:
            lines.append(f"  ... and {len(self) - 20} more")
        return "\n".join(lines)


def _rows(sc: SiteScores) -> list[dict]:
    out = []
    for i, head in enumerate(sc.heads):
        row: dict[str, Any] = {"site": sc.site, "kind": sc.kind, "step": int(sc.step), "head": int(head)}
        for f in _FLOATS:
            row[f] = float(sc.scores[f][i])
        row["role"] = strongest_role(row)
        row["rows"] = int(sc.rows)
        row["source"] = sc.source
        out.append({c: row[c] for c in COLUMNS})
    return out


def default_tokens(cap: Capture, tokens: Any) -> Any:
    """``tokens``, else ``cap.tokens`` where they can be every sample's (a capture of one sample)."""
    if tokens is not None:
        return tokens
    return cap.tokens if cap.num_samples <= 1 else None


def heads(
    cap: Capture,
    tokens: Any = None,
    step: int = 0,
    *,
    sites: Sequence[Any] | None = None,
    window: int = 2,
    mask: Any = None,
) -> HeadRoles:
    """Head roles: one row per (site, head) with scores in [0, 1] for the patterns people name.

    Every score is a mean over samples and query rows (each scored row
    counts once), over valid positions only (see below). For query row
    ``i`` at key position ``p`` (``p = i`` in self-attention), with weights
    ``w[k]`` on the ``n`` keys the row may see:

    ========== ====================================================================
    previous   ``w[p - 1]``: the token before (rows with a previous position)
    first      ``w[f]``, ``f`` the first valid key: the first token, an attention sink
    own        ``w[p]``: the token itself, the diagonal
    local      ``sum of w[k] for |k - p| <= window``: a local window around the token
    broad      ``H / log(n)``, ``H = -sum w[k] log w[k]`` (the row renormalised over
               its keys): 1 = uniform over everything the row sees
    same       ``sum of w[k]`` over the other positions ``k != p`` whose token equals
               the query's token (rows where such a ``k`` exists; needs tokens)
    induction  ``sum of w[j + 1]`` over earlier copies ``j`` of the query's token with
               ``j + 1 < p``: attending to what followed the token last time
               (Olsson et al. 2022; rows where such a ``j`` exists; needs tokens)
    entropy    ``H`` in nats (not normalised)
    max        ``max w[k]``: near 1 = one key takes everything
    sparsity   fraction of the row's keys with ``w[k] < 0.1 / n``
    ========== ====================================================================

    ``previous``, ``own``, ``local`` and ``induction`` need shared positions
    and are NaN for cross-attention sites; ``same`` there compares query and
    key tokens (``tokens={"query": ..., "key": ...}``). A score with no row
    to be defined on is NaN. ``role`` is the strongest of the named roles
    (``local`` counted beyond the previous and own tokens it contains), or
    ``"other"`` where none reaches :data:`ROLE_MIN` (0.4).

    Valid positions: query rows whose weights sum to more than 0 (a row of
    zeros is padding or fully masked); keys past a sample's length where
    ``collect`` zero-padded the site (``cap.info[site]["padded"]``), or
    where ``mask`` says so; every position otherwise. A self-attention site
    with no weight above the diagonal is read as causal (row ``i`` sees keys
    ``0..i``, so ``n = i + 1``), and rows that see fewer than two keys are
    left out. Pooled captures (``max_size=``) are scored on their blocks.

    Parameters
    ----------
    cap : Capture
    tokens : optional
        Token strings (or ids) for ``same`` and ``induction``: one sequence for
        every sample, one sequence per sample (a list of lists or a
        ``[sample, position]`` array), or the forms ``cap.tokens`` takes
        (``{"query": ..., "key": ...}``, per site). Default: ``cap.tokens``
        for a capture of one sample (a capture of several keeps one token
        list, which need not be every sample's).
    step : int
        The step to score; sites that did not run at it are left out.
    sites : sequence of int or str, optional
        The sites to score (default every self- and cross-attention site).
    window : int
        Half-width of the ``local`` window (default 2: five positions).
    mask : array-like, optional
        ``[sample, position]``, true for real tokens (e.g. the tokenizer's
        ``attention_mask``): keys (and, in self-attention, queries) where it
        is false are not valid, at the sites with as many keys as it has
        positions (other sites are read without it).

    Returns
    -------
    HeadRoles
        A list of dicts with the keys :data:`COLUMNS` (``rows``: how many
        query rows were scored; ``source``: ``"samples"``, or ``"mean map"``
        for a site of statistics alone, scored on the mean over every
        streamed sample, whose entropy-based scores are those of the mean);
        ``pandas.DataFrame(result)`` works, and ``result.array`` is a
        structured numpy array of the same rows.

    Memory is bounded: one site at a time, read in chunks of whole samples.
    """
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 0:
        raise ValueError(f"window must be a non-negative int (half-width in positions), not {window!r}")
    names = attention_sites(cap, sites)
    if not names:
        raise SelectionError(
            f"heads() needs self- or cross-attention sites; this capture's sites are "
            f"{listing(f'{n} ({cap.kinds[n]})' for n in cap.sites)}"
        )
    tokens = default_tokens(cap, tokens)
    out = HeadRoles()
    for name in names:
        if cap.holds(name, step) is None:
            continue
        out.extend(_rows(site_scores(cap, name, cap._step(step), tokens=tokens, window=window, mask=mask)))
    if not out:
        ran = sorted({s for n in names for s in cap.site_steps(n)})
        raise SelectionError(
            f"no attention site ran at step {step}: the sites ran at steps {listing(ran)}; pass step="
        )
    return out
