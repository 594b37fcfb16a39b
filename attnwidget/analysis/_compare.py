"""``aw.compare``: two runs of the same sites side by side, with their difference and whether it is real.

Two checkpoints of one model, two data tracks, a good and a bad translation:
:func:`compare` checks that the two captures hold the same sites with the
same shapes and returns a :class:`Comparison`. Its ``capture`` holds, per
site, the two runs and their difference as three sites of one capture, so
the explorer (``aw.show(cmp.capture)``), the figures and the files show them
like any other; :meth:`Comparison.figure` draws the three on one figure (the
difference on a diverging scale symmetric about zero, the cells that differ
at ``q < 0.05`` outlined, their count in the title) and
:meth:`Comparison.save` writes one such figure per site
(``compare_layer{N}.png``). The test is :func:`attnwidget.significance`'s
Welch test with Benjamini-Hochberg, between the two runs' samples.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._frame import frame
from .._samples import mask_rows, valid_mean
from ..errors import CaptureMismatchError, UnknownSiteError, check_head, listing
from ..store import ALL, Capture, split_tokens
from ._significance import Significance, _moments_from_samples, _welch

__all__ = ["compare", "Comparison", "SEPARATOR", "MINUS"]

#: what joins a site's name and a run's name in the comparison's site names: ``"encoder.0 · LA"``
SEPARATOR = " · "
#: the minus sign of a difference site's name: ``"encoder.0 · LA − DF"``
MINUS = " − "


@dataclass
class Comparison:
    """Two runs of the same sites, from :func:`compare`.

    Attributes
    ----------
    a, b : Capture
        The two runs.
    names : (str, str)
        What each run is called (``("LA", "DF")``).
    sites : list of str
        The sites compared, in ``a``'s order.
    steps : dict
        Site -> the steps both runs hold there.
    paired : bool
        Whether sample ``i`` of one run is sample ``i`` of the other (same
        inputs): then :attr:`capture` keeps every sample, else their means.
    capture : Capture
        Per site, three sites: ``"<site> · LA"``, ``"<site> · DF"`` and the
        difference ``"<site> · LA − DF"`` (listed in
        ``capture.metadata["difference_sites"]``). Paired: each run's samples
        and the per-sample difference (their mean over samples is the
        difference of the means). Not paired: one sample each, the mean over
        the run's samples (padding left out cell by cell), and the difference
        of the means.
    means : Capture
        The same sites holding the means alone (what :meth:`figure` draws);
        :attr:`capture` itself when the runs are not paired.
    """

    a: Capture
    b: Capture
    names: tuple[str, str]
    sites: list[str]
    steps: dict[str, list[int]]
    paired: bool
    capture: Capture
    means: Capture
    samples: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __repr__(self) -> str:
        n = listing(f"{s} ({a} vs {b})" for s, (a, b) in list(self.samples.items())[:1])
        return (
            f"<Comparison {self.names[0]} vs {self.names[1]}: {len(self.sites)} site(s), "
            f"{'paired samples' if self.paired else 'means'}; samples at {n}>"
        )

    # ------------------------------------------------------------------ names
    def site(self, site: int | str) -> str:
        """The compared site a call names: an index of ``a.sites``, a site name, or one of its three
        comparison sites (``"<site> · LA"``...)."""
        if isinstance(site, str):
            for name in self.sites:
                if site == name or site in self.site_names(name):
                    return name
            raise UnknownSiteError(
                f"no compared site named {site!r}; the sites compared: {listing(self.sites)}"
            )
        name = self.a.site_name(site)
        if name not in self.sites:
            raise UnknownSiteError(
                f"site {site} ({name!r}) is not among the sites compared: {listing(self.sites)}"
            )
        return name

    def site_names(self, site: int | str) -> tuple[str, str, str]:
        """The three sites of :attr:`capture` for a site: run a, run b, and a − b."""
        name = site if isinstance(site, str) and site in self.sites else self.site(site)
        return _names_of(name, self.names)

    def index(self, site: int | str) -> int:
        """The site's index in ``a.sites`` (the ``N`` of ``compare_layer{N}.png``)."""
        return self.a.sites.index(self.site(site))

    # ------------------------------------------------------------------ the test
    def significance(
        self, site: int | str, step: int = 0, *, head: int | str | None = None, alpha: float = 0.05
    ) -> Significance:
        """Per-cell Welch test of ``mean[a] - mean[b]`` at a site, Benjamini-Hochberg over the cells.

        The formulas are :func:`attnwidget.significance`'s, with the two runs
        as the two groups (the samples as kept, or the streamed statistics of
        every sample where a run holds statistics only). Paired runs are
        tested as two independent groups too, which is conservative. A cell
        that is padding in any sample of either run is not tested (its ``p``
        and ``q`` are NaN, and the caption counts them).

        Parameters
        ----------
        site : int or str
        step : int
        head : None, int, "mean" or "max"
            Test every cell, heads included (None), one head's cells, or the
            cells of the mean (max) over heads of each sample (kept samples only).
        alpha : float
            The false discovery rate: ``mask = q < alpha``.

        Returns
        -------
        Significance
            With ``a`` and ``b`` the runs' names, ``title`` like
            "312 of 512^2 cells differ at q < 0.05".
        """
        name = self.site(site)
        step = self._step(name, step)
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
            raise ValueError(
                f"alpha must be a number between 0 and 1 (a false discovery rate), not {alpha!r}"
            )
        (na, ma, va, sa), (nb, mb, vb, sb) = (
            _moments(run, name, step, head, what) for run, what in zip((self.a, self.b), self.names)
        )
        if na < 2 or nb < 2:
            raise ValueError(
                f"a Welch test needs at least 2 samples in each run; {self.names[0]} has {na} and "
                f"{self.names[1]} has {nb} at site {name!r}"
            )
        untested = ~(
            _always_valid(self.a, name, step, ma.shape, head)
            & _always_valid(self.b, name, step, mb.shape, head)
        )
        if untested.any():
            ma, mb = np.where(untested, np.nan, ma), np.where(untested, np.nan, mb)
        out = _welch(
            name,
            step,
            None,
            *self.names,
            na,
            ma,
            va,
            nb,
            mb,
            vb,
            float(alpha),
            sa if sa == sb else f"{sa} ({self.names[0]}) and {sb} ({self.names[1]})",
        )
        if isinstance(head, (int, np.integer)) and not isinstance(head, bool):
            out.head = int(head)
        which = f", head {head}" if out.head is not None else f", {head} of heads" if head is not None else ""
        out.caption = (
            f"site {name!r}, step {step}{which}: {self.names[0]} (n={na}) vs {self.names[1]} (n={nb}), "
            f"Welch from {out.source}"
        )
        if untested.any():
            out.caption += f"; {int(untested.sum())} cell(s) padded in some sample not tested"
        return out

    def _step(self, name: str, step: int) -> int:
        steps = self.steps[name]
        step = int(step) + self.a.steps if isinstance(step, (int, np.integer)) and step < 0 else step
        if step not in steps:
            raise CaptureMismatchError(
                f"site {name!r} is compared at steps {listing(steps)} (the steps both runs hold), not {step}"
            )
        return int(step)

    # ------------------------------------------------------------------ pictures
    def figure(self, site: int | str, head: int | str = "mean", step: int = 0, *, sample: int | str = "mean",
               alpha: float = 0.05, colormap: str = "viridis", path: str | os.PathLike | None = None):  # fmt: skip
        """Run a, run b and their difference side by side.

        The two runs share one colour scale (``colormap``); the difference
        ``a - b`` is on the diverging colormap, symmetric about zero. For the
        means (``sample="mean"``) with at least 2 samples in each run, the
        cells that differ at ``q < alpha`` (:meth:`significance` of the map
        shown) are outlined on the difference and their count is in the
        title ("312 of 512^2 cells differ at q < 0.05").

        Parameters
        ----------
        site : int or str
        head : int, "mean" or "max"
        step : int
        sample : "mean" or int
            The means over samples, or one sample of each run (paired runs).
        alpha : float
        colormap : str
            Of the two runs (the difference is always diverging).
        path : str or path, optional
            Also save the figure there (png, pdf or svg).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ._figure import side_by_side_figure

        name = self.site(site)
        step = self._step(name, step)
        if sample != "mean" and not self.paired:
            raise ValueError(
                "the runs are not paired (their samples are not the same inputs), so there is no sample "
                f"{sample!r} of both; draw their means (sample='mean')"
            )
        source = self.means if sample == "mean" else self.capture
        a, b, d = (frame(source, s, head=head, sample=sample, step=step) for s in self.site_names(name))
        note, sig = "", None
        if sample == "mean":
            try:
                sig = self.significance(
                    name, step, head=head if "head" in self.a.axes[name] else None, alpha=alpha
                )
            except ValueError as e:
                note = f"no test: {e}"
        if "head" not in self.a.axes[name]:
            head_text = ""
        else:
            head_text = f" · {head} of heads" if isinstance(head, str) else f" · head {head}"
        steps = f" · step {step}" if max(self.a.steps, self.b.steps) > 1 else ""
        what = "mean of samples" if sample == "mean" else f"sample {sample}"
        title = f"{name}{head_text}{steps} · {what}\n" + (sig.title if sig is not None else note)
        return side_by_side_figure(
            (a, b, d),
            self.names,
            mask=None if sig is None else sig.mask,
            alpha=alpha,
            title=title.strip(),
            colormap=colormap,
            path=path,
        )

    def filename(self, site: int | str, step: int = 0, fmt: str = "png") -> str:
        """``compare_layer{N}.png`` (N: the site's index in ``a.sites``); ``_step{S}`` after N for a step
        other than 0."""
        return f"compare_layer{self.index(site)}" + (f"_step{int(step)}" if step else "") + f".{fmt}"

    def save(self, folder: str | os.PathLike, *, head: int | str = "mean", step: int = 0,
             sample: int | str = "mean", fmt: str = "png", dpi: int = 150, alpha: float = 0.05,
             overwrite: bool = False, protect: Sequence[str | os.PathLike] = ()) -> list[str]:  # fmt: skip
        """Write :meth:`figure` of every compared site that ran at ``step`` into ``folder``.

        As ``attnwidget export`` writes: nothing is written before the
        folder is checked (not a file; no file of this save there unless
        ``overwrite``; never one of ``protect``), and each file goes to a
        temporary name and is renamed, so a failure leaves whole files only.

        Parameters
        ----------
        folder : str or path
            Created if missing.
        head, step, sample, alpha
            As :meth:`figure`; sites that did not run at ``step`` are left out.
        fmt : "png", "pdf" or "svg"
        dpi : int
        overwrite : bool
            Replace files of this save that exist (default: refuse, naming them).
        protect : sequence of paths
            Files never to be written, ``overwrite`` or not (the command line
            passes the two captures it read).

        Returns
        -------
        list of str
            The paths written, ``compare_layer{N}.png`` per site (``_step{S}``
            after N for a step other than 0).
        """
        from .._names import check_folder, clean_stale_temporaries, make_folder, write_into
        from ..figures._draw import FORMATS, save_figure

        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
        if sample != "mean" and not self.paired:
            raise ValueError(
                f"the runs are not paired, so there is no sample {sample!r} of both; save their means "
                "(sample='mean')"
            )
        chosen = [s for s in self.sites if self._holds(s, step)]
        if not chosen:
            raise ValueError(f"no compared site ran at step {step}; the sites' steps: {self.steps}")
        names = [self.filename(s, step, fmt) for s in chosen]
        out = os.fspath(folder)
        check_folder(out, names, overwrite=overwrite, protect=protect)
        make_folder(out)
        clean_stale_temporaries(out)
        written = []
        for s, filename in zip(chosen, names):
            fig = self.figure(s, head=head, step=step, sample=sample, alpha=alpha)

            def write(path: str, fig: Any = fig) -> None:
                save_figure(fig, path, dpi=dpi)

            written.append(write_into(out, filename, write, overwrite=overwrite))
        return written

    def _holds(self, site: str, step: int) -> bool:
        try:
            self._step(site, step)
        except CaptureMismatchError:
            return False
        return True


# ---------------------------------------------------------------- what each run holds


def _held(cap: Capture, name: str, step: int) -> tuple[str, int, tuple[int, ...]]:
    """``(what, samples, shape of one sample)`` of a site at a step: kept samples or statistics."""
    if cap.holds(name, step) == "samples":
        data = cap.get(name, step)
        return "samples", int(data.shape[0]), tuple(data.shape[1:])
    n, mean, _ = _streamed(cap, name, step)
    return "stats", n, tuple(mean.shape)


def _streamed(cap: Capture, name: str, step: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(count, mean, unbiased var)`` of every sample a run streamed at a site (``keep="stats"``)."""
    st = cap.site_stats(name, step)
    if st is None:
        raise CaptureMismatchError(f"site {name!r} holds neither samples nor statistics at step {step}")
    i = st["classes"].index(ALL) if ALL in st["classes"] else 0
    n = int(st["count"][i])
    mean = np.asarray(st["mean"][i], dtype=np.float64)
    var = np.asarray(st["var"][i], dtype=np.float64) * (n / max(n - 1, 1))  # streamed: the population's
    return n, mean, var


def _mean(cap: Capture, name: str, step: int) -> np.ndarray:
    """The mean over a run's samples, one sample's shape, padding left out cell by cell (NaN where every
    sample is padding)."""
    if cap.holds(name, step) != "samples":
        return np.asarray(cap.stat(name, step, "mean"), dtype=np.float64)
    data = cap.get(name, step)
    valid = cap.valid_mask(name, step)
    if valid is None or cap.axes[name][-2:] != ("query", "key"):
        return data.mean(axis=0, dtype=np.float64)
    return valid_mean(data, mask_rows(data, *valid))


def _head_axis(cap: Capture, name: str, head: Any) -> int | None:
    """The head axis of one sample of a site (None: no head axis, or every head tested)."""
    axes = cap.axes[name]
    if head is None:
        return None
    if "head" not in axes:
        raise ValueError(f"site {name!r} has no head axis (axes {axes}); leave head=None")
    return axes.index("head") - 1


def _moments(cap: Capture, name: str, step: int, head: Any, what: str):
    """``(n, mean, unbiased var, source)`` of a run at a site, per cell of the map tested."""
    h = _head_axis(cap, name, head)
    if h is not None:
        check_head(head, cap.num_heads(name), name, cap.sites.index(name))
    if cap.holds(name, step) == "samples":
        data = cap.get(name, step)
        if h is not None:
            if head == "mean":
                data = data.mean(axis=h + 1, dtype=np.float64)
            elif head == "max":
                data = data.max(axis=h + 1)
            else:
                data = np.take(data, int(head), axis=h + 1)
        n, mean, var = _moments_from_samples(data, np.arange(len(data)))
        return n, mean, var, "samples"
    if isinstance(head, str):
        raise ValueError(
            f"{what} holds streamed statistics of {name!r}, which give each cell's variance but not that "
            f"of the {head} over heads; test head=None (every cell) or one head"
        )
    n, mean, var = _streamed(cap, name, step)
    if h is not None:
        mean, var = np.take(mean, int(head), axis=h), np.take(var, int(head), axis=h)
    return n, mean, var, "stats"


def _always_valid(cap: Capture, name: str, step: int, shape: tuple[int, ...], head: Any) -> np.ndarray:
    """Cells of the tested map that are no padding in any sample of the run (all True: none recorded)."""
    valid = cap.valid_mask(name, step) if cap.holds(name, step) == "samples" else None
    if valid is None or cap.axes[name][-2:] != ("query", "key"):
        return np.ones(shape, bool)
    cells = mask_rows(cap.get(name, step), *valid).all(axis=0)  # [query, key]
    return np.broadcast_to(cells, shape)


# ---------------------------------------------------------------- tokens, labels, metadata


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _token_entry(cap: Capture, name: str) -> Any:
    """The tokens of one site in a form :func:`~attnwidget.store.split_tokens` reads for any site name."""
    tokens = cap.tokens
    if tokens is None:
        return None
    if isinstance(tokens, dict):
        if name in tokens:
            return tokens[name]
        if any(k in tokens for k in cap.sites):
            return None  # per-site tokens without this site
        if "query" in tokens or "key" in tokens:
            return tokens
        kind = cap.kinds.get(name)
        return tokens.get(kind) if kind in tokens else None
    return tokens


def _mean_tokens(cap: Capture, name: str) -> Any:
    """The tokens of a site that name a mean over samples (one list per sample names no mean)."""
    q, k = split_tokens(cap.tokens, name, cap.kinds.get(name), sample=None)
    return None if q is None and k is None else {"query": q, "key": k}


def _same_labels(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a if b is None else b
    a, b = np.asarray(a), np.asarray(b)
    return a if a.shape == b.shape and bool(np.all(a == b)) else None


def _names_of(site: str, names: tuple[str, str]) -> tuple[str, str, str]:
    """The three comparison sites of a site: run a, run b, a − b."""
    a, b = names
    return f"{site}{SEPARATOR}{a}", f"{site}{SEPARATOR}{b}", f"{site}{SEPARATOR}{a}{MINUS}{b}"


def _build(a: Capture, b: Capture, names, sites, steps, paired: bool) -> Capture:
    out = Capture()
    tokens: dict[str, Any] = {}
    difference_sites = []
    for name in sites:
        na, nb, nd = _names_of(name, names)
        kind, axes, info = a.kinds[name], a.axes[name], dict(a.info.get(name) or {})
        for step in steps[name]:
            if paired:
                xa, xb = a.get(name, step), b.get(name, step)
                xd = np.subtract(xa, xb, dtype=np.float32)
            else:
                ma, mb = _mean(a, name, step), _mean(b, name, step)
                xa, xb, xd = (np.asarray(x, np.float32)[None] for x in (ma, mb, ma - mb))
            for site, x in ((na, xa), (nb, xb), (nd, xd)):
                out.add(site, step, x, kind=kind, axes=axes, info=info)
            if paired:
                va, vb = a.valid_mask(name, step), b.valid_mask(name, step)
                for site, v in ((na, va), (nb, vb)):
                    if v is not None:
                        out.add_valid(site, step, *v)
                if va is not None or vb is not None:
                    both = [x for x in (va, vb) if x is not None]
                    q = np.logical_and.reduce([x[0] for x in both])
                    k = np.logical_and.reduce([x[1] for x in both])
                    out.add_valid(nd, step, q, k)
        entry = _token_entry if paired else _mean_tokens
        ta, tb = entry(a, name), entry(b, name)
        tokens[na], tokens[nb] = ta, tb
        tokens[nd] = ta if _plain(ta) == _plain(tb) else None
        if paired and name in a.sample_axes:
            for site in (na, nb, nd):
                out.sample_axes[site] = [list(f) for f in a.sample_axes[name]]
        difference_sites.append(nd)
    out.steps = max(a.steps, b.steps, out.steps)
    out.tokens = tokens if any(v is not None for v in tokens.values()) else None
    if paired:
        out.labels = _same_labels(a.labels, b.labels)
    for key in ("class_names", "step_labels", "step_label_name"):
        if key in (a.metadata or {}) and _plain(a.metadata.get(key)) == _plain(
            (b.metadata or {}).get(key, a.metadata[key])
        ):
            out.metadata[key] = a.metadata[key]
    axis_labels = (a.metadata or {}).get("axis_labels") or {}
    if any(name in axis_labels for name in sites):
        out.metadata["axis_labels"] = {
            site: axis_labels[name]
            for name in sites
            if name in axis_labels
            for site in _names_of(name, names)
        }
    out.metadata["difference_sites"] = difference_sites
    out.metadata["compare"] = {
        "names": list(names),
        "sites": list(sites),
        "paired": bool(paired),
        "holds": "every sample of each run and their per-sample difference"
        if paired
        else "the mean over "
        "each run's samples (padding left out cell by cell) and the difference of the means",
    }
    return out


# ---------------------------------------------------------------- compare


def _check_names(names: Any) -> tuple[str, str]:
    if (
        not isinstance(names, (tuple, list))
        or len(names) != 2
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise ValueError(
            f"names must be two non-empty strings, one per run (e.g. ('LA', 'DF')), not {names!r}"
        )
    if names[0] == names[1]:
        raise ValueError(f"the two runs need different names, not {names[0]!r} twice")
    return str(names[0]), str(names[1])


def _chosen_sites(a: Capture, b: Capture, sites: Any, names: tuple[str, str]) -> list[str]:
    common = [s for s in a.sites if s in b.sites]
    if sites is None:
        only_a = [s for s in a.sites if s not in b.sites]
        only_b = [s for s in b.sites if s not in a.sites]
        if only_a or only_b:
            parts = []
            if only_a:
                parts.append(f"only {names[0]} has {listing(only_a, 8)}")
            if only_b:
                parts.append(f"only {names[1]} has {listing(only_b, 8)}")
            raise CaptureMismatchError(
                "the two runs hold different sites: " + "; ".join(parts) + ". Pass sites=[...] to compare "
                f"the sites both hold ({listing(common, 8)})"
            )
        return list(a.sites)
    if isinstance(sites, (str, int, np.integer)):
        sites = [sites]
    chosen, missing = [], []
    for s in sites:
        name = a.site_name(s) if not isinstance(s, str) else s
        if name not in a.sites or name not in b.sites:
            where = [n for n, cap in zip(names, (a, b)) if name not in cap.sites]
            missing.append(f"{name!r} (not in {' nor '.join(where)})")
        elif name not in chosen:
            chosen.append(name)
    if missing:
        raise CaptureMismatchError(
            f"sites= names sites the two runs do not both hold: {listing(missing)}; both hold {listing(common, 8)}"
        )
    if not chosen:
        raise ValueError("sites= is empty; give at least one site, or None for every site")
    return chosen


def compare(a: Capture, b: Capture, names: Sequence[str] = ("a", "b"), *,
            sites: Sequence[int | str] | None = None, paired: bool | None = None) -> Comparison:  # fmt: skip
    """Two runs of the same sites side by side: each run, and their difference.

    Parameters
    ----------
    a, b : Capture
        Two captures of the same sites (two checkpoints on the same inputs,
        two data tracks, a good and a bad translation), each with kept samples
        or streamed statistics (``collect(keep="stats")``) at each site.
    names : (str, str)
        What the runs are called in site names, titles and legends.
    sites : list of int or str, optional
        The sites to compare (an int is an index of ``a.sites``). Default:
        every site, and the two runs must hold the same sites.
    paired : bool, optional
        Whether sample ``i`` of ``a`` and sample ``i`` of ``b`` come from the
        same input. Default (None): paired where both runs keep the same number
        of samples at every site compared, and not where they differ or a run
        holds statistics alone. Paired, :attr:`Comparison.capture` keeps every
        sample of both runs and their per-sample difference, so the explorer's
        sample slider walks the same input in both; not paired, it holds each
        run's mean over samples and their difference (one sample per site).

    Returns
    -------
    Comparison
        ``.capture`` (``aw.show(cmp.capture)``), ``.figure(site)``,
        ``.save(folder)``, ``.significance(site)``.

    Raises
    ------
    attnwidget.errors.CaptureMismatchError
        (a ``ValueError``) The runs hold different sites (each run's own are
        named), a site of another kind, axes or shape in the two (each is
        named with both shapes), no step in common, or ``paired=True`` with
        different sample counts.

    Examples
    --------
    >>> cmp = aw.compare(before, after, names=("step 0", "step 500"))  # doctest: +SKIP
    >>> aw.show(cmp.capture)  # doctest: +SKIP
    >>> cmp.figure(3).savefig("layer3.png"); cmp.save("figs/")  # doctest: +SKIP
    """
    for run, what in ((a, "a"), (b, "b")):
        if not isinstance(run, Capture):
            raise TypeError(
                f"compare() takes two Captures (aw.capture, aw.collect or aw.load); {what} is a {type(run).__name__}"
            )
    names = _check_names(names)
    chosen = _chosen_sites(a, b, sites, names)
    if paired not in (None, True, False):
        raise TypeError(f"paired must be True, False or None (decide from the sample counts), not {paired!r}")
    problems: list[str] = []
    steps: dict[str, list[int]] = {}
    samples: dict[str, tuple[int, int]] = {}
    kept = True
    for name in chosen:
        if a.kinds[name] != b.kinds[name] or a.axes[name] != b.axes[name]:
            problems.append(
                f"{name!r} is {a.kinds[name]} {list(a.axes[name])} in {names[0]} and "
                f"{b.kinds[name]} {list(b.axes[name])} in {names[1]}"
            )
            continue
        both = sorted(set(a.site_steps(name)) & set(b.site_steps(name)))
        if not both:
            problems.append(
                f"{name!r} ran at steps {listing(a.site_steps(name), 8)} in {names[0]} and "
                f"{listing(b.site_steps(name), 8)} in {names[1]}: none in common"
            )
            continue
        steps[name] = both
        for step in both:
            (wa, sa, shape_a), (wb, sb, shape_b) = _held(a, name, step), _held(b, name, step)
            if shape_a != shape_b:
                axes = list(a.axes[name][1:])
                problems.append(
                    f"{name!r} at step {step}: {names[0]} {dict(zip(axes, shape_a))}, "
                    f"{names[1]} {dict(zip(axes, shape_b))}"
                )
            kept = kept and wa == wb == "samples" and sa == sb
            samples.setdefault(name, (sa, sb))
    if problems:
        raise CaptureMismatchError(
            "the two runs do not match, so they cannot be compared cell by cell: "
            + "; ".join(problems)
            + ". Compare captures of the same model shape and sequence lengths (pad to one length), "
            "or pass sites= without these"
        )
    if paired is True and not kept:
        differ = listing(f"{n} ({x} vs {y})" for n, (x, y) in samples.items() if x != y)
        raise CaptureMismatchError(
            "paired=True needs both runs to keep the same number of samples at every site compared"
            + (f"; they differ at {differ}" if differ != "(none)" else "; a run holds statistics only")
        )
    paired = kept if paired is None else bool(paired)
    shown = _build(a, b, names, chosen, steps, paired)
    means = shown if not paired else _build(a, b, names, chosen, steps, False)
    return Comparison(a, b, names, chosen, steps, paired, shown, means, samples)
