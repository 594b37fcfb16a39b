"""Capture files that lose no data: what save writes load reads, hostile files are refused, writes are atomic.

Covers attnwidget/_files.py through ``Capture.save``, ``aw.load`` and the
checkpoint reader and writer: labels that are not numbers (None, strings),
values a file cannot hold (refused before anything is written), broken or
crafted files (one error type, checked before anything large is allocated),
and what a killed writer leaves behind.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnwidget as aw
from attnwidget import _files
from attnwidget._collect.checkpoint import read_checkpoint, write_checkpoint
from attnwidget.errors import CaptureFileError
from attnwidget.store import Capture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Attend(nn.Module):
    """Token ids -> two logits, through one ``F.scaled_dot_product_attention`` call."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(10, 8)
        self.qkv = nn.Linear(8, 24)
        self.head = nn.Linear(8, 2)

    def forward(self, ids):
        x = self.embed(ids)
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, 2, 4).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, 8)
        return self.head(y.mean(1))


def small_capture() -> Capture:
    rng = np.random.default_rng(0)
    cap = Capture()
    for step in range(2):
        cap.add("enc.attn", step, rng.random((3, 2, 4, 4), dtype=np.float32), kind="self")
    cap.add("pool", 0, rng.random((3, 5), dtype=np.float32), kind="weights", axes=("sample", "frame"))
    cap.labels = np.array([0, 1, 0])
    return cap


def header_of(path) -> dict:
    with np.load(path) as z:  # a file this test wrote itself
        return json.loads(str(z["header"]))


def rewrite(path, header=None, drop=(), raw_header=None, **arrays) -> None:
    """Rewrite ``path`` with another header (``header`` as JSON, or the array ``raw_header``) and arrays."""
    with np.load(path) as z:
        body = {k: z[k] for k in z.files if k not in drop}
    if header is not None:
        body["header"] = np.array(json.dumps(header))
    if raw_header is not None:
        body["header"] = raw_header
    body.update(arrays)
    os.unlink(path)
    np.savez(path, **body)


def assert_every_member_loads_without_pickle(path) -> None:
    with np.load(path, allow_pickle=False) as z:
        for k in z.files:
            assert z[k].dtype.kind in "biufU", (k, z[k].dtype)


# ---------------------------------------------------------------------------------------------- item 11
def test_a_none_label_from_collect_saves_and_loads_back_equal(tmp_path):
    ids = torch.randint(0, 10, (8, 5), generator=torch.Generator().manual_seed(1))
    raw = [0, None, 1, 1, None, 0, 1, 0]  # a data set with two unlabelled samples
    batches = [(ids[i : i + 4], raw[i : i + 4]) for i in (0, 4)]
    cap = aw.collect(
        Attend().eval(), batches, labels=lambda b: b[1], predict=lambda out: out.argmax(-1), progress=False
    )
    assert cap.labels.dtype == object and cap.labels.tolist() == raw
    path = cap.save(tmp_path / "run.npz")  # today: pickled, and load() refuses the file
    assert_every_member_loads_without_pickle(path)
    back = aw.load(path)
    assert back.labels.dtype == object and back.labels.tolist() == raw
    np.testing.assert_array_equal(back.predictions, cap.predictions)
    np.testing.assert_array_equal(back.get(0), cap.get(0))


def test_string_and_mixed_labels_and_predictions_round_trip(tmp_path):
    cap = small_capture()
    cap.labels = np.array(["spoof", "bonafide", "spoof"])
    cap.predictions = np.array([np.int64(1), "x", None], dtype=object)
    back = aw.load(cap.save(tmp_path / "a.npz"))
    assert back.labels.dtype.kind == "U" and back.labels.tolist() == ["spoof", "bonafide", "spoof"]
    assert back.predictions.dtype == object and back.predictions.tolist() == [1, "x", None]
    assert header_of(tmp_path / "a.npz")["values"]["labels"]["names"] == ["bonafide", "spoof"]
    # bool and int values are kept apart (True == 1 in Python), and floats stay floats
    cap.labels = np.array([True, 1, 1.5], dtype=object)
    back = aw.load(cap.save(tmp_path / "b.npz"))
    assert [type(v) for v in back.labels] == [bool, int, float] and back.labels.tolist() == [True, 1, 1.5]


