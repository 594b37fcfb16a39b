"""Lesson 6: MiniLM's heads show named patterns; GPT-2 generation attention follows the KV cache."""

import numpy as np
import pytest
from lessons import language

import attnwidget as aw


@pytest.fixture(scope="module")
def minilm():
    return language.load_minilm()


def test_minilm_has_previous_token_first_token_and_broad_heads(minilm):
    model, tokenizer = minilm
    inputs, tokens = language.encode(tokenizer, language.SENTENCES[0])
    with aw.capture(model) as cap:
        model(**inputs)
    layers = language.attention_layers(cap)
    assert len(layers) == 6
    assert cap.get(layers[0]).shape == (1, 12, len(tokens), len(tokens))
    best = language.best_heads(cap, tokens)
    assert best["previous"][2] > 0.9
    assert best["first"][2] > 0.7
    assert best["broad"][2] > 0.8
    # three different heads: the patterns are not one head doing everything
    assert len({b[:2] for b in best.values()}) == 3


def test_generation_attention_grows_one_key_per_step(minilm):
    _, tokenizer = minilm
    gpt = language.tiny_gpt2(tokenizer.vocab_size)
    ids = tokenizer("the cat sat on", return_tensors="pt", add_special_tokens=False)["input_ids"]
    with aw.capture(gpt) as cap:
        out = language.generate(gpt, ids, new_tokens=5)
    assert out.shape[1] == ids.shape[1] + 5
    assert cap.steps == 5
    layers = language.attention_layers(cap)
    assert len(layers) == 2
    check = language.kv_cache_check(cap, layers[0], ids.shape[1])
    assert check["shapes"] == check["expected"]
    assert check["prompt_causal"] and check["rows_sum_to_one"]
    toks = tokenizer.convert_ids_to_tokens(out[0])
    n = ids.shape[1]
    # every step shows the generated text's matrix so far, labelled by its tokens (the lesson's view)
    for s in range(cap.steps):
        fr = aw.frame(cap, layers[0], step=s, tokens=toks)
        assert fr.shape == (n + s, n + s) and fr.selection["assembled"]
        assert fr.row_labels == fr.col_labels == toks[: n + s]
        np.testing.assert_allclose(fr.values[-1, : n + s], cap.get(layers[0], s)[0].mean(0)[-1], atol=1e-6)
    whole = cap.assembled(layers[0])
    assert whole.shape[-2:] == (n + cap.steps - 1, n + cap.steps - 1)
    assert np.allclose(np.triu(whole, k=1), 0)
