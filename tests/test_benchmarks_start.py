"""Every script in ``benchmarks/`` starts: its imports resolve and ``--help`` answers.

The benchmarks run only by hand, so a broken import there goes unseen until someone
measures. One did: a script named ``html.py`` in that folder stood for the standard
library's ``html`` module in its siblings (a script's folder comes first on its path), and
``browser.py`` failed at ``import ipywidgets``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
# standard-library modules imported by the packages a benchmark loads (IPython, ipywidgets, torch)
STDLIB = set(sys.stdlib_module_names)


def test_there_are_benchmarks():
    assert {p.name for p in SCRIPTS} >= {"browser.py", "capture.py", "collect.py", "page.py", "record.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_benchmark_stands_for_a_standard_module(script):
    assert script.stem not in STDLIB, (
        f"benchmarks/{script.name} stands for the standard library's {script.stem!r} module in every "
        "script of its folder: rename it"
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_answers_help(script):
    p = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=BENCHMARKS
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert "usage:" in p.stdout
