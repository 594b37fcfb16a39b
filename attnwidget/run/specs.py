"""``module:function`` specs, as ``--factory`` and ``--dataset`` take them, imported and called.

``package.module:function`` imports the module with the working folder first on
``sys.path`` (so ``attnwidget run`` finds your project's modules as
``python -m`` would); ``path/to/file.py:function`` loads that file as a module.
Every problem (no colon, no such module or file, no such function, a module
that fails to import) is a :class:`~attnwidget.cli.CommandError` saying which.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable

from ..cli import CommandError

__all__ = ["import_function"]


def import_function(spec: str, option: str) -> Callable:
    """The function a ``module:function`` spec names.

    Parameters
    ----------
    spec : str
        ``package.module:function`` or ``path/to/file.py:function``.
    option : str
        The option it came from (``--factory``), for the messages.

    Returns
    -------
    callable
    """
    module_name, sep, name = spec.rpartition(":")
    if not sep or not module_name or not name:
        raise CommandError(
            f"{option} {spec!r} must be 'module:function' (e.g. mypackage.models:build) "
            "or 'path/to/file.py:function'"
        )
    if module_name.endswith(".py"):
        module = _load_file(module_name, option)
    else:
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                raise CommandError(
                    f"{option}: no module {module_name!r} (looked from {cwd!r}); run from the folder "
                    "that holds it, or give 'path/to/file.py:function'"
                ) from None
            raise CommandError(f"{option}: importing {module_name!r} failed: {e}") from None
        except CommandError:
            raise
        except Exception as e:
            raise CommandError(
                f"{option}: importing {module_name!r} failed: {type(e).__name__}: {e}"
            ) from None
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise CommandError(
            f"{option}: {module_name!r} has no function {name!r}"
            + (f"; it has {', '.join(public[:12])}" if public else "")
        )
    return fn


def _load_file(path: str, option: str):
    if not os.path.isfile(path):
        raise CommandError(f"{option}: no file {path!r}")
    name = "_attnwidget_run_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandError(f"{option}: {path!r} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise CommandError(f"{option}: running {path!r} failed: {type(e).__name__}: {e}") from None
    return module
