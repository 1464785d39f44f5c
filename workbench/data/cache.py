"""On-disk cache of the built splits of the NLTK text corpora, so a new process (a
notebook's first data cell) loads SUBJ, MR or pros_cons in tens of milliseconds instead
of reading the corpus through NLTK (whose import alone takes 2-3 s), tokenising it,
splitting it and building the vocabulary again.

One file per corpus and load settings: ``<cache dir>/<corpus>-<key>.pt``, where ``key``
hashes (:func:`splits_key`) the corpus, every argument of the loader (split seed,
fractions, ``min_freq``, ``max_length``, ``lowercase``, ``max_examples``,
``max_vocab_size``), the tokenizer's pattern, a hash of the source of the code that
tokenises, encodes and splits (``text.py``, ``splits.py``, ``corpora.py``, this module),
:data:`FORMAT_VERSION` and ``$NLTK_DATA``. Change any of them and the key changes, so the
corpus is rebuilt (the old file stays until you delete it; the folder is safe to delete).
The corpus files themselves are fingerprinted too (sizes and modification times): a
file written from a corpus that has since changed on disk is rebuilt.

Files are written atomically (a temporary file in the same folder, then ``os.replace``),
so a crash or two processes writing at once never leave a half-written file under the
final name, and read with ``torch.load(weights_only=True)`` (plain values and tensors
only). A file that cannot be read (truncated, corrupt, of another format) is ignored
with a ``RuntimeWarning`` and rebuilt.

Cache folder (:func:`cache_dir`): ``$WORKBENCH_CACHE_DIR`` when set (``""``, ``"0"``,
``"off"`` or ``"none"`` turn the cache off), else ``<repo>/.workbench_cache/`` when the
package runs from a source checkout (the folder the benchmarks' caches use, ignored by
git), else ``$XDG_CACHE_HOME/workbench`` (``~/.cache/workbench``). Corpora are cached in
its ``splits/`` subfolder.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from workbench.config import TaskSpec
from workbench.data.splits import DataSplits, ExampleDataset
from workbench.data.text import TOKEN_PATTERN, Vocabulary

__all__ = ["FORMAT_VERSION", "cache_dir", "read_splits", "splits_key", "write_splits"]

#: Version of the file layout; bump it when the layout changes.
FORMAT_VERSION = 1

_PACKAGE = Path(__file__).resolve().parents[1]
_REPO_ROOT = _PACKAGE.parent
#: the modules whose code decides what a cached file holds
_CODE = ("data/text.py", "data/splits.py", "data/corpora.py", "data/cache.py")
_OFF = ("", "0", "off", "none", "false")

#: what reading a cache file may fail with: unreadable bytes, a pickle that
#: ``weights_only`` refuses, a truncated file, a read error, content of another shape
_READ_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, TypeError,
                ValueError, AttributeError, IndexError)


def cache_dir() -> Path | None:
    """The workbench cache folder (see the module docstring), or None when the cache is
    turned off with ``WORKBENCH_CACHE_DIR``."""
    env = os.environ.get("WORKBENCH_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser()
    if (_REPO_ROOT / "pyproject.toml").is_file():
        return _REPO_ROOT / ".workbench_cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "workbench"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 (16 hex digits) of the source of the tokenising, encoding and splitting code."""
    h = hashlib.sha256(TOKEN_PATTERN.encode())
    for rel in _CODE:
        h.update((_PACKAGE / rel).read_bytes())
    return h.hexdigest()[:16]


