"""The Capture: what a capture block recorded, and its .npz file format.

One axis order everywhere: attention sites ("self" and "cross") hold arrays
``[sample, head, query, key]`` per step; "weights" sites (tapped tensors that
are not query x key) hold any shape whose first axis is ``sample``, with the
axis names in ``cap.axes[layer]``.

Files are plain ``.npz`` archives of bool/int/float arrays with one JSON
header (:mod:`attnwidget._files` writes and reads them): loading never
unpickles, checks the header against the arrays before reading them and
bounds their size, so a crafted file cannot run code or exhaust memory; saving
is atomic and writes only what loading reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._files import (
    DEFAULT_MAX_BYTES,
    Archive,
    ArrayInfo,
    check_capture,
    decode_values,
    encode_values,
    json_text,
    token_strings,
    write_archive,
)
from .errors import (
    CaptureFileError,
    NoLabelsError,
    SelectionError,
    UnknownSiteError,
    no_labels,
    site_out_of_range,
    unknown_site,
)
from .errors import listing as _listing

__all__ = ["Capture", "load", "ATTENTION_AXES", "ALL", "FIELDS", "class_key", "class_name", "site_arg"]

ATTENTION_AXES = ("sample", "head", "query", "key")
_FORMAT = "attnwidget-capture"
_VERSION = 3  # 2: labels/predictions that are not numbers are coded (header 'values');
# 3: valid positions per site (header 'valid'), named sample axes ('sample_axes')


#: the class key of the every-sample entry of the statistics (``cap.stats[site][step]["classes"][0]``)
ALL = "all"
#: the per-cell class statistics: ``cap.stats[site][step][field]`` is ``[class, *sample_shape]``
FIELDS = ("mean", "var", "min", "max")
_REQUIRED = object()


def class_key(value: Any):
    """A label value as a plain, JSON-friendly class key (numpy scalars -> Python scalars)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value == ALL:
        raise ValueError(
            f"a label equals {ALL!r}, the name attnwidget gives the every-sample "
            "entry of the statistics; rename that class"
        )
    return value


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _class_order(value: Any):
    # labels of one type sort as usual; mixed types (ints and strings) sort by type first
    return (type(value).__name__, value)


def class_name(label: Any, class_names: Any = None) -> str:
    """The display name of a class label, the one legends, controls and titles all show.

    ``class_names`` is a dict (keys may be ints or strings) or a list indexed
    by integer labels, e.g. ``["spoof", "bonafide"]``. A bool label indexes a
    list as 0 or 1, as it matches the keys 0 and 1 of a dict. ``None`` (every
    sample) is ``"all"``; a label without a name is its own text.
    """
    if label is None:
        return "all"
    if isinstance(class_names, (list, tuple)):
        try:
            i = int(label)
        except (TypeError, ValueError):
            return str(label)
        return str(class_names[i]) if 0 <= i < len(class_names) else str(label)
    if class_names:
        for key in (label, str(label)):
            if key in class_names:
                return str(class_names[key])
        try:
            if int(label) in class_names:
                return str(class_names[int(label)])
        except (TypeError, ValueError):
            pass
    return str(label)


def site_arg(site: Any = None, layer: Any = None, default: Any = _REQUIRED, what: str = "this call") -> Any:
    """The site a call names, by ``site=`` or by its older name ``layer=``.

    Returns ``default`` when neither is given (a TypeError where there is no
    default), and raises TypeError when both are.
    """
    if site is not None and layer is not None:
        raise TypeError(
            f"{what} got both site={site!r} and layer={layer!r}; pass site= only (layer= is its older name)"
        )
    if site is not None:
        return site
    if layer is not None:
        return layer
    if default is _REQUIRED:
        raise TypeError(f"{what} needs a site: an index or a name of cap.sites")
    return default


