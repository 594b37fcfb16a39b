"""collect(checkpoint=...): atomic progress files, and a killed collection resumes without double-counting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from _collect_models import assert_same_stats, batches, data, model, slow_forward

import attnwidget as aw
from attnwidget._collect import checkpoint as ckpt_module
from attnwidget._collect.checkpoint import read_checkpoint, write_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
OPTIONS = dict(num_samples=30, labels=1, keep="both", predict=lambda out: out.argmax(-1), progress=False)


def counting_model():
    """``model()`` with ``.calls`` counting its forward calls (one per batch run).

    The count lives on the model, not in a forward= wrapper: a resumed run must
    pass the same forward= as the run it resumes (its code is fingerprinted).
    """
    m = model()
    m.calls = 0

    def count(module, args):
        module.calls += 1

    m.register_forward_pre_hook(count)
    return m


def _assert_same(got, want):
    # a resumed run sums other groups of batches (in float32 per batch, see attnwidget._collect.batch_stats),
    # so it equals the uninterrupted one up to rounding (~1e-8 relative), as the issue asks
    assert_same_stats(got, want, rtol=1e-6, atol=1e-12)
    for layer in want.layers:
        np.testing.assert_array_equal(got.get(layer), want.get(layer))
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.predictions, want.predictions)


def test_killed_collection_resumes_to_the_uninterrupted_result(tmp_path):
    path = tmp_path / "run.npz"
    env = dict(
        os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_kill_worker.py"), str(path)],
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            assert proc.poll() is None, (
                f"the worker ended before its first checkpoint: {proc.stdout.read()!r}"
            )
            assert time.monotonic() < deadline, "no checkpoint appeared within 60 s"
            time.sleep(0.01)
        time.sleep(0.1)  # let it run on a little past the first checkpoint
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL and b"finished" not in out, "the worker was not killed mid-run"
    header, _ = read_checkpoint(str(path))  # whatever the kill interrupted, the file is whole
    done = header["batches"]
    ids, labels = data(96)
    assert 0 < done < 24 and header["position"] == 4 * done

    counted = counting_model()  # the worker's model, forward= and predict=, as a resumed run must be
    resumed = aw.collect(
        counted, batches(ids, labels, 4), forward=slow_forward, checkpoint=path, every=8, **OPTIONS
    )
    assert counted.calls == 24 - done  # batches before the checkpoint are not run again
    want = aw.collect(model(), batches(ids, labels, 4), **OPTIONS)
    _assert_same(resumed, want)
    assert resumed.stats["blocks.0"][0]["count"][0] == 96  # nothing counted twice
    assert resumed.metadata == want.metadata

    again = counting_model()  # a finished checkpoint: nothing left to run, same result
    _assert_same(
        aw.collect(again, batches(ids, labels, 4), forward=slow_forward, checkpoint=path, **OPTIONS), want
    )
    assert again.calls == 0


def test_checkpoint_every_and_final_write(tmp_path, monkeypatch):
    import attnwidget._collect.state as state_module

    path = tmp_path / "c.npz"
    ids, labels = data(40)
    writes = []

    def spy(p, header, arrays):
        writes.append(header["position"])
        write_checkpoint(p, header, arrays)

    monkeypatch.setattr(state_module, "write_checkpoint", spy)
    aw.collect(
        model(), batches(ids, labels, 5), keep="stats", labels=1, checkpoint=path, every=12, progress=False
    )
    assert writes == [15, 30, 40]  # after >= 12 more samples, and once at the end


def test_options_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "run.npz"
    ids, labels = data(20)
    aw.collect(model(), batches(ids, labels, 5), keep="stats", labels=1, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match=r"other options .*keep.*delete the file"):
        aw.collect(model(), batches(ids, labels, 5), keep="both", labels=1, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="heads"):
        aw.collect(
            model(),
            batches(ids, labels, 5),
            keep="stats",
            labels=1,
            checkpoint=path,
            heads="mean",
            progress=False,
        )


def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / "run.npz")
    write_checkpoint(path, {"batches": 1}, {"x": np.arange(3.0)})

    def torn(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_module.np, "savez", torn)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(path, {"batches": 2}, {"x": np.arange(5.0)})
    monkeypatch.undo()
    header, arrays = read_checkpoint(path)
    assert header["batches"] == 1
    np.testing.assert_array_equal(arrays["x"], np.arange(3.0))
    assert os.listdir(tmp_path) == ["run.npz"]  # no temporary file left behind


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(b"not a zip")
    ids, labels = data(10)
    with pytest.raises(ValueError, match="not a readable collect.. checkpoint"):
        aw.collect(model(), batches(ids, labels, 5), keep="stats", checkpoint=path, progress=False)


def test_rank_paths():
    assert ckpt_module.rank_path("run.npz", 0, 1) == "run.npz"
    assert ckpt_module.rank_path("out/run.npz", 3, 4) == "out/run.rank3.npz"


def test_labels_with_none_survive_a_checkpoint_and_resume(tmp_path):
    # a None label made the checkpoint a pickle, which the next call could not read: the run was lost
    path = tmp_path / "run.npz"
    ids, labels = data(20)
    raw = [None if i % 3 == 0 else int(v) for i, v in enumerate(labels)]
    bs = [(ids[i : i + 5], raw[i : i + 5]) for i in range(0, 20, 5)]
    # keep="samples": the statistics sort their classes with np.unique, which None labels defeat
    opts = dict(labels=lambda b: b[1], num_samples=20, progress=False)
    aw.collect(model(), bs[:2], checkpoint=path, **opts)
    header, arrays = read_checkpoint(str(path))
    assert arrays["labels"].tolist() == raw[:10]
    cap = aw.collect(model(), bs, checkpoint=path, **opts)
    assert cap.labels.tolist() == raw
    assert aw.load(cap.save(tmp_path / "cap.npz")).labels.tolist() == raw


def test_a_damaged_checkpoint_is_a_capture_file_error_saying_delete_it(tmp_path):
    path = tmp_path / "run.npz"
    ids, labels = data(10)
    aw.collect(model(), batches(ids, labels, 5), keep="stats", labels=1, checkpoint=path, progress=False)
    data_ = path.read_bytes()
    path.write_bytes(data_[: len(data_) - 100])
    with pytest.raises(
        aw.CaptureFileError, match=r"not a readable collect\(\) checkpoint: .*delete it to start over$"
    ):
        aw.collect(model(), batches(ids, labels, 5), keep="stats", labels=1, checkpoint=path, progress=False)
    write_checkpoint(str(path), {"options": {}, "batches": "two"}, {})
    with pytest.raises(aw.CaptureFileError, match=r"'batches' is str, not int.*delete it to start over$"):
        aw.collect(model(), batches(ids, labels, 5), keep="stats", labels=1, checkpoint=path, progress=False)
