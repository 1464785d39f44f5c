"""The pretraining corpus: unlabelled sentences from the local NLTK corpora (or your own text
files), with every sentence that also occurs in a validation or test split removed.

Built-in sources (:data:`BUILTIN_SOURCES`):

- ``"brown"``: the Brown corpus (Francis & Kucera 1964/1979; 57,340 sentences, 15 genres);
- ``"movie_reviews"``: Pang & Lee's (2004) polarity data set v2.0, 2,000 full IMDb reviews
  (MR's domain, not MR's sentences);
- ``"subj"``, ``"mr"``, ``"pros_cons"``: the *training split's* text of each labelled data
  set (the split of :func:`workbench.data.datasets.load_dataset` with ``seed=split_seed``),
  without labels.

Leakage (Issue 13, trap 9): a sentence of a held-out split (validation or test of SUBJ, MR
and pros_cons by default, or of any :class:`~workbench.data.splits.DataSplits` you pass)
that also occurs in the pretraining text would let the pretrained model see evaluation
text. Every pretraining sentence whose normalised form (:func:`normalize_sentence`:
lower-cased, split with :func:`workbench.data.text.tokenize`, tokens joined by one space)
equals a held-out sentence's normalised form is removed and counted per source in
:class:`CorpusReport`. The match is exact after normalisation: a near-duplicate (one word
changed) is kept.

The corpus is cached on disk (:mod:`workbench.techniques.transfer.cache`), keyed by the
sources (NLTK corpus files' path, size and time stamp; your files' SHA-256), the held-out
specification, the split seed and fractions, ``lowercase``, ``max_sentences``, ``seed`` and
:data:`CORPUS_VERSION`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.datasets import DEFAULT_FRACTIONS, DataSplits, load_dataset
from workbench.data.nltk_data import ensure_corpus
from workbench.data.text import tokenize
from workbench.techniques.transfer.cache import (
    atomic_write,
    cache_key,
    file_fingerprint,
    resolve_cache_dir,
)
from workbench.validation import check_bool, check_int, fail

__all__ = [
    "BUILTIN_SOURCES",
    "CORPUS_VERSION",
    "DEFAULT_HELDOUT",
    "NORMALISATION",
    "CorpusReport",
    "PretrainingCorpus",
    "SourceCounts",
    "build_pretraining_corpus",
    "heldout_sentences",
    "normalize_sentence",
    "read_text_file",
]

#: Bumped whenever the builder's output changes for the same inputs (invalidates caches).
CORPUS_VERSION = 1

#: unlabelled NLTK corpora, then the labelled data sets whose training-split text is used
BUILTIN_SOURCES: tuple[str, ...] = ("brown", "movie_reviews", "subj", "mr", "pros_cons")

#: data sets whose validation and test sentences are removed by default
DEFAULT_HELDOUT: tuple[str, ...] = ("subj", "mr", "pros_cons")

_LABELLED = ("subj", "mr", "pros_cons")
_UNLABELLED_NLTK = {"brown": "brown", "movie_reviews": "movie_reviews"}
_NLTK_NAME = {"subj": "subjectivity", "mr": "sentence_polarity", "pros_cons": "pros_cons",
              **_UNLABELLED_NLTK}

NORMALISATION = ("lower-case, split with workbench.data.text.tokenize (words, numbers, "
                 "punctuation runs), join the tokens with single spaces")


def normalize_sentence(text: str, lowercase: bool = True) -> str:
    """The form in which sentences are compared for overlap: ``" ".join(tokenize(text,
    lowercase))`` (so case, spacing and ``"it's"`` vs ``"it 's"`` spacing of punctuation do
    not hide a duplicate). Raises ``TypeError`` for a non-``str``."""
    return " ".join(tokenize(text, lowercase=lowercase))


@dataclass
class SourceCounts:
    """Counts for one source of the corpus.

    Attributes:
        name: the source (``"brown"``, ``"mr"``, or a file's name).
        read: non-empty sentences read.
        removed_overlaps: sentences removed because they occur in a held-out split.
        sentences: sentences kept (``read - removed_overlaps``, before ``max_sentences``).
        tokens: tokens in the kept sentences.
    """

    name: str
    read: int = 0
    removed_overlaps: int = 0
    sentences: int = 0
    tokens: int = 0


@dataclass
class CorpusReport:
    """What went into a :class:`PretrainingCorpus` (printed by :func:`build_pretraining_corpus`).

    Attributes:
        sources: one :class:`SourceCounts` per source, in order.
        sentences, tokens, types: totals of the final corpus (after ``max_sentences``).
        removed_overlaps: sentences removed for occurring in a held-out split (all sources).
        heldout: the held-out splits checked (e.g. ``["subj/val", "subj/test", ...]``).
        heldout_sentences: distinct normalised held-out sentences.
        normalisation: how sentences were compared (:data:`NORMALISATION`).
        split_seed, fractions: the split of the built-in data sets.
        max_sentences: the cap applied (None: none).
        key: the cache key; ``path``: the cached file; ``from_cache``: loaded from it.
        build_seconds: time to build (or load) the corpus.
    """

    sources: list[SourceCounts]
    sentences: int
    tokens: int
    types: int
    removed_overlaps: int
    heldout: list[str]
    heldout_sentences: int
    normalisation: str = NORMALISATION
    split_seed: int = 0
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    max_sentences: int | None = None
    key: str = ""
    path: str = ""
    from_cache: bool = False
    build_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready)."""
        d = asdict(self)
        d["fractions"] = list(self.fractions)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorpusReport:
        d = dict(d)
        d["sources"] = [SourceCounts(**s) for s in d["sources"]]
        d["fractions"] = tuple(d["fractions"])
        return cls(**d)

    def table(self) -> str:
        """A plain-text table: one row per source and a total."""
        rows = [f"{'source':<27}{'read':>10}{'overlaps':>10}{'sentences':>11}{'tokens':>12}"]
        for s in self.sources:
            rows.append(f"{s.name[:26]:<27}{s.read:>10,}{s.removed_overlaps:>10,}{s.sentences:>11,}"
                        f"{s.tokens:>12,}")
        rows.append(f"{'total':<27}{sum(s.read for s in self.sources):>10,}"
                    f"{self.removed_overlaps:>10,}{self.sentences:>11,}{self.tokens:>12,}")
        return "\n".join(rows)

    def __str__(self) -> str:
        cap = f", capped at {self.max_sentences:,} sentences" if self.max_sentences else ""
        src = "cache" if self.from_cache else "built"
        return (f"pretraining corpus: {self.sentences:,} sentences, {self.tokens:,} tokens, "
                f"{self.types:,} types; {self.removed_overlaps:,} sentences removed that occur in "
                f"{len(self.heldout)} held-out splits ({self.heldout_sentences:,} distinct "
                f"sentences){cap} [{src} in {self.build_seconds:.1f} s, key {self.key}]\n"
                + self.table())


@dataclass
class PretrainingCorpus:
    """Tokenised unlabelled sentences for pretraining, with their :class:`CorpusReport`.

    Attributes:
        sentences: ``list[list[str]]``, one token list per sentence (the tokens of
            :func:`workbench.data.text.tokenize`, lower-cased by default), in source order.
        report: the counts.

    Iterating yields the token lists (what gensim's ``Word2Vec(sentences=...)`` takes);
    :meth:`texts` yields them joined by spaces.
    """

    sentences: list[list[str]]
    report: CorpusReport
    spec: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sentences)

    def __iter__(self) -> Iterator[list[str]]:
        return iter(self.sentences)

    @property
    def key(self) -> str:
        """The cache key (changes with any input that changes the corpus)."""
        return self.report.key

    def texts(self) -> Iterator[str]:
        """The sentences as space-joined strings."""
        return (" ".join(s) for s in self.sentences)

    def write_text(self, path: str | os.PathLike) -> Path:
        """Write one sentence per line (UTF-8) to ``path``; returns the path."""
        p = Path(path)
        with open(p, "w", encoding="utf-8") as f:
            for s in self.sentences:
                f.write(" ".join(s) + "\n")
        return p


