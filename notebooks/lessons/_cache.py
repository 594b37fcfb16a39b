"""Train once, reuse: trained lesson models kept as state_dicts in the user's cache folder.

The key is a hash of the lesson's source code, the shared blocks, the training
arguments and the torch version, so editing a lesson retrains it. The folder is
the platform's per-user cache (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows) under
``attnwidget/lessons``, never a temporary folder shared by everyone on the
machine. Set ``ATTNWIDGET_LESSONS_CACHE=0`` to always train, or
``ATTNWIDGET_LESSONS_CACHE=/some/folder`` to keep them there.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
from pathlib import Path

import torch

from . import _blocks, _fit


def user_cache_dir() -> Path:
    """The per-user folder lesson weights are cached in."""
    chosen = os.environ.get("ATTNWIDGET_LESSONS_CACHE", "")
    if chosen not in ("", "0", "1"):
        return Path(chosen)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "attnwidget" / "lessons"


def trained(lesson, **train_args):
    """``(model, report)`` from ``lesson.train(**train_args)``, cached on disk.

    ``lesson`` is a lesson module (``lessons.vision`` ...). A cached model
    comes back in eval mode with the report it was trained with, plus
    ``report["cached"] = True``.
    """
    source = "".join(inspect.getsource(m) for m in (lesson, _blocks, _fit))
    key = hashlib.sha1(f"{source}{sorted(train_args.items())}{torch.__version__}".encode()).hexdigest()[:16]
    cache_dir = user_cache_dir()
    path = cache_dir / f"{lesson.__name__.rsplit('.', 1)[-1]}-{key}.pt"
    use = os.environ.get("ATTNWIDGET_LESSONS_CACHE", "1") != "0"
    if use and path.exists():
        saved = torch.load(path, weights_only=True)
        model = getattr(lesson, saved["model_class"])()
        model.load_state_dict(saved["state_dict"])
        return model.eval(), {**saved["report"], "cached": True}
    model, report = lesson.train(**train_args)
    if use:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(
            {
                "model_class": type(model).__name__,
                "state_dict": model.state_dict(),
                "report": {k: v for k, v in report.items() if k != "losses"}
                | {"final_loss": report["losses"][-1]},
            },
            tmp,
        )
        os.replace(tmp, path)
    return model, report