def test_values_a_file_cannot_hold_are_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "run.npz"
    small_capture().save(path)
    before = path.read_bytes()

    def attempt(change):
        cap = small_capture()
        change(cap)
        with pytest.raises(CaptureFileError, match="cannot save this capture") as e:
            cap.save(path)
        assert path.read_bytes() == before, "the file on disk changed"
        assert sorted(os.listdir(tmp_path)) == ["run.npz"], "a temporary file was left"
        return str(e.value)

    assert "cap.labels[1] is a builtins.dict" in attempt(
        lambda c: setattr(c, "labels", np.array([0, {"a": 1}, 2], dtype=object))
    )
    assert "bytes" in attempt(lambda c: setattr(c, "labels", np.array([b"a", b"b", b"c"])))
    assert "object" in attempt(lambda c: c._data["pool"].__setitem__(0, np.array([[None]] * 3, dtype=object)))
    assert "metadata" in attempt(lambda c: c.metadata.update(model=object()))
    assert "tokens[1]" in attempt(lambda c: setattr(c, "tokens", ["a", object()]))
    assert "2 labels for 3 samples" in attempt(lambda c: setattr(c, "labels", np.array([0, 1])))
    stats_cap = small_capture()
    stats_cap.add_stats(
        "enc.attn",
        0,
        {"classes": ["all"], "count": np.array([3]), "mean": np.zeros((1, 2, 4, 4), dtype=object)},
        kind="self",
    )
    with pytest.raises(CaptureFileError, match="object"):
        stats_cap.save(path)
    assert path.read_bytes() == before


def test_tokens_are_stored_as_strings(tmp_path):
    cap = small_capture()
    cap.tokens = {"query": [101, "a", np.str_("b"), 2.5], "key": np.array(["x", "y"])}
    back = aw.load(cap.save(tmp_path / "t.npz"))
    assert back.tokens == {"query": ["101", "a", "b", "2.5"], "key": ["x", "y"]}


# ---------------------------------------------------------------------------------------------- item 13
def _crafted(tmp_path, name: str):
    """One broken or hostile file per name; every one must be refused with CaptureFileError."""
    path = tmp_path / f"{name}.npz"
    small_capture().save(path)
    h = header_of(path)
    if name == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif name == "npy_renamed":
        os.unlink(path)
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif name == "empty":
        path.write_bytes(b"")
    elif name == "header_list":
        rewrite(path, [h])
    elif name == "header_number":
        rewrite(path, raw_header=np.array("42"))
    elif name == "header_int_array":
        rewrite(path, raw_header=np.arange(3))
    elif name == "deep_nesting":
        rewrite(path, raw_header=np.array("[" * 100_000 + "]" * 100_000))
    elif name == "unknown_kind":
        h["kinds"]["enc.attn"] = "sideways"
        rewrite(path, h)
    elif name == "wrong_axes":
        h["axes"]["enc.attn"] = ["sample", "query", "key"]
        rewrite(path, h)
    elif name == "weights_axes_mismatch":
        h["axes"]["pool"] = ["sample", "frame", "extra"]
        rewrite(path, h)
    elif name == "duplicate_sites":
        h["layers"].append("enc.attn")
        rewrite(path, h)
    elif name == "step_out_of_range":
        h["steps"] = 1
        rewrite(path, h)
    elif name == "step_not_a_number":
        h["arrays"]["pool"] = {"zero": h["arrays"]["pool"]["0"]}
        rewrite(path, h)
    elif name == "missing_array":
        rewrite(path, drop=("a0_s1",))
    elif name == "labels_length":
        rewrite(path, labels=np.array([0, 1, 0, 1, 1]))
    elif name == "samples_disagree":
        rewrite(path, a0_s1=np.zeros((2, 2, 4, 4), np.float32))
    elif name == "string_site_array":
        rewrite(path, a0_s1=np.full((3, 2, 4, 4), "x"))
    elif name == "complex_array":
        rewrite(path, a1_s0=np.zeros((3, 5), np.complex64))
    elif name == "wrong_type_fields":
        h["kinds"] = ["self"]
        rewrite(path, h)
    elif name == "stats_rows":
        h["stats"] = {"enc.attn": {"0": {"classes": ["all", 0], "arrays": {"count": "c", "mean": "m"}}}}
        rewrite(path, h, c=np.array([3]), m=np.zeros((1, 2, 4, 4)))
    elif name == "stats_unknown_site":
        h["stats"] = {"ghost": {"0": {"classes": ["all"], "arrays": {"count": "c"}}}}
        rewrite(path, h, c=np.array([3]))
    elif name == "bad_label_codes":
        h["values"] = {"labels": {"kind": "str", "names": ["a"], "array": "labels_codes"}}
        rewrite(path, h, drop=("labels",), labels_codes=np.array([0, 5, 0]))
    elif name == "damaged_npy_header":
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("junk.npy", b"\x93NUMPY\x01\x00\xff\xffnot a dict")
    elif name == "duplicate_members":
        with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as z:
            z.writestr("labels.npy", z.read("labels.npy"))
    elif name == "cut_member":
        with np.load(path) as z:
            body = {k: z[k] for k in z.files}
        os.unlink(path)
        with zipfile.ZipFile(path, "w") as z:
            for k, a in body.items():
                buf = io.BytesIO()
                np.save(buf, a)
                data = buf.getvalue()
                z.writestr(f"{k}.npy", data[:-16] if k == "a0_s0" else data)
    else:
        raise AssertionError(name)
    return path


