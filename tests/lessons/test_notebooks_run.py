"""Every lesson notebook runs top to bottom with nbclient, its final assert cell included.

The kernel's working directory is ``notebooks/``, as in CI. Models trained by
the other tests in this folder are reused from the lessons' cache, so a
notebook here mostly captures, shows and checks.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["01_translation", "02_vision", "03_audio_spoofing", "04_eeg_sleep",
         "05_diffusion", "06_language"]


def test_every_notebook_is_listed():
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_its_claim_holds(name):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs not stripped"
    assert "assert" in nb.cells[-1].source, "the last cell must assert the lesson's claim"
    start = time.perf_counter()
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert time.perf_counter() - start < 180
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
