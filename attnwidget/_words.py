"""Tokens from tokenizers, words from subword pieces, and groups of positions in a frame.

:func:`tokens` turns a batch of ids into one token list per sample, padding
dropped. :func:`words` merges subword pieces into words (WordPiece ``##``
continuations, SentencePiece ``▁`` and byte-level BPE ``Ġ`` word starts).
:func:`group_frame` is what ``aw.frame(..., groups=...)`` calls to aggregate a
frame's query rows and key columns by group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import SelectionError, listing

__all__ = ["tokens", "words", "group_frame", "group_names", "SCHEMES"]

#: the subword schemes :func:`words` knows (``None`` detects one from the tokens)
SCHEMES = ("wordpiece", "sentencepiece", "bpe", "none")

# [CLS], <s>, </s>, <pad>, <extra_id_0>, <|endoftext|>; not SentencePiece byte pieces such as <0x0A>
_SPECIAL = re.compile(r"^(\[[A-Za-z_]+\]|<\|[^|]*\|>|<(?!0x[0-9A-Fa-f]{2}>)/?[A-Za-z_][^<>\s]*>)$")
_SP = "\u2581"  # SentencePiece's word-start mark
_BPE_SPACE, _BPE_NEWLINE, _BPE_TAB = "\u0120", "\u010a", "\u0109"  # byte-level BPE's space, newline, tab


# ------------------------------------------------------------------ tokens
def tokens(tokenizer: Any, input_ids: Any, attention_mask: Any = None) -> list[list[str]]:
    """One token list per sample, from any Hugging Face tokenizer, padding dropped.

    Parameters
    ----------
    tokenizer : tokenizer
        Anything with ``convert_ids_to_tokens`` (every Hugging Face tokenizer).
    input_ids : tensor, array, list or BatchEncoding
        ``[batch, position]`` ids (a 1-D sequence is one sample), or the
        tokenizer's output itself, whose ``attention_mask`` is then used when
        none is given.
    attention_mask : tensor, array or list, optional
        Same shape as ``input_ids``; positions where it is 0 (padding, left
        or right) are dropped. Without a mask every position is kept.

    Returns
    -------
    list of list of str
        One list per sample, even for a single sample.
    """
    if not callable(getattr(tokenizer, "convert_ids_to_tokens", None)):
        raise TypeError(
            f"tokenizer must have convert_ids_to_tokens (any Hugging Face tokenizer), "
            f"not a {type(tokenizer).__name__}"
        )
    if isinstance(input_ids, Mapping) or (
        callable(getattr(input_ids, "keys", None)) and "input_ids" in input_ids.keys()
    ):
        if "input_ids" not in input_ids:
            raise ValueError(f"input_ids is a mapping without an 'input_ids' entry: {listing(input_ids)}")
        if attention_mask is None and "attention_mask" in input_ids:
            attention_mask = input_ids["attention_mask"]
        input_ids = input_ids["input_ids"]
    ids = _rows(input_ids, "input_ids")
    mask = None if attention_mask is None else _rows(attention_mask, "attention_mask", "biuf")
    if mask is not None and [len(r) for r in mask] != [len(r) for r in ids]:
        raise ValueError(
            f"attention_mask has shape {_shape(mask)} and input_ids {_shape(ids)}; pass the mask the "
            "tokenizer returned with these ids"
        )
    out = []
    for i, row in enumerate(ids):
        kept = row if mask is None else row[mask[i] != 0]
        out.append([str(t) for t in tokenizer.convert_ids_to_tokens([int(x) for x in kept])])
    return out


def _rows(value: Any, what: str, kinds: str = "biu") -> list[np.ndarray]:
    """A batch (or one sequence) of numbers as one 1-D array per sample (ids integers, a mask any numbers)."""
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be integers per position, not a string")
    if isinstance(value, np.ndarray):
        rows = [value] if value.ndim == 1 else list(value) if value.ndim == 2 else None
        if rows is None:
            raise ValueError(f"{what} has {value.ndim} axes {value.shape}; expected [batch, position]")
    else:
        value = list(value)
        nested = [hasattr(v, "__len__") for v in value]
        rows = value if value and all(nested) else [value]
    out = []
    for r in rows:
        a = np.asarray(r)
        if a.ndim != 1 or (a.size and a.dtype.kind not in kinds):
            need = "whole numbers" if kinds == "biu" else "numbers"
            raise ValueError(f"{what} must be {need}, one row per sample; got {a.dtype} {a.shape}")
        out.append(a.astype(np.int64) if kinds == "biu" else a)
    return out


def _shape(rows: list[np.ndarray]) -> str:
    lengths = sorted({len(r) for r in rows})
    return f"[{len(rows)}, {listing(lengths)}]"


# ------------------------------------------------------------------ words
def words(
    tokens: Iterable[str], scheme: str | None = None, special: Iterable[str] | None = None
) -> dict[str, list[int]]:
    """Groups that merge subword pieces into words: word -> its positions, in order.

    Parameters
    ----------
    tokens : list of str
        One sample's tokens (e.g. one list of :func:`tokens`).
    scheme : "wordpiece", "sentencepiece", "bpe", "none" or None
        How pieces mark words. ``"wordpiece"`` (BERT): a piece starting with
        ``##`` continues the word before it. ``"sentencepiece"`` (T5, XLM-R,
        Llama): a piece starting with ``▁`` starts a word, others continue it.
        ``"bpe"`` (byte-level BPE: GPT-2, RoBERTa): a piece starting with
        ``Ġ`` (a space) or ``Ċ`` (a newline) starts a word, as does the piece
        after a newline. ``"none"``: every token is a word. None (default)
        detects the scheme from the marks present; a text of one word shows
        none, so pass the scheme where that matters.
    special : iterable of str, optional
        More tokens to treat as special (e.g. ``tokenizer.all_special_tokens``).
        ``[CLS]``-style, ``<s>``-style and ``<|...|>`` tokens always are.

    Returns
    -------
    dict
        Word -> list of positions, ordered by position. Special tokens are
        each their own group, named by themselves. A word met again gets
        ``" (2)"``, ``" (3)"``... so every name is unique. Names are text:
        marks removed, byte-level BPE decoded to UTF-8 (``Ã©`` -> ``é``).

    Examples
    --------
    >>> words(["[CLS]", "play", "##ing", "cards", "[SEP]"])
    {'[CLS]': [0], 'playing': [1, 2], 'cards': [3], '[SEP]': [4]}
    """
    if isinstance(tokens, (str, bytes)):
        raise TypeError("words() takes a list of tokens, not one string; split it or use aw.tokens(...)")
    items = list(tokens)
    if items and isinstance(items[0], (list, tuple)):
        raise TypeError("words() takes one sample's tokens; for a batch call it on each list")
    toks = [str(t) for t in items]
    if scheme is None:
        scheme = _detect(toks)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES} or None, not {scheme!r}")
    extra = {str(s) for s in special or ()}

    found: list[tuple[list[str], list[int], bool]] = []  # pieces, positions, special
    after_break = True  # the first piece, and one after a special token, start a word
    for i, tok in enumerate(toks):
        if tok in extra or _SPECIAL.match(tok):
            found.append(([tok], [i], True))
            after_break = True
            continue
        if after_break or _starts_word(tok, scheme):
            found.append(([tok], [i], False))
        else:
            found[-1][0].append(tok)
            found[-1][1].append(i)
        after_break = scheme == "bpe" and tok.endswith((_BPE_NEWLINE, _BPE_TAB))

    groups: dict[str, list[int]] = {}
    for pieces, positions, is_special in found:
        name = pieces[0] if is_special else _word_text(pieces, scheme)
        unique, k = name, 1
        while unique in groups:
            k += 1
            unique = f"{name} ({k})"
        groups[unique] = positions
    return groups


def _detect(toks: list[str]) -> str:
    if any(t.startswith("##") and len(t) > 2 for t in toks):
        return "wordpiece"
    if any(t.startswith(_SP) for t in toks):
        return "sentencepiece"
    if any(t.startswith((_BPE_SPACE, _BPE_NEWLINE)) for t in toks):
        return "bpe"
    # no mark at all: WordPiece text without a split word reads the same as one word per token
    return "wordpiece"


def _starts_word(tok: str, scheme: str) -> bool:
    if scheme == "wordpiece":
        return not tok.startswith("##")
    if scheme == "sentencepiece":
        return tok.startswith(_SP)
    if scheme == "bpe":
        return tok.startswith((_BPE_SPACE, _BPE_NEWLINE, _BPE_TAB))
    return True


def _word_text(pieces: list[str], scheme: str) -> str:
    if scheme == "wordpiece":
        text = pieces[0] + "".join(p[2:] if p.startswith("##") else p for p in pieces[1:])
    elif scheme == "sentencepiece":
        text = "".join(pieces).replace(_SP, " ").strip()
    elif scheme == "bpe":
        text = _bpe_decode("".join(pieces)).strip()
    else:
        text = "".join(pieces)
    # a word of marks alone (a lone "▁", a run of spaces) keeps its pieces as its name
    return text or "".join(pieces)


@lru_cache(maxsize=1)
def _bpe_bytes() -> dict[str, int]:
    """Byte-level BPE's alphabet: the character each byte is written as -> the byte.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls,
    space, DEL, non-breaking space, soft hyphen) are written as the characters
    from U+0100 on, in byte order.
    """
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in printable}
    shifted = [b for b in range(256) if b not in set(printable)]
    table.update({chr(0x100 + n): b for n, b in enumerate(shifted)})
    return table


def _bpe_decode(text: str) -> str:
    table = _bpe_bytes()
    if all(ch in table for ch in text):
        return bytes(table[ch] for ch in text).decode("utf-8", errors="replace")
    # already plain text (a tokenizer that decodes its pieces): only the marks to undo
    return text.replace(_BPE_SPACE, " ").replace(_BPE_NEWLINE, "\n")


# ------------------------------------------------------------------ groups in a frame
def group_frame(
    arr: np.ndarray,
    axes: tuple[str, str],
    labels: tuple[list[str], list[str]],
    groups: Any,
    site: str,
    info: dict,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Aggregate a 2-D frame's query rows and key columns by groups of positions.

    A query group's row is the MEAN of its rows; a key group's column is the
    SUM of its columns. A row of attention weights summing to 1 over the keys
    still sums to 1 over the key groups when the groups cover every key, and
    the mean of such rows too; a group of rows reads as "the average query of
    this group, attending to each key group". Positions in no group are
    dropped (their weight with them), overlapping groups are an error.

    Parameters
    ----------
    arr : numpy.ndarray
        ``[rows, cols]`` at full resolution.
    axes : (str, str)
        The frame's row and column axis names; only ``query`` and ``key``
        axes are grouped.
    labels : (list of str, list of str)
        The rows' and columns' labels (tokens, for ``groups="words"``).
    groups : dict, list or "words"
        Name -> positions (a range or a list of ints), in the order given; a
        list of position ranges, named ``"0"``, ``"1"``...; or ``"words"``,
        :func:`words` of each axis's tokens.
    site : str
        The site's name, for messages.
    info : dict
        The site's ``cap.info`` entry: a pooled axis (``block`` > 1) cannot be
        grouped by position; a query axis kept to some rows (``rows=``) is
        left as it is.

    Returns
    -------
    (numpy.ndarray, list of str, list of str)
        The grouped float32 frame and its row and column labels (the group names).
    """
    out = np.asarray(arr)
    new_labels = [list(labels[0]), list(labels[1])]
    grouped = False
    block = info.get("block") or (1, 1)
    per_axis = per_axis_groups(groups)
    for a, axis in enumerate(axes):
        if axis not in ("query", "key") or (per_axis is not None and per_axis.get(axis) is None):
            continue
        axis_groups = groups if per_axis is None else per_axis[axis]
        if axis == "query" and info.get("rows") is not None:
            continue  # the rows kept by capture(rows=...) are already a choice of positions
        if block[0 if axis == "query" else 1] > 1:
            raise ValueError(
                f"site {site!r} was pooled by the capture (blocks of {block[0 if axis == 'query' else 1]} "
                f"{axis} positions), so its positions cannot be grouped; capture without max_size= to use groups="
            )
        named = _resolve(axis_groups, new_labels[a], axis, site)
        index, starts, counts = _checked(named, out.shape[a], axis, site)
        # one gather and one reduceat per axis, accumulated in float64
        sums = np.add.reduceat(np.take(out, index, axis=a), starts, axis=a, dtype=np.float64)
        if axis == "query":
            shape = [1, 1]
            shape[a] = len(counts)
            sums = sums / np.asarray(counts, dtype=np.float64).reshape(shape)
        out = sums.astype(np.float32)
        new_labels[a] = list(named)
        grouped = True
    if not grouped:
        raise ValueError(
            f"groups= groups query and key positions, and this frame of site {site!r} has axes "
            f"{axes[0]!r} x {axes[1]!r}"
            + (" with its query rows chosen by capture(rows=...)" if info.get("rows") is not None else "")
        )
    return np.ascontiguousarray(out, dtype=np.float32), new_labels[0], new_labels[1]


