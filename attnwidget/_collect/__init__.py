"""Collection over a data set: the loop, the per-site sink, streaming statistics, resume and ranks.

A short guide to the room, in the order data passes through it:

- ``loop.py``: :func:`collect`, the public entry. Runs the model over batches
  inside one capture per batch, keeps samples and/or streams statistics.
- ``sink.py``: receives each site's reduced weights the moment the engine
  computes them (still on the model's device) and folds them in.
- ``batch_stats.py``: one batch's per-class sums, in torch, on the batch's device.
- ``stats.py``: the streaming accumulator (count, mean, variance, min, max,
  entropy per site, step and class), merged across batches and ranks.
- ``state.py``: what a run has gathered so far (samples, labels, statistics),
  written to and read from checkpoints.
- ``checkpoint.py``: atomic checkpoint files, one per rank.
- ``distributed.py``: shards, round robins and gathers under ``torch.distributed``.
- ``record.py``: :func:`attnwidget.record`, one probe batch captured every N optimiser
  steps while a model trains (a collection over training time).

This room may import ``_capture``, ``reduce``, ``store`` and ``errors``; it
imports nothing above the store (frames, widgets, figures); the package root
imports it, and the widgets only to recognise a recorder in ``aw.show``.
"""

from .loop import collect

__all__ = ["collect"]
