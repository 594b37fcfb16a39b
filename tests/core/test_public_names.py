"""The public surface: every name resolves, and no public function shares its name with a module."""

import importlib
import pkgutil

import attnwidget as aw


def test_all_names_resolve():
    for name in aw.__all__:
        assert getattr(aw, name) is not None, name


def test_no_public_name_shadows_a_module():
    modules = {m.name for m in pkgutil.iter_modules(aw.__path__)}
    public_modules = {m for m in modules if not m.startswith("_")}
    clash = public_modules & set(aw.__all__)
    assert not clash, f"public names that are also modules: {clash}"
    # importing every implementation module leaves the public functions bound
    for info in pkgutil.walk_packages(aw.__path__, "attnwidget."):
        if not info.name.endswith("__main__"):  # that one runs the command line
            importlib.import_module(info.name)
    assert callable(aw.capture) and callable(aw.collect) and callable(aw.frame)
    assert aw.capture.__module__ == "attnwidget._capture.engine"


def test_submodules_import_with_as():
    import attnwidget._capture.sdpa as sdpa  # failed while `capture` was both a module and a function

    assert callable(sdpa.sdpa_weights)