def group_names(groups: Any) -> Any:
    """The names of groups given as a dict or a list of ranges (``"0"``, ``"1"``...), for a frame's
    selection; ``{"query": [...], "key": [...]}`` for groups given per axis."""
    per_axis = per_axis_groups(groups)
    if per_axis is not None:
        return {a: g if isinstance(g, str) or g is None else group_names(g) for a, g in per_axis.items()}
    if isinstance(groups, Mapping):
        return [str(k) for k in groups]
    return [str(i) for i in range(len(groups))]


def per_axis_groups(groups: Any) -> dict[str, Any] | None:
    """``{"query": ..., "key": ...}``: groups for each axis apart (an axis left out, or None, stays
    as it is); None when ``groups`` is one form for both axes."""
    if isinstance(groups, Mapping) and groups and set(groups) <= {"query", "key"}:
        return {"query": groups.get("query"), "key": groups.get("key")}
    return None


def _resolve(groups: Any, labels: list[str], axis: str, site: str) -> dict[str, list]:
    if isinstance(groups, str):
        if groups != "words":
            raise ValueError(f"groups must be a dict, a list of ranges or 'words', not {groups!r}")
        if labels == [str(i) for i in range(len(labels))]:
            raise ValueError(
                f"groups='words' needs the tokens of site {site!r}'s {axis} axis, and it has none: "
                "pass tokens= (e.g. aw.tokens(tokenizer, input_ids)) or set cap.tokens"
            )
        return dict(words(labels))
    if isinstance(groups, Mapping):
        return {str(k): v for k, v in groups.items()}
    if isinstance(groups, (list, tuple)):
        return {str(i): g for i, g in enumerate(groups)}
    raise TypeError(
        f"groups must be a dict of name -> positions, a list of ranges or 'words', not {type(groups).__name__}"
    )


