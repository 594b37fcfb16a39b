"""Selection -> one 2D frame: the single function behind every picture.

The widgets send the frames this module computes, and the matplotlib
figures draw the same frames, so the widget and an exported PNG cannot
disagree. A selection names a site (``site=``, or ``layer=``, its older
name), a head (index, ``"mean"`` or ``"max"``),
a sample (index within the class filter, or ``"mean"``), a class ``label``,
a ``step`` and optionally a ``region`` of the full-resolution matrix and the
largest ``size`` to show (bigger frames are block-pooled here, in Python).
A class statistic (``stat``) or a class-difference map (``difference``)
comes from ``cap.stats`` (``collect(..., keep="stats")``) when the site has
statistics, else from the kept samples.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._samples import mask_rows, valid_mean
from ._words import group_frame, group_names
from .errors import HEAD_CHOICES, NoLabelsError, SelectionError, check_head, no_labels, sample_out_of_range
from .reduce import pool_array
from .store import FIELDS, Capture, class_name, site_arg, split_tokens

__all__ = ["Frame", "frame", "select_samples", "class_text", "HEAD_CHOICES"]


@dataclass
class Frame:
    """A 2D picture and what its axes mean.

    ``values[i, j]`` is the cell in row ``i`` (``row_axis``, e.g. query) and
    column ``j`` (``col_axis``, e.g. key). ``row_labels``/``col_labels`` hold
    one string per displayed row/column (token strings, block ranges when
    pooled, or indices), or nothing at all for a frame computed with
    ``frame(..., labels=False)`` (a thumbnail). ``region`` is ``(row0, row1, col0, col1)`` in the
    full-resolution matrix the frame was cut from, and ``block`` the pooling
    factor applied to rows and columns for display.
    """

    values: np.ndarray
    row_axis: str
    col_axis: str
    row_labels: list[str]
    col_labels: list[str]
    title: str
    region: tuple[int, int, int, int]
    full_shape: tuple[int, int]
    block: tuple[int, int] = (1, 1)
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape)  # type: ignore[return-value]


def select_samples(cap: Capture, label: Any = None, site: int | str | None = None) -> np.ndarray:
    """Indices of the samples in a class (all samples when ``label`` is None), at ``site`` (its own
    sample count; the first site's when None).

    Raises
    ------
    NoLabelsError
        A class asked of a capture without labels.
    SelectionError
        A class asked of a site whose sample count is not the labels' (a model
        that flattens epochs or channels into the batch axis): the labels do
        not say which of its samples are in the class.
    """
    n = cap.num_samples if site is None else cap.samples_of(site)
    if label is None:
        return np.arange(n)
    if cap.labels is None:
        raise NoLabelsError(no_labels("filtering by class"))
    labels = np.asarray(cap.labels)
    if site is not None and n and len(labels) != n:
        raise SelectionError(
            f"site {cap.site_name(site)!r} holds {n} samples and the labels are for {len(labels)}: "
            "a class filter cannot apply to it (choose every sample)"
        )
    idx = np.flatnonzero(labels == label)
    if idx.size == 0:
        raise ValueError(f"no sample has label {label!r}; labels present: {sorted(set(labels.tolist()))}")
    return idx


def frame(cap: Capture, layer: int | str | None = None, *, site: int | str | None = None,
          head: int | str = "mean", sample: int | str = 0, label: Any = None, step: int = 0,
          region: Sequence[int] | None = None, size: int | None = None, tokens: Any = None,
          stat: str | None = None, difference: Sequence[Any] | None = None, groups: Any = None,
          padding: bool = False, assembled: bool | None = None, labels: bool = True,
          class_names: Any = None) -> Frame:  # fmt: skip
    """Compute the 2D frame a view shows for one selection.

    Parameters
    ----------
    cap : Capture
    site, layer : int or str
        Site index or name (default 0); ``layer`` is the older name of
        ``site``, and passing both is a TypeError.
    head : int, "mean" or "max"
        Head to show, or the mean/max over heads (ignored for sites without
        a head axis).
    sample : int or "mean"
        Sample index among the samples of ``label`` (all samples if None),
        or ``"mean"`` for their mean.
    label : optional
        Class filter: only samples whose ``cap.labels`` equals it.
    step : int
        Forward step (generation or diffusion step).
    region : (row0, row1, col0, col1), optional
        Cut of the full-resolution matrix to show (zoom).
    size : int, optional
        Largest number of rows or columns to show; bigger frames are
        block-pooled (mean) to fit.
    tokens : optional
        Token strings for the axes (defaults to ``cap.tokens``).
    stat : "mean", "var", "min" or "max", optional
        Show this per-cell statistic of the class ``label`` (every sample if
        None) instead of a sample: from ``cap.stats`` when the site has
        statistics at ``step`` (all samples streamed by ``collect``), else from
        the kept samples. ``sample`` is then unused; ``head`` reduces the
        per-head statistic (e.g. the mean over heads of the variance).
    difference : (a, b), optional
        Show the class-difference map ``mean[a] - mean[b]`` (from ``cap.stats``
        or the kept samples); ``sample``, ``label`` and ``stat`` are unused.
    groups : dict, list of ranges or "words", optional
        Aggregate query rows and key columns by groups of positions:
        ``{"part 0": range(0, 8), ...}`` (in the order given), a list of
        ranges (named ``"0"``, ``"1"``...) or ``"words"`` (:func:`attnwidget.words`
        of each axis's tokens). The rule: a query group's row is the MEAN of
        its rows, a key group's column the SUM of its columns, so a row that
        sums to 1 over the keys still sums to 1 over key groups that cover
        every key. The labels become the group names; positions in no group
        are dropped (with their weight); overlapping groups are an error. A
        pooled site cannot be grouped, and query rows kept by
        ``capture(rows=...)`` stay as they are. ``region`` and ``size`` then
        count groups. ``{"query": ..., "key": ...}`` groups each axis apart
        (either form per axis; an axis left out stays as it is), e.g. a
        cross-attention's query rows by part and its condition tokens as they
        are. Positions are those of the frame: for one sample, its valid
        (non-padding) positions.
    padding : bool
        Show a sample's padding too. By default a single sample's frame holds
        its valid positions only (the rows and columns the engine saw no
        padding at, :meth:`Capture.valid`), and a mean over samples is taken
        cell by cell over the samples where the cell is valid (NaN where it is
        valid in none), never over padding zeros.
    assembled : bool or None
        For a site whose steps are a generation loop (each step's keys extend
        the previous step's: a KV cache, or decoding without one), show the
        assembled matrix of the generated sequence (:meth:`Capture.assembled`)
        with the rows generated up to ``step``: the prompt's rows at the first
        step and one more row (or more) at each later one. None (default) does
        so wherever the site's steps chain; False shows the step's own rows.
    labels : bool
        False leaves ``row_labels`` and ``col_labels`` empty, for a picture that shows none (a head
        grid's thumbnail): building them is most of a small frame's cost. The values are the same.
        Grouped frames (``groups``) still read their labels to group.
    class_names : dict or list, optional
        Names of the classes for the title (``class 1 (spoof)``, ``true spoof → pred bonafide``);
        None: ``cap.metadata["class_names"]``. The values are the same.

    When the site holds statistics but no per-sample arrays at ``step``
    (``keep="stats"``), the frame is the statistics' mean of ``label``
    (``stat="mean"``) whatever ``sample`` says.

    Returns
    -------
    Frame
    """
    name = cap.site_name(site_arg(site, layer, 0, "frame()"))
    axes = list(cap.axes[name])
    kind = cap.kinds[name]
    site_step = step + cap.steps if isinstance(step, (int, np.integer)) and step < 0 else step
    stats_only = cap.holds(name, site_step) == "stats"
    one_sample = False  # whether the frame is one sample (and its title says which)
    which = None  # the absolute index of the one sample shown
    reveal = (
        None
        if stat is not None or difference is not None or stats_only
        else _reveal(cap, name, site_step, assembled)
    )
    if stat is not None or difference is not None or stats_only:
        # a class statistic: one array with the shape of one sample
        arr = _class_statistic(cap, name, site_step, stat or "mean", label, difference)
        picked, axes = np.arange(1), axes[1:]
        if len(axes) < 2:
            arr, axes = arr[None], ["sample"] + axes
    else:
        data, valid = _site_data(cap, name, step, reveal, padding)
        picked = select_samples(cap, label, name)
        if sample == "mean":
            # samples: the mean of the class, over the samples where each cell is valid
            if valid is None and len(picked) == 1:  # one sample's mean is that sample: no pass over it
                arr = np.array(
                    data[int(picked[0])], dtype=data.dtype if data.dtype.kind == "f" else np.float64
                )
            else:
                arr = data[picked].mean(axis=0) if valid is None else valid_mean(data[picked], valid[picked])
            axes = axes[1:]
            if len(axes) < 2:  # 1D weights per sample: show the samples as rows
                arr = data[picked]
                axes = ["sample"] + axes
        else:
            if not isinstance(sample, (int, np.integer)) or isinstance(sample, bool):
                raise TypeError(f"sample must be an int or 'mean', not {sample!r}")
            if not -len(picked) <= sample < len(picked):
                raise SelectionError(sample_out_of_range(sample, len(picked), label, name))
            which = int(picked[sample])
            arr = data[which]
            axes = axes[1:]
            one_sample = True
            if len(axes) < 2:  # 1D weights per sample: every sample of the class is a row
                arr = data[picked]
                axes = ["sample"] + axes
                one_sample, which = False, None
    keep = _valid_positions(cap, name, step, reveal, which, padding) if which is not None else None
    source = arr  # what the frame is cut from: it may be the store's own memory

    # heads
    if "head" in axes:
        h = axes.index("head")
        check_head(head, arr.shape[h], name, cap.layers.index(name))
        if head == "mean":
            arr = arr.mean(axis=h)
        elif head == "max":
            arr = arr.max(axis=h)
        else:
            arr = arr[(slice(None),) * h + (int(head),)]  # a view: copied once at the end, if at all
        axes.pop(h)
    # more than two axes left (e.g. tapped [sample, group, member, frame]): mean the leading ones
    while arr.ndim > 2:
        arr = arr.mean(axis=0)
        axes.pop(0)
    if arr.ndim == 1:
        arr = arr[None, :]
        axes = ["sample"] + axes
    arr = np.asarray(arr, dtype=np.float32)
    row_axis, col_axis = axes
    shown = which if which is not None else (int(picked[0]) if len(picked) == 1 else None)
    labelled = labels or groups is not None  # groups are named by the positions' labels
    rows_full: list[str] = []
    cols_full: list[str] = []
    if not labelled:
        if keep is not None:
            arr = arr[np.ix_(keep[0], keep[1])]
    elif keep is not None:
        # one sample's valid positions: its labels are those of its own tokens, padding dropped
        rows_full = _sample_labels(cap, name, kind, "query", keep, tokens, which, arr.shape[0])
        cols_full = _sample_labels(cap, name, kind, "key", keep, tokens, which, arr.shape[1])
        arr = arr[np.ix_(keep[0], keep[1])]
    elif (
        padding
        and which is not None
        and (shown_valid := _valid_positions(cap, name, step, reveal, which, False))
    ):
        # every position: the sample's own tokens at its valid positions, the others named as padding
        rows_full = _padded_labels(cap, name, kind, "query", shown_valid, tokens, which, arr.shape[0])
        cols_full = _padded_labels(cap, name, kind, "key", shown_valid, tokens, which, arr.shape[1])
    else:
        rows_full = _labels_for(cap, name, kind, row_axis, "query", arr.shape[0], tokens, picked, shown)
        cols_full = _labels_for(cap, name, kind, col_axis, "key", arr.shape[1], tokens, picked, shown)
    if groups is not None:
        # groups name full-resolution positions: applied before the region cut and the size pooling
        arr, rows_full, cols_full = group_frame(
            arr, (row_axis, col_axis), (rows_full, cols_full), groups, name, cap.info.get(name, {})
        )
    full_shape = arr.shape

    if region is None:
        r0, r1, c0, c1 = 0, arr.shape[0], 0, arr.shape[1]
    else:
        r0, r1, c0, c1 = (int(v) for v in region)
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, arr.shape[0]), min(c1, arr.shape[1])
        if r1 <= r0 or c1 <= c0:
            raise ValueError(f"region {tuple(region)} is empty for a {arr.shape[0]}x{arr.shape[1]} frame")
        arr = arr[r0:r1, c0:c1]

    if labelled:
        rows_full, cols_full = rows_full[r0:r1], cols_full[c0:c1]

    block = (1, 1)
    if size is not None and max(arr.shape) > size:
        br = -(-arr.shape[0] // size)
        bc = -(-arr.shape[1] // size)
        arr = pool_array(arr, (br, bc), how="mean")
        block = (br, bc)
        if labelled:
            rows_full = _block_labels(rows_full, br)
            cols_full = _block_labels(cols_full, bc)
    if not labels:
        rows_full, cols_full = [], []

    sel = dict(layer=name, head=head, sample=sample, label=label, step=step)
    if which is not None:
        sel["index"] = which  # the absolute sample index
    if name in (cap.metadata or {}).get("difference_sites", ()):
        sel["diverging"] = True  # a difference of two runs (aw.compare): drawn about zero
    shown_head = head if "head" in cap.axes[name] else None
    names = step_names(cap)
    if difference is not None:
        sel["difference"] = tuple(difference)
        title = _title(name, kind, shown_head, None, None, site_step, cap.steps, names)
        first, second = (class_text(cap, c, class_names) for c in difference)
        title += f" · mean of {first} − {second}"
    elif stat is not None or stats_only:
        sel["stat"] = stat or "mean"
        label_text = class_text(cap, label, class_names) if label is not None else None
        title = _title(name, kind, shown_head, None, label_text, site_step, cap.steps, names)
        title += f" · {stat or 'mean'}"
    else:
        label_text = class_text(cap, label, class_names) if label is not None else None
        what = (
            _sample_title(cap, name, sample, which, label, class_names)
            if one_sample or sample == "mean"
            else None
        )
        title = _title(name, kind, shown_head, what, label_text, site_step, cap.steps, names)
    if reveal is not None:
        sel["assembled"] = True
    if groups is not None:
        sel["groups"] = groups if isinstance(groups, str) else group_names(groups)
        title += " · by words" if isinstance(groups, str) else " · by groups"
    values = np.ascontiguousarray(arr, dtype=np.float32)
    if np.may_share_memory(values, source):  # a frame never aliases the capture's arrays
        values = values.copy()
    return Frame(
        values=values,
        row_axis=row_axis,
        col_axis=col_axis,
        row_labels=rows_full,
        col_labels=cols_full,
        title=title,
        region=(r0, r1, c0, c1),
        full_shape=tuple(full_shape),
        block=block,
        selection=sel,
    )


def _labels_for(cap, name, kind, axis, role, n, tokens, picked, sample) -> list[str]:
    """One label per position of an axis: tokens (of ``sample``, an absolute index or None for several
    samples), block ranges when pooled, sample names, axis names from metadata, or indices."""
    if axis in ("query", "key"):
        q, k = split_tokens(tokens if tokens is not None else cap.tokens, name, kind, sample)
        toks = q if axis == "query" else k
        info = cap.info.get(name, {})
        if axis == "query" and info.get("rows") is not None and toks is not None:
            rows = info["rows"]
            toks = [toks[r] if 0 <= r < len(toks) else str(r) for r in rows]
        b = (info.get("block") or (1, 1))[0 if axis == "query" else 1]
        if toks is not None and b > 1:
            toks = _block_labels(toks, b)
        if toks is not None and b == 1 and len(toks) > n:
            # a step shorter than the tokens (decoding without a cache, tokens of the last step):
            # its positions are the first n, so are its labels
            toks = toks[:n]
        if toks is not None and len(toks) == n:
            return list(toks)
        if toks is not None:
            _warn_tokens(name, axis, len(toks), n)
        if b > 1:
            return [f"{i * b}-{min((i + 1) * b, info.get(role + '_len', (i + 1) * b)) - 1}" for i in range(n)]
        return [str(i) for i in range(n)]
    if axis == "sample":
        if len(picked) == n:
            named = name in cap.sample_axes
            return [cap.sample_name(name, int(i)) if named else str(int(i)) for i in picked]
        return [str(i) for i in range(n)]
    names = cap.metadata.get("axis_labels", {}).get(name, {}).get(axis)
    if names is not None and len(names) == n:
        return [str(s) for s in names]
    return [str(i) for i in range(n)]


_WARNED: set = set()


def _warn_tokens(site: str, axis: str, given: int, n: int) -> None:
    """Say once per site and axis that the tokens do not fit, instead of dropping them unseen."""
    key = (site, axis, given, n)
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(
        f"site {site!r}: {given} token(s) given for its {n} {axis} positions, so its "
        f"{axis} axis is labelled with positions 0..{n - 1}; pass one token per position "
        "(per site: tokens={site: {'query': [...], 'key': [...]}})",
        UserWarning,
        stacklevel=4,
    )


def _block_labels(labels: list[str], b: int) -> list[str]:
    if b <= 1:
        return list(labels)
    out = []
    for i in range(0, len(labels), b):
        chunk = labels[i : i + b]
        out.append(chunk[0] if len(chunk) == 1 else f"{chunk[0]}…{chunk[-1]}")
    return out


def class_text(cap: Capture, label: Any, class_names: Any = None) -> str:
    """``class 1``, or ``class 1 (spoof)`` when ``class_names`` (default: ``cap.metadata["class_names"]``)
    names it: for titles."""
    names = class_names if class_names else (cap.metadata or {}).get("class_names")
    name = class_name(label, names)
    return f"class {label}" + (f" ({name})" if names and name != str(label) else "")


def _class_statistic(
    cap: Capture, name: str, step: int, stat: str, label: Any, difference: Sequence[Any] | None
) -> np.ndarray:
    """A class statistic with the shape of one sample, or the difference of two class means."""
    if stat not in FIELDS:
        raise ValueError(f"stat must be one of {FIELDS}, not {stat!r}")
    if difference is None:
        return cap.stat(name, step, stat, label)
    if not isinstance(difference, (tuple, list)) or len(difference) != 2:
        raise ValueError(f"difference must be a pair of class labels (a, b), not {difference!r}")
    a, b = difference
    return cap.stat(name, step, "mean", a) - cap.stat(name, step, "mean", b)


def step_names(cap: Capture) -> list[str] | None:
    """What titles and step controls call each step, where ``cap.metadata["step_labels"]`` labels
    every step (``aw.record``: the training step of each): ``"training step 300"`` (the label after
    ``cap.metadata["step_label_name"]``), or ``"step 3 (300)"`` without a name; None otherwise."""
    meta = cap.metadata or {}
    labels = meta.get("step_labels")
    if not isinstance(labels, (list, tuple)) or len(labels) != cap.steps:
        return None
    what = meta.get("step_label_name")
    return [f"{what} {v}" if what else f"step {i} ({v})" for i, v in enumerate(labels)]


def _title(name, kind, head, sample, label_text, step, steps, names=None) -> str:
    """``site · head 3 · class 1 · sample 0 · step 2``: what the frame shows; None leaves a part out.

    ``sample``: the text saying which sample (:func:`_sample_title`), or None;
    ``names``: what each step is called (:func:`step_names`), else ``step i``."""
    parts = [name]
    if head is not None:
        parts.append(f"head {head}" if not isinstance(head, str) else f"{head} of heads")
    if label_text is not None:
        parts.append(label_text)
    if sample is not None:
        parts.append(sample)
    if steps > 1:
        parts.append(names[step] if names and -len(names) <= step < len(names) else f"step {step}")
    return " · ".join(parts)


def _sample_title(
    cap: Capture, name: str, sample: Any, which: int | None, label: Any, class_names: Any = None
) -> str:
    """Which sample a frame shows: ``"sample 14 (2 of class 1) · true 1 → pred 3"``, its name where
    the site's samples are named, or ``"mean of samples"``."""
    if sample == "mean" or which is None:
        return "mean of samples"
    text = cap.sample_name(name, which)
    if label is not None:
        # the index the user chose counts within the class: say both
        text += f" · #{int(sample) % max(len(select_samples(cap, label, name)), 1)} of the class"
    n = cap.samples_of(name)
    meta = cap.metadata or {}
    names = class_names if class_names else meta.get("class_names")
    truth = cap.labels if cap.labels is not None and len(cap.labels) == n else None
    pred = cap.predictions if cap.predictions is not None and len(cap.predictions) == n else None
    if truth is not None:
        text += f" · true {class_name(_item(truth[which]), names)}"
        if pred is not None:
            text += f" → pred {class_name(_item(pred[which]), names)}"
    elif pred is not None:
        text += f" · pred {class_name(_item(pred[which]), names)}"
    return text


def _item(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------ samples: data, valid positions, labels
def _reveal(cap: Capture, name: str, step: Any, assembled: bool | None) -> tuple[int, int] | None:
    """``(rows, keys)`` of the assembled generation shown at ``step``, or None for the step's own rows."""
    if assembled is False or cap.kinds.get(name) == "weights":
        return None
    from ._assembled import generation

    chain = generation(cap, name)
    if chain is None:
        if assembled:
            cap.assembled(name)  # raises, saying why the steps do not chain
        return None
    steps = cap.steps_of(name)
    return chain[steps.index(step)] if step in steps else None


def _site_data(cap: Capture, name: str, step: int, reveal, padding: bool):
    """A site's ``[sample, ...]`` array at a step (the assembled rows up to it when ``reveal``) and,
    unless ``padding``, the validity of each cell ``[sample, query, key]`` (None: nothing is padding)."""
    if reveal is not None:
        from ._assembled import assembled_valid

        r, k = reveal
        data = cap.assembled(name)[..., :r, :k]
        mask = assembled_valid(cap, name)
        mask = None if mask is None else (mask[0][:, :r], mask[1][:, :k])
    else:
        data = cap.get(name, step)
        mask = cap.valid_mask(name, step)
    if mask is None or padding or cap.axes[name][-2:] != ("query", "key"):
        return data, None
    return data, mask_rows(data, *mask)


def _valid_positions(cap: Capture, name: str, step: int, reveal, which: int, padding: bool):
    """The (query, key) index arrays of one sample's valid positions, or None to show every position."""
    if padding or cap.axes[name][-2:] != ("query", "key"):
        return None
    if reveal is not None:
        from ._assembled import assembled_valid

        mask = assembled_valid(cap, name)
        mask = None if mask is None else (mask[0][:, : reveal[0]], mask[1][:, : reveal[1]])
    else:
        mask = cap.valid_mask(name, step)
    if mask is None:
        return None
    q, k = np.flatnonzero(mask[0][which]), np.flatnonzero(mask[1][which])
    if (len(q) == mask[0].shape[1] and len(k) == mask[1].shape[1]) or not len(q) or not len(k):
        return None  # nothing to crop (or nothing valid at all: shown whole rather than blank)
    return q, k


#: what the labels of a sample's padded positions say (``frame(..., padding=True)``)
PAD_LABEL = "(pad)"


def _padded_labels(cap, name, kind, role, valid, tokens, which, n_full) -> list[str]:
    """Labels of every position of a padded sample: its tokens (padding dropped, as ``aw.tokens``
    gives them) at its valid positions and :data:`PAD_LABEL` at the others; tokens of every position
    as they are."""
    idx = valid[0] if role == "query" else valid[1]
    q, k = split_tokens(tokens if tokens is not None else cap.tokens, name, kind, which)
    toks = q if role == "query" else k
    if toks is not None and len(toks) == len(idx) and len(idx) != n_full:
        out = [PAD_LABEL] * n_full
        for i, t in zip(idx, toks):
            out[int(i)] = t
        return out
    return _labels_for(cap, name, kind, role, role, n_full, tokens, np.arange(1), which)


def _sample_labels(cap, name, kind, role, keep, tokens, which, n_full) -> list[str]:
    """Labels of one sample's valid positions on an axis: its own tokens with padding dropped
    (``aw.tokens`` gives those), or the labels of the full axis at those positions."""
    idx = keep[0] if role == "query" else keep[1]
    q, k = split_tokens(tokens if tokens is not None else cap.tokens, name, kind, which)
    toks = q if role == "query" else k
    if toks is not None and len(toks) == len(idx) and len(idx) != n_full:
        return list(toks)
    full = _labels_for(cap, name, kind, role, role, n_full, tokens, np.arange(1), which)
    return [full[i] for i in idx]
