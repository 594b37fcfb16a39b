"""``aw.record``: attention on one probe batch, recorded every N optimiser steps while a model trains.

A :class:`Recorder` sits in a training loop: ``rec.step()`` once per optimiser
step (or ``rec.step(number)``, or ``rec()`` as a callback). Every ``every``
steps it runs the probe batch through the model inside :func:`attnwidget.capture`,
with gradients off and the model in eval mode, and appends what it saw as a
new step of ``rec.capture``, a normal :class:`~attnwidget.Capture` (save,
export and animate it like any other). ``cap.metadata["step_labels"]`` holds
the training step of each recorded step.

Recording leaves training exactly as it would have been: the training mode of
every module and the random number generators (torch's CPU generator, CUDA's
and MPS's where they are in use, numpy's global generator and Python's
``random``) are put back as they were, so the losses and the final weights are
bit-identical with and without the recorder under a fixed seed.

Views follow it: ``aw.show(rec)`` registers the explorer with the recorder,
which hands every new step to the views it knows (``view.update(rec.capture,
follow=True)``); the step slider grows and a view left on the newest step moves
on to the next one.

It lives in ``_collect`` because it is a collection over training time: it
imports ``_capture``, the loop's ``default_forward`` (how a batch becomes a
forward call) and ``store``; it never imports the widgets, which it drives
through their ``update`` method alone.
"""

from __future__ import annotations

import random
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._capture import capture
from ..store import Capture
from .loop import default_forward

__all__ = ["Recorder", "record", "STEP_LABEL_NAME"]

#: what ``cap.metadata["step_label_name"]`` calls a recorded step's label (titles and the step control)
STEP_LABEL_NAME = "training step"


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive int (optimiser steps between records), not {value!r}")
    return int(value)


class _RandomState:
    """Every random number generator a training loop may draw from, saved and put back exactly."""

    def __init__(self) -> None:
        self.torch = torch.get_rng_state()
        self.numpy = np.random.get_state()
        self.python = random.getstate()
        # only generators already in use: asking an idle CUDA for its state would initialise it
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        mps = getattr(torch, "mps", None)
        self.mps = (
            mps.get_rng_state()
            if mps is not None and torch.backends.mps.is_available() and torch.backends.mps.is_built()
            else None
        )

    def restore(self) -> None:
        torch.set_rng_state(self.torch)
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        if self.mps is not None:
            torch.mps.set_rng_state(self.mps)


class Recorder:
    """Attention on one probe batch, every ``every`` optimiser steps (what :func:`record` returns).

    Attributes
    ----------
    capture : Capture
        One step per record, in order; ``capture.metadata["step_labels"]`` is
        the training step of each (also :attr:`labels`).
    model : torch.nn.Module
    probe : any
        The batch run at every record.
    every : int
        Optimiser steps between records.
    count : int
        Optimiser steps counted so far (by :meth:`step`).
    """

    def __init__(self, model: torch.nn.Module, probe: Any, every: int = 100,
                 forward: Callable | None = None, *, tokens: Any = None, start: bool = True,
                 **capture_options) -> None:  # fmt: skip
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"record() needs a torch.nn.Module, not {type(model).__name__}")
        if forward is not None and not callable(forward):
            raise TypeError(f"forward= must be a callable forward(model, batch), not {forward!r}")
        self.model = model
        self.probe = probe
        self.every = _positive_int(every, "every")
        self.forward = forward or default_forward
        self.capture_options = dict(capture_options)
        self.capture = Capture()
        self.capture.tokens = tokens
        self.count = 0
        self._labels: list[int] = []
        self._views: list[weakref.ref] = []
        if start:
            self.record()

    # ------------------------------------------------------------ the training loop's side
    def step(self, step: int | None = None) -> bool:
        """Count one optimiser step (or set the count to ``step``) and record when it is due.

        Parameters
        ----------
        step : int, optional
            The number of optimiser steps done so far (``i + 1`` after the
            ``i``-th step of a 0-based loop); default: one more than before.

        Returns
        -------
        bool
            Whether the probe was recorded now (the count is a multiple of
            ``every`` not recorded yet).
        """
        if step is None:
            self.count += 1
        else:
            if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
                raise ValueError(
                    f"step must be the number of optimiser steps done, an int >= 0, not {step!r}"
                )
            self.count = int(step)
        if self.count % self.every or (self._labels and self._labels[-1] == self.count):
            return False
        self.record()
        return True

    def __call__(self, step: int | None = None) -> bool:
        """:meth:`step`, so that the recorder can be passed where a training loop takes a callback."""
        return self.step(step)

    def record(self, label: int | None = None) -> Capture:
        """Run the probe now and append it as a new step of :attr:`capture`.

        Parameters
        ----------
        label : int, optional
            The step's label (default: :attr:`count`, the optimiser steps done).

        Returns
        -------
        Capture
            :attr:`capture`, one step longer.
        """
        seen = self._run()
        self._append(seen, self.count if label is None else int(label))
        self._tell_views()
        return self.capture

    @property
    def labels(self) -> list[int]:
        """The training step of each recorded step (``capture.metadata["step_labels"]``)."""
        return list(self._labels)

    # ------------------------------------------------------------ views
    def watch(self, view: Any) -> None:
        """Have ``view`` follow the recorder: after each record it is given :attr:`capture`
        through ``view.update(capture, follow=True)``. Held weakly; closed views are dropped."""
        if not callable(getattr(view, "update", None)):
            raise TypeError(f"a view that follows a recorder needs an update(capture) method; got {view!r}")
        if all(ref() is not view for ref in self._views):
            self._views.append(weakref.ref(view))

    @property
    def views(self) -> list:
        """The views following the recorder now (closed or collected ones left out)."""
        alive = []
        for ref in self._views:
            view = ref()
            # a closed ipywidget has no comm left to the browser
            if view is not None and not (hasattr(view, "comm") and view.comm is None):
                alive.append(view)
        self._views = [weakref.ref(v) for v in alive]
        return alive

    def _tell_views(self) -> None:
        for view in self.views:
            try:
                view.update(self.capture, follow=True)
            except Exception as e:  # a view that cannot draw the new step must not stop the training run
                warnings.warn(
                    f"aw.record: a {type(view).__name__} could not show training step "
                    f"{self._labels[-1]} ({type(e).__name__}: {e}); training goes on and "
                    "rec.capture holds the step: show it again with aw.show(rec)",
                    RuntimeWarning,
                    stacklevel=3,
                )

    # ------------------------------------------------------------ one record
    def _run(self) -> Capture:
        """The probe under a capture, in eval mode without gradients; modes and generators put back."""
        model = self.model
        modes = [(m, m.training) for m in model.modules()]
        randomness = _RandomState()
        try:
            model.eval()
            with torch.no_grad(), capture(model, **self.capture_options) as seen:
                self.forward(model, self.probe)
        finally:
            # train() first, for modules whose train() does more than set the flag; then each flag
            # exactly as it was (a frozen submodule stays in eval mode)
            model.train(modes[0][1])
            for module, mode in modes:
                module.training = mode
            randomness.restore()
        return seen

    def _append(self, seen: Capture, label: int) -> None:
        if seen.steps > 1:
            raise ValueError(
                f"the probe ran the model {seen.steps} times; a record is one forward call: pass "
                "forward=lambda model, batch: model(...) that calls it once (teacher forcing "
                "instead of generation)"
            )
        cap, step = self.capture, len(self._labels)
        kept = [name for name in seen.layers if seen.holds(name, 0) == "samples"]
        if not kept:
            raise ValueError(
                "the probe recorded no attention; check the capture options (include=, exclude=)"
            )
        for name in kept:
            cap.add(
                name,
                step,
                seen.get(name, 0),
                kind=seen.kinds[name],
                axes=seen.axes[name],
                info=seen.info[name],
            )
        if not self._labels:
            cap.metadata = {**seen.metadata, **cap.metadata}
        self._labels.append(label)
        cap.metadata["step_labels"] = list(self._labels)
        cap.metadata["step_label_name"] = STEP_LABEL_NAME
        cap.metadata["record_every"] = self.every

    def __repr__(self) -> str:
        done = (
            f"training steps {self._labels[0]}..{self._labels[-1]}"
            if len(self._labels) > 1
            else (f"training step {self._labels[0]}" if self._labels else "nothing yet")
        )
        return (
            f"<Recorder: every {self.every} step(s), {len(self._labels)} record(s) ({done}), "
            f"{self.count} step(s) counted, {len(self.views)} view(s) following>"
        )