# ---------------------------------------------------------------------------- reading
def read_text_file(path: str | os.PathLike, text_field: str = "text") -> list[str]:
    """Sentences of a user's text file.

    Formats (by suffix; a further ``.gz`` is decompressed):

    - ``.txt`` (or any other suffix): one sentence per line; blank lines are skipped.
    - ``.jsonl``: one JSON value per line: an object whose ``text_field`` holds the
      sentence, or a bare JSON string; blank lines are skipped.

    Args:
        path: the file.
        text_field: the key of the text in a JSONL object.

    Returns:
        ``list[str]``, the non-blank sentences in file order (stripped).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a JSONL line that is not valid JSON, not an object with ``text_field``
            (a string) nor a string, or bytes that are not UTF-8; the message names the file
            and line.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"pretraining text file not found: {p}")
    suffixes = [s.lower() for s in p.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    opener = gzip.open if compressed else open
    out: list[str] = []
    try:
        with opener(p, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line:
                    continue
                if kind == ".jsonl":
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{p}, line {lineno}: not valid JSON ({e.msg})") from None
                    if isinstance(value, dict):
                        value = value.get(text_field)
                    if not isinstance(value, str):
                        raise ValueError(f"{p}, line {lineno}: expected a JSON string or an object "
                                         f"with a string field {text_field!r}")
                    line = value.strip()
                    if not line:
                        continue
                out.append(line)
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: bytes not valid UTF-8 at offset {e.start} ({e.reason})") from None
    return out


def _nltk_sentences(name: str) -> list[str]:
    import nltk.corpus

    ensure_corpus(_NLTK_NAME[name])
    reader = getattr(nltk.corpus, _NLTK_NAME[name])
    if name == "movie_reviews":
        # the txt_sentoken files hold one tokenised sentence per line (NLTK's sents() would
        # need the punkt model, which is not part of the shared data)
        return [line for fid in sorted(reader.fileids()) for line in reader.raw(fid).splitlines()]
    return [" ".join(s) for s in reader.sents()]


_CONTENT_SHA: dict[tuple[str, int, int], str] = {}


def _content_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (relative path and bytes of each,
    sorted); memoised per (path, size, mtime) within the process."""
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo in _CONTENT_SHA:
        return _CONTENT_SHA[memo]
    if path.is_file():
        digest = file_fingerprint(path)["sha256"]
    else:
        h = hashlib.sha256()
        for f in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(str(f.relative_to(path)).encode("utf-8") + b"\0")
            h.update(file_fingerprint(f)["sha256"].encode("ascii"))
        digest = h.hexdigest()
    _CONTENT_SHA[memo] = digest
    return digest


