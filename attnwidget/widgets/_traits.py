"""The selection every view shares: layer, head, sample, label, step (plus stat, difference).

``Selection`` is a traits-only mixin used by each view and by the explorer,
so that validation (and its error messages) lives in one place and
``ipywidgets.link`` can join any two of them. ``frame_state`` turns a
:class:`~attnwidget.frame.Frame` into the bytes + header the JS views read.

Captures from ``aw.collect(..., keep="stats"|"both")`` carry per-class
statistics (``cap.stats``). A site with statistics and no per-sample arrays
("stats-only") has its shapes, heads and classes read from the statistics,
and its frame is always a class statistic (``sample`` is then ignored). On a
site with both, ``sample="mean"`` shows the statistic over every streamed
sample of the class. ``stat`` picks the statistic and ``difference`` shows
the class-difference map ``mean[a] - mean[b]``, whose colour range is
symmetric about zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from .. import wire
from ..colormaps import COLORMAPS
from .._frame import Frame, HEAD_CHOICES, select_samples
from .._collect.stats import FIELDS, stats_classes
from ..store import Capture

__all__ = ["Selection", "frame_state", "frame_labels", "error_state", "check_kwargs", "check_capture",
           "colormap_trait", "scale_trait", "site_stats", "stats_classes", "is_difference"]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(value):
    return (type(value).__name__, value)


def site_stats(cap: Capture, name: str, step: int) -> dict | None:
    """The statistics of one site at one step (``cap.stats[name][step]``), or None."""
    return (getattr(cap, "stats", None) or {}).get(name, {}).get(step)


def colormap_trait(default: str = "viridis"):
    """A synced colormap name, one of :data:`attnwidget.colormaps.COLORMAPS`."""
    return t.Enum(list(COLORMAPS), default_value=default,
                  help="colormap: " + ", ".join(COLORMAPS)).tag(sync=True)


def scale_trait():
    """A synced colour scale, ``"linear"`` or ``"log"``."""
    return t.Enum(list(wire.SCALES), default_value="linear",
                  help="colour scale: 'linear' or 'log'").tag(sync=True)


def check_capture(cap: Any) -> Capture:
    """Return ``cap`` if it is a Capture, else raise a TypeError saying how to get one."""
    if not isinstance(cap, Capture):
        raise TypeError(f"expected an attnwidget Capture (from aw.capture(model) or aw.load(path)), "
                        f"not {type(cap).__name__}")
    if not cap.layers:
        raise ValueError("this capture holds no sites: run the model inside `with aw.capture(model)` first")
    return cap


def check_kwargs(cls: type, kwargs: dict, extra: tuple[str, ...] = ()) -> None:
    """Raise TypeError for keyword arguments that are neither public traits nor ``extra``."""
    allowed = {n for n in cls.class_trait_names() if not n.startswith("_")} | set(extra)
    # ipywidgets' own plumbing traits are not part of a view's API
    allowed -= {"comm", "keys", "log", "tabbable", "tooltip"}
    for key in kwargs:
        if key not in allowed:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {key!r}; "
                            f"it accepts: {', '.join(sorted(allowed))}")


class Selection(t.HasTraits):
    """What to show: layer, head, sample, class label and step (needs ``self.cap``)."""

    layer = t.Union([t.Int(), t.Unicode()], default_value=0,
                    help="layer: site index in cap.layers (a site name is accepted and stored as its index)"
                    ).tag(sync=True)
    head = t.Union([t.Int(), t.Unicode()], default_value="mean",
                   help="head: an index, 'mean' or 'max' over heads").tag(sync=True)
    sample = t.Union([t.Int(), t.Unicode()], default_value=0,
                     help="sample: index among the samples of `label` (all samples when None), or 'mean'"
                     ).tag(sync=True)
    label = t.Any(None, allow_none=True,
                  help="class filter: None for all samples, or one value of cap.labels").tag(sync=True)
    step = t.Int(0, help="step: forward call (generation or diffusion step), 0-based").tag(sync=True)
    stat = t.Enum(list(FIELDS), default_value="mean",
                  help="class statistic shown where the frame comes from cap.stats (sample 'mean' or a "
                       "stats-only site): 'mean', 'var', 'min' or 'max'").tag(sync=True)
    difference = t.Any(None, allow_none=True,
                       help="None, or a pair of class labels (a, b): show the class-difference map "
                            "mean[a] - mean[b] (symmetric colour range)").tag(sync=True)

    cap: Capture

    # ------------------------------------------------------------ validation
    @t.validate("layer")
    def _check_layer(self, proposal):
        value = proposal["value"]
        if isinstance(value, str):
            if value not in self.cap.layers:
                raise t.TraitError(f"no site named {value!r}; sites are: {', '.join(self.cap.layers)}")
            return self.cap.layers.index(value)
        n = len(self.cap.layers)
        if not 0 <= value < n:
            raise t.TraitError(f"layer {value} is out of range: this capture has {n} site(s), 0..{n - 1}")
        return value

    @t.validate("head")
    def _check_head(self, proposal):
        value = proposal["value"]
        if isinstance(value, str):
            if value not in HEAD_CHOICES:
                raise t.TraitError(f"head must be an int, 'mean' or 'max', not {value!r}")
            return value
        n = self.num_heads(self.layer)
        if n is not None and not 0 <= value < n:
            raise t.TraitError(f"head {value} is out of range: layer {self.layer} has {n} head(s), "
                               f"0..{n - 1} (or 'mean', 'max')")
        return value

    @t.validate("sample")
    def _check_sample(self, proposal):
        value = proposal["value"]
        if isinstance(value, str):
            if value != "mean":
                raise t.TraitError(f"sample must be an int or 'mean', not {value!r}")
            return value
        if self.stats_only():
            if value < 0:
                raise t.TraitError(f"sample must be an index >= 0 or 'mean', not {value}")
            return value  # nothing to walk: the frame is the class statistic whatever it says
        n = self.num_samples(self.label)
        if not 0 <= value < n:
            what = f"class {self.label!r}" if self.label is not None else "this capture"
            raise t.TraitError(f"sample {value} is out of range: {what} has {n} sample(s), 0..{n - 1}")
        return value

    @t.validate("label")
    def _check_label(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        present = self.classes()
        if not present:
            raise t.TraitError("this capture has no labels, so it cannot be filtered by class; "
                               "collect it with aw.collect(..., labels=...)")
        value = _plain(value)
        if value not in present:
            raise t.TraitError(f"no sample has label {value!r}; labels present: {present}")
        return value

    @t.validate("difference")
    def _check_difference(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or len(value) != 2:
            raise t.TraitError(f"difference must be None or a pair of class labels (a, b), not {value!r}")
        a, b = (_plain(v) for v in value)
        present = self.classes()
        if not present:
            raise t.TraitError("this capture has no labels, so it has no class-difference map; "
                               "collect it with aw.collect(..., labels=...)")
        for v in (a, b):
            if v not in present:
                raise t.TraitError(f"no class {v!r} to take a difference of; classes: {present}")
        if a == b:
            raise t.TraitError(f"difference needs two different classes, not ({a!r}, {b!r})")
        return (a, b)

    @t.validate("step")
    def _check_step(self, proposal):
        value = proposal["value"]
        n = max(self.cap.steps, 1)
        if not 0 <= value < n:
            raise t.TraitError(f"step {value} is out of range: the model ran {n} step(s), 0..{n - 1}")
        return value

    @t.observe("label")
    def _label_changed(self, change):
        # the sample index counts within the class: an index the new class
        # lacks falls back to the class mean, which is what a class filter shows
        if self.stats_only():
            return  # the sample is ignored there
        if isinstance(self.sample, int) and self.sample >= self.num_samples(change["new"]):
            self.sample = "mean"

    @t.observe("layer")
    def _layer_changed(self, change):
        n = self.num_heads(change["new"])
        if isinstance(self.head, int) and n is not None and self.head >= n:
            self.head = "mean"

    # ------------------------------------------------------------ helpers
    def num_heads(self, layer: int) -> int | None:
        """Number of heads of a site, or None if it has no head axis (read from the statistics
        when the site keeps no per-sample arrays)."""
        name = self.cap.layers[layer]
        axes = self.cap.axes[name]
        if "head" not in axes:
            return None
        steps = self.cap.steps_of(name)
        if steps:
            return int(self.cap.get(name, steps[0]).shape[axes.index("head")])
        per_step = (getattr(self.cap, "stats", None) or {}).get(name) or {}
        if not per_step:
            return None
        # statistics are [class, *sample_shape]: the sample axis is the class axis
        return int(per_step[min(per_step)]["mean"].shape[axes.index("head")])

    def classes(self) -> list:
        """Distinct class labels, sorted: of the kept samples and of the statistics (empty without labels)."""
        found = set(stats_classes(self.cap))
        if self.cap.labels is not None:
            found |= {_plain(v) for v in np.asarray(self.cap.labels)}
        return sorted(found, key=_sort_key)

    def has_stats(self, layer: int | None = None, step: int | None = None) -> bool:
        """Whether the capture has statistics (at ``layer``/``step`` when given)."""
        stats = getattr(self.cap, "stats", None) or {}
        if layer is None:
            return bool(stats)
        name = self._site(layer)
        return site_stats(self.cap, name, self.step if step is None else step) is not None

    def _site(self, layer) -> str | None:
        if isinstance(layer, str):
            return layer
        return self.cap.layers[layer] if -len(self.cap.layers) <= layer < len(self.cap.layers) else None

    def stats_only(self, layer: int | None = None, step: int | None = None) -> bool:
        """Whether a site (default: the selected one) has statistics but no per-sample array at a step."""
        layer = self.layer if layer is None else layer
        step = self.step if step is None else step
        name = self._site(layer)
        if name is None or name not in self.cap.kinds:
            return False
        return (site_stats(self.cap, name, step) is not None
                and step not in self.cap.steps_of(name))

    def num_samples(self, label=None) -> int:
        """Kept samples of class ``label`` (all when None); 0 where none is kept."""
        try:
            return len(select_samples(self.cap, label))
        except ValueError:  # a class of the statistics with no kept sample
            return 0

    def selection(self) -> dict:
        """The current selection as keyword arguments of :func:`attnwidget.frame.frame`."""
        return dict(layer=self.layer, head=self.head, sample=self.sample, label=self.label,
                    step=self.step)

    def frame_selection(self) -> dict:
        """:meth:`selection` plus ``stat``/``difference``: what the views pass to ``frame()``.

        ``difference`` when set; else ``stat`` where the frame is a class
        statistic: a stats-only site, or ``sample="mean"`` on a site with
        statistics (or with a statistic other than the mean of the kept samples).
        """
        sel = self.selection()
        if self.difference is not None:
            sel["difference"] = tuple(self.difference)
            return sel
        layer, step = sel["layer"], sel["step"]
        if self.stats_only(layer, step) or (
                sel["sample"] == "mean" and (self.has_stats(layer, step) or self.stat != "mean")):
            sel["stat"] = self.stat
        return sel


def is_difference(fr: Frame) -> bool:
    """Whether a frame is a class-difference map (its colour range is then symmetric about 0)."""
    return fr.selection.get("difference") is not None


def frame_state(fr: Frame, scale: str = "linear") -> tuple[bytes, dict]:
    """A frame as ``(codes, meta)``: ``h*w`` uint8 codes plus the header the JS reads.

    The header is small (shape, value range, axes, region, title): the row and
    column labels travel separately (:func:`frame_labels`), only when they change.
    A class-difference map gets a range symmetric about zero (``vmin = -vmax``).
    """
    header, payload = wire.encode(fr.values, scale, symmetric=is_difference(fr))
    meta = dict(header, title=fr.title, row_axis=fr.row_axis, col_axis=fr.col_axis,
                region=[int(v) for v in fr.region], full_shape=[int(v) for v in fr.full_shape],
                block=[int(v) for v in fr.block], error=None)
    return payload, meta


def frame_labels(fr: Frame | None) -> dict:
    """The row and column labels of a frame as the JS reads them: ``{"rows": [...], "cols": [...]}``."""
    if fr is None:
        return {"rows": [], "cols": []}
    return {"rows": [str(s) for s in fr.row_labels], "cols": [str(s) for s in fr.col_labels]}


def error_state(message: str) -> tuple[bytes, dict]:
    """An empty frame carrying an error message the view shows as text."""
    return b"", {"dtype": "uint8", "shape": [0, 0], "vmin": 0.0, "vmax": 1.0, "scale": "linear",
                 "title": "", "row_axis": "", "col_axis": "",
                 "region": [0, 0, 0, 0], "full_shape": [0, 0], "block": [1, 1], "error": message}
