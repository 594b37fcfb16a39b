"""The public names stay the functions even after their same-named submodules are imported."""

import importlib
import subprocess
import sys


def test_public_functions_survive_submodule_imports():
    code = (
        "import attnwidget as aw\n"
        "import attnwidget.capture.engine, attnwidget.collect, attnwidget.frame\n"
        "aw.tap; aw.show; import attnwidget.widgets.heatmap\n"
        "assert callable(aw.capture) and callable(aw.collect) and callable(aw.frame), "
        "(aw.capture, aw.collect, aw.frame)\n"
        "assert aw.capture.__module__ == 'attnwidget.capture.engine'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_names_resolve():
    aw = importlib.import_module("attnwidget")
    for name in aw.__all__:
        assert getattr(aw, name) is not None, name
