"""tokenize() and Vocabulary."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from workbench.data.text import Vocabulary, tokenize


def test_tokenize_words_numbers_apostrophes_punctuation():
    assert tokenize("It's a well-made film... 3.5 stars?!") == [
        "it's", "a", "well-made", "film", "...", "3.5", "stars", "?", "!"]
    assert tokenize("Don't STOP", lowercase=False) == ["Don't", "STOP"]
    assert tokenize("1,000 people, 21st century.") == ["1,000", "people", ",", "21st", "century", "."]
    assert tokenize('he said "no" -- twice') == ["he", "said", '"', "no", '"', "--", "twice"]
    assert tokenize("beast/slow (ok)") == ["beast", "/", "slow", "(", "ok", ")"]


def test_tokenize_pretokenized_text_is_whitespace_split():
    text = "the rock is destined to be the 21st century's new \" conan \" ."
    assert tokenize(text) == text.split()


def test_tokenize_blank_and_type():
    assert tokenize("") == []
    assert tokenize("  \t\n ") == []
    assert tokenize("#") == ["#"]
    with pytest.raises(TypeError):
        tokenize(["not", "a", "string"])  # type: ignore[arg-type]


def test_vocabulary_build_order_and_specials():
    lists = [["b", "a", "c"], ["a", "b"], ["a", "d"]]
    v = Vocabulary.build(lists)
    assert v.itos == ["<pad>", "<unk>", "a", "b", "c", "d"]  # freq desc, then token
    assert v.pad_id == 0 and v.unk_id == 1 and len(v) == 6
    assert v.stoi["a"] == 2 and "a" in v and "zzz" not in v
    assert v.freq == Counter({"a": 3, "b": 2, "c": 1, "d": 1})
    assert Vocabulary.build(lists) == v  # deterministic


def test_vocabulary_min_freq_and_max_size():
    lists = [["x", "x", "y", "y", "z"], ["w"]]
    assert Vocabulary.build(lists, min_freq=2).itos == ["<pad>", "<unk>", "x", "y"]
    assert Vocabulary.build(lists, max_size=3).itos == ["<pad>", "<unk>", "x"]
    with pytest.raises(ValueError, match="min_freq"):
        Vocabulary.build(lists, min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.build(lists, max_size=1)


def test_vocabulary_extra_specials_and_literal_special_tokens():
    v = Vocabulary.build([["<unk>", "a"]], specials=("<pad>", "<unk>", "<bos>"))
    assert v.itos == ["<pad>", "<unk>", "<bos>", "a"]
    with pytest.raises(ValueError, match="specials"):
        Vocabulary.build([["a"]], specials=("<pad>",))


def test_encode_decode():
    v = Vocabulary.build([["the", "cat", "sat"]])
    ids = v.encode(["the", "dog", "sat"])
    assert ids == [v.stoi["the"], 1, v.stoi["sat"]]
    assert v.encode(["the", "dog", "sat"], max_length=2) == ids[:2]
    assert v.decode(ids) == ["the", "<unk>", "sat"]
    assert v.decode(torch.tensor(ids + [0, 0])) == ["the", "<unk>", "sat"]
    assert v.decode([0, 2], skip_pad=False) == ["<pad>", v.itos[2]]
    with pytest.raises(IndexError):
        v.decode([99])
    with pytest.raises(TypeError):
        v.encode("the cat")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        v.encode(["the"], max_length=0)


def test_state_dict_roundtrip_plain_types():
    v = Vocabulary.build([["a", "b", "b"], ["c"]], min_freq=1, max_size=10)
    state = v.state_dict()
    restored = Vocabulary.from_state_dict(json.loads(json.dumps(state)))
    assert restored == v
    assert restored.freq == v.freq and restored.max_size == 10
    with pytest.raises(ValueError, match="missing keys"):
        Vocabulary.from_state_dict({"itos": ["<pad>", "<unk>"]})
