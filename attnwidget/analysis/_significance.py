"""``aw.significance``: is a class difference more than noise? Per-cell Welch tests, corrected for the cells.

Works from kept samples or from streamed statistics (``collect(keep="stats")``:
count, mean and variance per class are all a Welch test needs), so a
difference over a whole evaluation set is tested without keeping it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NoLabelsError, SelectionError, check_head, listing, no_labels
from ..store import ALL, Capture, class_key, site_arg

__all__ = ["significance", "Significance", "benjamini_hochberg", "t_two_sided", "cells_text"]

_CHUNK = 1 << 22  # cells per sample chunk when summing kept samples


@dataclass
class Significance:
    """The per-cell test of ``mean[a] - mean[b]`` at one site and step (see :func:`significance`).

    Arrays have the shape of one sample of the site (without the head axis
    when one head was picked). ``mask`` is ``q < alpha``; ``count`` its
    number of true cells; ``title`` reads like "312 of 512^2 cells differ at
    q < 0.05"; ``caption`` names the site, the classes and their sizes.
    """

    site: str
    step: int
    head: int | None
    a: Any
    b: Any
    n_a: int
    n_b: int
    difference: np.ndarray
    effect: np.ndarray
    t: np.ndarray
    df: np.ndarray
    p: np.ndarray
    q: np.ndarray
    alpha: float
    mask: np.ndarray
    count: int
    cells: int
    title: str
    caption: str
    source: str

    def __repr__(self) -> str:
        return f"<Significance: {self.title} ({self.caption})>"


# ---------------------------------------------------------------- the t distribution


def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of the incomplete beta function (modified Lentz), elementwise."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones(x.shape, bool)
    for m in range(1, 20000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = np.where(active, 1.0 + aa * d, d)
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = np.where(active, 1.0 + aa / c, c)
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = np.where(active, 1.0 / d, d)
        h = np.where(active, h * d * c, h)
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = np.where(active, 1.0 + aa * d, d)
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = np.where(active, 1.0 + aa / c, c)
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = np.where(active, 1.0 / d, d)
        delta = d * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) > eps
        if not active.any():
            break
    return h


def betainc(a, b, x, y=None) -> np.ndarray:
    """The regularised incomplete beta function ``I_x(a, b)``, elementwise (a, b > 0, 0 <= x <= 1).

    Numerical Recipes' method: the continued fraction, on ``x`` or, through
    ``I_x(a, b) = 1 - I_(1-x)(b, a)``, on ``1 - x``, whichever converges fast.
    ``y`` is ``1 - x`` where the caller knows it more precisely than the
    subtraction would give (``x`` near 1).
    """
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, x)))
    y = 1.0 - x if y is None else np.broadcast_to(np.asarray(y, dtype=np.float64), x.shape)
    out = np.zeros(x.shape)
    out[(x >= 1) | (y <= 0)] = 1.0
    inner = (x > 0) & (y > 0)
    if inner.any():
        ai, bi, xi, yi = a[inner], b[inner], x[inner], y[inner]
        lgamma = np.vectorize(math.lgamma, otypes=[np.float64])
        log_front = lgamma(ai + bi) - lgamma(ai) - lgamma(bi) + ai * np.log(xi) + bi * np.log(yi)
        front = np.exp(log_front)
        direct = xi < (ai + 1.0) / (ai + bi + 2.0)
        val = np.empty_like(xi)
        if direct.any():
            val[direct] = front[direct] * _betacf(ai[direct], bi[direct], xi[direct]) / ai[direct]
        flip = ~direct
        if flip.any():
            val[flip] = 1.0 - front[flip] * _betacf(bi[flip], ai[flip], yi[flip]) / bi[flip]
        out[inner] = np.clip(val, 0.0, 1.0)
    return out


def t_two_sided(t, df, *, use_scipy: bool = True) -> np.ndarray:
    """Two-sided p-value ``P(|T| >= |t|)`` of Student's t with ``df`` degrees of freedom.

    With scipy installed (scikit-learn brings it): ``2 * scipy.special.stdtr(df, -|t|)``.
    Without it, or with ``use_scipy=False``: ``I_(df / (df + t^2))(df / 2, 1 / 2)`` from
    :func:`betainc`, the same function (agreement to about 1e-12). ``|t| = inf`` gives 0.
    """
    t = np.abs(np.asarray(t, dtype=np.float64))
    df = np.asarray(df, dtype=np.float64)
    if use_scipy:
        try:
            from scipy.special import stdtr
        except ImportError:
            pass
        else:
            return np.clip(2.0 * stdtr(df, -t), 0.0, 1.0)
    t, df = np.broadcast_arrays(t, df)
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.where(np.isinf(t), 0.0, df / (df + t * t))
        y = np.where(np.isinf(t), 1.0, t * t / (df + t * t))  # 1 - x without the cancellation near t = 0
    return betainc(df / 2.0, np.full(df.shape, 0.5), x, y)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p`` (any shape; NaN stays NaN and is not counted).

    ``q_(i) = min over j >= i of p_(j) * m / j`` for the ``m`` finite p-values
    sorted ascending, capped at 1: rejecting every ``q < alpha`` keeps the
    expected share of false discoveries at most ``alpha`` (independent or
    positively dependent tests).
    """
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    out = np.full(flat.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(flat))
    m = len(ok)
    if m:
        order = ok[np.argsort(flat[ok], kind="stable")]
        ranked = flat[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        out[order] = np.minimum(ranked, 1.0)
    return out.reshape(p.shape)


def cells_text(shape: Sequence[int]) -> str:
    """``512^2`` for a square map, ``4 x 512^2`` with a head axis, ``32 x 4``, ``9``."""
    dims = [int(d) for d in shape]
    if len(dims) >= 2 and dims[-1] == dims[-2]:
        return " x ".join([str(d) for d in dims[:-2]] + [f"{dims[-1]}^2"])
    return " x ".join(str(d) for d in dims) if dims else "1"


# ---------------------------------------------------------------- the class moments


def _is_selection(x: Any) -> bool:
    return isinstance(x, (list, tuple, np.ndarray, range)) and not isinstance(x, str)


def _moments_from_samples(data: np.ndarray, picked: np.ndarray):
    """``(n, mean, unbiased var)`` of the picked samples, two passes over chunks (float64)."""
    n = len(picked)
    per = max(1, _CHUNK // max(int(np.prod(data.shape[1:])), 1))
    total = np.zeros(data.shape[1:])
    for i in range(0, n, per):
        total += data[picked[i : i + per]].astype(np.float64).sum(0)
    mean = total / n
    sq = np.zeros(data.shape[1:])
    for i in range(0, n, per):
        sq += np.square(data[picked[i : i + per]].astype(np.float64) - mean).sum(0)
    return n, mean, sq / max(n - 1, 1)


def _pick(cap: Capture, group: Any, n: int, what: str) -> np.ndarray:
    if _is_selection(group):
        arr = np.asarray(list(group) if isinstance(group, range) else group)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ValueError(f"{what}: a boolean mask needs one entry per sample ({n}), not {arr.shape}")
            return np.flatnonzero(arr)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{what}: sample indices must be ints or a boolean mask, not {arr.dtype}")
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise SelectionError(
                f"{what}: sample indices must lie in 0..{n - 1}, got {arr.min()}..{arr.max()}"
            )
        return arr % n if n else arr
    if cap.labels is None:
        raise NoLabelsError(no_labels("significance() of two classes"))
    picked = np.flatnonzero(np.asarray(cap.labels) == group)
    if picked.size == 0:
        raise SelectionError(
            f"{what}: no kept sample has label {group!r}; labels present: {listing(cap.classes(stats=False))}"
        )
    return picked


def significance(
    cap: Capture,
    a: Any,
    b: Any,
    site: int | str | None = None,
    step: int = 0,
    *,
    layer: int | str | None = None,
    head: int | None = None,
    alpha: float = 0.05,
    source: str = "auto",
) -> Significance:
    """Per-cell test of whether classes ``a`` and ``b`` differ at a site, corrected for the number of cells.

    For every cell (each head, query and key of an attention site, or each
    entry of tapped weights), with class counts ``n``, means ``m`` and
    unbiased variances ``s^2`` (``s^2 = var * n / (n - 1)`` from the
    population variance that ``collect`` streams):

    * ``difference = m_a - m_b``
    * ``effect = difference / s_p``, the pooled SD
      ``s_p = sqrt(((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / (n_a + n_b - 2))`` (Cohen's d)
    * Welch's ``t = difference / sqrt(s_a^2 / n_a + s_b^2 / n_b)`` with the
      Welch-Satterthwaite ``df = (s_a^2/n_a + s_b^2/n_b)^2 / ((s_a^2/n_a)^2 / (n_a - 1) + (s_b^2/n_b)^2 / (n_b - 1))``
    * ``p``: two-sided, ``P(|T_df| >= |t|)`` (:func:`t_two_sided`: scipy where
      installed, else the regularised incomplete beta computed here)
    * ``q``: Benjamini-Hochberg over all the cells (:func:`benjamini_hochberg`)

    A cell constant in both classes has ``p = 1`` when the means agree and
    ``p = 0`` when they differ (``t`` and ``effect`` infinite).

    Parameters
    ----------
    cap : Capture
    a, b : class labels, or (kept samples only) sample indices or boolean masks
        The two groups to compare, e.g. ``0, 1`` (spoof, bonafide), or two
        halves of one class.
    site, layer : int or str
        The site (``layer`` is its older name).
    step : int
    head : int, optional
        Test one head's cells only (default: every cell, heads included).
    alpha : float
        The false discovery rate: ``mask = q < alpha``.
    source : "auto", "samples" or "stats"
        Where the class moments come from: the kept samples, or the streamed
        statistics (``cap.stats``); ``"auto"`` takes the samples when the site
        keeps them at ``step`` (and the groups are sample selections or kept
        labels), else the statistics.

    Returns
    -------
    Significance
        Arrays ``difference``, ``effect``, ``t``, ``df``, ``p``, ``q`` and
        ``mask``; ``count`` (cells with ``q < alpha``), ``cells``, and
        ``title`` ("312 of 512^2 cells differ at q < 0.05").
    """
    name = cap.site_name(site_arg(site, layer, what="significance()"))
    step = cap._step(step)
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1 (a false discovery rate), not {alpha!r}")
    if source not in ("auto", "samples", "stats"):
        raise ValueError(f"source must be 'auto', 'samples' or 'stats', not {source!r}")
    held = cap.holds(name, step)
    if held is None:
        raise SelectionError(
            f"site {name!r} holds nothing at step {step}; it has steps {cap.site_steps(name)}"
        )
    selections = _is_selection(a) or _is_selection(b)
    if source == "auto":
        kept_labels = cap.labels is not None and all(
            _is_selection(g) or bool(np.any(np.asarray(cap.labels) == g)) for g in (a, b)
        )
        no_stats = cap.site_stats(name, step) is None
        source = "samples" if held == "samples" and (selections or kept_labels or no_stats) else "stats"
    if source == "stats" and selections:
        raise ValueError(
            "sample indices or masks select kept samples, and source='stats' reads streamed "
            "statistics; pass class labels, or source='samples'"
        )
    moments = []
    if source == "samples":
        if held != "samples":
            raise SelectionError(
                f"site {name!r} keeps no samples at step {step} (collected with keep='stats'); "
                "use source='stats' or 'auto'"
            )
        data = cap.get(name, step)
        for group, what in ((a, "a"), (b, "b")):
            moments.append(_moments_from_samples(data, _pick(cap, group, len(data), what)))
    else:
        st = cap.site_stats(name, step)
        if st is None:
            raise SelectionError(
                f"site {name!r} has no streamed statistics at step {step}; collect with "
                "keep='stats' or 'both', or compare kept samples (source='samples')"
            )
        for group, what in ((a, "a"), (b, "b")):
            key = ALL if group is None else class_key(group)
            if key not in st["classes"]:
                raise SelectionError(
                    f"{what}: the statistics of site {name!r} have no class {group!r}; classes: "
                    f"{listing(c for c in st['classes'] if c != ALL)}"
                )
            i = st["classes"].index(key)
            n = int(st["count"][i])
            var = np.asarray(st["var"][i], dtype=np.float64) * (n / max(n - 1, 1))
            moments.append((n, np.asarray(st["mean"][i], dtype=np.float64), var))
    (na, ma, va), (nb, mb, vb) = moments
    if na < 2 or nb < 2:
        raise ValueError(
            f"a Welch test needs at least 2 samples in each group; got {na} and {nb} at site {name!r}"
        )
    if head is not None:
        axes = cap.axes[name]
        if "head" not in axes:
            raise ValueError(f"site {name!r} has no head axis (axes {axes}); leave head=None")
        h = axes.index("head") - 1  # one sample's axes: the sample axis dropped
        check_head(head, ma.shape[h], name, cap.sites.index(name))
        ma, va, mb, vb = (np.take(x, int(head), axis=h) for x in (ma, va, mb, vb))
    return _welch(name, step, head, a, b, na, ma, va, nb, mb, vb, float(alpha), source)


def _welch(name, step, head, a, b, na, ma, va, nb, mb, vb, alpha, source) -> Significance:
    diff = ma - mb
    ea, eb = va / na, vb / nb
    se2 = ea + eb
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se2 > 0, diff / np.sqrt(se2), np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
        den = ea**2 / (na - 1) + eb**2 / (nb - 1)
        df = np.where(den > 0, se2**2 / den, float(na + nb - 2))
        pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
        effect = np.where(pooled > 0, diff / pooled, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    p = t_two_sided(t, df)
    q = benjamini_hochberg(p)
    mask = np.nan_to_num(q, nan=1.0) < alpha
    count = int(mask.sum())
    title = f"{count} of {cells_text(diff.shape)} cells differ at q < {alpha:g}"
    caption = f"site {name!r}, step {step}" + (f", head {head}" if head is not None else "")
    caption += f": {_group_text(a)} (n={na}) vs {_group_text(b)} (n={nb}), from {source}"
    return Significance(
        site=name,
        step=int(step),
        head=None if head is None else int(head),
        a=a,
        b=b,
        n_a=int(na),
        n_b=int(nb),
        difference=diff,
        effect=effect,
        t=t,
        df=df,
        p=p,
        q=q,
        alpha=alpha,
        mask=mask,
        count=count,
        cells=int(diff.size),
        title=title,
        caption=caption,
        source=source,
    )


def _group_text(g: Any) -> str:
    if _is_selection(g):
        arr = np.asarray(list(g) if isinstance(g, range) else g)
        n = int(arr.sum()) if arr.dtype == bool else len(arr)
        return f"{n} selected samples"
    return f"class {g!r}"
