"""Finding NLTK corpora and the error when one is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import nltk
import pytest

from workbench.data import nltk_data
from workbench.data.datasets import load_subj
from workbench.data.nltk_data import CorpusNotFoundError, ensure_corpus, find_corpus

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "nltk_data"
needs_shared = pytest.mark.skipif(not (SHARED / "corpora" / "subjectivity.zip").is_file(),
                                  reason="../shared/nltk_data is not available")


@pytest.fixture
def isolated_nltk(monkeypatch, tmp_path):
    """NLTK sees only an empty folder; no shared folder; downloads fail; an empty cache of
    built splits (workbench.data.cache), so loaders read the corpus."""
    empty = tmp_path / "empty_nltk_data"
    empty.mkdir()
    monkeypatch.setattr(nltk.data, "path", [str(empty)])
    monkeypatch.setenv("WORKBENCH_SHARED_NLTK", str(tmp_path / "no_shared_here"))
    monkeypatch.delenv("WORKBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "empty_cache"))
    calls = []

    def fake_download(name, *args, **kwargs):
        calls.append(name)
        return False

    monkeypatch.setattr(nltk, "download", fake_download)
    return empty, calls


def test_missing_corpus_error_names_corpus_paths_and_command(isolated_nltk):
    empty, calls = isolated_nltk
    with pytest.raises(CorpusNotFoundError) as info:
        find_corpus("no_such_corpus_xyz")
    err = info.value
    assert isinstance(err, LookupError)
    msg = str(err)
    assert "no_such_corpus_xyz" in msg
    assert str(empty) in msg
    assert "python -m nltk.downloader no_such_corpus_xyz" in msg
    assert "NLTK_DATA" in msg
    assert "no_shared_here (does not exist)" in msg
    assert calls == ["no_such_corpus_xyz"]
    assert err.name == "no_such_corpus_xyz" and str(empty) in err.searched


def test_offline_env_skips_download(isolated_nltk, monkeypatch):
    _, calls = isolated_nltk
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    with pytest.raises(CorpusNotFoundError, match="not tried"):
        ensure_corpus("no_such_corpus_xyz")
    assert calls == []


def test_download_exception_is_reported_not_raised(isolated_nltk, monkeypatch):
    def broken(name, *args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(nltk, "download", broken)
    with pytest.raises(CorpusNotFoundError, match="network is unreachable"):
        find_corpus("no_such_corpus_xyz")


@needs_shared
def test_loader_raises_corpus_not_found(isolated_nltk):
    with pytest.raises(CorpusNotFoundError, match="python -m nltk.downloader subjectivity"):
        load_subj()


@needs_shared
def test_download_that_installs_the_corpus_is_used(isolated_nltk, monkeypatch):
    empty, _ = isolated_nltk

    def installing_download(name, *args, **kwargs):
        (empty / "corpora").mkdir(exist_ok=True)
        shutil.copy(SHARED / "corpora" / f"{name}.zip", empty / "corpora" / f"{name}.zip")
        return True

    monkeypatch.setattr(nltk, "download", installing_download)
    path = find_corpus("stopwords")
    assert path == str(empty / "corpora" / "stopwords.zip")


@needs_shared
def test_shared_folder_is_found_and_added_to_nltk_path(isolated_nltk, monkeypatch):
    _, calls = isolated_nltk
    monkeypatch.setenv("WORKBENCH_SHARED_NLTK", str(SHARED))
    path = find_corpus("subjectivity")
    assert path == str(SHARED / "corpora" / "subjectivity.zip")
    assert str(SHARED) in nltk.data.path
    assert calls == []


@needs_shared
def test_default_shared_dir_is_repo_sibling(monkeypatch):
    monkeypatch.delenv("WORKBENCH_SHARED_NLTK", raising=False)
    assert nltk_data.shared_nltk_dir() == SHARED.resolve()


def test_bad_name():
    with pytest.raises(ValueError):
        find_corpus("")
