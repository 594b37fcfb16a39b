"""The error classes users catch, and the messages that list what exists.

Every error attnwidget raises on purpose derives from :class:`AttnwidgetError`
and from the built-in type a user would expect for the condition, so both
``except aw.AttnwidgetError`` and ``except ValueError`` work:

=========================  ==================  ======================================
class                      also a              raised when
=========================  ==================  ======================================
``SelectionError``         ``IndexError``      a site, head, sample, step or class
                                               that does not exist is asked for
``UnknownSiteError``       ``KeyError``        a site asked for by a name the capture
                                               does not have (also a ``SelectionError``)
``NotFoundError``          ``LookupError``     nothing matched (no attention site
                                               ran, a pattern matched no site)
``CaptureFileError``       ``ValueError``      a capture or checkpoint file cannot
                                               be read, or must not be written
``NoLabelsError``          ``ValueError``      a view needs class labels the
                                               capture does not have
``CaptureMismatchError``   ``ValueError``      a resumed or compared run does not
                                               match the one it joins
=========================  ==================  ======================================

One condition has one message, from one builder here, wherever it is met:
:func:`check_head` (a head that a site does not have), :func:`site_out_of_range`,
:func:`unknown_site`, :func:`sample_out_of_range` and :func:`no_labels`. The
widgets' trait validators must raise ``traitlets.TraitError`` (traitlets
reports nothing else); they raise it with the message of the same builder, so
``view.head = 9`` and ``aw.frame(cap, head=9)`` say the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "AttnwidgetError",
    "SelectionError",
    "UnknownSiteError",
    "NotFoundError",
    "CaptureFileError",
    "NoLabelsError",
    "CaptureMismatchError",
    "listing",
    "no_labels",
    "check_head",
    "site_out_of_range",
    "unknown_site",
    "sample_out_of_range",
    "HEAD_CHOICES",
]

#: the head selections that are not an index: the mean and the max over heads
HEAD_CHOICES = ("mean", "max")


class AttnwidgetError(Exception):
    """Base class of every error attnwidget raises on purpose."""


class SelectionError(AttnwidgetError, IndexError):
    """A site, head, sample, step or class that does not exist."""


class UnknownSiteError(SelectionError, KeyError):
    """A site asked for by a name the capture does not have."""

    def __str__(self) -> str:
        # KeyError would quote the whole message; this one is a sentence
        return str(self.args[0]) if self.args else ""


class NotFoundError(AttnwidgetError, LookupError):
    """Nothing matched: no attention site ran, or a pattern matched none."""


class CaptureFileError(AttnwidgetError, ValueError):
    """A capture or checkpoint file that cannot be read, or a capture that cannot be written."""


class NoLabelsError(AttnwidgetError, ValueError):
    """A view needs class labels and the capture has none."""


class CaptureMismatchError(AttnwidgetError, ValueError):
    """A resumed or compared run that does not match the one it joins."""


class AttentionFormatError(AttnwidgetError, ValueError):
    """Attention handed to ``Capture.from_attentions`` that cannot be read as ``[sample, head, query, key]``."""


def listing(items: Iterable, most: int = 20) -> str:
    """``a, b, ... (n in all)``: what exists, for an error message (``(none)`` when empty)."""
    items = [str(i) for i in items]
    if not items:
        return "(none)"
    if len(items) > most:
        return ", ".join(items[:most]) + f", ... ({len(items)} in all)"
    return ", ".join(items)


def no_labels(what: str) -> str:
    """The message for a view that needs labels on a capture without them."""
    return (
        f"{what} needs class labels and this capture has none; collect with "
        "aw.collect(model, loader, labels=...) or set cap.labels = [...] (one per sample)"
    )


def site_out_of_range(index: int, sites: Sequence[str]) -> str:
    """The message for a site index that a capture does not have."""
    n = len(sites)
    return (
        f"layer {index} is out of range: this capture has {n} site{'' if n == 1 else 's'} "
        f"(0..{n - 1}): {listing(sites)}"
    )


def unknown_site(name: str, sites: Sequence[str]) -> str:
    """The message for a site name that a capture does not have."""
    return f"no site named {name!r}; sites are: {listing(sites)}"


def sample_out_of_range(sample: int, n: int, label: Any = None, site: str | None = None) -> str:
    """The message for a sample index beyond the ``n`` samples of a class (every sample for None)
    at ``site`` (each site has its own sample count: an EEG model's epoch and channel sites)."""
    what = (
        f"class {label!r}" if label is not None else f"site {site!r}" if site is not None else "this capture"
    )
    at = f" at site {site!r}" if label is not None and site is not None else ""
    return f"sample {sample} is out of range: {what} has {n} sample(s){at}" + (
        f", 0..{n - 1} (or 'mean')" if n else " kept (use 'mean' or a class statistic)"
    )


def check_head(head: Any, heads: int | None, site: str, index: int, *, negative: bool = True):
    """``head`` if the site can show it, else the error every selection of a head raises.

    Parameters
    ----------
    head : int, "mean" or "max"
        The head asked for.
    heads : int or None
        How many heads the site has; None for a site without a head axis
        (then any index is accepted, as there is no head to pick).
    site, index : str, int
        The site's name and its index in ``cap.sites``, for the message.
    negative : bool
        Whether ``-1`` counts from the last head (``aw.frame``); a widget's
        ``head`` trait holds indices ``0..heads-1`` only.

    Returns
    -------
    int or str
        ``head`` unchanged.

    Raises
    ------
    SelectionError
        An index the site does not have.
    ValueError
        Neither an int nor "mean" / "max".
    """
    if isinstance(head, str):
        if head not in HEAD_CHOICES:
            raise ValueError(f"head must be an int, 'mean' or 'max', not {head!r}")
        return head
    if not isinstance(head, (int, np.integer)) or isinstance(head, bool):
        raise ValueError(f"head must be an int, 'mean' or 'max', not {head!r}")
    if heads is not None and not (-heads if negative else 0) <= head < heads:
        raise SelectionError(
            f"head {head} is out of range: layer {index} has {heads} head(s), "
            f"0..{heads - 1}, or 'mean' or 'max' (site {site!r})"
        )
    return head


class VerificationError(AttnwidgetError, RuntimeError):
    """``capture(verify=True)``: captured weights do not reproduce a call's output."""