class Capture:
    """Attention recorded by :func:`attnwidget.capture` or :func:`attnwidget.collect`.

    Attributes
    ----------
    sites, layers : list of str
        Site names (the model's own module paths, ``name#1`` for a module that
        ran twice in one step, tapped weights), in the order they first ran;
        ``layers`` is the older name of the same list.
    kinds : dict
        Site name -> ``"self"``, ``"cross"`` or ``"weights"``.
    axes : dict
        Site name -> axis names of the arrays ``get`` returns.
    steps : int
        Number of forward calls of the model inside the block.
    labels, predictions : numpy.ndarray or None
        Per-sample class labels and predictions (set by ``collect``).
    tokens : list of str, dict or None
        Token strings: one list for both axes, or ``{"query": [...], "key": [...]}``,
        or per site ``{layer: {"query": [...], "key": [...]}}``.
    info : dict
        Site name -> how it was reduced: ``heads``, ``rows``, ``block``
        (query and key pooling factors), ``query_len``/``key_len`` before pooling.
    metadata : dict
        Free-form JSON-serialisable facts (model class, options, ...).
    stats : dict
        Streaming statistics from ``collect(..., keep="stats"|"both")``:
        ``{layer: {step: {"classes": [...], "count": [C], "mean"/"var"/"min"/"max":
        [C, *sample_shape], "entropy": [C, head]}}}`` (see :mod:`attnwidget._collect.stats`).
        A site may hold statistics and no per-sample arrays.

    The read methods answer what views and figures ask of a capture: which
    site (:meth:`site_name`), what it holds at a step (:meth:`holds`,
    :meth:`site_steps`), its heads (:meth:`num_heads`), the classes
    (:meth:`classes`, :meth:`class_count`, :meth:`class_name`) and the class
    statistics (:meth:`stat`).
    """

    def __init__(self) -> None:
        self.layers: list[str] = []
        self.kinds: dict[str, str] = {}
        self.axes: dict[str, tuple[str, ...]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.steps: int = 0
        self.labels: np.ndarray | None = None
        self.predictions: np.ndarray | None = None
        self.tokens: Any = None
        self.metadata: dict[str, Any] = {}
        self.stats: dict[str, dict[int, dict[str, Any]]] = {}
        #: site -> {step -> (query [sample, query], key [sample, key])}: True where a position is not padding
        self.valid_masks: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
        #: site -> [[factor, [value names]], ...]: what the flattened sample axis is (:meth:`name_samples`)
        self.sample_axes: dict[str, list[list]] = {}
        # layer -> {step -> array}
        self._data: dict[str, dict[int, np.ndarray]] = {}

    # ------------------------------------------------------------------ build
    def add(
        self,
        layer: str,
        step: int,
        array: np.ndarray,
        *,
        kind: str,
        axes: Iterable[str] = ATTENTION_AXES,
        info: dict | None = None,
    ) -> None:
        """Record one site's array for one step (used by the capture engine)."""
        axes = tuple(axes)
        if kind not in ("self", "cross", "weights"):
            raise ValueError(f"kind must be 'self', 'cross' or 'weights', not {kind!r}")
        if array.ndim != len(axes):
            raise ValueError(
                f"site {layer!r}: array has {array.ndim} axes {tuple(array.shape)} "
                f"but {len(axes)} axis names {axes} were given"
            )
        if layer not in self._data:
            self.layers.append(layer)
            self._data[layer] = {}
            self.kinds[layer] = kind
            self.axes[layer] = axes
            self.info[layer] = dict(info or {})
        elif self.axes[layer] != axes:
            raise ValueError(f"site {layer!r} was recorded with axes {self.axes[layer]}, now {axes}")
        self._data[layer][step] = array
        self.steps = max(self.steps, step + 1)

    def add_stats(
        self,
        layer: str,
        step: int,
        stats: dict[str, Any],
        *,
        kind: str,
        axes: Iterable[str] = ATTENTION_AXES,
        info: dict | None = None,
    ) -> None:
        """Record one site's statistics for one step (used by ``collect``); registers the site if new."""
        axes = tuple(axes)
        if layer not in self._data:
            if kind not in ("self", "cross", "weights"):
                raise ValueError(f"kind must be 'self', 'cross' or 'weights', not {kind!r}")
            self.layers.append(layer)
            self._data[layer] = {}
            self.kinds[layer] = kind
            self.axes[layer] = axes
            self.info[layer] = dict(info or {})
        self.stats.setdefault(layer, {})[step] = stats
        self.steps = max(self.steps, step + 1)

    def add_valid(self, site: str, step: int, query: Any, key: Any) -> None:
        """Record which query and key positions of each sample are not padding at a site and step
        (used by the capture engine): bool ``[sample, query]`` and ``[sample, key]``."""
        q, k = np.asarray(query, bool), np.asarray(key, bool)
        if q.ndim != 2 or k.ndim != 2 or q.shape[0] != k.shape[0]:
            raise ValueError(
                f"site {site!r}: validity must be [sample, query] and [sample, key], "
                f"not {q.shape} and {k.shape}"
            )
        self.valid_masks.setdefault(site, {})[int(step)] = (q, k)

    @classmethod
    def from_attentions(cls, obj: Any, tokens: Any = None) -> Capture:
        """A capture of attention computed elsewhere: Hugging Face ``outputs.attentions`` (or an
        encoder-decoder output), a TransformerLens ``ActivationCache`` or a dict of name -> array.

        See :func:`attnwidget._from.from_attentions` for the forms read and the site names given.
        """
        from ._from import from_attentions  # it builds on this module: imported when first used

        return from_attentions(obj, tokens=tokens)

    # ------------------------------------------------------------------ read
    @property
    def sites(self) -> list[str]:
        """Site names in the order they first ran (the same list as ``layers``, its older name)."""
        return self.layers

    def site_name(self, site: int | str) -> str:
        """The name of a site given by index (negative counts from the last) or by name.

        Raises
        ------
        SelectionError
            An index out of range (an ``IndexError``).
        UnknownSiteError
            A name the capture does not have (a ``KeyError``).
        """
        if isinstance(site, (int, np.integer)) and not isinstance(site, bool):
            n = len(self.layers)
            if not self.layers:
                raise SelectionError("this capture holds no attention sites")
            if not -n <= site < n:
                raise SelectionError(site_out_of_range(site, self.layers))
            return self.layers[site]
        if isinstance(site, str):
            if site in self._data:
                return site
            raise UnknownSiteError(unknown_site(site, self.layers))
        raise TypeError(f"a site is an int index or a site name, not {type(site).__name__}")

    def layer_name(self, layer: int | str) -> str:
        """The site name for a layer given by index or by name (:meth:`site_name`, its older name)."""
        return self.site_name(layer)

    def get(
        self, site: int | str | None = None, step: int = 0, *, layer: int | str | None = None
    ) -> np.ndarray:
        """Attention of one site at one step (``layer=`` is the older name of ``site``).

        Returns
        -------
        numpy.ndarray
            ``[sample, head, query, key]`` for attention sites; the tapped
            shape (axis names in ``axes[site]``) for ``"weights"`` sites.
        """
        name = self.site_name(site_arg(site, layer, what="get()"))
        steps = self._data[name]
        if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
            raise TypeError(f"step must be an int, not {type(step).__name__}")
        if step < 0:
            step += self.steps
        if step not in steps:
            if not steps and name in self.stats:
                raise SelectionError(
                    f"site {name!r} holds statistics only (collected with keep='stats'): read "
                    f"cap.stat({name!r}, step, 'mean') or frame(cap, {name!r}, stat='mean')"
                )
            ran = sorted(steps)
            raise SelectionError(
                f"site {name!r} has no step {step}: the model ran {self.steps} step(s) "
                f"and this site ran at steps {_listing(ran)}"
            )
        return steps[step]

    def steps_of(self, site: int | str) -> list[int]:
        """The steps at which a site kept per-sample arrays."""
        return sorted(self._data[self.site_name(site)])

    def site_steps(self, site: int | str) -> list[int]:
        """The steps at which a site holds kept samples or class statistics (``keep="stats"`` keeps none)."""
        name = self.site_name(site)
        return sorted(set(self._data[name]) | {int(s) for s in self.stats.get(name) or {}})

    def _step(self, step: int) -> int:
        return step + self.steps if isinstance(step, (int, np.integer)) and step < 0 else step

    def site_stats(self, site: int | str, step: int = 0) -> dict[str, Any] | None:
        """The class statistics of a site at a step (``cap.stats[site][step]``), or None."""
        return (self.stats.get(self.site_name(site)) or {}).get(self._step(step))

    def has_stats(self, site: int | str | None = None, step: int | None = None) -> bool:
        """Whether the capture holds class statistics: anywhere, at a site, or at a site and step."""
        if site is None:
            return bool(self.stats)
        if step is None:
            return bool(self.stats.get(self.site_name(site)))
        return self.site_stats(site, step) is not None

    def holds(self, site: int | str, step: int = 0) -> str | None:
        """What a site holds at a step: ``"samples"`` (kept per-sample arrays, maybe statistics too),
        ``"stats"`` (class statistics alone, ``collect(..., keep="stats")``) or None (nothing)."""
        name, step = self.site_name(site), self._step(step)
        if step in self._data[name]:
            return "samples"
        if step in (self.stats.get(name) or {}):
            return "stats"
        return None

    def is_stats_only(self, site: int | str, step: int | None = None) -> bool:
        """Whether a site holds class statistics and no kept sample: at ``step``, or at every step (None)."""
        if step is not None:
            return self.holds(site, step) == "stats"
        name = self.site_name(site)
        return not self._data[name] and bool(self.stats.get(name))

    def num_heads(self, site: int | str) -> int | None:
        """Number of heads of a site; None for a site without a head axis (or with nothing recorded).

        Read from the kept samples, else from the statistics (``[class, *sample_shape]``).
        """
        name = self.site_name(site)
        axes = self.axes[name]
        if "head" not in axes:
            return None
        h = axes.index("head")
        kept = self._data[name]
        if kept:
            return int(kept[min(kept)].shape[h])
        per_step = self.stats.get(name) or {}
        # statistics are [class, *sample_shape]: the class axis stands where the sample axis is
        return int(per_step[min(per_step)]["mean"].shape[h]) if per_step else None

    def classes(
        self, *, kept: bool = True, stats: bool = True, site: int | str | None = None, step: int | None = None
    ) -> list:
        """Class labels, each once, sorted, as plain Python values (the every-sample ``"all"`` left out).

        Parameters
        ----------
        kept : bool
            Include the labels of the kept samples (``cap.labels``).
        stats : bool
            Include the classes of the statistics: of every site, or of ``site``
            (at ``step`` when given).
        """
        found = set()
        if kept and self.labels is not None:
            found |= set(np.asarray(self.labels).reshape(-1).tolist())
        if stats:
            names = list(self.stats) if site is None else [self.site_name(site)]
            for name in names:
                for s, st in (self.stats.get(name) or {}).items():
                    if step is None or s == self._step(step):
                        found |= {_plain(c) for c in st["classes"] if not (isinstance(c, str) and c == ALL)}
        return sorted(found, key=_class_order)

    def class_count(self, label: Any = None, site: int | str | None = None, step: int = 0) -> int | None:
        """How many samples a class (every sample for None) stands for.

        Where ``site`` holds statistics alone at ``step``: the count the
        statistics streamed (None for a class they do not have). Else: the
        kept samples of the class (0 for a class that keeps none).
        """
        if site is not None and self.holds(site, step) == "stats":
            st = self.site_stats(site, step)
            assert st is not None  # holds() said "stats"
            key = ALL if label is None else class_key(label)
            return int(st["count"][st["classes"].index(key)]) if key in st["classes"] else None
        if label is None:
            return self.num_samples
        if self.labels is None:
            return 0
        return int(np.count_nonzero(np.asarray(self.labels) == label))

    def class_name(self, label: Any, class_names: Any = None) -> str:
        """The display name of a class label (see :func:`class_name`); ``class_names`` defaults
        to ``cap.metadata["class_names"]``."""
        return class_name(
            label, class_names if class_names is not None else (self.metadata or {}).get("class_names")
        )

    def stat(self, site: int | str, step: int = 0, field: str = "mean", label: Any = None) -> np.ndarray:
        """One statistic of a class at a site and step, with the shape of one sample.

        Parameters
        ----------
        site : int or str
        step : int
        field : "mean", "var", "min", "max" (or "entropy", ``[head]``, from the statistics)
        label : optional
            The class (None: every sample).

        Returns
        -------
        numpy.ndarray
            From ``cap.stats`` where the site has statistics at ``step`` (every
            streamed sample), else computed from the kept samples of the class
            (float64; ``var`` is the population variance, as streamed).
        """
        name = self.site_name(site)
        st = self.site_stats(name, step)
        if st is not None:
            if field == "classes" or field not in st:
                raise ValueError(
                    f"site {name!r} has no {field!r} statistic at step {self._step(step)}; "
                    f"it has {_listing(f for f in st if f not in ('classes', 'count'))}"
                )
            key = ALL if label is None else class_key(label)
            if key not in st["classes"]:
                raise ValueError(
                    f"no statistics for class {label!r} at site {name!r}; classes: "
                    f"{[c for c in st['classes'] if c != ALL]}"
                )
            return np.asarray(st[field][st["classes"].index(key)])
        if field not in FIELDS:
            raise ValueError(f"stat must be one of {FIELDS}, not {field!r}")
        data = self.get(name, step)
        if label is None or (isinstance(label, str) and label == ALL):
            picked, index = data, np.arange(len(data))
        else:
            if self.labels is None:
                raise NoLabelsError(no_labels("a class statistic"))
            mask = np.asarray(self.labels) == label
            if not mask.any():
                raise ValueError(
                    f"no sample has label {label!r}; labels present: {self.classes(stats=False)}"
                )
            if len(mask) != len(data):
                raise SelectionError(
                    f"site {name!r} holds {len(data)} samples and the labels are for {len(mask)}: "
                    "a class statistic cannot apply to it"
                )
            picked, index = data[mask], np.flatnonzero(mask)
        picked = picked.astype(np.float64)
        reducers: dict[str, Any] = {"mean": np.mean, "var": np.var, "min": np.min, "max": np.max}
        valid = self.valid_mask(name, step)
        if valid is None or self.axes[name][-2:] != ("query", "key"):
            return reducers[field](picked, axis=0)
        # padding is no sample's attention: each cell over the samples where it is valid (NaN in none)
        from ._samples import mask_rows

        cells = mask_rows(picked, valid[0][index], valid[1][index])
        cells = np.broadcast_to(
            cells.reshape(cells.shape[:1] + (1,) * (picked.ndim - 3) + cells.shape[1:]), picked.shape
        )
        out = reducers[field](np.ma.masked_array(picked, mask=~cells), axis=0)
        return np.ma.filled(out.astype(np.float64), np.nan)

    # ------------------------------------------------------------------ samples
    def samples_of(self, site: int | str) -> int:
        """How many samples a site kept (sites may differ: a model that flattens epochs or channels
        into its batch axis has more samples at those sites)."""
        name = self.site_name(site)
        for a in self._data[name].values():
            return int(a.shape[0])
        return 0

    def valid_mask(self, site: int | str, step: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
        """Which positions of each sample are not padding at a site and step: bool ``[sample, query]``
        and ``[sample, key]``, as the engine read them from the mask the model passed; None where
        no position is padding (or nothing was recorded: attention computed elsewhere).

        A site ``collect`` zero-padded to stack batches of different lengths
        (``cap.info[site]["padded"]``) and for which nothing was recorded: the
        positions collect filled, found from its zeros (a query row that is 0
        in every head; in self-attention the keys of those positions, elsewhere
        the keys after the last one the sample attends), computed once and kept
        in ``valid_masks``."""
        name, step = self.site_name(site), self._step(step)
        recorded = (self.valid_masks.get(name) or {}).get(step)
        if recorded is not None or not (self.info.get(name) or {}).get("padded"):
            return recorded
        if self.axes[name] != ATTENTION_AXES or step not in self._data[name]:
            return None
        data = self._data[name][step]
        nonzero = data != 0
        query = nonzero.any(axis=(1, 3))  # [sample, query]: a row of a real position sums to 1
        if self.kinds[name] == "self" and data.shape[2] == data.shape[3]:
            key = query.copy()  # one sequence on both axes
        else:  # a sample's keys end at the last one any of its rows attends (collect pads at the end)
            seen = nonzero.any(axis=(1, 2))
            last = np.where(seen.any(axis=1), data.shape[3] - 1 - np.argmax(seen[:, ::-1], axis=1), -1)
            key = np.arange(data.shape[3])[None, :] <= last[:, None]
        if query.all() and key.all():
            return None
        self.valid_masks.setdefault(name, {})[step] = (query, key)
        return query, key

    def valid(self, site: int | str, sample: int = 0, step: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The valid (query, key) positions of one sample at a site and step, as two index arrays.

        Every position where the engine saw no padding. Positions are those of
        the stored arrays (the query rows ``rows=`` kept, the pooled blocks of
        ``max_size=``: a block is valid where any of its positions is)."""
        name = self.site_name(site)
        shape = self.get(name, step).shape if self.holds(name, step) == "samples" else None
        n = shape[0] if shape is not None else 0
        if not isinstance(sample, (int, np.integer)) or isinstance(sample, bool):
            raise TypeError(f"sample must be an int, not {sample!r}")
        if not -n <= sample < n:
            raise SelectionError(f"site {name!r} holds {n} sample(s): no sample {sample}")
        mask = self.valid_mask(name, step)
        if mask is None:
            assert shape is not None  # a site with no kept sample has n = 0: refused above
            return np.arange(shape[-2]), np.arange(shape[-1])
        return np.flatnonzero(mask[0][sample]), np.flatnonzero(mask[1][sample])

    def assembled(self, site: int | str) -> np.ndarray:
        """The attention of a whole generated sequence at one site, as one ``[sample, head, query, key]``
        array: the rows of each step of a generation loop (KV cache, or none) put together.

        See :func:`attnwidget._assembled.assembled`."""
        from ._assembled import assembled

        return assembled(self, site)

    def name_samples(self, site: int | str | Iterable, **factors: Any) -> Capture:
        """Name the factors of a site's flattened sample axis, last varying fastest.

        ``cap.name_samples("temporal.self_attn", recording=16, epoch=20, channel=["Fpz", "Pz", "EOG"])``:
        each factor is a count or a list of value names, and their sizes
        multiply to the site's sample count. Sliders, titles and file names
        then say ``"recording 3 · epoch 5 · EOG"``. ``site`` may be a list of
        sites sharing the naming. Returns the capture.
        """
        from ._samples import sample_factors

        sites = [site] if isinstance(site, (str, int, np.integer)) else list(site)
        for s in sites:
            name = self.site_name(s)
            self.sample_axes[name] = sample_factors(name, self.samples_of(name), factors)
        return self

    def sample_name(self, site: int | str, index: int) -> str:
        """What a sample of a site is called: ``"recording 3 · epoch 5 · EOG"`` where the site's samples
        are named (:meth:`name_samples`), else ``"sample 7"``."""
        from ._samples import sample_text

        return sample_text(self.sample_axes.get(self.site_name(site)), int(index))

    @property
    def num_samples(self) -> int:
        """Kept samples (0 for a capture of statistics alone)."""
        for per_step in self._data.values():
            for a in per_step.values():
                return int(a.shape[0])
        return 0

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for s in self._data.values() for a in s.values())

    def tokens_for(
        self, site: int | str, sample: int | None = 0
    ) -> tuple[list[str] | None, list[str] | None]:
        """Query and key token strings of one sample (absolute index) at a site, from ``tokens``."""
        name = self.site_name(site)
        return split_tokens(self.tokens, name, self.kinds.get(name), sample=sample)

    def __repr__(self) -> str:
        lines = [
            f"<Capture: {len(self.layers)} sites, {self.steps} step(s), "
            f"{self.num_samples} sample(s), {self.nbytes / 2**20:.1f} MiB>"
        ]
        for name in self.layers[:12]:
            if not self._data[name]:  # statistics only
                s = self.stats[name][min(self.stats[name])]
                lines.append(
                    f"  {name}  {self.kinds[name]}  statistics of {int(s['count'][0])} "
                    f"sample(s), {dict(zip(self.axes[name][1:], s['mean'].shape[1:]))}"
                )
                continue
            a = self._data[name][min(self._data[name])]
            lines.append(f"  {name}  {self.kinds[name]}  {dict(zip(self.axes[name], a.shape))}")
        if len(self.layers) > 12:
            lines.append(f"  ... and {len(self.layers) - 12} more")
        return "\n".join(lines)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> str:
        """Write everything to one ``.npz`` file, atomically. Returns the path.

        The file holds one JSON header and bool/int/float arrays only, so
        loading it never unpickles. What cannot be stored that way is converted
        or refused before anything is written:

        - ``labels`` and ``predictions`` that are strings, or Python objects
          (numbers, strings and ``None`` mixed, as ``collect(labels=...)`` gives
          when a label is missing), are stored as integer codes with a table of
          names in the header; ``None`` is code -1. They load back equal, with
          the same kind of dtype (strings, or an object array holding ``None``).
        - ``tokens`` are stored as strings (numbers become their ``str``).
        - ``metadata``, ``info`` and statistics' class keys must be what JSON
          holds (strings, numbers, lists, dicts; numpy scalars are converted).

        Anything else (an object array among the sites or statistics, a label
        that is a dict, a site whose arrays disagree on the sample count, ...)
        raises :class:`attnwidget.CaptureFileError` naming it, and the file on
        disk (if any) is left as it was. The write goes to a temporary file in
        the same folder, then replaces ``path``, so a crash leaves the old file
        or the new one; temporaries left by killed writers are deleted on the
        next save. The file's mode follows the umask.

        Parameters
        ----------
        path : str or path
            Where to write (``.npz`` is appended when missing).

        Returns
        -------
        str
            The path written.
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"

        def refuse(problem: str, advice: str | None = None) -> CaptureFileError:
            return CaptureFileError(
                f"cannot save this capture to {path!r}: {problem}"
                + (f"; {advice}" if advice else "")
                + "; nothing was written"
            )

        header = {
            "format": _FORMAT,
            "version": _VERSION,
            "layers": list(self.layers),
            "kinds": self.kinds,
            "axes": {k: list(v) for k, v in self.axes.items()},
            "info": self.info,
            "steps": self.steps,
            "tokens": token_strings(self.tokens, refuse, "cap.tokens"),
            "metadata": self.metadata,
            "arrays": {},
        }
        if self.sample_axes:
            header["sample_axes"] = {k: v for k, v in self.sample_axes.items() if k in self._data}
        arrays: dict[str, np.ndarray] = {}
        for i, name in enumerate(self.layers):
            for step, a in self._data[name].items():
                key = f"a{i}_s{step}"
                arrays[key] = np.ascontiguousarray(a)
                header["arrays"].setdefault(name, {})[str(step)] = key
        for i, name in enumerate(self.layers):
            for step, st in self.stats.get(name, {}).items():
                entry: dict[str, Any] = {"classes": list(st["classes"]), "arrays": {}}
                header.setdefault("stats", {}).setdefault(name, {})[str(step)] = entry
                for field, a in st.items():
                    if field != "classes":
                        arrays[f"t{i}_s{step}_{field}"] = np.ascontiguousarray(a)
                        entry["arrays"][field] = f"t{i}_s{step}_{field}"
        for i, name in enumerate(self.layers):
            for step, (q, k) in (self.valid_masks.get(name) or {}).items():
                arrays[f"v{i}_s{step}_q"], arrays[f"v{i}_s{step}_k"] = (
                    np.asarray(q, bool),
                    np.asarray(k, bool),
                )
                header.setdefault("valid", {}).setdefault(name, {})[str(step)] = [
                    f"v{i}_s{step}_q",
                    f"v{i}_s{step}_k",
                ]
        for field in ("labels", "predictions"):
            value = getattr(self, field)
            if value is None:
                continue
            codes, table = encode_values(np.asarray(value), f"cap.{field}", refuse)
            if table is None:
                arrays[field] = codes
            else:
                arrays[f"{field}_codes"] = codes
                header.setdefault("values", {})[field] = dict(table, array=f"{field}_codes")
        text = json_text(header, "the capture", refuse)
        # the very checks load() makes: a file save() writes is one load() reads
        check_capture(json.loads(text), {k: ArrayInfo.of(a) for k, a in arrays.items()}, refuse)
        return write_archive(path, text, arrays)


_DAMAGED = (
    "the file is damaged, cut short, or not written by Capture.save: copy it again, or save the capture again"
)


def load(path: str | os.PathLike, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Capture:
    """Read a capture written by :meth:`Capture.save`. Never unpickles.

    Before reading any array, the file's JSON header is checked against the
    shapes and dtypes the archive declares (read without decompressing the
    data): a known format version (a file of a newer attnwidget asks for an
    upgrade), sites listed once with a known kind and named axes, every
    referenced array present, bool/int/uint/float only, with one axis per name
    and one sample count per site, steps within range, statistics with one
    row per class, labels and predictions with one entry per sample.

    Parameters
    ----------
    path : str or path
    max_bytes : int or None
        Refuse files whose arrays would take more than this in memory once
        decompressed (default 4 GiB), before allocating any of it: a small
        compressed file can declare gigabytes. ``None`` lifts the limit.

    Returns
    -------
    Capture

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    attnwidget.CaptureFileError
        (a ``ValueError``) The file is not a readable capture; the message
        says what is wrong with it and what to do.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no capture file at {path!r}")
    with Archive(path, "attnwidget capture", _DAMAGED) as ar:
        header = ar.header(_FORMAT, _VERSION, max_bytes)
        used = check_capture(header, ar.members, ar.fail)
        ar.limit(used | {"header"}, max_bytes)
        cap = Capture()
        cap.steps = header["steps"]
        cap.tokens = header.get("tokens")
        cap.metadata = header.get("metadata") or {}
        info, arrays = header.get("info") or {}, header.get("arrays") or {}
        for name in header["layers"]:
            cap.layers.append(name)
            cap.kinds[name] = header["kinds"][name]
            cap.axes[name] = tuple(header["axes"][name])
            cap.info[name] = info.get(name, {})
            cap._data[name] = {int(s): ar.read(k) for s, k in arrays.get(name, {}).items()}
        for name, per_step in (header.get("stats") or {}).items():
            cap.stats[name] = {
                int(s): dict({f: ar.read(k) for f, k in st["arrays"].items()}, classes=st["classes"])
                for s, st in per_step.items()
            }
        for name, per_step in (header.get("valid") or {}).items():
            cap.valid_masks[name] = {int(s): (ar.read(q), ar.read(k)) for s, (q, k) in per_step.items()}
        for name, factors in (header.get("sample_axes") or {}).items():
            size = int(np.prod([len(v) for _, v in factors]))
            if cap._data[name] and size != cap.samples_of(name):
                raise ar.fail(
                    f"its sample naming of {name!r} makes {size} samples; the site holds {cap.samples_of(name)}"
                )
            cap.sample_axes[name] = [[f, list(v)] for f, v in factors]
        tables = header.get("values") or {}
        for field in ("labels", "predictions"):
            if field in tables:
                table = tables[field]
                setattr(cap, field, decode_values(ar.read(table["array"]), table, field, ar.fail))
            elif field in ar.members:
                setattr(cap, field, ar.read(field))
    return cap


def split_tokens(tokens: Any, layer: str | None = None, kind: str | None = None, sample: int | None = 0):
    """Normalise the ``tokens`` forms into ``(query_tokens, key_tokens)`` of one sample.

    Any list in the forms may be one list per sample (a list of lists):
    ``sample`` (an absolute index) picks one; None, for a frame of several
    samples, gives None for per-sample lists."""
    from ._samples import pick_tokens

    if tokens is None:
        return None, None
    if isinstance(tokens, dict):
        if layer is not None and layer in tokens:
            return split_tokens(tokens[layer], None, kind, sample)
        if "query" in tokens or "key" in tokens:
            q, k = pick_tokens(tokens.get("query"), sample), pick_tokens(tokens.get("key"), sample)
            if kind == "self":
                # self-attention reads one sequence on both axes
                q = q if q is not None else k
                k = q if "key" not in tokens else k
            return _strs(q), _strs(k)
        if kind is not None and kind in tokens:
            return split_tokens(tokens[kind], None, kind, sample)
        return None, None
    toks = _strs(pick_tokens(tokens, sample))
    return toks, toks


def _strs(seq):
    if seq is None:
        return None
    if isinstance(seq, (str, bytes)):
        # a string is not a list of tokens: iterating it would label each position with a character
        text = seq if len(seq) <= 40 else seq[:37] + "..."
        raise TypeError(
            f"tokens must be one string per position, not one string ({text!r}); "
            "split it first, e.g. text.split() or tokenizer.convert_ids_to_tokens(ids)"
        )
    return [str(t) for t in seq]
