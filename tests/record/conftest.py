"""Fixtures of the recorder tests; the models and capture builders are in ``_record_models``."""

from __future__ import annotations

import pytest
import torch
from _record_models import TinyTransformer


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return TinyTransformer()
