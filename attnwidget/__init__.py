"""attnwidget: look inside any PyTorch model's attention, live, in a notebook.

Data flows one way::

    model -> capture (hooks, on the model's device) -> reduce -> store (Capture)
          -> frame (selection -> 2D array) -> widget bytes | matplotlib figure

The public names are loaded lazily, so ``import attnwidget`` stays cheap and
the capture engine works without a notebook.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "capture": ".capture",
    "tap": ".capture",
    "collect": ".collect",
    "Capture": ".store",
    "load": ".store",
    "frame": ".frame",
    "Frame": ".frame",
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

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'attnwidget' has no attribute {name!r}")


def __dir__():
    return __all__