def splits_key(corpus: str, settings: dict[str, Any]) -> str:
    """The cache key (24 hex digits) of ``corpus`` loaded with ``settings`` (the loader's
    arguments, JSON-serialisable), this code (:func:`code_fingerprint`),
    :data:`FORMAT_VERSION` and ``$NLTK_DATA``.

    Raises:
        TypeError: a setting that JSON cannot write (the caller skips the cache).
    """
    blob = json.dumps({"corpus": corpus, "settings": settings, "code": code_fingerprint(),
                       "format": FORMAT_VERSION, "nltk_data": os.environ.get("NLTK_DATA", "")},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def source_fingerprint(path: str) -> list[list[Any]]:
    """Sizes and modification times (ns) of the files at ``path`` (a file, or a folder
    walked recursively): ``[[relative path, size, mtime_ns], ...]``, sorted. A missing path
    gives ``[]``."""
    p = Path(path)
    if p.is_file():
        st = p.stat()
        return [[p.name, st.st_size, st.st_mtime_ns]]
    out = []
    for root, _, files in os.walk(p):
        for f in files:
            st = os.stat(os.path.join(root, f))
            out.append([os.path.relpath(os.path.join(root, f), p), st.st_size, st.st_mtime_ns])
    return sorted(out)


def _pack(data: ExampleDataset) -> dict[str, Any]:
    lengths = torch.tensor([len(x) for x in data.inputs], dtype=torch.long)
    flat = torch.cat(list(data.inputs)) if len(data.inputs) else torch.zeros(0, dtype=torch.long)
    # strings as one JSON document: torch's weights-only unpickler reads 10,000 strings
    # one Python object at a time (about 1 s), json.loads in a few milliseconds
    return {"ids": data.ids.clone(), "targets": data.targets.clone(), "flat": flat, "lengths": lengths,
            "texts": json.dumps(list(data.texts) if data.texts is not None else None), "name": data.name}


def _unpack(d: dict[str, Any]) -> ExampleDataset:
    lengths = d["lengths"]
    if int(lengths.sum()) != len(d["flat"]) or len(lengths) != len(d["ids"]):
        raise ValueError("token counts do not add up")
    # views into one tensor (as ExampleDataset.subset shares its text inputs)
    inputs = list(torch.split(d["flat"], lengths.tolist()))
    return ExampleDataset(inputs, d["targets"], d["ids"], texts=json.loads(d["texts"]), name=d["name"])


def write_splits(path: Path, key: str, splits: DataSplits, source_path: str) -> None:
    """Write ``splits`` (built from the corpus at ``source_path``) to ``path`` atomically
    (temporary file + ``os.replace``). A failure (a read-only folder, a full disk) warns
    and leaves no file behind; it never raises."""
    payload = {"format": FORMAT_VERSION, "key": key, "source_path": str(source_path),
               "source": source_fingerprint(source_path), "name": splits.name,
               "splits": {k: _pack(v) for k, v in splits.splits.items()},
               "task": {f.name: getattr(splits.task, f.name) for f in dataclasses.fields(splits.task)},
               "vocab": json.dumps(splits.vocab.state_dict() if splits.vocab is not None else None),
               "info": splits.info}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except (OSError, RuntimeError, pickle.PicklingError) as exc:
        warnings.warn(f"workbench cache: could not write {path} ({type(exc).__name__}: {exc}); the data "
                      "will be rebuilt next time", RuntimeWarning, stacklevel=3)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def read_splits(path: Path, key: str) -> DataSplits | None:
    """The :class:`DataSplits` cached in ``path`` for ``key``, or None when there is no
    such file, when it was written from corpus files that have changed since (sizes or
    modification times; rebuilt quietly), or when it cannot be used (unreadable,
    truncated, another key or format: a ``RuntimeWarning`` says so)."""
    if not path.is_file():
        return None
    try:
        d = torch.load(path, weights_only=True)
        if d["format"] != FORMAT_VERSION or d["key"] != key:
            raise ValueError(f"it holds format {d['format']!r}, key {d['key']!r}")
        if d["source"] != source_fingerprint(d["source_path"]):
            return None  # the corpus changed on disk: rebuild quietly and write over it
        parts = {k: _unpack(d["splits"][k]) for k in ("train", "val", "test")}
        vocab_state = json.loads(d["vocab"])
        vocab = Vocabulary.from_state_dict(vocab_state) if vocab_state is not None else None
        return DataSplits(name=d["name"], task=TaskSpec(**d["task"]), vocab=vocab, info=d["info"], **parts)
    except _READ_ERRORS as exc:
        warnings.warn(f"workbench cache: ignoring {path}: not a readable cache file for these settings "
                      f"({type(exc).__name__}: {str(exc)[:200]}); rebuilding it", RuntimeWarning, stacklevel=3)
        return None

