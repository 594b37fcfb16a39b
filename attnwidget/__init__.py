"""attnwidget: look inside any PyTorch model's attention, live, in a notebook.

Data flows one way, one room per stage::

    model -> _capture (hooks, on the model's device) -> reduce -> store (Capture)
          -> _frame (selection -> 2D array) -> wire -> widgets | figures, recipes

``_collect`` runs the capture over a data set and streams statistics into the
same :class:`Capture`. Implementation rooms have private names, so no public
function (``aw.capture``, ``aw.collect``, ``aw.frame``) shares its name with
a module. The engine is imported at once; the widgets and figures load on
first use, so the engine works without a notebook or matplotlib.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from ._capture import capture, tap
from ._collect import collect
from ._frame import Frame, frame
from .errors import AttnwidgetError, CaptureFileError
from .store import Capture, load

# the notebook and figure layers load lazily (anywidget, matplotlib): name -> module
_PUBLIC = {
    "show": ".widgets",
    "Explorer": ".widgets",
    "Heatmap": ".widgets",
    "HeadGrid": ".widgets",
    "ImageOverlay": ".widgets",
    "WeightsView": ".widgets",
    "HeadStats": ".widgets",
    "animate": ".figures",
    "to_html": ".figures",
    "heads": ".analysis",
    "check": ".analysis",
    "significance": ".analysis",
    "rollout": ".analysis",
    "compare": ".analysis",
    "record": "._collect.record",
    "tokens": "._words",
    "words": "._words",
}

__all__ = sorted(
    [
        *_PUBLIC,
        "capture",
        "tap",
        "collect",
        "Frame",
        "frame",
        "Capture",
        "load",
        "AttnwidgetError",
        "CaptureFileError",
        "__version__",
    ]
)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'attnwidget' has no attribute {name!r}")


def __dir__():
    return __all__
