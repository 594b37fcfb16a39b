"""Capture: names, errors that list what exists, and the .npz round trip without pickle."""

import numpy as np
import pytest

import attnwidget as aw
from attnwidget.store import Capture


def make_capture():
    rng = np.random.default_rng(0)
    cap = Capture()
    for step in range(3):
        cap.add("enc.0.attn", step, rng.random((2, 4, 5, 5), dtype=np.float32), kind="self")
        cap.add(
            "dec.0.cross", step, rng.random((2, 4, 3, 5), dtype=np.float32).astype(np.float16), kind="cross"
        )
    cap.add("pool.weights", 0, rng.random((2, 6), dtype=np.float32), kind="weights", axes=("sample", "layer"))
    cap.labels = np.array([0, 1])
    cap.predictions = np.array([0, 0])
    cap.tokens = {"query": ["a", "<img src=x onerror=alert(1)>", "c"], "key": list("vwxyz")}
    cap.metadata = {"model": "Toy", "note": "ünïcode"}
    return cap


def test_layers_in_first_run_order_and_get_by_index_or_name():
    cap = make_capture()
    assert cap.layers == ["enc.0.attn", "dec.0.cross", "pool.weights"]
    assert cap.steps == 3
    assert np.array_equal(cap.get(1, step=2), cap.get("dec.0.cross", step=2))
    assert cap.get(-1).shape == (2, 6)


def test_errors_name_the_problem_and_list_what_exists():
    cap = make_capture()
    with pytest.raises(IndexError, match=r"out of range.*3 sites.*enc\.0\.attn"):
        cap.get(7)
    with pytest.raises(KeyError, match=r"no site named 'nope'.*dec\.0\.cross"):
        cap.get("nope")
    with pytest.raises(IndexError, match=r"no step 1.*ran at steps 0"):
        cap.get("pool.weights", step=1)
    with pytest.raises(ValueError, match=r"3 axes .* 4 axis names"):
        cap.add("bad", 0, np.zeros((1, 2, 3)), kind="self")


def test_save_load_round_trip_is_bit_exact(tmp_path):
    cap = make_capture()
    path = cap.save(tmp_path / "run.npz")
    back = aw.load(path)
    assert back.layers == cap.layers and back.kinds == cap.kinds and back.axes == cap.axes
    assert back.steps == cap.steps and back.tokens == cap.tokens and back.metadata == cap.metadata
    for name in cap.layers:
        for step in cap.steps_of(name):
            a, b = cap.get(name, step), back.get(name, step)
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert np.array_equal(back.labels, cap.labels)
    assert np.array_equal(back.predictions, cap.predictions)


def test_load_refuses_pickles_and_foreign_files(tmp_path):
    evil = tmp_path / "evil.npz"
    np.savez(evil, header=np.array([{"format": "attnwidget-capture"}], dtype=object))
    with pytest.raises(ValueError, match="not a readable attnwidget capture"):
        aw.load(evil)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match="no attnwidget header"):
        aw.load(other)
    with pytest.raises(FileNotFoundError):
        aw.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError):
        aw.load(garbage)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    cap = make_capture()
    cap.save(tmp_path / "run.npz")
    cap.save(tmp_path / "run.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
