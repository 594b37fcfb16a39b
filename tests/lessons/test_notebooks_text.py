"""The notebooks are committed as text: canonical nbformat, no outputs, set-up by import."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_canonical(path):
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        assert "id" in cell, (
            f"{path.name}: a cell without an id (JupyterLab would add one and mark it modified)"
        )
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {cell.id}: outputs are committed"
            assert cell.execution_count is None, f"{path.name} cell {cell.id}: an execution count"
    # what nbformat would write: a notebook saved from JupyterLab and stripped round-trips unchanged
    assert nbformat.writes(nb) + "\n" == text, f"{path.name} is not in nbformat's canonical form"
    # the metadata JupyterLab fills in when the kernel connects, so that opening does not mark it
    # modified (checked in a real JupyterLab by tests/browser/test_notebooks_browser.py)
    assert nb.metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)", path.name
    assert nb.metadata["language_info"].get("pygments_lexer") == "ipython3", path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_is_an_import(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "sys.path" not in first.source, f"{path.name}: set-up manipulates sys.path"
    assert "import attnwidget as aw" in first.source