def _nltk_fingerprint(name: str) -> dict[str, Any]:
    # content, not path or modification time: the same corpus unpacked again (a new
    # machine, a fresh copy of the data) keeps its key, so a cached corpus, language
    # model (an hour of pretraining) and word vectors are found again
    path = Path(ensure_corpus(_NLTK_NAME[name]))
    return {"corpus": _NLTK_NAME[name], "sha256": _content_sha256(path)}


def _heldout_name(i: int, h: Any) -> str:
    return h if isinstance(h, str) else (getattr(h, "name", "") or f"splits{i}")


def heldout_sentences(heldout: Sequence[str | DataSplits] = DEFAULT_HELDOUT, split_seed: int = 0,
                      fractions: Sequence[float] = DEFAULT_FRACTIONS,
                      lowercase: bool = True) -> tuple[set[str], list[str]]:
    """The normalised sentences of every validation and test split in ``heldout``.

    Args:
        heldout: built-in data set names (``"subj"``, ``"mr"``, ``"pros_cons"``; loaded with
            ``seed=split_seed, fractions=fractions``) or :class:`DataSplits` of your own text
            data (``texts`` required).
        split_seed, fractions: the split of the built-in data sets.
        lowercase: passed to :func:`normalize_sentence`.

    Returns:
        ``(sentences, names)``: the set of normalised sentences and the split names checked
        (``"subj/val"``, ...).

    Raises:
        ValueError: an unknown name, or splits without ``texts``.
    """
    out: set[str] = set()
    names: list[str] = []
    for i, h in enumerate(heldout):
        splits = _load_labelled(h, split_seed, fractions) if isinstance(h, str) else h
        if not isinstance(splits, DataSplits):
            raise fail("heldout", "built-in text data set names or DataSplits", h)
        for part in ("val", "test"):
            ds = getattr(splits, part)
            if ds is None or len(ds) == 0:
                continue
            if ds.texts is None:
                raise fail("heldout", "text data whose splits keep their texts", _heldout_name(i, h))
            out.update(normalize_sentence(t, lowercase) for t in ds.texts)
            names.append(f"{_heldout_name(i, h)}/{part}")
    out.discard("")
    return out, names


