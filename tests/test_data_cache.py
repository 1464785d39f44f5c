"""The on-disk cache of built corpus splits (workbench.data.cache): a hit equals a fresh
build without touching the corpus, every part of the key invalidates, a corrupt file is
rebuilt, writes are atomic, and ``import workbench.data`` does not import NLTK."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from workbench.data import cache as cache_mod
from workbench.data import corpora
from workbench.data.datasets import load_dataset

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"max_examples": 300}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(d))
    return d / "splits"


@pytest.fixture
def builds(monkeypatch):
    """Counts the splits built from the corpus (cache misses)."""
    calls = []
    real = corpora._text_splits

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(corpora, "_text_splits", counting)
    return calls


def _same(a, b) -> None:
    for k in ("train", "val", "test"):
        x, y = a.splits[k], b.splits[k]
        assert x.name == y.name and x.texts == y.texts
        assert torch.equal(x.ids, y.ids) and torch.equal(x.targets, y.targets)
        assert len(x.inputs) == len(y.inputs) and all(torch.equal(p, q) for p, q in zip(x.inputs, y.inputs))
        assert all(p.dtype == torch.long and p.dim() == 1 for p in x.inputs)
    assert a.vocab == b.vocab and a.task == b.task and a.info == b.info and a.name == b.name


def test_second_load_is_a_hit_equal_to_a_fresh_build_without_reading_the_corpus(cache_dir, builds, monkeypatch):
    first = load_dataset("subj", seed=3, **SMALL)
    assert builds == ["subj"] and len(list(cache_dir.glob("subj-*.pt"))) == 1
    assert not list(cache_dir.glob("*.tmp"))  # written atomically: no temporary file left

    def no_corpus(*a, **k):
        raise AssertionError("a cache hit must not read the corpus")
    monkeypatch.setattr(corpora, "ensure_corpus", no_corpus)
    hit = load_dataset("subj", seed=3, **SMALL)
    assert builds == ["subj"]
    _same(hit, first)
    monkeypatch.undo()
    _same(hit, load_dataset("subj", seed=3, cache=False, **SMALL))


@pytest.mark.parametrize("change", [
    {"seed": 1}, {"fractions": (0.7, 0.15, 0.15)}, {"min_freq": 2}, {"max_length": 12},
    {"lowercase": False}, {"max_examples": 301}, {"max_vocab_size": 500}, {"corpus": "mr"},
    {"code": "tokenizer"}, {"code": "format"}, {"code": "nltk_data"}, {"code": "corpus files"},
])
def test_every_part_of_the_key_invalidates(cache_dir, builds, monkeypatch, change):
    load_dataset("subj", **SMALL)
    load_dataset("subj", **SMALL)
    assert len(builds) == 1
    kwargs = dict(SMALL)
    name = "subj"
    what = change.get("code")
    if what == "tokenizer":  # the tokenising / splitting code changed
        monkeypatch.setattr(cache_mod, "code_fingerprint", lambda: "another-version")
    elif what == "format":
        monkeypatch.setattr(cache_mod, "FORMAT_VERSION", cache_mod.FORMAT_VERSION + 1)
    elif what == "nltk_data":
        monkeypatch.setenv("NLTK_DATA", os.environ.get("NLTK_DATA", "") + os.pathsep + "/elsewhere")
    elif what == "corpus files":  # the corpus on disk changed since the file was written
        real = cache_mod.source_fingerprint
        monkeypatch.setattr(cache_mod, "source_fingerprint", lambda p: real(p) + [["new.txt", 1, 1]])
    elif "corpus" in change:
        name = change["corpus"]
    else:
        kwargs |= change
    splits = load_dataset(name, **kwargs)
    assert len(builds) == 2, "a changed key must rebuild from the corpus"
    load_dataset(name, **kwargs)
    assert len(builds) == 2  # then it hits again
    _same(splits, load_dataset(name, cache=False, **kwargs))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other key"])
def test_a_corrupt_file_is_rebuilt_not_crashed_on(cache_dir, builds, damage):
    fresh = load_dataset("subj", **SMALL)
    (path,) = cache_dir.glob("subj-*.pt")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a cache file" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid file written for another key under this name
        other = load_dataset("subj", seed=5, **SMALL)
        (other_path,) = [p for p in cache_dir.glob("subj-*.pt") if p != path]
        os.replace(other_path, path)
        assert other.info["split_seed"] == 5
    with pytest.warns(RuntimeWarning, match="ignoring .*rebuilding"):
        rebuilt = load_dataset("subj", **SMALL)
    _same(rebuilt, fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(load_dataset("subj", **SMALL), fresh)  # the rebuilt file is good again


def test_cache_off(cache_dir, builds, monkeypatch):
    load_dataset("subj", cache=False, **SMALL)
    assert not cache_dir.exists()
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", "0")
    assert cache_mod.cache_dir() is None
    load_dataset("subj", **SMALL)
    load_dataset("subj", **SMALL)
    assert len(builds) == 3
    with pytest.raises(ValueError, match="cache must be True or False"):
        load_dataset("subj", cache="yes")


def test_an_unwritable_folder_warns_and_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(blocker))  # mkdir under a file fails
    with pytest.warns(RuntimeWarning, match="could not write"):
        splits = load_dataset("subj", **SMALL)
    assert len(splits.train) == 240


def test_default_cache_dir_is_the_repo_cache_folder(monkeypatch):
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    assert cache_mod.cache_dir() == ROOT / ".workbench_cache"
    assert ".workbench_cache/" in (ROOT / ".gitignore").read_text().splitlines()


def test_import_does_not_import_nltk():
    code = "import sys, workbench.data, workbench.recipes; print('nltk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=os.environ | {"PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
