"""``to_html`` at size: each distinct frame computed and stored once, one image per sample, a runtime
that parses and decodes what Python wrote.

The captures come from real tiny models (GPT-2 and ViT from small configs, random weights, seeded).
Counting the calls of ``frame()`` wraps the function ``attnwidget._view_state`` calls (the one behind
every state a page embeds) with a counter: it still computes every frame.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import zlib

import numpy as np
import pytest
import torch

import attnwidget as aw
import attnwidget._view_state as view_state_module
import attnwidget.widgets as widgets
from attnwidget.figures import to_html
from attnwidget.figures.html import packed, page_table, read_page, resolved, unpacked

NODE = shutil.which("node")
# the page runtime's data functions (bundled into attnwidget/static/page.js), imported by node
PAGE_DATA = (__import__("pathlib").Path(aw.__file__).parents[1] / "js" / "page-data.js").as_uri()


def gpt2_capture(samples: int, tokens: int = 7):
    """A 2-layer, 2-head GPT-2 run on ``samples`` sequences of ``tokens`` random tokens (no padding)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=32, bos_token_id=0, eos_token_id=0
    )
    model = GPT2LMHeadModel._from_config(config, attn_implementation="sdpa").eval()
    ids = torch.randint(0, 100, (samples, tokens))
    with aw.capture(model) as cap, torch.no_grad():
        model(input_ids=ids)
    return cap


def vit_capture(samples: int):
    """A 1-layer ViT on ``samples`` random 8 x 8 images: 4 patches and CLS, a 2 x 2 patch grid."""
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=8,
        patch_size=4,
        num_channels=3,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    model = ViTModel._from_config(config, attn_implementation="sdpa").eval()
    pixels = torch.rand(samples, 3, 8, 8)
    with aw.capture(model) as cap, torch.no_grad():
        model(pixel_values=pixels)
    return cap


@pytest.fixture
def frame_calls(monkeypatch):
    """How many times ``frame()`` ran since the test began (``calls[0]``)."""
    calls = [0]
    real = view_state_module.frame

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(view_state_module, "frame", counted)
    return calls


def key_of(*values) -> str:
    """A selection's key in a page's table."""
    return json.dumps(list(values), separators=(",", ":"))


def states_of(data: dict) -> list[dict]:
    return [resolved(data, st) for st in data["states"]]


def shared_bytes(data: dict) -> list[int]:
    """Indices of the shared items that are bytes (frame codes, thumbnails, images)."""
    return [i for i, item in enumerate(data["shared"]) if isinstance(item, dict)]


# ---------------------------------------------------------------- stored once, computed once
def test_identical_frames_are_stored_once(frame_calls):
    cap = gpt2_capture(samples=1)
    view = widgets.Heatmap(cap)
    frame_calls[0] = 0
    data = page_table(view)
    # 2 sites x (mean, max, head 0, head 1) x (mean of samples, sample 0)
    assert len(data["table"]) == 2 * 4 * 2
    # one state per selection: the titles differ ("mean of samples", "sample 0") ...
    assert len(data["states"]) == len(data["table"])
    assert frame_calls[0] == len(data["table"])  # ... and each is computed once
    # ... but the mean of one sample is that sample: its codes are stored once, referred to twice
    sent = {}
    for key in data["table"]:
        layer, head, sample, _, _, _ = json.loads(key)
        view.layer, view.head, view.sample = layer, head, sample
        sent[key] = bytes(view._frame)
    assert len(shared_bytes(data)) == len(set(sent.values())) == len(data["table"]) // 2
    for key, index in data["table"].items():
        state = data["states"][index]
        assert resolved(data, state)["_frame"] == sent[key]  # what the widget sends for it
        layer, head, sample, *rest = json.loads(key)
        if sample == 0:
            twin = data["states"][data["table"][key_of(layer, head, "mean", *rest)]]
            assert twin["_frame"] == state["_frame"] and twin != state


