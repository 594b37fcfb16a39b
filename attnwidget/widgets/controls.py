"""Controls: the ipywidgets that drive a Selection (layer, head, class, statistic,
difference, sample, step) and, for a target with a ``color_range`` (an Explorer),
the colour range of all its views.

Each control is hidden where the capture offers nothing to choose (one site,
one head, no labels, one sample, one step, no statistics; the sample slider
also on a statistics-only site, which keeps no sample to walk). The controls
write the target's traits and follow them, so code that sets
``explorer.head = 3`` moves the dropdown too. When the target is given
another capture (``explorer.capture = other``, or a recorder's capture that
grew), :meth:`Controls.configure` sets the options, ranges and what is shown
anew. Where ``cap.metadata["step_labels"]`` labels the steps (``aw.record``:
the training step of each record) a text beside the step slider names the
step shown, e.g. ``training step 300``.

Sites may keep different numbers of samples (a model that flattens epochs or
channels into its batch axis): the sample slider walks the selected site's
own samples, and the text beside it names the one shown
(``cap.sample_name``: ``"sequence 3 · epoch 5 · EEG2"``, else ``"sample 7"``).
A control that cannot apply is disabled, never an error: the class filter on
a site whose samples the labels do not name, or the class, statistic and
sample under a class-difference map. Its reason, one line, is its tooltip
and is shown in the ``note`` under the controls (:meth:`Controls.reasons`).

The colour range (``"frame"``: each frame's own min..max; ``"fixed"``: 0..1;
``"shared"``: one range over every head and step of the site) is one dropdown
linked to ``target.color_range``. An explorer shows the choice in its main
matrix's toolbar instead, beside the colormap and scale, and hides this one
(:meth:`Controls.show_color_range`): there is only ever one on screen.

The row fits one line of a JupyterLab cell at 1400 px: the layer and class
dropdowns are as wide as their names (the layer's at most ``LAYER_MOST_PX``,
its whole name in its tooltip), the sliders narrow, and ``sample_name`` is
hidden where it says only what the slider's readout says (``sample 7``); under
the pressed "mean" its count (``mean of 320 samples``) is the button's tooltip.
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets as t

from .._frame import step_names
from .._view_state import STAT_CHOICES, class_reason, sample_text
from ..store import class_name
from ._traits import Selection

__all__ = ["Controls"]

# option values of "every sample" and "no difference" (no class label can equal them)
ALL = "__all__"
NONE = "__none__"
# why the sample slider rests while the mean is shown
_MEAN_ON = "'mean' is on: press it again to walk the samples"
_MEAN_TIP = "show the mean of the samples"
#: what the colour-range dropdown offers: (what it says, the ``color_range`` value)
COLOR_RANGES = [("this frame", "frame"), ("fixed 0–1", "fixed"), ("shared", "shared")]


def _shown(widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def _dropdown_width(
    names,
    label_px: int = 90,
    char_px: float = 7.5,
    arrow_px: int = 36,
    least_px: int = 200,
    most_px: int = 640,
) -> str:
    """A CSS width for a described dropdown that shows its longest option unclipped, within
    ``least_px .. most_px`` (a longer name is cut on screen; the dropdown's tooltip holds it whole)."""
    longest = max((len(str(n)) for n in names), default=0)
    return f"{min(most_px, max(least_px, int(label_px + char_px * longest + arrow_px)))}px"


#: the layer dropdown: its label's pixels, and at most this wide (the controls stay on one row)
_LAYER_LABEL_PX = 44
LAYER_MOST_PX = 300
#: the sliders' width (label, track and readout): narrow enough for one row with Play beside the step
SLIDER_WIDTH = "170px"


class Controls(widgets.HBox):
    """A row of controls bound to ``target`` (an Explorer or any Selection).

    Parameters
    ----------
    target : Selection
        The object whose ``layer, head, sample, label, step`` the controls set.
    class_names : dict or list, optional
        Class label -> display name (default: ``cap.metadata["class_names"]``).

    Attributes
    ----------
    layer, head, label, stat, difference, sample, mean, step, play : ipywidgets.Widget
        The individual controls (hidden ones have ``layout.display == "none"``).
        ``stat`` is shown when the capture has statistics, ``difference`` when
        they hold at least two classes.
    step_label : ipywidgets.Label
        What the step shown is called (``training step 300``), where the
        capture labels its steps (``cap.metadata["step_labels"]``).
    sample_name : ipywidgets.Label
        Which sample is shown (``sequence 3 · epoch 5 · EEG2``, ``sample 7``,
        ``mean of 320 samples``), beside the sample slider.
    note : ipywidgets.Label
        Why the disabled controls are disabled, one reason each (empty when none is).
    color_range : ipywidgets.Dropdown
        The colour range of the target's views (``"frame"``, ``"fixed"``, ``"shared"``),
        linked to ``target.color_range``; hidden where the target has none.
    """

    def __init__(self, target: Selection, class_names=None):
        super().__init__(layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.target = target
        self._class_names = class_names
        # wide enough for the longest site name (e.g. decoder.layers.0.cross_attn): the
        # select's own flex basis is fixed, so "auto" alone clips long names
        # labels as wide as their words (ipywidgets' default reserves 80 px each): one row of controls
        tight = {"description_width": "initial"}
        self.layer = widgets.Dropdown(description="layer", layout=widgets.Layout(width="auto"), style=tight)
        self.head = widgets.Dropdown(description="head", layout=widgets.Layout(width="112px"), style=tight)
        self.label = widgets.Dropdown(description="class", layout=widgets.Layout(width="160px"), style=tight)
        self.stat = widgets.Dropdown(
            description="statistic",
            options=list(STAT_CHOICES),
            layout=widgets.Layout(width="180px"),
            style=tight,
        )
        self.stat.tooltip = "class statistic over every sample collect() streamed"
        self._pairs: list = []
        self.difference = widgets.Dropdown(
            description="difference", layout=widgets.Layout(width="auto"), style=tight
        )
        self.difference.tooltip = "class-difference map: mean of one class minus another"
        self.sample = widgets.IntSlider(
            description="sample",
            min=0,
            max=0,
            continuous_update=False,
            layout=widgets.Layout(width=SLIDER_WIDTH),
            style=tight,
        )
        self.mean = widgets.ToggleButton(
            description="mean", tooltip=_MEAN_TIP, layout=widgets.Layout(width="64px")
        )
        self.step = widgets.IntSlider(
            description="step", min=0, max=0, layout=widgets.Layout(width=SLIDER_WIDTH), style=tight
        )
        # the tooltips the controls have while they apply (a disabled one says why instead)
        self._tooltips = {n: getattr(self, n).tooltip for n in ("label", "stat", "sample", "mean")}
        # Play beside the step slider, labelled, in one box so the row never wraps between them
        self.play = widgets.Play(
            min=0,
            max=0,
            interval=400,
            description="play steps",
            tooltip="play the steps: play, pause, stop (back to the first), repeat",
            layout=widgets.Layout(width="auto"),
            style=tight,
        )
        self.step_label = widgets.Label(layout=widgets.Layout(margin="0 0 0 8px"))
        self.sample_name = widgets.Label(layout=widgets.Layout(margin="0 8px 0 4px"))
        self.color_range = widgets.Dropdown(
            description="colour range",
            options=COLOR_RANGES,
            value="frame",
            layout=widgets.Layout(width="auto", margin="0 0 0 8px"),
            style=tight,
        )
        self.color_range.tooltip = (
            "colour range of every view: this frame's own min..max, fixed 0..1, or one range shared "
            "by every head and step of the site (Play, zoom and heads then compare)"
        )
        self.color_range.add_class("aw-color-range-control")
        self._range_link = None
        if target.has_trait("color_range"):
            self._range_link = t.link((target, "color_range"), (self.color_range, "value"))
        _shown(self.color_range, self._range_link is not None)
        self.note = widgets.Label(layout=widgets.Layout(width="100%", margin="2px 0 0 8px"))
        self.note.add_class("aw-controls-note")
        self._reasons: dict[str, str] = {}
        widgets.jslink((self.play, "value"), (self.step, "value"))
        play_label = widgets.Label("play", layout=widgets.Layout(margin="0 2px 0 8px"))
        play_label.add_class("aw-play-label")
        self.stepper = widgets.HBox(
            [self.step, play_label, self.play, self.step_label], layout=widgets.Layout(align_items="center")
        )
        self.stepper.add_class("aw-stepper")
        self.children = [
            self.layer,
            self.head,
            self.label,
            self.stat,
            self.difference,
            self.sample,
            self.mean,
            self.sample_name,
            self.stepper,
            self.color_range,
            self.note,
        ]
        self.add_class("aw-controls")

        self._syncing = False
        self.configure()
        self.layer.observe(lambda c: self._write("layer", c["new"]), names="value")
        self.head.observe(lambda c: self._write("head", c["new"]), names="value")
        self.label.observe(self._label_picked, names="value")
        self.stat.observe(lambda c: self._write("stat", c["new"]), names="value")
        self.difference.observe(self._difference_picked, names="value")
        self.sample.observe(lambda c: self._write("sample", c["new"]), names="value")
        self.mean.observe(self._mean_toggled, names="value")
        self.step.observe(lambda c: self._write("step", c["new"]), names="value")
        target.observe(
            self._target_changed, names=["layer", "head", "sample", "label", "step", "stat", "difference"]
        )

    def configure(self) -> None:
        """Set the options, ranges and shown controls from the target's capture, then follow it.

        Called once at construction and again whenever the target is given
        another capture, or its capture grew (``explorer.update``).
        """
        tg = self.target
        cap = tg.cap
        given = self._class_names
        names = given if given is not None else (cap.metadata or {}).get("class_names")
        if isinstance(names, dict):
            names = dict(names)
        stat_classes = cap.classes(kept=False)
        self._pairs = [(a, b) for a in stat_classes for b in stat_classes if a != b]
        diff_names = [f"{class_name(a, names)} − {class_name(b, names)}" for a, b in self._pairs]
        last = max(cap.steps - 1, 0)
        self._syncing = True
        try:
            options = {
                self.layer: [(cap.layers[i], i) for i in tg.site_choices()],
                self.label: [("all samples", ALL)]
                + [(class_name(c, names), i) for i, c in enumerate(tg.classes())],
                self.difference: [("none", NONE)] + [(n, i) for i, n in enumerate(diff_names)],
            }
            for widget, opts in options.items():
                if list(widget.options) != opts:
                    widget.options = opts
            # sized to the site names, up to LAYER_MOST_PX: the whole name is the dropdown's tooltip
            # (min_width too: a flex row would shrink it past its names)
            width = _dropdown_width(
                [cap.layers[i] for i in tg.site_choices()],
                label_px=_LAYER_LABEL_PX,
                least_px=120,
                most_px=LAYER_MOST_PX,
            )
            self.layer.layout.width = self.layer.layout.min_width = width
            self.label.layout.width = _dropdown_width(
                ["all samples"] + [class_name(c, names) for c in tg.classes()],
                label_px=42,
                least_px=120,
                most_px=240,
            )
            self.difference.layout.min_width = _dropdown_width(["none"] + diff_names)
            # a shorter capture has no step past its end: the value comes back first
            for w in (self.step, self.play):
                if w.value > last:
                    w.value = last
                w.max = last
        finally:
            self._syncing = False

        _shown(self.layer, len(tg.site_choices()) > 1)
        _shown(self.label, bool(tg.classes()))
        _shown(self.stat, tg.has_stats())
        _shown(self.difference, tg.has_stats() and len(stat_classes) >= 2)
        _shown(self.step, cap.steps > 1)
        _shown(self.play, cap.steps > 1)
        _shown(self.step_label, cap.steps > 1 and step_names(cap) is not None)
        _shown(self.stepper, cap.steps > 1)
        self._follow()

    def detach(self) -> None:
        """Stop following the target (before these controls are closed and replaced)."""
        if self._range_link is not None:
            self._range_link.unlink()
            self._range_link = None
        self.target.unobserve(
            self._target_changed, names=["layer", "head", "sample", "label", "step", "stat", "difference"]
        )

    def _target_changed(self, change) -> None:
        # not while the target's capture is being swapped: the options are set anew after it
        if self.__dict__.get("_ready", True):
            self._follow()

    # ------------------------------------------------------------ control -> target
    def _write(self, name: str, value) -> None:
        if not self._syncing and value is not None:
            setattr(self.target, name, value)

    def _label_picked(self, change) -> None:
        if self._syncing:
            return
        classes = self.target.classes()
        label = None if change["new"] == ALL else classes[change["new"]]
        # picking a class shows that class's mean; the slider then walks its samples
        self.target.sample = "mean" if label is not None else 0
        self.target.label = label

    def _difference_picked(self, change) -> None:
        if not self._syncing:
            self.target.difference = None if change["new"] == NONE else self._pairs[change["new"]]

    def _mean_toggled(self, change) -> None:
        if not self._syncing:
            self.target.sample = "mean" if change["new"] else self.sample.value

    # ------------------------------------------------------------ target -> control
    def _follow(self) -> None:
        """Make every control show the target's current selection."""
        tg = self.target
        self._syncing = True
        try:
            n_heads = tg.num_heads(tg.layer)
            options = [("mean", "mean"), ("max", "max")] + [(str(h), h) for h in range(n_heads or 0)]
            # held together: the page never sees the index 0 ipywidgets sends while the options change
            with self.head.hold_sync():
                if list(self.head.options) != options:
                    self.head.options = options
                self.head.value = tg.head
            _shown(self.head, (n_heads or 0) > 1)
            self.layer.value = tg.layer
            try:  # the whole site name: the dropdown may be narrower than it
                self.layer.tooltip = tg.cap.site_name(tg.layer)
            except (IndexError, KeyError):
                self.layer.tooltip = None
            classes = tg.classes()
            self.label.value = ALL if tg.label is None else classes.index(tg.label)
            self.stat.value = tg.stat
            pair = None if tg.difference is None else tuple(tg.difference)
            self.difference.value = self._pairs.index(pair) if pair in self._pairs else NONE
            # a statistics-only site keeps no sample: nothing to walk; else the site's own samples
            n = 0 if tg.stats_only() else tg.num_samples(tg.label)
            self.sample.max = max(n - 1, 0)
            if isinstance(tg.sample, int) and tg.sample <= self.sample.max:
                self.sample.value = tg.sample
            self.mean.value = tg.sample == "mean"
            _shown(self.sample, n > 1)
            _shown(self.mean, n > 1)
            try:
                named = sample_text(tg.cap, tg.selection()) if n > 1 else ""
            except (IndexError, KeyError, ValueError):  # nothing at this step: the views say so
                named = ""
            self.sample_name.value = named
            # shown only where it names more than the readout: "sample 7" repeats it, and under
            # the pressed 'mean' the count ("mean of 320 samples") is the button's tooltip instead
            # (the row stays one line with the step slider and Play beside it)
            repeats = isinstance(tg.sample, int) and named == f"sample {tg.sample}"
            _shown(self.sample_name, bool(named) and not repeats and tg.sample != "mean")
            self._tooltips["mean"] = (
                f"showing the {named}: press again to walk the samples"
                if tg.sample == "mean" and named
                else _MEAN_TIP
            )
            self._disable(self._why_disabled(pair is not None))
            self.step.value = tg.step
            labels = step_names(tg.cap)
            self.step_label.value = labels[tg.step] if labels and 0 <= tg.step < len(labels) else ""
        finally:
            self._syncing = False

    def _why_disabled(self, diff: bool) -> dict[str, str]:
        """Control name -> why it cannot apply to the selection now (one line each)."""
        tg = self.target
        why: dict[str, str] = {}
        if diff:
            # a difference map is the mean of every sample of two classes
            text = "a class-difference map uses every sample of both classes (difference 'none' to choose)"
            why.update(label=text, stat=text, sample=text, mean=text)
            return why
        if tg.sample == "mean":
            why["sample"] = _MEAN_ON
        if tg.classes():
            try:
                reason = class_reason(tg.cap, tg.selection())
            except (IndexError, KeyError, ValueError):
                reason = None
            if reason is not None:
                why["label"] = reason
        return why

    def _disable(self, why: dict[str, str]) -> None:
        """Disable the controls named in ``why``, each with its reason as tooltip, and show the reasons."""
        self._reasons = why
        for name in ("label", "stat", "sample", "mean"):
            w = getattr(self, name)
            w.disabled = name in why
            w.tooltip = why.get(name) or self._tooltips.get(name)
        # the pressed 'mean' button says itself why the slider rests: the note is for the rest
        shown = [
            r
            for name, r in why.items()
            if getattr(self, name).layout.display != "none" and not (name == "sample" and r == _MEAN_ON)
        ]
        self.note.value = " · ".join(dict.fromkeys(shown))
        _shown(self.note, bool(shown))

    def show_color_range(self, visible: bool) -> None:
        """Show or hide the colour-range dropdown in this row. An explorer hides it where its main
        matrix's toolbar offers the choice beside the colormap and scale (the one on screen); the
        dropdown stays linked to ``target.color_range`` either way."""
        _shown(self.color_range, visible and self._range_link is not None)

    def reasons(self) -> dict[str, str]:
        """Control name -> why it is disabled now, for every disabled control (its tooltip says it too)."""
        return dict(self._reasons)

    def visible(self) -> list[str]:
        """Names of the controls shown (not hidden); the readouts ``sample_name`` and ``note`` are not
        controls and are left out."""
        names = (
            "layer",
            "head",
            "label",
            "stat",
            "difference",
            "sample",
            "mean",
            "play",
            "step",
            "step_label",
            "color_range",
        )
        return [n for n in names if getattr(self, n).layout.display != "none"]
