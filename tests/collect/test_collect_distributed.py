"""collect() under torch.distributed: two gloo processes launched by torchrun equal one process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import numpy as np
import pytest
import torch
from _collect_models import assert_same_stats, batches, data, model

import attnwidget as aw

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def torchrun_out(tmp_path_factory):
    torchrun = shutil.which("torchrun")
    if torchrun is None or not torch.distributed.is_available():
        pytest.skip("torchrun / torch.distributed is not available")
    out = tmp_path_factory.mktemp("torchrun")
    env = dict(
        os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])
    )
    cmd = [
        torchrun,
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        os.path.join(HERE, "_torchrun_worker.py"),
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        log, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and the workers it started
        proc.communicate()
        pytest.fail("torchrun did not finish within 120 s")
    assert proc.returncode == 0, log[-4000:]
    return out


def _assert_same_stats(got, want):
    assert_same_stats(got, want, rtol=1e-6, atol=1e-12)


def test_two_ranks_give_the_statistics_and_samples_of_one_process(torchrun_out):
    got = aw.load(os.path.join(torchrun_out, "mixed.npz"))
    ids, labels = data(64)
    want = aw.collect(
        model(),
        batches(ids, labels, 7),
        num_samples=21,
        labels=1,
        keep="both",
        predict=lambda out: out.argmax(-1),
        progress=False,
    )
    _assert_same_stats(got, want)
    assert got.stats[got.layers[0]][0]["count"][0] == 64
    # kept samples: gathered on rank 0 in global sample order
    assert got.num_samples == want.num_samples == 21
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.predictions, want.predictions)
    for layer in want.layers:
        np.testing.assert_allclose(got.get(layer), want.get(layer), rtol=1e-5, atol=1e-7)
    # one checkpoint file per rank
    assert sorted(p.name for p in torchrun_out.iterdir() if p.name.startswith("run")) == [
        "run.rank0.npz",
        "run.rank1.npz",
    ]


def test_ranks_that_saw_different_classes_and_sampler_padding(torchrun_out):
    got = aw.load(os.path.join(torchrun_out, "split.npz"))
    ids, _ = data(63, seed=2)
    split = torch.arange(63) % 2
    want = aw.collect(model(), batches(ids, split, 9), labels=1, keep="stats", progress=False)
    # the sample DistributedSampler repeats to even out the ranks is not counted twice
    np.testing.assert_array_equal(got.stats[got.layers[0]][0]["count"], [63, 32, 31])
    _assert_same_stats(got, want)
    assert got.num_samples == 0
