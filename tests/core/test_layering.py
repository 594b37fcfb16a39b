"""The rooms import one way: the spine never imports what draws it, and figures never import widgets.

Every module of the package is parsed (not imported) and each ``import`` in
it, at any depth and relative ones resolved, is checked against the room it
is in.
"""

from __future__ import annotations

import ast
import pathlib
import sys

import attnwidget

PACKAGE = pathlib.Path(attnwidget.__file__).resolve().parent

# room -> rooms it must not import (a room is a top-level module or package of attnwidget)
SPINE = ("_capture", "_collect", "store", "_frame", "_view_state", "reduce", "wire")
FORBIDDEN = {
    **{room: ("widgets", "figures", "recipes", "run") for room in SPINE},
    "figures": ("widgets", "recipes", "run"),
    "recipes": ("widgets", "run"),
    "widgets": ("run",),
    "analysis": ("run",),
}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: pathlib.Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in a file, ``from x import y`` giving ``x.y`` too."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # `from .. import widgets` names the room in the imported names
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return out


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "attnwidget" else None


def violations() -> list[str]:
    found: dict[tuple, str] = {}  # one per import statement and forbidden room
    for path in sorted(PACKAGE.rglob("*.py")):
        room = room_of(module_name(path))
        banned = FORBIDDEN.get(room, ())
        for line, target in imported(path):
            if room_of(target) in banned:
                found.setdefault(
                    (path, line, room_of(target)),
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} "
                    f"({room} may not import {', '.join(banned)})",
                )
    return list(found.values())


def test_no_room_imports_a_room_above_it():
    assert violations() == []


def test_the_check_sees_relative_and_nested_imports(tmp_path, monkeypatch):
    # a figure module that imports the widgets three ways, one inside a function
    fake = tmp_path / "attnwidget"
    (fake / "figures").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "figures" / "__init__.py").write_text("from .. import widgets\n")
    (fake / "figures" / "bad.py").write_text(
        "from ..widgets.controls import STAT_CHOICES\ndef f():\n    import attnwidget.widgets\n"
    )
    (fake / "store.py").write_text("from .recipes import gallery\nfrom .errors import listing\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = violations()
    assert len(found) == 4, found
    assert any("bad.py:1 imports attnwidget.widgets.controls" in f for f in found)
    assert any("bad.py:3 imports attnwidget.widgets" in f for f in found)
    assert any("figures/__init__.py:1 imports attnwidget.widgets" in f for f in found)
    assert any("store.py:1 imports attnwidget.recipes" in f for f in found)
