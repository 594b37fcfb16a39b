"""CircuitsVis's ``attention_heads`` as a self-contained HTML file, written without holding it in memory.

CircuitsVis (PyPI ``circuitsvis``) has two forms: one that imports its JS
from unpkg (useless offline) and ``render_local``, which inlines its bundled
``dist/cdn/iife.js`` into the page: the "offline, inlined form" the benchmark
compares with. For a whole model that page is hundreds of megabytes of JSON,
too big to build as one Python string, so :func:`write_attention_heads` writes
the same bytes piece by piece; :func:`check_same_as_circuitsvis` proves, on a
small tensor, that the bytes equal ``attention_heads(...).local_src``.

The JS comes from the installed wheel; without it, from ``npm pack
circuitsvis@<version>`` into ``benchmarks/_circuitsvis/vendor/`` (gitignored:
third-party code is fetched at benchmark time, never committed).
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "vendor"


def circuitsvis_version() -> str:
    import circuitsvis

    return circuitsvis.__version__


def iife_js() -> tuple[str, str]:
    """CircuitsVis's browser bundle as ``render_local`` inlines it, and where it came from."""
    try:
        import circuitsvis

        path = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
        version = circuitsvis.__version__
    except ImportError:
        path, version = None, "1.43.3"
    if path is None or not path.exists():
        path = _npm_pack(version)
    return path.read_text(encoding="utf-8").replace("</script>", ""), str(path)


def _npm_pack(version: str) -> Path:
    target = VENDOR / f"circuitsvis-{version}"
    bundle = target / "package" / "dist" / "cdn" / "iife.js"
    if not bundle.exists():
        target.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["npm", "pack", "--silent", f"circuitsvis@{version}"],
            cwd=target,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        with tarfile.open(target / out) as tar:
            tar.extractall(target, filter="data")
    return bundle


def write_attention_heads(
    path: Path,
    attention: np.ndarray,
    tokens: list[str],
    head_names: list[str] | None = None,
    uuid: str = "circuits-vis-bench0001",
    js: str | None = None,
) -> int:
    """Write ``attention_heads(attention, tokens, head_names).local_src`` in an HTML page.

    ``attention`` is ``[heads, query, key]``. Returns the file size in bytes.
    """
    js = iife_js()[0] if js is None else js
    with open(path, "w", encoding="utf-8") as f:
        f.write('<!doctype html><html><head><meta charset="utf-8"></head><body>\n')
        f.write(_fragment_head(uuid, js))
        f.write(_props(attention, tokens, head_names, f.write))
        f.write(_fragment_tail())
        f.write("\n</body></html>\n")
    return Path(path).stat().st_size


def _fragment_head(uuid: str, js: str) -> str:
    # the text of circuitsvis.utils.render.render_local up to the props
    return (
        f'<div id="{uuid}" style="margin: 15px 0;"/>\n    <script crossorigin type="module">\n'
        f'    {js}\n    \n    CircuitsVis.render(\n      "{uuid}",\n'
        f"      CircuitsVis.AttentionHeads,\n      "
    )


def _fragment_tail() -> str:
    return "\n    )\n    </script>"


def _props(attention, tokens, head_names, write) -> str:
    """Stream ``json.dumps`` of the props dict (same key order as attention_heads)."""
    write('{"attention": [')
    for h in range(attention.shape[0]):
        if h:
            write(", ")
        write(json.dumps(np.asarray(attention[h]).tolist()))
    write("]")
    if head_names is not None:
        write(', "attentionHeadNames": ' + json.dumps(head_names))
    return ', "tokens": ' + json.dumps(tokens) + "}"


def check_same_as_circuitsvis(tmp: Path) -> None:
    """Raise if our writer's fragment differs from CircuitsVis's own ``local_src``."""
    import circuitsvis.attention

    rng = np.random.default_rng(0)
    att = rng.random((3, 5, 5), dtype=np.float32)
    tokens = ["a", "b<", "c", "d", "e"]
    names = ["L0H0", "L0H1", "L1H0"]
    theirs = circuitsvis.attention.attention_heads(att, tokens, attention_head_names=names).local_src
    uuid = re.search(r'id="(circuits-vis-[^"]+)"', theirs).group(1)
    path = tmp / "check.html"
    write_attention_heads(path, att, tokens, names, uuid=uuid)
    ours = path.read_text(encoding="utf-8")
    if theirs not in ours:
        raise AssertionError("the streamed CircuitsVis page differs from attention_heads().local_src")