def _load_labelled(name: str, split_seed: int, fractions: Sequence[float]) -> DataSplits:
    if name not in _LABELLED:
        raise fail("heldout", f"one of {list(_LABELLED)} or DataSplits", name)
    return load_dataset(name, seed=split_seed, fractions=tuple(fractions))


# ---------------------------------------------------------------------------- building
def _check_args(sources: Sequence[str], files: Sequence[Any], heldout: Sequence[Any],
                split_seed: Any, max_sentences: Any, seed: Any, lowercase: Any) -> None:
    for s in sources:
        if s not in BUILTIN_SOURCES:
            raise fail("sources", f"a sequence of names from {list(BUILTIN_SOURCES)}", s)
    if len(set(sources)) != len(sources):
        raise fail("sources", "names without repeats", list(sources))
    for f in files:
        if not isinstance(f, (str, os.PathLike)):
            raise fail("files", "a sequence of paths", f)
        if not Path(f).is_file():
            raise FileNotFoundError(f"pretraining text file not found: {f}")
    for h in heldout:
        if isinstance(h, str):
            if h not in _LABELLED:
                raise fail("heldout", f"names from {list(_LABELLED)} or DataSplits", h)
        elif not isinstance(h, DataSplits):
            raise fail("heldout", f"names from {list(_LABELLED)} or DataSplits", h)
    check_int("split_seed", split_seed, 0, 2**32 - 1)
    check_int("max_sentences", max_sentences, 1, optional=True)
    check_int("seed", seed, 0, 2**32 - 1)
    check_bool("lowercase", lowercase)
    if not sources and not files:
        raise fail("sources", "at least one source or file", list(sources))


def _spec(sources: Sequence[str], files: Sequence[Any], heldout: Sequence[Any], split_seed: int,
          fractions: Sequence[float], lowercase: bool, max_sentences: int | None, seed: int,
          text_field: str) -> dict[str, Any]:
    held: list[Any] = []
    for i, h in enumerate(heldout):
        if isinstance(h, str):
            held.append({"builtin": h, **_nltk_fingerprint(h)})
        else:  # the user's splits: their held-out texts themselves
            sents, _ = heldout_sentences([h], lowercase=lowercase)
            held.append({"splits": _heldout_name(i, h), "sha": cache_key(sorted(sents), 64)})
    return {
        "version": CORPUS_VERSION,
        "sources": [{"builtin": s, **_nltk_fingerprint(s)} for s in sources],
        "files": [file_fingerprint(f) for f in files],
        "text_field": text_field,
        "heldout": held,
        "split_seed": split_seed,
        "fractions": [float(x) for x in fractions],
        "lowercase": lowercase,
        "max_sentences": max_sentences,
        "seed": seed,
    }


