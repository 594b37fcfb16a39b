"""Analyses the guides do by hand: head roles, warning signs, and whether a difference is real.

=======================  ===========================================================
``heads``                one row per (site, head): scores in [0, 1] for the named
                         roles (previous token, first token / sink, own token, local
                         window, broad, same token, induction) plus entropy, max and
                         sparsity; a list of dicts, a structured array, a figure
``heads_figure``         sites x heads coloured by each head's strongest role
``check``                warning signs per site and step (uniform attention, collapse,
                         diffuse cross-attention, heads that are copies, abrupt change
                         between steps, parts that do not separate), each with its value
                         and the threshold of :data:`THRESHOLDS`
``significance``         per-cell effect size, Welch's t and p, Benjamini-Hochberg q for
                         two classes, from kept samples or streamed statistics
``significance_figure``  a test's difference map on the diverging scale, significant
                         cells outlined, their count in the title
``rollout``              attention flow through a stack of self-attention layers
                         (Abnar & Zuidema), as a capture with one site per depth
``compare``              two runs of the same sites side by side with their difference,
                         a figure per site (significant cells outlined) and files
=======================  ===========================================================

This room reads captures and imports only the spine (``store``, ``_frame``,
``_samples``, ``_names``, ``reduce``, ``errors``); matplotlib and
:mod:`attnwidget.figures` are imported inside the functions that draw
(:func:`heads_figure`, :func:`significance_figure`, ``Comparison.figure``)
only, so the analyses run without them.
"""

from __future__ import annotations

from ._check import SIGNS, THRESHOLDS, Finding, Findings, check
from ._compare import Comparison, compare
from ._figure import ROLE_COLORS, heads_figure, outline_cells, significance_figure
from ._roles import COLUMNS, ROLE_MIN, ROLES, HeadRoles, heads, strongest_role
from ._rollout import rollout, stack_sites
from ._significance import Significance, benjamini_hochberg, significance, t_two_sided

__all__ = [
    "heads",
    "HeadRoles",
    "ROLES",
    "ROLE_MIN",
    "COLUMNS",
    "strongest_role",
    "heads_figure",
    "ROLE_COLORS",
    "check",
    "Finding",
    "Findings",
    "THRESHOLDS",
    "SIGNS",
    "significance",
    "Significance",
    "benjamini_hochberg",
    "t_two_sided",
    "significance_figure",
    "outline_cells",
    "rollout",
    "stack_sites",
    "compare",
    "Comparison",
]
