"""The selection every view shares: layer (the site), head, sample, label, step, stat, difference.

``Selection`` is a traits-only mixin used by each view and by the explorer,
so that validation (and its error messages) lives in one place and
``ipywidgets.link`` can join any two of them. What a selection shows is
computed by :mod:`attnwidget._view_state`, the function the standalone page
calls too, and what a capture holds is asked of the capture itself.

Every view and the explorer can be given another capture while it is open
(``view.capture = new_cap``, or ``view.update(new_cap)``), or the same one
grown (``aw.record`` appends a step per record): :func:`carry_selection`
says what the selection becomes (the same site by name, a head the site
still has, the step clamped...), :func:`apply_selection` sets it, and the
view draws once, at the end.

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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import traitlets as t

from .. import wire
from .._collect.record import Recorder
from .._view_state import SELECTION, frame_args, labels_fit, samples_at
from ..colormaps import COLORMAPS
from ..errors import (
    SelectionError,
    check_head,
    no_labels,
    sample_out_of_range,
    site_out_of_range,
    unknown_site,
)
from ..store import FIELDS, Capture, site_arg

__all__ = [
    "Selection",
    "check_kwargs",
    "check_capture",
    "take_site",
    "colormap_trait",
    "significance_trait",
    "scale_trait",
    "color_range_trait",
    "carry_selection",
    "apply_selection",
    "recorder_of",
    "KEEP",
]

#: ``update(cap, tokens=KEEP)``: keep the tokens the view was given
KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()

#: the order :func:`apply_selection` sets the traits in: each validator sees the values it depends on
APPLY_ORDER = ("layer", "step", "head", "label", "difference", "sample", "stat")


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def colormap_trait(default: str = "viridis"):
    """A synced colormap name, one of :data:`attnwidget.colormaps.COLORMAPS`."""
    return t.Enum(list(COLORMAPS), default_value=default, help="colormap: " + ", ".join(COLORMAPS)).tag(
        sync=True
    )


def scale_trait():
    """A synced colour scale, ``"linear"`` or ``"log"``."""
    return t.Enum(list(wire.SCALES), default_value="linear", help="colour scale: 'linear' or 'log'").tag(
        sync=True
    )


def color_range_trait():
    """A synced colour range mode (:data:`attnwidget.wire.COLOR_RANGES`), default ``"frame"``."""
    return t.Enum(
        list(wire.COLOR_RANGES),
        default_value="frame",
        help="colour range: 'frame' (each frame's own min..max), 'fixed' ([0, 1]) or 'shared' "
        "(one range over every head and step of the site, so Play, zoom and heads compare)",
    ).tag(sync=True)


class _FalseDiscoveryRate(t.Float):
    """A false discovery rate strictly between 0 and 1, or None."""

    def validate(self, obj, value):
        value = super().validate(obj, value)
        if not 0 < value < 1:
            raise t.TraitError(
                f"significance must be a false discovery rate between 0 and 1 (e.g. 0.05), or None; not {value!r}"
            )
        return value


def significance_trait():
    """A synced false discovery rate (default 0.05) at which a class-difference map outlines the
    cells where the classes differ (:func:`attnwidget._view_state.significance_state`)."""
    return _FalseDiscoveryRate(
        0.05,
        allow_none=True,
        help="on a class-difference map: outline the cells where the classes differ at this false "
        "discovery rate (aw.significance: Welch's t per cell, Benjamini-Hochberg); None: no test",
    ).tag(sync=True)


def recorder_of(source: Any) -> Recorder | None:
    """``source`` if it is an ``aw.record`` recorder (a view given one follows it), else None."""
    return source if isinstance(source, Recorder) else None


def check_capture(cap: Any) -> Capture:
    """Return ``cap`` if it is a Capture (a recorder's capture for a recorder), else raise a
    TypeError saying how to get one."""
    if isinstance(cap, Recorder):
        if not cap.capture.layers:
            raise ValueError(
                "this recorder has recorded nothing yet (it was made with start=False): call "
                "rec.record() once, or wait for its first record, then show it"
            )
        cap = cap.capture
    if not isinstance(cap, Capture):
        raise TypeError(
            f"expected an attnwidget Capture (from aw.capture(model), aw.load(path) or "
            f"aw.record(...).capture), not {type(cap).__name__}"
        )
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
            raise TypeError(
                f"{cls.__name__}() got an unexpected keyword argument {key!r}; "
                f"it accepts: {', '.join(sorted(allowed))}"
            )


def _family(kind: str) -> str:
    return "weights" if kind == "weights" else "attention"


def carry_selection(
    old: Capture, new: Capture, selection: dict, *, seen_steps: int | None = None, follow: bool = False
) -> dict:
    """The selection that shows on ``new`` what ``selection`` showed on ``old``, where it still exists.

    ``old`` and ``new`` may be one capture that grew. The site is found by
    name (else the first site of the same family, attention or weights,
    else the first); an index of a head the new site lacks becomes
    ``"mean"``; a class or class pair the new capture lacks is dropped; a
    sample index past the class's samples is clamped to the last (``"mean"``
    where none is kept); the step is clamped to the new steps.

    Parameters
    ----------
    old, new : Capture
    selection : dict
        The :data:`~attnwidget._view_state.SELECTION` values shown on ``old``.
    seen_steps : int, optional
        How many steps the view last saw (default ``old.steps``; pass it when
        ``new`` is ``old`` grown in place).
    follow : bool
        A selection on the last step seen moves to the new last step (a live
        view keeps showing the newest record).

    Returns
    -------
    dict
        Values every validator of the new capture accepts.
    """
    sel = dict(selection)
    layer = sel["layer"]
    name = old.layers[layer] if isinstance(layer, int) and 0 <= layer < len(old.layers) else None
    if name is not None and name in new.layers:
        index = new.layers.index(name)
    else:
        family = _family(old.kinds[name]) if name is not None else "attention"
        same = [i for i, n in enumerate(new.layers) if _family(new.kinds[n]) == family]
        index = same[0] if same else 0
    seen = old.steps if seen_steps is None else seen_steps
    step = min(max(int(sel["step"]), 0), max(new.steps, 1) - 1)
    if follow and sel["step"] >= seen - 1 and new.steps > seen:
        step = new.steps - 1
    head = sel["head"]
    heads = new.num_heads(index)
    if isinstance(head, int) and heads is not None and not 0 <= head < heads:
        head = "mean"
    classes = new.classes()
    label = sel["label"]
    if label is not None and _plain(label) not in classes:
        label = None
    difference = sel.get("difference")
    if difference is not None and not all(_plain(v) in classes for v in difference):
        difference = None
    sample = sel["sample"]
    if isinstance(sample, int) and not new.is_stats_only(index, step):
        n = samples_at(new, index, step, label)
        sample = "mean" if not n else min(max(sample, 0), n - 1)
    return {
        "layer": index,
        "head": head,
        "sample": sample,
        "label": label,
        "step": step,
        "stat": sel.get("stat", "mean"),
        "difference": difference,
    }


def apply_selection(target: Any, selection: dict) -> None:
    """Set a selection (from :func:`carry_selection`) on ``target``, in :data:`APPLY_ORDER`."""
    for name in APPLY_ORDER:
        if name in selection:
            setattr(target, name, selection[name])


@contextmanager
def quiet(*parts: Any) -> Iterator[None]:
    """Views that compute nothing on a trait change while a capture is swapped under them."""
    before = [p.__dict__.get("_ready", True) for p in parts]
    for p in parts:
        p._ready = False
    try:
        yield
    finally:
        for p, was in zip(parts, before):
            p._ready = was


class Selection(t.HasTraits):
    """What to show: site (``layer``), head, sample, class label and step (needs ``self.cap``).

    The views' constructors take ``site=`` for ``layer=`` (see :func:`take_site`).

    A change the page makes (a thumbnail click, a control linked in the page, Play) is not echoed
    back (``echo_update=False``): the echo would be two more kernel messages per change, each
    handled by the page before it gets the frame (a miss at 512 tokens took 50 ms with them,
    38-46 ms without, ``benchmarks/browser.py``). What is lost: a second browser window on the same
    kernel does not follow a selection made in the first one (the kernel's own changes reach
    every window).
    """

    layer = t.Union(
        [t.Int(), t.Unicode()],
        default_value=0,
        help="site: index in cap.sites (a site name is accepted and stored as its index)",
    ).tag(sync=True, echo_update=False)
    head = t.Union(
        [t.Int(), t.Unicode()], default_value="mean", help="head: an index, 'mean' or 'max' over heads"
    ).tag(sync=True, echo_update=False)
    sample = t.Union(
        [t.Int(), t.Unicode()],
        default_value=0,
        help="sample: index among the samples of `label` (all samples when None), or 'mean'",
    ).tag(sync=True, echo_update=False)
    label = t.Any(
        None, allow_none=True, help="class filter: None for all samples, or one value of cap.labels"
    ).tag(sync=True, echo_update=False)
    step = t.Int(0, help="step: forward call (generation or diffusion step), 0-based").tag(
        sync=True, echo_update=False
    )
    stat = t.Enum(
        list(FIELDS),
        default_value="mean",
        help="class statistic shown where the frame comes from cap.stats (sample 'mean' or a "
        "stats-only site): 'mean', 'var', 'min' or 'max'",
    ).tag(sync=True, echo_update=False)
    difference = t.Any(
        None,
        allow_none=True,
        help="None, or a pair of class labels (a, b): show the class-difference map "
        "mean[a] - mean[b] (symmetric colour range)",
    ).tag(sync=True, echo_update=False)

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
            # at construction the layer may still be the site name it was given
            name = self.cap.site_name(self.layer)
        except (IndexError, KeyError, TypeError):
            return proposal["value"]  # the layer's own check says what is wrong with it
        try:
            return check_head(
                proposal["value"], self.num_heads(name), name, self.cap.layers.index(name), negative=False
            )
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
            # the class counts only where its labels name the site's samples
            fits = self.label is not None and labels_fit(self.cap, self.layer, self.step)
            site = self.cap.site_name(self.layer) if self.cap.layers else None
            raise t.TraitError(sample_out_of_range(value, n, self.label if fits else None, site))
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
        # sites keep their own number of samples: an index past the new site's last is clamped to it
        if isinstance(self.sample, int) and not self.stats_only():
            kept = self.num_samples(self.label)
            if self.sample >= kept:
                self.sample = kept - 1 if kept else "mean"

    # ------------------------------------------------------------ another capture
    @property
    def capture(self) -> Capture:
        """The capture shown; assigning one (or a recorder) is :meth:`update` with its defaults."""
        return self.cap

    @capture.setter
    def capture(self, cap) -> None:
        self.update(cap)

    def update(self, cap, *, tokens: Any = KEEP, follow: bool = False) -> None:
        """Show another capture, or the same one grown, keeping the selection where it still exists.

        Parameters
        ----------
        cap : Capture or Recorder
            What to show (a recorder: its capture, and the view follows it).
        tokens : optional
            New token strings for the axes (default: keep those given before).
        follow : bool
            A view on the last step it saw moves to the new last step (how a
            view follows ``aw.record`` as training goes).

        The site is found again by name, a head index, class and sample where
        the new capture still has them, the step clamped to its steps (see
        :func:`carry_selection`); controls get the new options and ranges and
        the view draws once.
        """
        recorder = recorder_of(cap)
        new = check_capture(cap)
        sel = carry_selection(
            self.cap, new, self.selection(), seen_steps=self.__dict__.get("_steps_seen"), follow=follow
        )
        with quiet(*self._quiet_parts()):
            self._take(new, tokens)
            apply_selection(self, sel)
        self._steps_seen = new.steps
        self._taken()
        if recorder is not None:
            recorder.watch(self)

    def _quiet_parts(self) -> list:
        """What must compute nothing while the capture is swapped (this view and what it holds)."""
        return [self]

    def _take(self, cap: Capture, tokens: Any) -> None:
        """Hold ``cap`` (before the selection is set on it); nothing is computed yet."""
        self.cap = cap

    def _taken(self) -> None:
        """Draw what the new capture and selection show (once, after the swap)."""
        refresh = getattr(self, "refresh", None)
        if refresh is not None:
            refresh()

    # ------------------------------------------------------------ what the capture holds
    def site_choices(self) -> list[int]:
        """The sites a layer control offers for this selection (every site)."""
        return list(range(len(self.cap.layers)))

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
        return self.cap.is_stats_only(
            self.layer if layer is None else layer, self.step if step is None else step
        )

    def num_samples(self, label=None, layer: int | None = None, step: int | None = None) -> int:
        """Kept samples of class ``label`` (all when None) at a site and step (default: the selected
        ones), which the sample index counts: the site's own samples, or the class's where the labels
        name them (:func:`attnwidget._view_state.samples_at`); 0 where none is kept."""
        layer = self.layer if layer is None else layer
        step = self.step if step is None else step
        try:
            return samples_at(self.cap, layer, step, label)
        except (IndexError, KeyError, TypeError):  # at construction the layer may not be valid yet
            return self.cap.class_count(label)

    # ------------------------------------------------------------ what to show
    def selection(self) -> dict:
        """The current selection: the values of :data:`attnwidget._view_state.SELECTION`."""
        return {k: getattr(self, k) for k in SELECTION}

    def frame_selection(self) -> dict:
        """The keyword arguments of :func:`attnwidget.frame` for the current selection
        (:func:`attnwidget._view_state.frame_args`)."""
        return frame_args(self.cap, self.selection())