def test_labels_are_stored_once_and_the_page_parses(tmp_path):
    cap = gpt2_capture(samples=2)
    path = to_html(widgets.Heatmap(cap, tokens=[f"t{i}" for i in range(7)]), tmp_path / "p.html")
    text = open(path, encoding="utf-8").read()
    raw = re.search(r'<script type="application/json" id="aw-data">(.*?)</script>', text, re.S).group(1)
    data = json.loads(raw)  # the embedded table is JSON
    lists = [item for item in data["shared"] if isinstance(item, list)]
    assert ["t0", "t1", "t2", "t3", "t4", "t5", "t6"] in lists
    assert len(lists) == len({json.dumps(x) for x in lists})  # each distinct list once
    for state in states_of(data):
        assert len(state["_frame_meta"]["row_labels"]) == state["_frame_meta"]["shape"][0]


def test_head_grid_computes_its_thumbnails_once_per_distinct_frame(frame_calls):
    cap = gpt2_capture(samples=2)
    view = widgets.HeadGrid(cap, mode="model")
    thumbs = 2 * 2  # every site x every head
    frame_calls[0] = 0
    data = page_table(view)
    # 2 sites x 4 heads x (mean, sample 0, sample 1): the thumbnails depend on the sample alone
    assert len(data["table"]) == 2 * 4 * 3
    assert len(data["states"]) == 3
    assert frame_calls[0] == 3 * thumbs
    for key, index in data["table"].items():
        layer, head, sample, _, _ = json.loads(key)
        view.layer, view.head, view.sample = layer, head, sample
        assert resolved(data, data["states"][index])["_thumbs"] == bytes(view._thumbs)

    # one sample and no padding: its mean is itself, computed once
    one = widgets.HeadGrid(gpt2_capture(samples=1), mode="model")
    frame_calls[0] = 0
    data = page_table(one)
    assert len(data["states"]) == 1 and frame_calls[0] == thumbs

    # showing one site's heads: once per site (and sample)
    per_site = widgets.HeadGrid(cap, mode="layer")
    frame_calls[0] = 0
    data = page_table(per_site, samples=1)
    assert len(data["states"]) == 2 * 2 and frame_calls[0] == 2 * 2 * 2


# ---------------------------------------------------------------- one image per sample
def test_each_sample_shows_its_own_image_stored_once():
    cap = vit_capture(samples=3)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(2)]
    images.append(images[0].copy())  # sample 2 has sample 0's picture
    view = widgets.ImageOverlay(cap, image=images, layer=0)
    assert view.num_images == 3
    data = page_table(view)
    pictures = {bytes(np.concatenate([im, np.full((8, 8, 1), 255, np.uint8)], -1)) for im in images}
    stored = [unpacked(data["shared"][i]) for i in shared_bytes(data)]
    assert sum(b in pictures for b in stored) == 2  # two distinct pictures, each stored once
    for key, index in data["table"].items():
        layer, head, sample, _, _, _ = json.loads(key)
        view.layer, view.head, view.sample = layer, head, sample
        state = resolved(data, data["states"][index])
        assert state["_image_meta"]["caption"] == view._image_meta["caption"]
        assert state["_frame_meta"]["title"] == view._frame_meta["title"]
        if sample == "mean":  # a mean over samples is no one sample: no image, and the title says so
            assert state["_image"] == {"__white__": [8, 8, 4]}
            assert state["_image_meta"]["sample"] is None
            assert state["_frame_meta"]["title"].endswith("no single image")
        else:
            assert state["_image"] == bytes(view._image)
            assert state["_image_meta"]["sample"] == sample
    zero, one = (data["table"][key_of(0, "mean", k, None, 0, "linear")] for k in (0, 1))
    assert data["states"][zero]["_image"] != data["states"][one]["_image"]


def test_one_image_for_every_sample_travels_once(tmp_path):
    cap = vit_capture(samples=2)
    picture = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    data = read_page(to_html(widgets.ImageOverlay(cap, image=picture), tmp_path / "o.html"), resolve=True)
    assert all("_image" not in st for st in data["states"])
    assert (
        data["initial"]["_image"][: 4 * 8 * 8]
        == np.concatenate([picture, np.full((8, 8, 1), 255, np.uint8)], -1).tobytes()
    )


