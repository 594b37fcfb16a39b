"""What a canvas view's toolbar and keyboard ask of the kernel: save the figure, move the selection.

``{type: "save", dpi, id}`` writes the figure ``view.save`` writes (title,
axes, colour bar, at that DPI) into the kernel's working folder (the
notebook's folder in Jupyter), named from what is shown
(``heatmap_layer3_head5_step2.png``), and answers with the path written.

``{type: "move", what: "layer" | "head" | "step", by: +1 | -1, id}`` moves
the selection one place, as the arrow keys do when the widget has focus: the
layer through the sites of the view's kind, the head through ``mean``,
``max`` and each head, the step through the capture's steps; at either end
it stays.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._view_state import attention_sites
from ._view import STATIC

__all__ = ["BrowserRequests", "save_name", "CSS"]

#: the views' style sheet (anywidget ``_css``): the explorer's layout, in JupyterLab's theme colours
CSS = STATIC / "explorer.css"

#: what the save button may ask for (a figure of 40 inches at 600 DPI is already 24,000 px)
DPI_RANGE = (50, 600)


def save_name(view) -> str:
    """The file name a view's figure is saved under, from what it shows:
    ``heatmap_layer3_head5_step2.png`` (``_sample4`` added past sample 0, ``_query9``
    for an overlay of another row than 0)."""
    kind = view.view_spec().kind
    head = view.head if isinstance(view.head, str) else int(view.head)
    parts = [kind, f"layer{int(view.layer)}", f"head{head}", f"step{int(view.step)}"]
    sample = view.sample
    if sample == "mean":
        parts.append("samplemean")
    elif isinstance(sample, int) and sample:
        parts.append(f"sample{sample}")
    query = getattr(view, "query", 0)
    if query:
        parts.append(f"query{int(query)}")
    return "_".join(parts) + ".png"


class BrowserRequests:
    """Mixin for a :class:`~attnwidget.widgets._view.View`: answers ``save`` and ``move`` messages."""

    def _msg_save(self, content: dict) -> dict:
        """Write the view's figure in the working folder; reply ``{path, name, dpi}``."""
        dpi = content.get("dpi", 150)
        if not isinstance(dpi, (int, float)) or not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
            raise ValueError(f"dpi must be a number from {DPI_RANGE[0]} to {DPI_RANGE[1]}, not {dpi!r}")
        name = save_name(self)
        path = Path(os.getcwd()) / name
        self.save(path, dpi=int(dpi))
        return {"path": str(path), "name": name, "dpi": int(dpi)}

    def _sites_to_walk(self) -> list[int]:
        kinds = ("weights",) if self.view_spec().kind == "weights" else ("self", "cross")
        if kinds == ("weights",):
            return [i for i, n in enumerate(self.cap.layers) if self.cap.kinds[n] == "weights"]
        return attention_sites(self.cap)

    def _msg_move(self, content: dict) -> dict:
        """Move the layer, head or step one place (``by`` +1 or -1); reply with the selection."""
        what, by = content.get("what"), content.get("by")
        if what not in ("layer", "head", "step") or by not in (1, -1):
            raise ValueError(f"move needs what='layer'|'head'|'step' and by=+1|-1, not {what!r} and {by!r}")
        if what == "step":
            self.step = min(max(self.step + by, 0), max(self.cap.steps - 1, 0))
        elif what == "layer":
            sites = self._sites_to_walk()
            if self.layer in sites:
                k = min(max(sites.index(self.layer) + by, 0), len(sites) - 1)
                self.layer = sites[k]
        else:
            heads = ["mean", "max", *range(self.num_heads(self.layer) or 0)]
            if len(heads) > 2 and self.head in heads:
                self.head = heads[min(max(heads.index(self.head) + by, 0), len(heads) - 1)]
        return {"layer": self.layer, "head": self.head, "step": self.step}