def build_pretraining_corpus(sources: Sequence[str] | None = None,
                             files: Sequence[str | os.PathLike] = (),
                             heldout: Sequence[str | DataSplits] = DEFAULT_HELDOUT,
                             split_seed: int = 0,
                             fractions: Sequence[float] = DEFAULT_FRACTIONS,
                             lowercase: bool = True, max_sentences: int | None = None,
                             seed: int = 0, text_field: str = "text",
                             cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                             verbose: bool = True) -> PretrainingCorpus:
    """Build (or load from the cache) the pretraining corpus, removing held-out sentences.

    Args:
        sources: built-in sources from :data:`BUILTIN_SOURCES`; ``None`` (default): all of
            them when no ``files`` are given, none when ``files`` are given (your text
            *instead*; pass both to combine).
        files: your own text files (see :func:`read_text_file`: ``.txt`` one sentence per
            line, ``.jsonl`` with a ``text_field``; optionally ``.gz``).
        heldout: data sets whose validation and test sentences are removed from the corpus:
            built-in names and/or your own :class:`DataSplits` (default: SUBJ, MR, pros_cons).
            ``()`` removes nothing.
        split_seed, fractions: the split of the built-in data sets (both for their
            training-split text and for their held-out splits); the fixed split every
            recipe uses is ``split_seed=0`` with the default fractions.
        lowercase: lower-case before tokenizing (as the built-in loaders do by default).
        max_sentences: keep a seeded random subset of this many sentences (in corpus order),
            for quick runs; ``None``: all.
        seed: the seed of that subset.
        text_field: the text key of JSONL files.
        cache_dir: the cache folder (default
            :func:`~workbench.techniques.transfer.cache.default_cache_dir`).
        use_cache: read and write the cache; ``False`` always rebuilds and writes nothing.
        verbose: print the report.

    Returns:
        :class:`PretrainingCorpus` (token lists and a :class:`CorpusReport`).

    Raises:
        ValueError: an unknown source or held-out name, invalid ``split_seed`` /
            ``max_sentences`` / ``seed`` / ``fractions``, no sources at all, or a corpus
            left empty after the removal; invalid JSONL (see :func:`read_text_file`).
        FileNotFoundError: a missing file.
        CorpusNotFoundError: a missing NLTK corpus.
    """
    t0 = time.perf_counter()
    files = list(files)
    srcs = list(BUILTIN_SOURCES if sources is None and not files else (sources or ()))
    heldout = list(heldout)
    _check_args(srcs, files, heldout, split_seed, max_sentences, seed, lowercase)
    check_bool("use_cache", use_cache)
    check_bool("verbose", verbose)
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise fail("fractions", "three non-negative numbers (train, val, test) summing to 1", fractions)
    spec = _spec(srcs, files, heldout, split_seed, fractions, lowercase, max_sentences, seed,
                 text_field)
    key = cache_key(spec)
    folder = resolve_cache_dir(cache_dir)
    data_path = folder / f"corpus-{key}.txt.gz"
    report_path = folder / f"corpus-{key}.json"
    if use_cache and data_path.is_file() and report_path.is_file():
        report = CorpusReport.from_dict(json.loads(report_path.read_text(encoding="utf-8")))
        with gzip.open(data_path, "rt", encoding="utf-8") as f:
            sentences = [line.split() for line in f.read().splitlines()]
        report.from_cache = True
        report.build_seconds = time.perf_counter() - t0
        corpus = PretrainingCorpus(sentences, report, spec)
        if verbose:
            print(report)
        return corpus

    held, held_names = heldout_sentences(heldout, split_seed, fractions, lowercase)
    sentences: list[list[str]] = []
    counts: list[SourceCounts] = []

    def add(name: str, texts: Sequence[str]) -> None:
        c = SourceCounts(name)
        for text in texts:
            toks = tokenize(text, lowercase=lowercase)
            if not toks:
                continue
            c.read += 1
            if " ".join(toks) in held:
                c.removed_overlaps += 1
                continue
            sentences.append(toks)
            c.sentences += 1
            c.tokens += len(toks)
        counts.append(c)

    for s in srcs:
        if s in _LABELLED:
            texts = _load_labelled(s, split_seed, fractions).train.texts or ()
            add(f"{s} (train split)", texts)
        else:
            add(s, _nltk_sentences(s))
    for f in files:
        add(Path(f).name, read_text_file(f, text_field=text_field))
    if not sentences:
        raise fail("sources", "sources with sentences left after removing held-out ones",
                   srcs + [str(f) for f in files])
    if max_sentences is not None and max_sentences < len(sentences):
        keep = np.sort(np.random.default_rng(seed).choice(len(sentences), max_sentences, replace=False))
        sentences = [sentences[i] for i in keep]
    types = len({t for s in sentences for t in s})
    report = CorpusReport(
        sources=counts, sentences=len(sentences), tokens=sum(len(s) for s in sentences),
        types=types, removed_overlaps=sum(c.removed_overlaps for c in counts),
        heldout=held_names, heldout_sentences=len(held), split_seed=split_seed,
        fractions=tuple(float(x) for x in fractions), max_sentences=max_sentences, key=key,
        path=str(data_path) if use_cache else "")
    if use_cache:
        def write_data(tmp: Path) -> None:
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as f:
                f.write("\n".join(" ".join(s) for s in sentences))
                f.write("\n")

        atomic_write(data_path, write_data)
        atomic_write(report_path, lambda tmp: tmp.write_text(json.dumps(report.to_dict(), indent=1),
                                                            encoding="utf-8"))
    report.build_seconds = time.perf_counter() - t0
    if verbose:
        print(report)
    return PretrainingCorpus(sentences, report, spec)
