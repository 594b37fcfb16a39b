"""The script of a standalone page: the views' ES modules and the page runtime, inlined once each.

The runtime is ``attnwidget/static/page.js``, bundled from ``js/page.js`` and
the small modules beside it (``npm run build``). The views come from the one
widget bundle ``static/widget.js`` where it exists (its ``views`` export holds
every view), else from each view's own bundle (``static/<view>.js``). Each
module is rewritten to run inside a function of its own
(:func:`inline_module`), so the bundles' top-level names never meet; a module
that cannot be rewritten (it imports others) is imported from a blob URL.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["inline_module", "module_text", "page_script", "STATIC"]

STATIC = pathlib.Path(__file__).resolve().parents[2] / "static"

_NAME = r"[A-Za-z_$][\w$]*"
# esbuild's last statement: export { a as default, b, c as d };
_EXPORT_TAIL = re.compile(
    rf"export\s*\{{\s*((?:{_NAME}(?:\s+as\s+{_NAME})?\s*,\s*)*{_NAME}(?:\s+as\s+{_NAME})?)\s*,?\s*\}}"
    r"\s*;?\s*(//[^\n]*\s*)*$"
)
_EXPORT_DEFAULT = re.compile(r"(^|[;}\n])\s*export\s+default\s+")


def _exported(names: str, need_default: bool = True) -> dict[str, str] | None:
    """``{exported name: local name}`` of an export list (None without a default export, if needed)."""
    out = {}
    for part in names.split(","):
        local, _, alias = (w.strip() for w in part.strip().partition(" as "))
        out[alias or local] = local
    return out if "default" in out or not need_default else None


def inline_module(text: str, *, need_default: bool = True) -> str | None:
    """Rewrite a self-contained ES module so its exports land in ``__awModule`` (``default`` too).

    Returns None when the module cannot be rewritten safely (it imports other
    modules, or exports in another form); the page then imports it from a blob.
    ``need_default=False`` also takes an export list without a default (the
    widget bundle's named ``views``).
    """
    if re.search(r"(^|[;\n])\s*import[\s{*'\"]", text):
        return None
    tail = _EXPORT_TAIL.search(text)
    names = _exported(tail.group(1), need_default) if tail else None
    if tail is not None and names and not _EXPORT_DEFAULT.search(text):
        fields = ", ".join(f"{k}: {v}" for k, v in names.items())
        body = text[: tail.start()] + f"\n__awModule = {{ {fields} }};\n"
    elif len(_EXPORT_DEFAULT.findall(text)) == 1 and "export " not in _EXPORT_DEFAULT.sub("", text, count=1):
        body = _EXPORT_DEFAULT.sub(lambda m: m.group(1) + "\n__awModule.default = ", text, count=1)
        body = "__awModule = {};\n" + body
    else:
        return None
    return body.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def module_text(src: Any, what: str) -> str:
    """The text of an ES module given as its text or as the path of a bundle."""
    if src is None:
        raise ValueError(f"{what} has no ES module to inline")
    if isinstance(src, pathlib.Path) or (isinstance(src, str) and "\n" not in src and src.endswith(".js")):
        p = pathlib.Path(src)
        if not p.exists():
            raise FileNotFoundError(
                f"the JS bundle {str(p)!r} ({what}) does not exist; build it with `npm run build`"
            )
        return p.read_text(encoding="utf-8")
    return str(src)


def _script_json(obj: Any) -> str:
    # JSON inside <script>: "<" escaped so no text can close the element
    return (
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _wrapped(text: str, need_default: bool = True) -> str | None:
    """A module as an expression: a function that runs it in a scope of its own and gives its exports."""
    inlined = inline_module(text, need_default=need_default)
    if inlined is None:
        return None
    return f"(() => {{\nlet __awModule;\n{inlined}\nreturn __awModule;\n}})()"


def widget_bundle() -> str | None:
    """The one widget bundle's text where it exists and exports ``views``, else None."""
    path = STATIC / "widget.js"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    tail = _EXPORT_TAIL.search(text)
    names = _exported(tail.group(1), need_default=False) if tail else None
    return text if names and "views" in names else None


def page_script(modules: Mapping[str, str], runtime: str) -> tuple[str, str]:
    """``(json scripts, module script)`` of a page: the view modules (``kind -> text``; the key
    ``"*"`` for a bundle whose ``views`` export holds them all) and the runtime, which starts on them.

    A view module that cannot be inlined travels as JSON text in a
    ``<script type="application/json" id="aw-esm-<kind>">`` and is imported from a blob.
    """
    lines = ["const __awViews = {};"]
    extra = []
    for kind, text in modules.items():
        if kind == "*":
            body = _wrapped(text, need_default=False)
            if body is None:
                raise ValueError("the widget bundle static/widget.js cannot be inlined: rebuild it")
            lines.append(f"Object.assign(__awViews, {body}.views);")
            continue
        body = _wrapped(text)
        if body is not None:
            lines.append(f"__awViews[{json.dumps(kind)}] = {body};")
        else:
            tag = f"aw-esm-{kind}"
            extra.append(f'<script type="application/json" id="{tag}">{_script_json(text)}</script>\n')
            lines.append(
                f"__awViews[{json.dumps(kind)}] = import(URL.createObjectURL(new Blob("
                f"[JSON.parse(document.getElementById({json.dumps(tag)}).textContent)], "
                "{type: 'text/javascript'})));"
            )
    body = _wrapped(runtime)
    if body is None:
        raise ValueError("the page runtime static/page.js cannot be inlined: rebuild it with `npm run build`")
    lines.append(f"const __awRuntime = {body};")
    lines.append("__awRuntime.default.start(__awViews);")
    return "".join(extra), "\n".join(lines) + "\n"


def script_json(obj: Any) -> str:
    """JSON to embed in a ``<script type="application/json">`` element."""
    return _script_json(obj)
