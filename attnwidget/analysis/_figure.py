"""The head-roles chart: sites down, heads across, each cell coloured by the head's strongest role.

Drawn with matplotlib through :mod:`attnwidget.figures._draw` (a figure not
registered with pyplot, saved by :func:`~attnwidget.figures._draw.save_figure`);
imported only when a figure is asked for, so the analyses work without
matplotlib.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..store import Capture
from ._roles import ROLES, HeadRoles, heads

__all__ = ["heads_figure", "ROLE_COLORS"]

#: one colour per role (Okabe-Ito, distinguishable with colour-blindness), grey for "other"
ROLE_COLORS = {
    "induction": "#CC79A7",
    "same": "#882255",
    "previous": "#0072B2",
    "first": "#D55E00",
    "own": "#009E73",
    "local": "#56B4E9",
    "broad": "#F0E442",
    "other": "#BBBBBB",
}


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255.0


def heads_figure(
    roles: HeadRoles | Capture,
    *,
    step: int = 0,
    tokens: Any = None,
    values: bool = True,
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """Sites x heads, each cell coloured by the head's strongest role, with a legend.

    A cell's colour is its role (:data:`ROLE_COLORS`); its strength fades
    the colour towards white (score 1: full colour, :data:`ROLE_MIN`: pale),
    and ``values`` writes the score in the cell.

    Parameters
    ----------
    roles : HeadRoles or Capture
        From :func:`heads`, or a capture to score (with ``step`` and ``tokens``).
    values : bool
        Write each cell's score.
    title : str, optional
    path : str or path, optional
        Also save the figure there (png, pdf or svg).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    from ..figures._draw import new_figure, save_figure, text_label

    if isinstance(roles, Capture):
        roles = heads(roles, tokens=tokens, step=step)
    if not roles:
        raise ValueError("heads_figure needs at least one row of head roles; heads() found none")
    sites = roles.sites
    width = max(r["head"] for r in roles) + 1
    rgb = np.ones((len(sites), width, 3))
    score = np.full((len(sites), width), np.nan)
    for r in roles:
        i, j = sites.index(r["site"]), r["head"]
        role = r["role"]
        if role in ROLES:
            s = r[role]
        else:  # "other": the best of the roles it does not reach
            s = max([r[x] for x in ROLES if np.isfinite(r[x])] or [np.nan])
        strength = float(np.clip(s, 0, 1)) if np.isfinite(s) else 0.0
        score[i, j] = s
        # fade towards white: a weak role reads pale, a pure one in full colour
        mix = 0.25 + 0.75 * strength
        rgb[i, j] = 1 - mix * (1 - _rgb(ROLE_COLORS[role]))
    fig = new_figure(min(2.0 + 0.55 * width, 16), min(1.6 + 0.4 * len(sites), 14))
    ax = fig.add_subplot()
    ax.imshow(rgb, interpolation="nearest", aspect="auto")
    ax.set_xticks(np.arange(width))
    ax.set_xticklabels([str(h) for h in range(width)], fontsize=8)
    ax.set_yticks(np.arange(len(sites)))
    ax.set_yticklabels([text_label(s) for s in sites], fontsize=8 if len(sites) <= 24 else 6)
    ax.set_xlabel("head")
    ax.set_ylabel("site")
    if values and len(sites) * width <= 400:
        for (i, j), s in np.ndenumerate(score):
            if np.isfinite(s):
                ax.text(j, i, f"{s:.2f}", ha="center", va="center", fontsize=7, color="black")
    shown = [r for r in (*ROLES, "other") if any(row["role"] == r for row in roles)]
    ax.legend(
        handles=[Patch(facecolor=ROLE_COLORS[r], label=r) for r in shown],
        title="strongest role",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title_fontsize=8,
        frameon=False,
    )
    steps = {r["step"] for r in roles}
    ax.set_title(
        text_label(
            title
            if title is not None
            else "head roles" + (f" · step {steps.pop()}" if len(steps) == 1 else "")
        ),
        fontsize=10,
    )
    if path is not None:
        save_figure(fig, path)
    return fig