CRAFTED = [
    "truncated",
    "npy_renamed",
    "empty",
    "header_list",
    "header_number",
    "header_int_array",
    "deep_nesting",
    "unknown_kind",
    "wrong_axes",
    "weights_axes_mismatch",
    "duplicate_sites",
    "step_out_of_range",
    "step_not_a_number",
    "missing_array",
    "labels_length",
    "samples_disagree",
    "string_site_array",
    "complex_array",
    "wrong_type_fields",
    "stats_rows",
    "stats_unknown_site",
    "bad_label_codes",
    "damaged_npy_header",
    "duplicate_members",
    "cut_member",
]


@pytest.mark.parametrize("name", CRAFTED)
def test_broken_and_hostile_files_are_one_clear_error(tmp_path, name):
    path = _crafted(tmp_path, name)
    with pytest.raises(CaptureFileError, match=r"is not a readable attnwidget capture: .+; .+") as e:
        aw.load(path)
    assert isinstance(e.value, ValueError) and isinstance(e.value, aw.AttnwidgetError)
    assert "Traceback" not in str(e.value) and len(str(e.value)) < 1000


@pytest.mark.parametrize("name", ["truncated", "header_list", "deep_nesting", "header_int_array"])
def test_attnwidget_info_reports_broken_files_in_one_line(tmp_path, name):
    from attnwidget.cli import main

    path = _crafted(tmp_path, name)
    assert main(["info", str(path)]) == 2


def test_messages_say_what_is_wrong(tmp_path):
    cases = {
        "npy_renamed": ".npy array, not a .npz",
        "header_list": "header is a JSON list",
        "deep_nesting": "nested too deeply",
        "duplicate_sites": "listed twice",
        "labels_length": "5 labels for 3 samples",
        "missing_array": "does not hold",
        "truncated": "cut short",
        "samples_disagree": "2 and 3 samples",
        "cut_member": "cut short",
    }
    for name, words in cases.items():
        with pytest.raises(CaptureFileError, match=words):
            aw.load(_crafted(tmp_path, name))


def test_a_newer_format_version_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "new.npz"
    small_capture().save(path)
    rewrite(path, dict(header_of(path), version=99))
    with pytest.raises(CaptureFileError, match=r"newer attnwidget .*version 99.*upgrade"):
        aw.load(path)


