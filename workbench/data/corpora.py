"""The built-in data sets behind :func:`workbench.data.datasets.load_dataset`: digits
(scikit-learn) and the NLTK text corpora SUBJ, MR and pros_cons (table and split protocol:
:mod:`workbench.data.datasets`, :mod:`workbench.data.splits`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.data.cache import cache_dir, read_splits, splits_key, write_splits
from workbench.data.nltk_data import ensure_corpus
from workbench.data.splits import (
    DEFAULT_FRACTIONS,
    DataSplits,
    DataValidationError,
    _array_splits,
    _text_splits,
)
from workbench.data.text import tokenize

__all__ = ["PROS_CONS_MAX_LENGTH", "load_digits", "load_mr", "load_pros_cons", "load_subj"]


@dataclass(frozen=True)
class _CorpusSpec:
    corpus: str
    categories: tuple[str, ...]
    class_names: tuple[str, ...]
    source: str


_CORPORA: dict[str, _CorpusSpec] = {
    "subj": _CorpusSpec(
        "subjectivity", ("obj", "subj"), ("objective", "subjective"),
        "Subjectivity dataset v1.0: Pang & Lee (2004), 'A Sentimental Education: Sentiment "
        "Analysis Using Subjectivity Summarization Based on Minimum Cuts', ACL; NLTK corpus "
        "'subjectivity' (CC BY 4.0)"),
    "mr": _CorpusSpec(
        "sentence_polarity", ("neg", "pos"), ("negative", "positive"),
        "Sentence polarity dataset v1.0 (MR): Pang & Lee (2005), 'Seeing stars: Exploiting "
        "class relationships for sentiment categorization with respect to rating scales', "
        "ACL; NLTK corpus 'sentence_polarity' (CC BY 4.0)"),
    "pros_cons": _CorpusSpec(
        "pros_cons", ("Cons", "Pros"), ("con", "pro"),
        "Pros and cons dataset: Ganapathibhotla & Liu (2008), 'Mining Opinions in "
        "Comparative Sentences', COLING; Bing Liu; NLTK corpus 'pros_cons' (CC BY 4.0)"),
}

# NLTK's own sentence pattern for the pros_cons files (ProsConsCorpusReader._read_sent_block).
_PROS_CONS_LINE = re.compile(r"^(?!\n)\s*<(Pros|Cons)>(.*)</(?:Pros|Cons)>")


@functools.lru_cache(maxsize=8)
def _read_corpus(key: str, path: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, tuple[int, ...], int]:
    """Read a corpus once per process: (texts, labels, ids, dropped ids, corpus size).

    Order: sorted file ids, then sentence order within each file; id = position in that
    order. Empty sentences are dropped (their ids are listed, not reused). ``path`` (from
    :func:`ensure_corpus`) is part of the cache key so that a different copy is re-read.
    """
    import nltk.corpus

    spec = _CORPORA[key]
    reader = getattr(nltk.corpus, spec.corpus)
    texts: list[str] = []
    labels: list[int] = []
    ids: list[int] = []
    dropped: list[int] = []
    next_id = 0
    for fileid in sorted(reader.fileids()):
        cats = reader.categories(fileids=[fileid])
        if len(cats) != 1 or cats[0] not in spec.categories:
            raise DataValidationError(f"NLTK corpus {spec.corpus!r} at {path}: file {fileid!r} has "
                                      f"categories {cats}; expected one of {list(spec.categories)}",
                                      source=path)
        label = spec.categories.index(cats[0])
        if key == "pros_cons":
            # The raw sentence (NLTK's sents() would re-split it with WordPunctTokenizer,
            # turning "it's" into "it ' s"); same sentence selection as NLTK's reader.
            sentences = [m.group(2).strip() for m in map(_PROS_CONS_LINE.match,
                                                         reader.raw(fileid).splitlines(True)) if m]
        else:
            sentences = [" ".join(s) for s in reader.sents(fileids=fileid)]
        for text in sentences:
            if text.strip():
                texts.append(text)
                labels.append(label)
                ids.append(next_id)
            else:
                dropped.append(next_id)
            next_id += 1
    return (tuple(texts), np.asarray(labels, dtype=np.int64), np.asarray(ids, dtype=np.int64),
            tuple(dropped), next_id)


@functools.lru_cache(maxsize=16)
def _tokenized_corpus(key: str, path: str, lowercase: bool) -> tuple[list[str], ...]:
    texts = _read_corpus(key, path)[0]
    return tuple(tokenize(t, lowercase=lowercase) for t in texts)


def _load_corpus(key: str, seed: int, fractions: Any, min_freq: int, max_length: int | None,
                 lowercase: bool, max_examples: int | None, max_vocab_size: int | None,
                 cache: bool = True) -> DataSplits:
    if not isinstance(cache, bool):
        raise ValueError(f"cache must be True or False; got {cache!r}")
    path = ckey = None
    folder = cache_dir() if cache else None
    if folder is not None:
        try:
            settings = {"seed": seed, "fractions": [float(f) for f in fractions], "min_freq": min_freq,
                        "max_length": max_length, "lowercase": lowercase, "max_examples": max_examples,
                        "max_vocab_size": max_vocab_size}
            ckey = splits_key(key, settings)
        except (TypeError, ValueError):  # arguments JSON cannot write: the loader below rejects them
            ckey = None
        if ckey is not None:
            path = folder / "splits" / f"{key}-{ckey}.pt"
            hit = read_splits(path, ckey)
            if hit is not None:
                return hit
    spec = _CORPORA[key]
    corpus_path = ensure_corpus(spec.corpus)
    texts, labels, ids, dropped, corpus_size = _read_corpus(key, corpus_path)
    tokens = _tokenized_corpus(key, corpus_path, bool(lowercase))
    extra = {"corpus": spec.corpus, "corpus_path": corpus_path, "corpus_size": corpus_size,
             "dropped_ids": list(dropped),
             "id_order": "sorted NLTK file ids, then sentence order within each file",
             "label_names": {str(i): f"{c} ({spec.categories[i]})" for i, c in enumerate(spec.class_names)}}
    splits = _text_splits(key, texts, tokens, labels, ids, spec.class_names, spec.source, seed=seed,
                          fractions=fractions, min_freq=min_freq, max_length=max_length,
                          lowercase=lowercase, max_examples=max_examples,
                          max_vocab_size=max_vocab_size, extra_info=extra)
    if path is not None and ckey is not None:
        write_splits(path, ckey, splits, corpus_path)
    return splits


_TEXT_LOADER_ARGS = """
    Args:
        seed: split seed (the split protocol in :mod:`workbench.data.splits`).
        fractions: (train, val, test) fractions, summing to 1.
        min_freq: vocabulary keeps training tokens seen at least this often.
        max_length: truncate token sequences to this many tokens (also ``task.max_length``).
        lowercase: lower-case before tokenizing.
        max_examples: draw a stratified subsample of this many examples (seeded) before
            splitting, for quick runs; None: all.
        max_vocab_size: cap on the vocabulary size, specials included.
        cache: read and write the built splits in the on-disk cache
            (:mod:`workbench.data.cache`: keyed by the corpus, these arguments and the
            tokenising code; a second process loads in tens of milliseconds). False
            rebuilds from the corpus and writes nothing.

    Returns:
        :class:`DataSplits` with text items (``input``: 1-D ``torch.long`` token ids),
        ``task``: ``TaskSpec(modality="text", num_classes=2, vocab_size=len(vocab),
        pad_id=0, min_length=5)``, ``vocab`` built on the training split only, ``texts`` the
        original sentences.

    Raises:
        CorpusNotFoundError: (a ``LookupError``) when the NLTK corpus is missing and cannot
            be downloaded; the message gives ``python -m nltk.downloader <corpus>``.
        ValueError: for invalid arguments.
