"""Fixtures for the figure tests: the hand-built captures and the artifacts folder."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from aw_figure_captures import CLASS_NAMES, make_audio_capture, make_text_capture  # noqa: E402

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "artifacts" / "figures"

__all__ = ["CLASS_NAMES"]


@pytest.fixture(scope="session")
def artifacts() -> pathlib.Path:
    """Folder (gitignored) where tests leave PNGs for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def audio_capture():
    return make_audio_capture()


@pytest.fixture
def text_capture():
    return make_text_capture()


def save_png(fig, path) -> str:
    """Save a figure as a small PNG for people to look at."""
    from attnwidget.figures import save_figure

    return save_figure(fig, path, dpi=80)
