"""Lesson 1: translation. Spelled-out English dates -> ISO digits, with a small Transformer.

The task has a clear word alignment that also reorders, like Korean -> English:

    source  march  twenty first  nineteen ninety two
    target  1 9 9 2 - 0 3 - 2 1

"1" and "9" come from "nineteen", "0 3" from "march", "2" from "twenty" and
"1" from "first". A model that translates well must look at the right source
word for each digit, so its cross-attention (target x source) should show this
alignment. ``translate`` decodes greedily, one decoder forward per generated
token, so each capture step is one generated token.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._blocks import DecoderLayer, EncoderLayer, sinusoids
from ._fit import fit

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = [
    "",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SOURCE_VOCAB = [PAD] + sorted(
    set(MONTHS + ONES[1:] + TEENS + TENS[2:] + ORDINALS[1:] + ["thirtieth", "oh", "hundred", "thousand"])
)
TARGET_VOCAB = [PAD, BOS, EOS, "-"] + list("0123456789")
SRC_ID = {w: i for i, w in enumerate(SOURCE_VOCAB)}
TGT_ID = {w: i for i, w in enumerate(TARGET_VOCAB)}
MAX_SOURCE, MAX_TARGET = 8, 12


# ---------------------------------------------------------------- data


def _day_words(day: int):
    """Words for a day of the month and, for each of its two digits, the word it comes from."""
    if day <= 20:
        return [ORDINALS[day]], [0, 0]
    if day == 30:
        return ["thirtieth"], [0, 0]
    tens, ones = divmod(day, 10)
    return [TENS[tens], ORDINALS[ones]], [0, 1]


def _year_words(year: int):
    """Words for a year 1900-2099 and, per digit, the word it comes from (-1: no single word)."""
    century, yy = divmod(year, 100)
    if century == 19:
        words, align = ["nineteen"], [0, 0]
        if yy == 0:
            return words + ["hundred"], align + [1, 1]
        if yy < 10:
            return words + ["oh", ONES[yy]], align + [1, 2]
    else:
        words, align = ["two", "thousand"], [0, 1]
        if yy == 0:
            return words, align + [1, 1]
        if yy < 10:
            return words + [ONES[yy]], align + [-1, 2]
    if yy < 20:
        return words + [TEENS[yy - 10]], align + [len(words)] * 2
    tens, ones = divmod(yy, 10)
    rest = [TENS[tens]] + ([ONES[ones]] if ones else [])
    n = len(words)
    return words + rest, align + [n, n + 1 if ones else -1]


def make_example(year: int, month: int, day: int):
    """One translation pair.

    Returns ``(source, target, alignment)``: source words, target tokens
    (digits and "-", without BOS/EOS), and for each target token the index of
    the source word it translates, or -1 for "-" and digits no single word gives.
    """
    day_w, day_a = _day_words(day)
    year_w, year_a = _year_words(year)
    source = [MONTHS[month - 1]] + day_w + year_w
    d0, y0 = 1, 1 + len(day_w)
    target = list(f"{year:04d}-{month:02d}-{day:02d}")
    alignment = [y0 + a if a >= 0 else -1 for a in year_a] + [-1, 0, 0, -1] + [d0 + a for a in day_a]
    return source, target, alignment


def make_dataset(n: int, seed: int = 0):
    """``n`` random dates (seeded) as a list of ``(source, target, alignment)``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        month = int(rng.integers(1, 13))
        day = int(rng.integers(1, DAYS_IN_MONTH[month - 1] + 1))
        out.append(make_example(int(rng.integers(1900, 2100)), month, day))
    return out


def encode_source(words) -> torch.Tensor:
    return torch.tensor([SRC_ID[w] for w in words])


def _batch_tensors(pairs):
    src = torch.zeros(len(pairs), MAX_SOURCE, dtype=torch.long)
    tgt = torch.zeros(len(pairs), MAX_TARGET, dtype=torch.long)
    for i, (s, t, _) in enumerate(pairs):
        src[i, : len(s)] = encode_source(s)
        ids = [TGT_ID[BOS]] + [TGT_ID[c] for c in t] + [TGT_ID[EOS]]
        tgt[i, : len(ids)] = torch.tensor(ids)
    return src, tgt


def training_data(n: int = 20000, seed: int = 0):
    """``n`` seeded dates as padded ids ``(source [n, MAX_SOURCE], target [n, MAX_TARGET])``, for a
    training loop of one's own: ``target`` is ``<s>``, the digits, ``</s>``, so the decoder reads
    ``target[:, :-1]`` and learns to predict ``target[:, 1:]`` (0 is padding)."""
    return _batch_tensors(make_dataset(n, seed=seed))


# ---------------------------------------------------------------- model