"""


def load_subj(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS, min_freq: int = 1,
              max_length: int | None = None, lowercase: bool = True,
              max_examples: int | None = None, max_vocab_size: int | None = None,
              cache: bool = True) -> DataSplits:
    """SUBJ: 10,000 movie sentences, subjective (label 1, review snippets from Rotten
    Tomatoes) vs objective (label 0, plot summaries from IMDb); 5,000 each.

    Source: Pang & Lee (2004), ACL; NLTK corpus ``subjectivity`` (categories ``obj``,
    ``subj``). Ids: 0-4999 are ``plot.tok.gt9.5000`` (objective), 5000-9999
    ``quote.tok.gt9.5000`` (subjective), in file order. Published accuracy: Kim (2014) CNN
    89.6-93.4, NBSVM 93.2 (10-fold cross-validation).
    """
    return _load_corpus("subj", seed, fractions, min_freq, max_length, lowercase, max_examples,
                        max_vocab_size, cache)


def load_mr(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS, min_freq: int = 1,
            max_length: int | None = None, lowercase: bool = True,
            max_examples: int | None = None, max_vocab_size: int | None = None,
            cache: bool = True) -> DataSplits:
    """MR: 10,662 movie-review snippets, positive (label 1) vs negative (label 0); 5,331 each.

    Source: Pang & Lee (2005), ACL; NLTK corpus ``sentence_polarity`` (categories ``neg``,
    ``pos``). Ids: 0-5330 are ``rt-polarity.neg``, 5331-10661 ``rt-polarity.pos``, in file
    order. Published accuracy: Kim (2014) CNN 76.1-81.5, NBSVM 79.4.
    """
    return _load_corpus("mr", seed, fractions, min_freq, max_length, lowercase, max_examples,
                        max_vocab_size, cache)


#: Default truncation for pros_cons: the longest sentence has 219 tokens, 99% have <= 25;
#: 64 truncates 12 sentences.
PROS_CONS_MAX_LENGTH = 64


def load_pros_cons(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   min_freq: int = 1, max_length: int | None = PROS_CONS_MAX_LENGTH,
                   lowercase: bool = True, max_examples: int | None = None,
                   max_vocab_size: int | None = None, cache: bool = True) -> DataSplits:
    """pros_cons: product-review pros (label 1) and cons (label 0), a second sentiment
    domain beside MR.

    Source: Ganapathibhotla & Liu (2008), COLING (Bing Liu's pros and cons data); NLTK
    corpus ``pros_cons`` (categories ``Cons``, ``Pros``). The corpus has 45,875 sentences
    (22,935 cons, 22,940 pros) as NLTK's reader selects them; 8 are empty and are dropped,
    leaving 45,867 examples (22,931 cons, 22,936 pros). Ids: 0-22934 are
    ``IntegratedCons.txt``, 22935-45874 ``IntegratedPros.txt``, in file order (the ids of
    dropped sentences are listed in ``info["dropped_ids"]``). Texts are the raw sentences
    (not NLTK's ``WordPunctTokenizer`` output). About 4,300 sentences repeat (short
    phrases such as "easy to use"), so the same text can appear in several splits.
    ``max_length`` defaults to :data:`PROS_CONS_MAX_LENGTH` (64; it truncates a handful of
    run-on sentences).
    """
    return _load_corpus("pros_cons", seed, fractions, min_freq, max_length, lowercase,
                        max_examples, max_vocab_size, cache)


for _f in (load_subj, load_mr, load_pros_cons):
    _f.__doc__ = (_f.__doc__ or "") + _TEXT_LOADER_ARGS



def load_digits(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                max_examples: int | None = None) -> DataSplits:
    """Digits: 1,797 8x8 grey-scale handwritten digits, 10 classes (about 180 each).

    Source: ``sklearn.datasets.load_digits`` (the UCI "Optical Recognition of Handwritten
    Digits" test set, Alpaydin & Kaynak 1998; ships with scikit-learn). Pixel values 0-16
    are divided by 16: items hold ``float32 [1, 8, 8]`` in [0, 1]. Ids: row index in
    scikit-learn's order.

    Args:
        seed, fractions, max_examples: as for :func:`load_subj`.

    Returns:
        :class:`DataSplits` with ``task = TaskSpec(modality="vision", num_classes=10,
        input_shape=(1, 8, 8), mean=(m,), std=(s,))`` where ``m``, ``s`` are the training
        split's pixel mean and (population) standard deviation.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = (np.asarray(bunch.data, dtype=np.float64) / 16.0).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    return _array_splits("digits", X.astype(np.float32), y, "vision", 10,
                         tuple(str(i) for i in range(10)),
                         "sklearn.datasets.load_digits (UCI optical recognition of handwritten "
                         "digits, Alpaydin & Kaynak 1998)", seed, fractions, max_examples,
                         {"pixel_scale": "raw 0..16 divided by 16"})


