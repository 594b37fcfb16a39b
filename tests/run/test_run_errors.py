"""Every failure of ``attnwidget run`` is one line on stderr and exit status 2, saying what to do.

No such folder (a hub name: nothing is downloaded), a folder that would need
the network (no weights, code of its own), an input the model cannot take
(an image for a text model, a word the translator does not know, a 8 kHz clip
for a 4 kHz model), out of memory (with the hint to ``--max-size``), a
checkpoint that is not a plain state dict, and the options that do not go
together. One case runs through a subprocess, to see the whole stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, minilm_path, run, write_wav

F = "notebooks.lessons.factories"


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("attnwidget"), lines[0]
    return lines[0]


def refused(argv, capsys, *words) -> str:
    rc, _, err = run(argv, capsys)
    assert rc == 2, err
    line = one_line(err)
    for w in words:
        assert w in line, line
    return line


def test_a_hub_name_is_no_folder_and_nothing_is_downloaded(tmp_path, capsys):
    line = refused(["run", "--model", "bert-base-uncased", "--input", "hi", "--out", tmp_path], capsys,
                   "no model folder 'bert-base-uncased'", "never downloads", "huggingface-cli download")  # fmt: skip
    assert "Traceback" not in line


def test_folders_that_would_need_the_network(tmp_path, folders, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(["run", "--model", empty, "--input", "hi"], capsys, "no config.json", "save_pretrained")
    no_weights = tmp_path / "no_weights"
    shutil.copytree(folders["gpt2"], no_weights)
    (no_weights / "model.safetensors").unlink()
    refused(
        ["run", "--model", no_weights, "--input", "hi"], capsys, "has no weights", "would need the network"
    )
    remote = tmp_path / "remote_code"
    shutil.copytree(folders["gpt2"], remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_mine.MyModel"}
    (remote / "config.json").write_text(json.dumps(config))
    refused(["run", "--model", remote, "--input", "hi"], capsys, "model code of its own", "--factory")
    refused(["run", "--model", folders["gpt2"] + "/config.json", "--input", "hi"], capsys, "is a file")


def test_inputs_the_model_cannot_take(folders, image_file, tmp_path, capsys):
    refused(["run", "--model", minilm_path(), "--image", image_file, "--out", tmp_path], capsys,
            "cannot take", "--image", "a tokenizer", "an image processor")  # fmt: skip
    refused(["run", "--model", folders["vit"], "--input", "a cat", "--out", tmp_path], capsys,
            "cannot take", "--input", "an image processor")  # fmt: skip
    refused(["run", "--factory", f"{F}:translation", "--input", "hello world", "--out", tmp_path], capsys,
            "could not take input 0 ('hello world')", "KeyError")  # fmt: skip
    from notebooks.lessons import audio

    wav = write_wav(
        tmp_path / "fast.wav", audio.make_clip(__import__("numpy").random.default_rng(0), False)[0], 8000
    )
    refused(["run", "--factory", f"{F}:audio", "--audio", wav, "--out", tmp_path], capsys, "4000 Hz")
    refused(["run", "--model", minilm_path(), "--input", "word " * 600, "--out", tmp_path], capsys,
            "could not take input 0")  # fmt: skip
    refused(["run", "--model", minilm_path(), "--input", "hi", "--generate", 3], capsys, "is an encoder")
    assert not os.listdir(tmp_path) or set(os.listdir(tmp_path)) == {"fast.wav"}  # nothing written


def test_unreadable_input_files(tmp_path, folders, capsys):
    refused(["run", "--model", folders["vit"], "--image", tmp_path / "none.png"], capsys, "no image file")
    (tmp_path / "not.png").write_text("not an image")
    refused(
        ["run", "--model", folders["vit"], "--image", tmp_path / "not.png"],
        capsys,
        "cannot read",
        "as an image",
    )
    (tmp_path / "not.wav").write_bytes(b"RIFF....WAVEfmt ")
    refused(
        ["run", "--model", folders["wav2vec2"], "--audio", tmp_path / "not.wav"],
        capsys,
        "as a WAV file",
        "ffmpeg",
    )
    (tmp_path / "blank.txt").write_text("\n  \n")
    refused(["run", "--model", folders["gpt2"], "--file", tmp_path / "blank.txt"], capsys, "no line of text")
    refused(["run", "--model", folders["gpt2"], "--file", tmp_path / "nofile.txt"], capsys, "no text file")


def test_out_of_memory_says_to_capture_less(tmp_path, capsys):
    (tmp_path / "huge.py").write_text(
        "import torch\n"
        "from torch import nn\n"
        "class Huge(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)\n"
        "    def forward(self, text):\n"
        "        x = torch.empty(2 ** 45)  # 128 TiB: no machine has it, so the allocation fails at once\n"
        "        return self.attn(x, x, x)\n"
        "def build():\n"
        "    return Huge()\n"
    )
    refused(["run", "--factory", f"{tmp_path / 'huge.py'}:build", "--input", "hi", "--out", tmp_path / "o"],
            capsys, "out of memory while running input 0", "--max-size 256")  # fmt: skip


def test_checkpoints_that_are_no_state_dict_of_the_model(tmp_path, capsys):
    import argparse

    # training scripts often save their arguments beside the weights: a pickled object
    torch.save({"model_state_dict": {}, "args": argparse.Namespace(lr=0.1)}, tmp_path / "pickled.pth")
    refused(["run", "--factory", f"{F}:eeg", "--checkpoint", tmp_path / "pickled.pth"], capsys,
            "weights_only=True", "never unpickles")  # fmt: skip
    torch.save({"other.weight": torch.zeros(2)}, tmp_path / "other.pth")
    refused(["run", "--factory", f"{F}:eeg", "--checkpoint", tmp_path / "other.pth"], capsys,
            "does not fit the model", "other.weight")  # fmt: skip
    refused(
        ["run", "--factory", f"{F}:eeg", "--checkpoint", tmp_path / "none.pth"], capsys, "no checkpoint file"
    )


def test_factories_and_data_sets_that_are_not_what_they_should_be(tmp_path, capsys):
    refused(["run", "--factory", "notebooks.lessons.factories"], capsys, "must be 'module:function'")
    refused(["run", "--factory", "no_such_module_here:build"], capsys, "no module 'no_such_module_here'")
    refused(["run", "--factory", f"{F}:nothing"], capsys, "has no function 'nothing'", "translation")
    refused(["run", "--factory", f"{F}:digits"], capsys, "returned a DataLoader", "torch.nn.Module")
    refused(["run", "--factory", f"{F}:eeg", "--dataset", f"{F}:translation"], capsys, "--dataset")
    refused(["run", "--factory", f"{F}:translation"], capsys, "no input", "--input TEXT")


def test_options_that_do_not_go_together(tmp_path, folders, capsys):
    m = ["run", "--model", folders["gpt2"]]
    refused([*m, "--input", "hi", "--no-avg-heads"], capsys, "--no-avg-heads needs --head")
    refused([*m, "--input", "hi", "--dataset", f"{F}:audio_clips"], capsys, "leave out --input")
    refused([*m, "--input", "hi", "--keep", "stats"], capsys, "needs --dataset")
    refused(
        [*m, "--input", "hi", "--layer", "7", "--out", tmp_path / "o"],
        capsys,
        "--layer 7 is out of range",
        "2 layer",
    )
    refused([*m, "--input", "hi", "--dpi", "5000"], capsys, "--dpi")
    refused([*m, "--input", "hi", "--heads", "x"], capsys, "--heads")
    refused([*m, "--input", "hi", "--bogus"], capsys, "unrecognized arguments: --bogus")
    refused(["run", "--input", "hi"], capsys, "one of the arguments --model --factory is required")
    if not torch.cuda.is_available():
        refused([*m, "--input", "hi", "--device", "cuda"], capsys, "no CUDA device")


def test_existing_files_are_kept_without_force(tmp_path, folders, capsys):
    args = ["run", "--model", folders["gpt2"], "--input", "hi", "--layer", "0", "--out", tmp_path, "--quiet"]
    rc, _, err = run(args, capsys)
    assert rc == 0, err
    before = (tmp_path / "self_attention_layer0.png").stat().st_mtime_ns
    refused(args, capsys, "already exist", "--force")
    assert (tmp_path / "self_attention_layer0.png").stat().st_mtime_ns == before
    rc, _, err = run([*args, "--force"], capsys)
    assert rc == 0, err
    (tmp_path / "run.npz").write_bytes(b"mine")
    refused(
        [*args[:-3], "--out", tmp_path / "x", "--capture", tmp_path / "run.npz"], capsys, "exists already"
    )
    assert (tmp_path / "run.npz").read_bytes() == b"mine" and not (tmp_path / "x").exists()
    refused([*args[:-3], "--out", tmp_path / "run.npz"], capsys, "is a file, not a folder")


def test_the_whole_stderr_of_a_failing_subprocess_is_one_line(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "attnwidget.cli",
        "run",
        "--model",
        str(tmp_path / "missing"),
        "--input",
        "hi",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"attnwidget run: error: no model folder {str(tmp_path / 'missing')!r}"
    ]


@pytest.mark.parametrize("names", ["LA", "LA,LA"])
def test_compare_names_must_be_two(tmp_path, capsys, names):
    import attnwidget as aw

    cap = aw.Capture()
    cap.add("s", 0, __import__("numpy").full((2, 1, 2, 2), 0.5, "float32"), kind="self")
    cap.save(tmp_path / "a.npz")
    cap.save(tmp_path / "b.npz")
    refused(["export", tmp_path / "a.npz", "--compare", tmp_path / "b.npz", "--names", names, "--out", tmp_path / "o"],
            capsys, "--names")  # fmt: skip
