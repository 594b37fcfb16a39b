"""``attnwidget run --model DIR`` end to end on Hugging Face folders: MiniLM, BART, GPT-2, ViT, Wav2Vec2.

Each run's raw arrays (``--save-raw``) are checked against the model's own
eager attention (``output_attentions=True``), teacher-forced over the generated
text for ``--generate``; the files are the guides' names (seed 004 for text,
seed 001 for images); one run goes through a subprocess, with ``--show``
opening the page in a stand-in browser, and one with the network cut off.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, minilm_path, run, write_wav
from PIL import Image

import attnwidget as aw

TEXT = "The cat sat on the mat."


def eager(path: str, auto: str = "AutoModel"):
    import transformers

    model = getattr(transformers, auto).from_pretrained(path, attn_implementation="eager")
    return model.eval()


def files(folder) -> set[str]:
    return set(os.listdir(folder))


def test_minilm_in_a_subprocess_writes_seed_004_names_equal_to_eager_attention_and_opens_the_page(tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    out, capfile = tmp_path / "out", tmp_path / "minilm.npz"
    env = {**os.environ, "BROWSER": f"{sys.executable} {browser} %s"}
    cmd = [sys.executable, "-m", "attnwidget.cli", "run", "--model", minilm_path(), "--input", TEXT,
           "--layer", "-1", "--save-raw", "--show", "--capture", capfile, "--out", out, "--quiet"]  # fmt: skip
    done = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert files(out) == {
        "self_attention_layer5.png",
        "self_attention_multihead_layer5.png",
        "attn_raw_layer_5.npy",
        "attention.html",
    }
    page = str(out / "attention.html")
    assert f"page: {os.path.abspath(page)}" in done.stdout
    assert opened.read_text() == "file://" + os.path.abspath(page)
    html = open(page, encoding="utf-8").read()
    assert 'id="aw-data"' in html and "Heatmap · encoder.layer.5.attention.self" in html  # opens on --layer

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path())
    enc = tok(TEXT, return_tensors="pt")
    with torch.no_grad():
        ref = eager(minilm_path())(**enc, output_attentions=True).attentions[5].numpy()
    np.testing.assert_allclose(np.load(out / "attn_raw_layer_5.npy"), ref, atol=1e-5)
    cap = aw.load(capfile)
    assert cap.tokens == tok.convert_ids_to_tokens(enc["input_ids"][0])
    assert cap.metadata["run"] == {"model": minilm_path(), "input": TEXT}
    assert len(cap.sites) == 6 and cap.steps == 1
    png = np.asarray(Image.open(out / "self_attention_layer5.png"))
    assert png.shape[0] > 200 and png.std() > 10  # drawn, not blank


def test_minilm_runs_with_the_network_cut_off_and_in_bfloat16(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"attnwidget run touched the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    rc, out, err = run(["run", "--model", minilm_path(), "--input", TEXT, "--layer", "0", "--dtype", "bfloat16",
                        "--save-raw", "--out", tmp_path, "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert "HF_HUB_OFFLINE" not in os.environ  # the offline switches are put back after the run
    from transformers import AutoTokenizer

    enc = AutoTokenizer.from_pretrained(minilm_path())(TEXT, return_tensors="pt")
    with torch.no_grad():
        ref = eager(minilm_path())(**enc, output_attentions=True).attentions[0].numpy()
    raw = np.load(tmp_path / "attn_raw_layer_0.npy")
    gap = np.abs(raw - ref).max()
    assert 1e-4 < gap < 0.05, gap  # bfloat16 weights: close to float32, not equal


def test_bart_generates_and_each_site_equals_the_teacher_forced_eager_forward(folders, tmp_path, capsys):
    capfile = tmp_path / "bart.npz"
    rc, out, err = run(["run", "--model", folders["bart"], "--input", "the cat sat on the mat", "--generate", 5,
                        "--layer", "-1", "--save-raw", "--capture", capfile, "--out", tmp_path / "o", "--quiet"],
                       capsys)  # fmt: skip
    assert rc == 0, err
    cap = aw.load(capfile)
    cross, dec, enc = (
        "model.decoder.layers.1.encoder_attn",
        "model.decoder.layers.1.self_attn",
        "model.encoder.layers.1.self_attn",
    )
    raw = {s: f"attn_raw_layer_{cap.sites.index(s)}.npy" for s in (cross, dec, enc)}
    assert files(tmp_path / "o") == {
        "cross_attention_layer1.png",
        "cross_attention_multihead_layer1.png",
        "self_attention_layer1.png",
        "encoder_self_attention_layer1.png",
        *raw.values(),
    }
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folders["bart"])
    model = eager(folders["bart"], "AutoModelForSeq2SeqLM")
    src = tok("the cat sat on the mat", return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(
            input_ids=src["input_ids"], attention_mask=src["attention_mask"], max_new_tokens=5, do_sample=False,
            num_beams=1, pad_token_id=tok.pad_token_id,
        )  # fmt: skip
        ref = model(**{k: src[k] for k in ("input_ids", "attention_mask")}, decoder_input_ids=ids[:, :-1],
                    output_attentions=True)  # fmt: skip
    assert cap.steps == ids.shape[1] - 1
    assert f"-> {tok.decode(ids[0], skip_special_tokens=True)!r}" in out
    o = tmp_path / "o"
    np.testing.assert_allclose(np.load(o / raw[cross]), ref.cross_attentions[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(np.load(o / raw[dec]), ref.decoder_attentions[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(np.load(o / raw[enc]), ref.encoder_attentions[1].numpy(), atol=1e-5)
    target = tok.convert_ids_to_tokens(ids[0])
    assert cap.tokens[cross] == {"query": target, "key": tok.convert_ids_to_tokens(src["input_ids"][0])}
    assert cap.tokens[dec]["query"] == target


def test_gpt2_generates_each_input_into_its_own_folder_and_capture(folders, tmp_path, capsys):
    prompts = ["the cat sat", "a dog ran far"]
    rc, out, err = run(["run", "--model", folders["gpt2"], "--input", prompts[0], "--input", prompts[1],
                        "--generate", 4, "--layer", "0", "--capture", tmp_path / "run.npz",
                        "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert out.count(" -> ") == 2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folders["gpt2"])
    model = eager(folders["gpt2"], "AutoModelForCausalLM")
    for k, prompt in enumerate(prompts):
        assert files(tmp_path / "o" / f"input_{k}") == {
            "self_attention_layer0.png",
            "self_attention_multihead_layer0.png",
        }
        cap = aw.load(tmp_path / f"run_input_{k}.npz")
        enc = tok(prompt, return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=4,
                                 do_sample=False, pad_token_id=tok.pad_token_id)  # fmt: skip
            ref = model(ids[:, :-1], output_attentions=True).attentions[0].numpy()
        assert cap.steps == 4
        np.testing.assert_allclose(cap.assembled(0), ref, atol=1e-5)
        assert cap.tokens == tok.convert_ids_to_tokens(ids[0])


def test_vit_image_writes_seed_001_files_and_head_selection_changes_the_figure(
    folders, image_file, tmp_path, capsys
):
    args = ["run", "--model", folders["vit"], "--image", image_file, "--layer", "0", "--quiet"]
    rc, _, err = run(
        [*args, "--head", 1, "--no-avg-heads", "--save-raw", "--html", "--out", tmp_path / "h1"], capsys
    )
    assert rc == 0, err
    names = files(tmp_path / "h1")
    maps = [n for n in names if n.startswith("attn_map_layer_0_")]
    heat = [n for n in names if n.startswith("heatmap_layer_0_")]
    assert (
        len(maps) == len(heat) == 1
        and {"attn_raw_layer_0.npy", "attention.html"} <= names
        and len(names) == 4
    )
    from transformers import AutoImageProcessor

    pixels = AutoImageProcessor.from_pretrained(folders["vit"])(images=Image.open(image_file).convert("RGB"),
                                                                return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        ref = eager(folders["vit"], "AutoModelForImageClassification")(**pixels, output_attentions=True)
    np.testing.assert_allclose(
        np.load(tmp_path / "h1" / "attn_raw_layer_0.npy"), ref.attentions[0].numpy(), atol=1e-5
    )
    page = (tmp_path / "h1" / "attention.html").read_text(encoding="utf-8")
    assert 'src="http' not in page and "src='http" not in page  # works offline
    rc, _, err = run([*args, "--out", tmp_path / "mean"], capsys)
    assert rc == 0, err
    assert files(tmp_path / "mean") == {maps[0], heat[0]}
    one = np.asarray(Image.open(tmp_path / "h1" / heat[0]))
    mean = np.asarray(Image.open(tmp_path / "mean" / heat[0]))
    assert one.shape != mean.shape or not np.array_equal(one, mean)


def test_wav2vec2_reads_a_wav_and_resamples_one_at_another_rate(folders, tmp_path, capsys):
    rng = np.random.default_rng(0)
    clip = 0.5 * np.sin(np.arange(1600) / 16000 * 2 * np.pi * 220) + 0.05 * rng.standard_normal(1600)
    wav = write_wav(tmp_path / "clip.wav", clip, 16000)
    rc, _, err = run(["run", "--model", folders["wav2vec2"], "--audio", wav, "--layer", "0", "--save-raw",
                      "--out", tmp_path / "o", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    site = "encoder.layers.0.attention"
    assert files(tmp_path / "o") == {
        f"heatmap_layer_0_{site}.png",
        f"multihead_layer_0_{site}.png",
        "attn_raw_layer_0.npy",
    }
    from transformers import AutoFeatureExtractor

    samples = np.round(np.clip(clip, -1, 1) * 32767).astype(np.int16).astype(np.float32) / 32768.0
    inputs = AutoFeatureExtractor.from_pretrained(folders["wav2vec2"])(
        samples, sampling_rate=16000, return_tensors="pt"
    )
    with torch.no_grad():
        ref = eager(folders["wav2vec2"])(**inputs, output_attentions=True).attentions[0].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "o" / "attn_raw_layer_0.npy"), ref, atol=1e-5)
    slow = write_wav(tmp_path / "slow.wav", clip[::2], 8000)
    rc, _, err = run(["run", "--model", folders["wav2vec2"], "--audio", slow, "--layer", "0", "--save-raw",
                      "--out", tmp_path / "s", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert "8000 Hz and the model takes 16000 Hz: resampled" in err
    assert np.load(tmp_path / "s" / "attn_raw_layer_0.npy").shape == ref.shape  # 1600 samples again


def test_the_html_page_is_the_explorer_of_the_capture(folders, tmp_path, capsys):
    rc, _, err = run(["run", "--model", folders["gpt2"], "--input", "the cat", "--layer", "1", "--html",
                      "--out", tmp_path, "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    page = (tmp_path / "attention.html").read_text(encoding="utf-8")
    table = json.loads(
        page.split('<script type="application/json" id="aw-data">', 1)[1].split("</script>", 1)[0]
    )
    assert [site["name"] for site in table["options"]["layers"]] == [
        "transformer.h.0.attn",
        "transformer.h.1.attn",
    ]
    assert ["[CLS]", "the", "cat", "[SEP]"] in table["shared"]  # the tokens label the page's axes


@pytest.mark.parametrize("bad", ["--head 9", "--heads 0 --head 1"])
def test_a_head_the_capture_does_not_hold_is_refused(folders, tmp_path, capsys, bad):
    rc, _, err = run(["run", "--model", folders["gpt2"], "--input", "the cat", *bad.split(), "--out", tmp_path,
                      "--quiet"], capsys)  # fmt: skip
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "head" in err


def test_max_size_and_heads_reduce_what_is_captured(folders, tmp_path, capsys):
    text = "the cat sat on the warm mat today"
    rc, _, err = run(["run", "--model", folders["gpt2"], "--input", text, "--layer", "0", "--heads", "mean",
                      "--max-size", 4, "--save-raw", "--out", tmp_path, "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    raw = np.load(tmp_path / "attn_raw_layer_0.npy")
    from transformers import AutoTokenizer

    n = len(AutoTokenizer.from_pretrained(folders["gpt2"])(text)["input_ids"])
    assert n > 4 and raw.shape == (1, 1, 4, 4)  # one map (the mean of heads), pooled to 4 x 4 cells
