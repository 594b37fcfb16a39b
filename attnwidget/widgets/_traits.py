"""The selection every view shares: layer (the site), head, sample, label, step, stat, difference.

``Selection`` is a traits-only mixin used by each view and by the explorer,
so that validation (and its error messages) lives in one place and
``ipywidgets.link`` can join any two of them. What a selection shows is
computed by :mod:`attnwidget._view_state`, the function the standalone page
calls too, and what a capture holds is asked of the capture itself.

Captures from ``aw.collect(..., keep="stats"|"both")`` carry per-class
statistics (``cap.stats``). A site with statistics and no per-sample arrays
("stats-only") has its shapes, heads and classes read from the statistics,
and its frame is always a class statistic (``sample`` is then ignored). On a
site with both, ``sample="mean"`` shows the statistic over every streamed
sample of the class. ``stat`` picks the statistic and ``difference`` shows
the class-difference map ``mean[a] - mean[b]``, whose colour range is
symmetric about zero.

A validator must raise ``traitlets.TraitError``; each raises it with the
message of the builder in :mod:`attnwidget.errors` that ``aw.frame`` and the
capture use for the same condition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from .. import wire
from .._view_state import SELECTION, frame_args
from ..colormaps import COLORMAPS
from ..errors import (SelectionError, check_head, no_labels, sample_out_of_range, site_out_of_range,
                      unknown_site)
from ..store import FIELDS, Capture, site_arg

__all__ = ["Selection", "check_kwargs", "check_capture", "take_site", "colormap_trait", "scale_trait"]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


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


def take_site(cls: type, kwargs: dict) -> None:
    """Turn a ``site=`` keyword into ``layer=`` (its older name) in place; both is a TypeError."""
    if "site" in kwargs:
        kwargs["layer"] = site_arg(kwargs.pop("site"), kwargs.pop("layer", None), what=f"{cls.__name__}()")


def check_kwargs(cls: type, kwargs: dict, extra: tuple[str, ...] = ()) -> None:
    """Raise TypeError for keyword arguments that are neither public traits nor ``extra``."""
    allowed = {n for n in cls.class_trait_names() if not n.startswith("_")} | set(extra) | {"site"}
    # ipywidgets' own plumbing traits are not part of a view's API
    allowed -= {"comm", "keys", "log", "tabbable", "tooltip"}
    for key in kwargs:
        if key not in allowed:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {key!r}; "
                            f"it accepts: {', '.join(sorted(allowed))}")


class Selection(t.HasTraits):
    """What to show: site (``layer``), head, sample, class label and step (needs ``self.cap``).

    The views' constructors take ``site=`` for ``layer=`` (see :func:`take_site`).
    """

    layer = t.Union([t.Int(), t.Unicode()], default_value=0,
                    help="site: index in cap.sites (a site name is accepted and stored as its index)"
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
                raise t.TraitError(unknown_site(value, self.cap.layers))
            return self.cap.layers.index(value)
        if not 0 <= value < len(self.cap.layers):
            raise t.TraitError(site_out_of_range(value, self.cap.layers))
        return value

    @t.validate("head")
    def _check_head(self, proposal):
        try:
            return check_head(proposal["value"], self.num_heads(self.layer), self.cap.layers[self.layer],
                              self.layer, negative=False)
        except (SelectionError, ValueError) as e:
            raise t.TraitError(str(e)) from None

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
            raise t.TraitError(sample_out_of_range(value, n, self.label))
        return value

    @t.validate("label")
    def _check_label(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        present = self.classes()
        if not present:
            raise t.TraitError(no_labels("filtering by class"))
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
            raise t.TraitError(no_labels("a class-difference map"))
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

    # ------------------------------------------------------------ what the capture holds
    def num_heads(self, layer: int | str) -> int | None:
        """Number of heads of a site, or None if it has no head axis (:meth:`Capture.num_heads`)."""
        return self.cap.num_heads(layer)

    def classes(self) -> list:
        """Distinct class labels, sorted: of the kept samples and of the statistics (empty without labels)."""
        return self.cap.classes()

    def has_stats(self, layer: int | None = None, step: int | None = None) -> bool:
        """Whether the capture has statistics (at site ``layer`` and ``step``, default the selected step)."""
        if layer is None:
            return self.cap.has_stats()
        return self.cap.has_stats(layer, self.step if step is None else step)

    def stats_only(self, layer: int | None = None, step: int | None = None) -> bool:
        """Whether a site (default: the selected one) has statistics but no per-sample array at a step."""
        return self.cap.is_stats_only(self.layer if layer is None else layer,
                                      self.step if step is None else step)

    def num_samples(self, label=None) -> int:
        """Kept samples of class ``label`` (all when None); 0 where none is kept."""
        return self.cap.class_count(label)

    # ------------------------------------------------------------ what to show
    def selection(self) -> dict:
        """The current selection: the values of :data:`attnwidget._view_state.SELECTION`."""
        return {k: getattr(self, k) for k in SELECTION}

    def frame_selection(self) -> dict:
        """The keyword arguments of :func:`attnwidget.frame` for the current selection
        (:func:`attnwidget._view_state.frame_args`)."""
        return frame_args(self.cap, self.selection())
