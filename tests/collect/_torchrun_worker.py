"""Run by ``torchrun --nproc_per_node=2`` in test_collect_distributed.py: collect a shard per rank over gloo.

Usage: ``torchrun ... _torchrun_worker.py OUT_DIR``. Rank 0 saves the results
to ``OUT_DIR/mixed.npz`` (keep="both", checkpointed) and ``OUT_DIR/split.npz``
(keep="stats" where each rank sees only one class, on a data set whose length
is odd, so DistributedSampler repeats a sample that max_samples must drop).
"""

import os
import sys

import torch
import torch.distributed as dist
from _collect_models import data, model
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import attnwidget as aw

out = sys.argv[1]
torch.set_num_threads(1)
dist.init_process_group("gloo")
rank = dist.get_rank()
net = model()

ids, labels = data(64)
ds = TensorDataset(ids, labels)
loader = DataLoader(ds, batch_size=5, sampler=DistributedSampler(ds, shuffle=False))
cap = aw.collect(
    net,
    loader,
    num_samples=21,
    labels=1,
    keep="both",
    progress=False,
    predict=lambda out: out.argmax(-1),
    checkpoint=os.path.join(out, "run.npz"),
    every=10,
)
assert (cap is None) == (rank != 0), "only rank 0 returns the capture"
if rank == 0:
    cap.save(os.path.join(out, "mixed.npz"))

ids, _ = data(63, seed=2)
split = torch.arange(63) % 2  # rank r reads samples r, r+2, ...: one class per rank
ds = TensorDataset(ids, split)
loader = DataLoader(ds, batch_size=4, sampler=DistributedSampler(ds, shuffle=False))
cap = aw.collect(net, loader, labels=1, keep="stats", max_samples=len(ds), progress=False)
if rank == 0:
    cap.save(os.path.join(out, "split.npz"))
dist.barrier()
dist.destroy_process_group()
