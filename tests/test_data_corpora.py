"""The real NLTK corpora (SUBJ, MR, pros_cons): sizes, ids, splits, vocabulary.

Loaded corpora are cached per module (fixtures with scope="module") and in-process by
the loaders themselves (functools.lru_cache on the raw reading and tokenizing).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from workbench.data import load_dataset, load_mr, load_subj
from workbench.data.collate import TextCollator
from workbench.data.text import tokenize

try:
    from workbench.data.nltk_data import find_corpus

    for _c in ("subjectivity", "sentence_polarity", "pros_cons"):
        find_corpus(_c, download=False)
    HAVE_CORPORA = True
except LookupError:
    HAVE_CORPORA = False

pytestmark = pytest.mark.skipif(not HAVE_CORPORA, reason="NLTK corpora not available (set NLTK_DATA)")

EXPECTED = {  # examples, corpus size, per-class counts
    "subj": (10_000, 10_000, [5000, 5000]),
    "mr": (10_662, 10_662, [5331, 5331]),
    "pros_cons": (45_867, 45_875, [22_931, 22_936]),
}


@pytest.fixture(scope="module")
def corpora():
    return {name: load_dataset(name) for name in EXPECTED}


def _all_ids(d):
    return torch.cat([d.train.ids, d.val.ids, d.test.ids])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sizes_and_class_balance(corpora, name):
    d = corpora[name]
    n, corpus_size, per_class = EXPECTED[name]
    assert sum(d.info["sizes"].values()) == n
    assert d.info["corpus_size"] == corpus_size
    assert len(d.info["dropped_ids"]) == corpus_size - n
    targets = torch.cat([d.train.targets, d.val.targets, d.test.targets])
    assert torch.bincount(targets).tolist() == per_class
    assert d.task.num_classes == 2 and d.task.modality == "text"
    assert d.task.vocab_size == len(d.vocab) and d.task.pad_id == 0 and d.task.min_length == 5


@pytest.mark.parametrize("name", list(EXPECTED))
def test_splits_disjoint_covering_stratified(corpora, name):
    d = corpora[name]
    ids = _all_ids(d).tolist()
    assert len(ids) == len(set(ids))  # disjoint
    corpus_size = d.info["corpus_size"]
    assert set(ids) == set(range(corpus_size)) - set(d.info["dropped_ids"])  # covering
    n = len(ids)
    assert len(d.test) == round(0.1 * n) and len(d.val) == round(0.1 * n)
    assert d.info["stratified"] is True
    overall = torch.cat([d.train.targets, d.val.targets, d.test.targets]).float().mean()
    for split in d.splits.values():
        assert abs(float(split.targets.float().mean()) - float(overall)) < 0.002
        assert torch.equal(split.ids, torch.sort(split.ids).values)  # sorted by id


def test_same_seed_same_split_other_seed_other_split(corpora):
    d0 = corpora["subj"]
    again = load_subj(seed=0)
    for a, b in zip(d0.splits.values(), again.splits.values()):
        assert torch.equal(a.ids, b.ids)
        assert all(torch.equal(x, y) for x, y in zip(a.inputs, b.inputs))
    assert again.vocab == d0.vocab
    d1 = load_subj(seed=1)
    assert not torch.equal(d1.train.ids, d0.train.ids)
    assert d1.info["split_seed"] == 1


def test_ids_stable_across_seeds(corpora):
    d0 = corpora["mr"]
    d1 = load_mr(seed=7)

    def text_by_id(d):
        return {int(i): t for split in d.splits.values() for i, t in zip(split.ids, split.texts)}

    t0, t1 = text_by_id(d0), text_by_id(d1)
    assert t0 == t1
    # documented order: rt-polarity.neg first (ids 0-5330, label 0), then rt-polarity.pos
    label_by_id = {int(i): int(y) for s in d1.splits.values() for i, y in zip(s.ids, s.targets)}
    assert all(label_by_id[i] == (i >= 5331) for i in label_by_id)
    assert t0[0].startswith("simplistic , silly and tedious")
    assert t0[5331].startswith("the rock is destined to be the 21st century's new")


def test_subj_id_order_and_labels(corpora):
    d = corpora["subj"]
    label_by_id = {int(i): int(y) for s in d.splits.values() for i, y in zip(s.ids, s.targets)}
    assert all(label_by_id[i] == (i >= 5000) for i in label_by_id)  # plot (obj) then quote (subj)
    assert d.task.class_names == ("objective", "subjective")


def test_pros_cons_raw_text_and_labels(corpora):
    d = corpora["pros_cons"]
    texts = {int(i): t for s in d.splits.values() for i, t in zip(s.ids, s.texts)}
    assert texts[0] == "East batteries! On-off switch too easy to maneuver."
    assert texts[22935] == "Easy to use, economical!"
    assert d.task.class_names == ("con", "pro")
    assert d.task.max_length == 64 and int(d.train.lengths.max()) <= 64


@pytest.mark.parametrize("name", list(EXPECTED))
def test_vocabulary_from_train_only(corpora, name):
    d = corpora[name]
    train_tokens = Counter(t for text in d.train.texts for t in tokenize(text))
    assert d.vocab.freq == train_tokens
    assert set(d.vocab.itos[2:]) == set(train_tokens)
    held_out = {t for s in (d.val, d.test) for text in s.texts for t in tokenize(text)}
    unseen = sorted(held_out - set(train_tokens))
    assert unseen, "expected some validation/test-only words"
    word = unseen[0]
    assert word not in d.vocab and d.vocab.encode([word]) == [d.vocab.unk_id]
    # the example that contains it encodes that word as <unk>
    for split in (d.val, d.test):
        for pos, text in enumerate(split.texts):
            toks = tokenize(text)
            if word in toks:
                k = toks.index(word)
                if d.task.max_length is None or k < d.task.max_length:
                    assert int(split[pos]["input"][k]) == d.vocab.unk_id
                return


@pytest.mark.parametrize("name", list(EXPECTED))
def test_inputs_reproduce_from_texts(corpora, name):
    d = corpora[name]
    for split in d.splits.values():
        for pos in range(0, len(split), max(1, len(split) // 50)):
            item = split[pos]
            expected = d.vocab.encode(tokenize(split.texts[pos]), max_length=d.task.max_length)
            assert item["input"].tolist() == expected
            assert len(expected) > 0


def test_collated_batch_from_corpus(corpora):
    d = corpora["subj"]
    collate = d.task.collator()
    assert isinstance(collate, TextCollator)
    batch = collate([d.train[i] for i in range(8)])
    assert batch["inputs"].shape[0] == 8 and batch["inputs"].dtype == torch.long
    assert torch.equal(batch["lengths"], d.train.lengths[:8])


def test_max_examples_subsample(corpora):
    d = load_subj(max_examples=500, seed=2)
    assert sum(d.info["sizes"].values()) == 500
    targets = torch.cat([d.train.targets, d.val.targets, d.test.targets])
    assert torch.bincount(targets).tolist() == [250, 250]
    again = load_subj(max_examples=500, seed=2)
    assert torch.equal(again.train.ids, d.train.ids)
    assert len(d.vocab) < len(corpora["subj"].vocab)


def test_loader_options(corpora):
    d = load_mr(min_freq=2, max_length=10, lowercase=False, fractions=(0.7, 0.15, 0.15),
                max_vocab_size=5000)
    assert len(d.vocab) == 5000
    assert all(c >= 2 for t, c in d.vocab.freq.items() if t in d.vocab)
    assert int(d.train.lengths.max()) == 10 and d.info["truncated"] > 0
    assert d.info["fractions"] == [0.7, 0.15, 0.15]
    assert len(d.test) == round(0.15 * 10_662)


def test_info_is_plain_python(corpora):
    import json

    for d in corpora.values():
        json.dumps(d.info)
        assert "Pang" in d.info["source"] or "Liu" in d.info["source"]
        assert Path(d.info["corpus_path"]).exists()
