"""``attnwidget run``: from a model and its inputs to the guides' figures, without writing Python.

One file per job, in the order a run goes through them:

================  ==========================================================
``specs.py``      ``module:function`` (or ``file.py:function``) imported
``models.py``     a local Hugging Face folder loaded offline with the Auto
                  class its config names; a factory's model; ``--checkpoint``
``runner.py``     the factory protocol: how an input becomes a forward call,
                  its tokens and, optionally, a recipe of figures
``inputs.py``     text, text files, images, WAV audio, data sets
``outputs.py``    the guides' file names per kind of run, drawn by the
                  recipes and figures of the package, written safely
``command.py``    the ``run`` subcommand: its options and the run itself
================  ==========================================================

This room sits above everything else (it runs models, draws figures and writes
pages); nothing in the package imports it but :mod:`attnwidget.cli`.
"""

from __future__ import annotations

from .runner import Runner

__all__ = ["Runner"]
