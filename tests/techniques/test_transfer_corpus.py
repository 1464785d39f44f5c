"""The pretraining corpus (issue 13, item 1): held-out sentences removed (exact match after
normalisation), counts reported, user files as input, the on-disk cache reused and
invalidated."""

from __future__ import annotations

import gzip
import json

import pytest

from workbench.data.datasets import load_dataset
from workbench.data.user_data import load_text_file
from workbench.techniques.transfer import (
    build_pretraining_corpus,
    heldout_sentences,
    normalize_sentence,
    read_text_file,
)


def _user_splits(tmp_path):
    """A user's labelled CSV (60 rows) loaded with the standard loader."""
    rows = ["text,label"] + [f"sentence number {i} is {'good' if i % 2 else 'bad'},{i % 2}"
                             for i in range(60)]
    p = tmp_path / "labelled.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return load_text_file(p)


def test_normalisation_ignores_case_and_spacing():
    assert normalize_sentence("It's  a WELL-made film...") == normalize_sentence("it's a well-made film ...")
    assert normalize_sentence("a film") != normalize_sentence("a films")


def test_user_file_planted_duplicates_removed_and_counted(tmp_path):
    splits = _user_splits(tmp_path)
    held, names = heldout_sentences([splits])
    assert names == [f"{splits.name}/val", f"{splits.name}/test"]
    val_text, test_text = splits.val.texts[0], splits.test.texts[0]
    train_text = splits.train.texts[0]
    lines = ["An unrelated first sentence .", val_text.upper(), "", "  " + test_text + "  ",
             train_text, "another unrelated sentence"]
    f = tmp_path / "corpus.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = build_pretraining_corpus(files=[f], heldout=[splits], use_cache=False, verbose=False)
    texts = list(corpus.texts())
    assert normalize_sentence(val_text) not in texts and normalize_sentence(test_text) not in texts
    assert normalize_sentence(train_text) in texts  # training text is allowed
    r = corpus.report
    assert (r.sources[0].read, r.sources[0].removed_overlaps, r.sources[0].sentences) == (5, 2, 3)
    assert r.removed_overlaps == 2 and r.sentences == len(corpus) == 3
    assert r.tokens == sum(len(s) for s in corpus.sentences)
    assert r.heldout_sentences == len(held)
    # without held-out splits nothing is removed
    keep_all = build_pretraining_corpus(files=[f], heldout=(), use_cache=False, verbose=False)
    assert len(keep_all) == 5 and keep_all.report.removed_overlaps == 0


def test_jsonl_and_gz_files(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"text": "One sentence here"}\n"a bare string"\n\n{"body": 1, "text": "x y"}\n',
                 encoding="utf-8")
    assert read_text_file(p) == ["One sentence here", "a bare string", "x y"]
    g = tmp_path / "c.txt.gz"
    with gzip.open(g, "wt", encoding="utf-8") as f:
        f.write("first line\n\nsecond line\n")
    assert read_text_file(g) == ["first line", "second line"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"other": "no text"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_text_file(bad)


def test_cache_reused_and_invalidated(tmp_path, capsys):
    f = tmp_path / "c.txt"
    f.write_text("a first sentence\na second one\n", encoding="utf-8")
    kw = dict(files=[f], heldout=(), cache_dir=tmp_path / "cache")
    first = build_pretraining_corpus(**kw)
    assert "2 sentences" in capsys.readouterr().out  # the report is printed
    assert not first.report.from_cache and (tmp_path / "cache").is_dir()
    again = build_pretraining_corpus(**kw, verbose=False)
    assert again.report.from_cache and again.sentences == first.sentences
    assert again.key == first.key
    # a changed file (same length) gets a new key and is rebuilt
    f.write_text("a first sentence\na SECOND one\n", encoding="utf-8")
    changed = build_pretraining_corpus(**kw, verbose=False)
    assert not changed.report.from_cache and changed.key != first.key
    assert changed.sentences[1] == ["a", "second", "one"]
    # other settings change the key too
    assert build_pretraining_corpus(**kw, lowercase=False, verbose=False).key != changed.key
    # the report is stored beside the sentences
    saved = json.loads((tmp_path / "cache" / f"corpus-{changed.key}.json").read_text())
    assert saved["sentences"] == 2 and saved["key"] == changed.key


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="sources"):
        build_pretraining_corpus(sources=["wikipedia"], use_cache=False)
    with pytest.raises(ValueError, match="heldout"):
        build_pretraining_corpus(sources=["brown"], heldout=["imdb"], use_cache=False)
    with pytest.raises(ValueError, match="max_sentences"):
        build_pretraining_corpus(sources=["brown"], max_sentences=0, use_cache=False)
    with pytest.raises(ValueError, match="fractions"):
        build_pretraining_corpus(sources=["brown"], fractions=(0.5, 0.1, 0.1), use_cache=False)
    with pytest.raises(FileNotFoundError):
        build_pretraining_corpus(files=[tmp_path / "missing.txt"], use_cache=False)