class Translator(nn.Module):
    """Encoder-decoder Transformer: ``model(source_ids, target_ids) -> logits``.

    Encoder layers ``encoder.layers.i.self_attn``; decoder layers have
    ``decoder.layers.i.self_attn`` (causal) and ``decoder.layers.i.cross_attn``
    (target queries x source keys).
    """

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 2):
        super().__init__()
        self.source_embed = nn.Embedding(len(SOURCE_VOCAB), dim)
        self.target_embed = nn.Embedding(len(TARGET_VOCAB), dim)
        self.register_buffer("positions", sinusoids(32, dim), persistent=False)
        self.encoder = nn.ModuleDict(
            {"layers": nn.ModuleList(EncoderLayer(dim, heads) for _ in range(layers))}
        )
        self.decoder = nn.ModuleDict(
            {"layers": nn.ModuleList(DecoderLayer(dim, heads) for _ in range(layers))}
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, len(TARGET_VOCAB))

    def forward(self, source, target):
        # padded source words may not be attended to: mask [sample, 1, 1, key]
        keep = (source != 0)[:, None, None, :]
        mask = None if bool(keep.all()) else keep
        memory = self.source_embed(source) + self.positions[: source.shape[1]]
        for layer in self.encoder["layers"]:
            memory = layer(memory, mask=mask)
        x = self.target_embed(target) + self.positions[: target.shape[1]]
        for layer in self.decoder["layers"]:
            x = layer(x, memory, memory_mask=mask)
        return self.head(self.norm(x))


def train(steps: int = 1500, batch_size: int = 64, seed: int = 0, log_every: int = 0):
    """Train a :class:`Translator` on generated dates. Returns ``(model, report)``."""
    torch.manual_seed(seed)
    model = Translator()
    src, tgt = _batch_tensors(make_dataset(20000, seed=seed))

    def batch(gen):
        idx = torch.randint(0, len(src), (batch_size,), generator=gen)
        return src[idx], tgt[idx]

    def loss(m, b):
        s, t = b
        logits = m(s, t[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), t[:, 1:].flatten(), ignore_index=0)

    report = fit(model, batch, loss, steps=steps, lr=2e-3, seed=seed, log_every=log_every)
    return model, report


# ---------------------------------------------------------------- inference


@torch.no_grad()
def translate(model: Translator, source) -> list[str]:
    """Greedy decoding, one decoder forward (one capture step) per generated token.

    ``source`` is a string of words or a list of words. Returns the generated
    target tokens, ending with ``"</s>"`` unless the length limit was hit.
    The forward at step ``i`` sees ``<s>`` plus the ``i`` tokens generated so
    far; its last query row is the one that chooses token ``i``.
    """
    words = source.split() if isinstance(source, str) else list(source)
    src = encode_source(words)[None]
    ids = [TGT_ID[BOS]]
    out: list[str] = []
    for _ in range(MAX_TARGET - 1):
        logits = model(src, torch.tensor([ids]))
        nxt = int(logits[0, -1].argmax())
        ids.append(nxt)
        out.append(TARGET_VOCAB[nxt])
        if out[-1] == EOS:
            break
    return out


def tokens(source, generated):
    """Token strings for ``aw.show``: per kind of site, the query and key tokens.

    Cross-attention rows are the generated tokens (row ``i`` chooses token
    ``i``), columns the source words; decoder self-attention reads the decoder
    input (``<s>`` + generated); encoder self-attention reads the source.
    """
    words = source.split() if isinstance(source, str) else list(source)
    decoder_input = [BOS] + list(generated[:-1])
    return {
        "cross": {"query": list(generated), "key": words},
        "self": {"query": decoder_input, "key": decoder_input},
        "encoder": {"query": words, "key": words},
    }


def site_tokens(cap, source, generated):
    """Per-site token dict (``{layer: {"query", "key"}}``) for every site of a translation capture."""
    t = tokens(source, generated)
    out = {}
    for name in cap.layers:
        if cap.kinds[name] == "cross":
            out[name] = t["cross"]
        elif name.startswith("encoder"):
            out[name] = t["encoder"]
        else:
            out[name] = t["self"]
    return out


# ---------------------------------------------------------------- the lesson's claim


def alignment_accuracy(cap, alignment, layer, head="mean", step=-1) -> float:
    """Fraction of target tokens whose cross-attention peaks on the aligned source word.

    ``cap`` holds one translation (sample 0); ``alignment`` is the third element
    of :func:`make_example`. The last step's cross-attention has one row per
    generated token (the final row chooses ``</s>``); rows whose alignment is
    -1 are skipped. ``head`` is ``"mean"`` or a head index.
    """
    w = cap.get(layer, step=step)[0]  # [head, query, key]
    w = w.mean(axis=0) if head == "mean" else w[head]
    hits = [int(w[i].argmax()) == a for i, a in enumerate(alignment) if a >= 0 and i < len(w)]
    return float(np.mean(hits)) if hits else 0.0
