"""The significant cells of a class-difference frame: what the views and figures outline.

A class-difference frame (``frame(..., difference=(a, b))``) shows
``mean[a] - mean[b]``; :func:`frame_significance` runs :func:`significance`
on the frame's site, step and head and returns the cells of that frame where
the classes differ at ``q < alpha``. The test is per captured cell, corrected
over the site's whole matrix, so a zoomed frame (a region of the matrix) gets
the mask cut to its region, while a frame whose cells are pooled or grouped
gets no mask and a one-line reason instead. The widget's canvas, the saved
figure and ``aw.heatmap(..., significance=)`` all read this one function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NoLabelsError, SelectionError
from ..store import Capture
from ._significance import significance

__all__ = ["FrameCells", "frame_significance"]


class FrameCells:
    """The outcome for one frame: ``mask`` (bool, the frame's shape) or None, and ``text``.

    ``text`` is the test's title ("312 of 512^2 cells differ at q < 0.05",
    "... (in some head)" for a head mean or max), or why no cell is outlined
    ("significance: not tested on pooled cells (size=64): ...").
    """

    __slots__ = ("mask", "text")

    def __init__(self, mask: np.ndarray | None, text: str) -> None:
        self.mask = mask
        self.text = text

    def __repr__(self) -> str:
        marked = None if self.mask is None else int(self.mask.sum())
        return f"<FrameCells: {marked} cells marked; {self.text}>"


def frame_significance(
    cap: Capture, fr: Any, alpha: float = 0.05, *, strict: bool = False
) -> FrameCells | None:
    """The cells of class-difference frame ``fr`` where the two classes differ at ``q < alpha``.

    Parameters
    ----------
    cap : Capture
        The capture ``fr`` was taken from.
    fr : Frame
        A frame of ``frame(cap, ..., difference=(a, b))``; any other frame gives None.
    alpha : float
        The false discovery rate (Benjamini-Hochberg over the site's cells).
    strict : bool
        Raise ``ValueError`` where the frame cannot be tested (pooled or
        grouped cells, no samples to test) instead of returning the reason.

    Returns
    -------
    FrameCells or None
        None when ``fr`` is not a class difference.
    """
    sel = fr.selection
    difference = sel.get("difference")
    if difference is None:
        return None
    if sel.get("groups") is not None or tuple(fr.block) != (1, 1):
        why = (
            "significance is tested per captured cell, not on grouped positions: leave out groups="
            if sel.get("groups") is not None
            else f"significance is tested per captured cell, not on pooled cells (blocks of {fr.block[0]} x "
            f"{fr.block[1]}): show the whole matrix (a larger size=, or zoom in)"
        )
        if strict:
            raise ValueError(why)
        return FrameCells(None, why)
    a, b = difference
    head = sel.get("head")
    one = head if isinstance(head, (int, np.integer)) and not isinstance(head, bool) else None
    try:
        sig = significance(cap, a, b, sel["layer"], int(sel.get("step", 0)), head=one, alpha=alpha)
    except (NoLabelsError, SelectionError, ValueError, KeyError) as e:
        if strict:
            raise
        return FrameCells(None, f"significance: not tested ({e})")
    mask = np.asarray(sig.mask, dtype=bool)
    if mask.ndim == 3:  # [head, query, key]: a cell where some head differs
        mask = mask.any(axis=0)
    if mask.ndim == 1:
        mask = mask[None, :]
    r0, r1, c0, c1 = (int(v) for v in fr.region)
    if mask.shape == tuple(fr.full_shape):
        mask = mask[r0:r1, c0:c1]
    if mask.shape != fr.values.shape:
        why = f"significance: the test's cells {mask.shape} are not the frame's {fr.values.shape}"
        if strict:
            raise ValueError(why)
        return FrameCells(None, why)
    text = sig.title if one is not None or np.ndim(sig.mask) < 3 else f"{sig.title} (in some head)"
    if (r0, r1, c0, c1) != (0, fr.full_shape[0], 0, fr.full_shape[1]):
        text += f"; {int(mask.sum())} in this region"
    return FrameCells(mask, text)
