"""The error classes users catch, and the messages that list what exists.

Every error attnwidget raises on purpose derives from :class:`AttnwidgetError`
and from the built-in type a user would expect for the condition, so both
``except aw.AttnwidgetError`` and ``except ValueError`` work:

=========================  ==================  ======================================
class                      also a              raised when
=========================  ==================  ======================================
``SelectionError``         ``IndexError``      a site, head, sample, step or class
                                               that does not exist is asked for
``NotFoundError``          ``LookupError``     nothing matched (no attention site
                                               ran, a pattern matched no site)
``CaptureFileError``       ``ValueError``      a capture or checkpoint file cannot
                                               be read, or must not be written
``NoLabelsError``          ``ValueError``      a view needs class labels the
                                               capture does not have
``CaptureMismatchError``   ``ValueError``      a resumed or compared run does not
                                               match the one it joins
=========================  ==================  ======================================
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["AttnwidgetError", "SelectionError", "NotFoundError", "CaptureFileError",
           "NoLabelsError", "CaptureMismatchError", "listing", "no_labels"]


class AttnwidgetError(Exception):
    """Base class of every error attnwidget raises on purpose."""


class SelectionError(AttnwidgetError, IndexError):
    """A site, head, sample, step or class that does not exist."""


class NotFoundError(AttnwidgetError, LookupError):
    """Nothing matched: no attention site ran, or a pattern matched none."""


class CaptureFileError(AttnwidgetError, ValueError):
    """A capture or checkpoint file that cannot be read, or a capture that cannot be written."""


class NoLabelsError(AttnwidgetError, ValueError):
    """A view needs class labels and the capture has none."""


class CaptureMismatchError(AttnwidgetError, ValueError):
    """A resumed or compared run that does not match the one it joins."""


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
    return (f"{what} needs class labels and this capture has none; collect with "
            "aw.collect(model, loader, labels=...) or set cap.labels = [...] (one per sample)")


class VerificationError(AttnwidgetError, RuntimeError):
    """``capture(verify=True)``: captured weights do not reproduce a call's output."""