def test_real_mr_training_text_without_heldout_sentences(tmp_path):
    """MR's training-split text, with MR's validation and test sentences removed: MR has
    sentences that repeat across its splits, and none of them may stay."""
    corpus = build_pretraining_corpus(sources=["mr"], heldout=["mr"], use_cache=False, verbose=False)
    mr = load_dataset("mr")
    held = {normalize_sentence(t) for t in list(mr.val.texts) + list(mr.test.texts)}
    texts = set(corpus.texts())
    assert not texts & held
    r = corpus.report
    assert r.sources[0].read == len(mr.train)
    train_in_held = sum(normalize_sentence(t) in held for t in mr.train.texts)
    assert r.removed_overlaps == train_in_held
    assert r.sentences == len(mr.train) - train_in_held
    capped = build_pretraining_corpus(sources=["mr"], heldout=["mr"], max_sentences=500,
                                      use_cache=False, verbose=False)
    assert len(capped) == 500 and set(capped.texts()) <= texts


def test_builtin_corpus_key_follows_content_not_copy_or_time(tmp_path, monkeypatch):
    """The same NLTK corpus unpacked again (a new machine, new modification times, another
    folder) keeps its cache key, so an hour of LM pretraining is found again; changed bytes
    change it."""
    import os

    import workbench.techniques.transfer.corpus as corpus_mod

    a, b = tmp_path / "a" / "subjectivity.zip", tmp_path / "b" / "subjectivity.zip"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"the same corpus bytes")
    os.utime(b, ns=(10**18, 10**18))
    where = {"path": a}
    monkeypatch.setattr(corpus_mod, "ensure_corpus", lambda name: str(where["path"]))
    first = corpus_mod._spec(["subj"], [], ["subj"], 0, (0.8, 0.1, 0.1), True, None, 0, "text")
    where["path"] = b
    assert corpus_mod._spec(["subj"], [], ["subj"], 0, (0.8, 0.1, 0.1), True, None, 0, "text") == first
    b.write_bytes(b"the same corpus bytez")
    assert corpus_mod._spec(["subj"], [], ["subj"], 0, (0.8, 0.1, 0.1), True, None, 0, "text") != first
    # an unpacked corpus (a folder) too
    d = tmp_path / "c" / "subjectivity"
    d.mkdir(parents=True)
    (d / "quote.tok.gt9.5000").write_text("one\n", encoding="utf-8")
    where["path"] = d
    key_dir = corpus_mod._spec(["subj"], [], [], 0, (0.8, 0.1, 0.1), True, None, 0, "text")
    os.utime(d / "quote.tok.gt9.5000", ns=(10**18, 10**18))
    corpus_mod._CONTENT_SHA.clear()
    assert corpus_mod._spec(["subj"], [], [], 0, (0.8, 0.1, 0.1), True, None, 0, "text") == key_dir