def record(model: torch.nn.Module, probe: Any, every: int = 100, forward: Callable | None = None, *,
           tokens: Any = None, start: bool = True, **capture_options) -> Recorder:  # fmt: skip
    """Record the attention of ``model`` on one probe batch every ``every`` optimiser steps.

    Call ``rec.step()`` once per optimiser step (after ``optimizer.step()``),
    or ``rec.step(steps_done)``, or pass ``rec`` where a loop takes a callback
    (``rec()``). Each record runs the probe with gradients off and the model
    in eval mode, then puts back every module's training mode and the random
    number generators (torch CPU, CUDA and MPS where in use, numpy's global
    generator, Python's ``random``), so training is bit-identical with and
    without the recorder. ``aw.show(rec)`` is live: the explorer follows
    ``rec.capture`` as it grows.

    Parameters
    ----------
    model : torch.nn.Module
    probe : any
        One batch, in any form :func:`attnwidget.collect` accepts: a tensor
        (``model(probe)``), a tuple or list (``model(probe[0])``), a dict
        (``model(**probe)``), or anything ``forward`` takes. On the model's device.
    every : int
        Optimiser steps between records.
    forward : callable, optional
        ``forward(model, probe)``: how the probe becomes one forward call of
        the model (default as in :func:`attnwidget.collect`). A record is one
        forward call: a probe that calls the model twice is refused.
    tokens : optional
        Token strings of the probe, kept as ``rec.capture.tokens``.
    start : bool
        Record once now, as training step 0 (the model before training; this
        also checks the probe at once). With False, the first record is at
        step ``every`` and ``aw.show(rec)`` has to wait for it.
    **capture_options
        As for :func:`attnwidget.capture` (``heads``, ``rows``, ``max_size``,
        ``include``, ...).

    Returns
    -------
    Recorder
        ``rec.capture`` is a normal :class:`~attnwidget.Capture`, one step per
        record; ``rec.capture.metadata["step_labels"]`` (and ``rec.labels``)
        the training step of each, which frame titles and the explorer's step
        control show (``training step 300``).

    Examples
    --------
    >>> rec = aw.record(model, probe, every=100)  # doctest: +SKIP
    >>> aw.show(rec)  # doctest: +SKIP
    >>> for batch in loader:  # doctest: +SKIP
    ...     loss = loss_fn(model(batch))
    ...     opt.zero_grad(); loss.backward(); opt.step()
    ...     rec.step()
    >>> rec.capture.save("training.npz")  # doctest: +SKIP
    """
    return Recorder(model, probe, every, forward, tokens=tokens, start=start, **capture_options)
