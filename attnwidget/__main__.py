"""``python -m attnwidget``: the same command line as ``attnwidget`` (see :mod:`attnwidget.cli`)."""

import sys

from .cli import main

sys.exit(main())
