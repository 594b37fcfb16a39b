"""attnwidget: look inside any PyTorch model's attention, live, in a notebook.

Data flows one way::

    model -> capture (hooks, on the model's device) -> reduce -> store (Capture)
          -> frame (selection -> 2D array) -> widget bytes | matplotlib figure

The capture engine is imported at once; the widgets and figures load on first
use, so the engine works without a notebook or matplotlib.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# The engine is imported eagerly: ``capture``, ``collect`` and ``frame`` are both
# submodules and public functions, and importing a submodule binds its name on
# the package. Binding the functions here, after their modules are loaded,
# keeps ``aw.capture`` the function however the submodules get imported later.
from .capture import capture, tap
from .collect import collect
from .frame import Frame, frame
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
}

__all__ = sorted([*_PUBLIC, "capture", "tap", "collect", "Frame", "frame", "Capture", "load",
                  "__version__"])


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'attnwidget' has no attribute {name!r}")


def __dir__():
    return __all__
