"""Run by test_collect_checkpoint.py as a subprocess that the test SIGKILLs mid-collection.

Usage: ``_kill_worker.py CHECKPOINT``: a slow (sleeping) forward over the
shared data set, checkpointing every 8 samples, keep="both".
"""

import sys

import torch
from _collect_models import batches, data, model, slow_forward

import attnwidget as aw

torch.set_num_threads(1)
ids, labels = data(96)
aw.collect(
    model(),
    batches(ids, labels, 4),
    num_samples=30,
    labels=1,
    keep="both",
    predict=lambda out: out.argmax(-1),
    forward=slow_forward,
    progress=False,
    checkpoint=sys.argv[1],
    every=8,
)
print("finished")  # the test kills the process long before this