def test_a_pickle_is_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    small_capture().save(path)
    rewrite(path, labels=np.array([Evil(), Evil(), Evil()], dtype=object))
    with pytest.raises(CaptureFileError, match="object"):
        aw.load(path)
    assert not marker.exists()


def test_decompressed_size_is_bounded_before_anything_is_allocated(tmp_path):
    path = tmp_path / "bomb.npz"
    cap = Capture()
    cap.add("big", 0, np.zeros((1, 1, 4096, 4096), np.float32), kind="self")  # 64 MiB of zeros
    cap.save(path)
    with np.load(path) as z:
        body = {k: z[k] for k in z.files}
    os.unlink(path)
    np.savez_compressed(path, **body)
    assert path.stat().st_size < 2**20  # well under 1 MiB on disk
    tracemalloc.start()
    try:
        with pytest.raises(
            CaptureFileError, match=r"64\.0 MiB in memory.*above the 16\.0 MiB limit.*max_bytes=None"
        ):
            aw.load(path, max_bytes=16 * 2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB allocated before refusing"
    assert aw.load(path, max_bytes=None).get("big").shape == (1, 1, 4096, 4096)
    assert inspect.signature(aw.load).parameters["max_bytes"].default == 4 * 2**30 == _files.DEFAULT_MAX_BYTES


def test_version_1_files_of_the_previous_release_still_load(tmp_path):
    # exactly what Capture.save wrote before version 2: labels as a plain string array, no 'values'
    header = {
        "format": "attnwidget-capture",
        "version": 1,
        "layers": ["enc", "pool"],
        "kinds": {"enc": "self", "pool": "weights"},
        "axes": {"enc": ["sample", "head", "query", "key"], "pool": ["sample", "layer"]},
        "info": {"enc": {"heads": "all"}, "pool": {}},
        "steps": 2,
        "tokens": ["a", "b", "c"],
        "metadata": {"model": "Toy"},
        "arrays": {"enc": {"0": "a0_s0", "1": "a0_s1"}, "pool": {"0": "a1_s0"}},
        "stats": {
            "enc": {
                "0": {"classes": ["all", "cat"], "arrays": {"count": "t0_s0_count", "mean": "t0_s0_mean"}}
            }
        },
    }
    rng = np.random.default_rng(0)
    arrays = {
        "a0_s0": rng.random((2, 1, 3, 3), dtype=np.float32),
        "a0_s1": rng.random((2, 1, 3, 3)),
        "a1_s0": rng.random((2, 6)).astype(np.float16),
        "t0_s0_count": np.array([2, 2]),
        "t0_s0_mean": rng.random((2, 1, 3, 3)),
        "labels": np.array(["cat", "cat"]),
        "predictions": np.array([0, 1]),
    }
    path = tmp_path / "v1.npz"
    np.savez(path, header=np.array(json.dumps(header)), **arrays)
    cap = aw.load(path)
    assert cap.layers == ["enc", "pool"] and cap.steps == 2 and cap.tokens == ["a", "b", "c"]
    np.testing.assert_array_equal(cap.get("enc", 1), arrays["a0_s1"])
    np.testing.assert_array_equal(cap.stats["enc"][0]["mean"], arrays["t0_s0_mean"])
    assert cap.labels.tolist() == ["cat", "cat"] and cap.predictions.tolist() == [0, 1]


def test_missing_path_stays_file_not_found_and_a_folder_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        aw.load(tmp_path / "nope.npz")
    with pytest.raises(CaptureFileError, match="folder"):
        aw.load(tmp_path)


def test_checkpoints_share_the_reader_and_say_delete_it_to_start_over(tmp_path):
    path = str(tmp_path / "ck.npz")
    write_checkpoint(path, {"batches": 1}, {"x": np.arange(3.0), "labels": np.array([1, None], dtype=object)})
    header, arrays = read_checkpoint(path)
    assert header["batches"] == 1 and arrays["labels"].tolist() == [1, None]
    data = open(path, "rb").read()
    for broken in (data[: len(data) // 2], b"", b"\x93NUMPY" + data[6:]):
        with open(path, "wb") as f:
            f.write(broken)
        with pytest.raises(
            CaptureFileError,
            match=r"not a readable collect\(\) checkpoint: .*delete it to "
            r"start over$",
        ):
            read_checkpoint(path)
    np.savez(path, header=np.array(json.dumps({"format": "attnwidget-collect-checkpoint", "version": 7})))
    with pytest.raises(CaptureFileError, match="newer attnwidget"):
        read_checkpoint(path)


# ---------------------------------------------------------------------------------------------- item 14
_WORKER = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from attnwidget.store import Capture
cap = Capture()
cap.add("big", 0, np.ones((1, 1, 4096, 4096), np.float32), kind="self")  # 64 MiB
cap.save(sys.argv[1])
print("saved", flush=True)
while True:  # keep rewriting it, so a kill lands mid-write
    cap.save(sys.argv[1])
"""


def _kill_mid_write(folder, path) -> list[str]:
    """Run a worker that saves ``path`` in a loop; SIGKILL it while a temporary file exists."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), ROOT],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert proc.stdout.readline() == b"saved\n", proc.stdout.read()
            deadline = time.monotonic() + 30
            while not any(_files._TMP_MARK in n for n in os.listdir(folder)):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.001)  # a write of 64 MiB, fsync included, lasts far longer
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.communicate()
        left = [n for n in os.listdir(folder) if _files._TMP_MARK in n]
        if left:
            return left
    raise AssertionError("the worker was never killed while writing")


def test_a_killed_save_keeps_the_old_file_and_the_next_save_removes_its_leftover(tmp_path):
    path = tmp_path / "run.npz"
    left = _kill_mid_write(tmp_path, path)
    assert left[0].startswith(".run.npz.attnwidget-tmp-")
    assert aw.load(path).get("big").shape == (1, 1, 4096, 4096)  # the old file survived whole
    small_capture().save(path)  # another process, later: the dead writer's temporary goes
    assert sorted(os.listdir(tmp_path)) == ["run.npz"]
    assert aw.load(path).layers == ["enc.attn", "pool"]


def test_stale_temporaries_of_live_writers_and_others_are_kept(tmp_path):
    target = str(tmp_path / "run.npz")
    prefix = _files.temporary_prefix(target)
    host = _files._host_tag()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {
        "dead": f"{prefix}{dead.pid}-{host}-0000aaaa",  # ours, its writer gone: removed
        "mine": f"{prefix}{os.getpid()}-{host}-0000bbbb",  # this process: a live writer
        "init": f"{prefix}1-{host}-0000cccc",  # pid 1 is alive
        "other_host": f"{prefix}{dead.pid}-deadbeef-0000dddd",  # another machine on a shared folder
        "other_target": f"{_files.temporary_prefix(str(tmp_path / 'x.npz'))}{dead.pid}-{host}-0000eeee",
        "user_file": ".run.npz.backup",
    }
    for n in names.values():
        (tmp_path / n).write_bytes(b"x")
    small_capture().save(target)
    kept = set(os.listdir(tmp_path))
    assert names["dead"] not in kept
    assert {names[k] for k in names if k != "dead"} | {"run.npz"} == kept


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_file_mode_follows_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        small_capture().save(tmp_path / "run.npz")
        write_checkpoint(str(tmp_path / "ck.npz"), {"batches": 0}, {"x": np.zeros(2)})
    finally:
        os.umask(old)
    for name in ("run.npz", "ck.npz"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~umask, name


def test_checkpoint_writes_use_the_same_writer(tmp_path):
    path = str(tmp_path / "ck.npz")
    host = _files._host_tag()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{_files.temporary_prefix(path)}{dead.pid}-{host}-00001111"
    stale.write_bytes(b"x" * 1000)
    write_checkpoint(path, {"batches": 2}, {"x": np.arange(4.0)})
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]


def test_a_target_name_near_the_length_limit_still_saves(tmp_path):
    name = "c" * 240 + ".npz"  # 244 bytes: a temporary with the full name would pass 255
    path = small_capture().save(tmp_path / name)
    assert os.path.basename(path) == name and aw.load(path).layers == ["enc.attn", "pool"]