def _checked(named: dict[str, Any], n: int, axis: str, site: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Every group's positions, checked: ints in range, none empty, none in two groups."""
    owner: dict[int, str] = {}
    index: list[int] = []
    starts, counts = [], []
    if not named:
        raise ValueError("groups= is empty: give at least one group of positions")
    for name, positions in named.items():
        if isinstance(positions, (str, bytes)) or not isinstance(positions, Iterable):
            raise TypeError(
                f"group {name!r} must be positions (a range or a list of ints), not {positions!r}"
            )
        members = []
        for p in positions:
            if not isinstance(p, (int, np.integer)) or isinstance(p, bool):
                raise TypeError(f"group {name!r} holds {p!r}; positions are ints")
            p = int(p)
            if not 0 <= p < n:
                raise SelectionError(
                    f"group {name!r} holds position {p}, and the {axis} axis of site {site!r} has "
                    f"{n} positions (0..{n - 1})"
                )
            if p in owner:
                raise ValueError(
                    f"groups {owner[p]!r} and {name!r} both hold {axis} position {p}; groups may not "
                    "overlap (each position is counted once)"
                )
            owner[p] = name
            members.append(p)
        if not members:
            raise ValueError(f"group {name!r} holds no position; drop it or give it positions")
        starts.append(len(index))
        counts.append(len(members))
        index += members
    return np.asarray(index, dtype=np.intp), np.asarray(starts, dtype=np.intp), counts