# ---------------------------------------------------------------- bytes as the page stores them
def test_packed_bytes_round_trip_and_shrink():
    rng = np.random.default_rng(0)
    columns = np.repeat(rng.integers(0, 255, (1, 300), dtype=np.uint8), 200, axis=0)  # constant columns
    columns[::7] = rng.integers(0, 255, (1, 300))
    noise = rng.integers(0, 256, (80, 80), dtype=np.uint8)
    for codes in (columns, columns.T.copy(), noise, noise[:10, :10].copy()):
        item = packed(codes.tobytes(), codes.shape)
        assert unpacked(item) == codes.tobytes()
    assert "__deflate__" in packed(columns.tobytes(), columns.shape)
    assert len(packed(columns.tobytes(), columns.shape)["__deflate__"]) < columns.size / 20
    assert "__bytes__" in packed(noise.tobytes(), noise.shape)  # noise does not deflate: kept as it is
    assert "__bytes__" in packed(b"\x00" * 100)  # too short to be worth inflating


def run_node(script: str) -> str:
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_runtime_parses_and_decodes_what_python_stores(tmp_path):
    # the page's script parses (the real bundle, inlined, and the runtime)
    path = to_html(widgets.HeadGrid(gpt2_capture(samples=2)), tmp_path / "g.html")
    text = open(path, encoding="utf-8").read()
    assert 'id="aw-esm"' not in text  # the bundle (esbuild's `export { a as default, b }`) is inlined
    script = re.search(r'<script type="module">\n(.*?)</script>', text, re.S).group(1)
    (tmp_path / "page.mjs").write_text(script, encoding="utf-8")
    done = subprocess.run([NODE, "--check", str(tmp_path / "page.mjs")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    # the runtime inflates what Python deflated, stored by rows or by columns, to the same bytes
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 8, (64, 96), dtype=np.uint8)
    by_columns = {
        "__deflate__": base64.b64encode(zlib.compress(codes.T.tobytes())).decode(),
        "length": codes.size,
        "order": "columns",
        "shape": [64, 96],
    }
    items = [by_columns, packed(codes.tobytes()), packed(codes[:3, :5].tobytes(), (3, 5))]
    assert "__deflate__" in items[1] and "__bytes__" in items[2]
    assert [unpacked(it) for it in items] == [codes.tobytes(), codes.tobytes(), codes[:3, :5].tobytes()]
    out = run_node(
        f"import {{ unpack }} from {json.dumps(PAGE_DATA)};\n"
        + f"const items = {json.dumps(items)};\n"
        + "const out = [];\nfor (const it of items) out.push(Buffer.from(await unpack(it)).toString('base64'));\n"
        + "console.log(JSON.stringify(out));\n"
    )
    got = [base64.b64decode(s) for s in json.loads(out)]
    assert got == [unpacked(it) for it in items]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_zoom_cuts_the_saved_frame_at_whole_cells():
    # a 4 x 6 frame of 8 x 12 positions pooled by 2 (what the page holds), zoomed to rows 2..5, keys 3..9
    codes = np.arange(24, dtype=np.uint8).reshape(4, 6)
    meta = {
        "shape": [4, 6], "region": [0, 8, 0, 12], "block": [2, 2], "title": "t", "error": None,
        "row_labels": [f"r{i}" for i in range(4)], "col_labels": [f"c{j}" for j in range(6)],
    }  # fmt: skip
    out = run_node(
        f"import {{ crop }} from {json.dumps(PAGE_DATA)};\n"
        + f"const codes = Uint8Array.from({codes.ravel().tolist()});\n"
        + f"const cut = crop({{_frame: new DataView(codes.buffer), _frame_meta: {json.dumps(meta)}}}, [2, 5, 3, 9]);\n"
        + "const m = cut._frame_meta;\n"
        + "console.log(JSON.stringify({codes: Array.from(new Uint8Array(cut._frame.buffer)), shape: m.shape,"
        + " region: m.region, rows: m.row_labels, cols: m.col_labels}));\n"
        + "console.log(crop({_frame: 1, _frame_meta: {error: 'x'}}, [0, 1, 0, 1])._frame);\n"
    )
    first, second = out.strip().splitlines()
    cut = json.loads(first)
    assert cut["shape"] == [2, 4] and cut["region"] == [2, 6, 2, 10]
    assert cut["codes"] == codes[1:3, 1:5].ravel().tolist()
    assert cut["rows"] == ["r1", "r2"] and cut["cols"] == ["c1", "c2", "c3", "c4"]
    assert second == "1"  # a frame with an error is not cut
