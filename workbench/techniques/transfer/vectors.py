"""Word vectors: gensim's ``Word2Vec`` (skip-gram with negative sampling, Mikolov et al.
2013) trained on a pretraining corpus and cached on disk, and their use as a model's
embedding for the model's own vocabulary, with the coverage reported.

The pretrained vocabulary is not the fine-tuning vocabulary (issue 13, trap 9): a
fine-tuning split builds its :class:`~workbench.data.text.Vocabulary` from its own training
sentences, the vectors cover the words seen ``min_count`` times in the pretraining corpus.
:func:`embedding_matrix` maps between the two by the token string (an exact match, then the
lower-cased token), initialises the rest as Kim (2014, section 3.1 footnote) did, from
``U[-a, a]`` with ``a`` chosen so that the random vectors have the pretrained vectors'
variance, and reports the share of the vocabulary covered, by type and by token
(:class:`CoverageReport`).

Determinism: ``workers=1`` and a fixed ``seed`` (gensim 4 draws its initial vectors from
``numpy.random.default_rng(seed)`` and its sampling from a per-thread generator seeded
from it), so the same corpus and settings give the same vectors, bit for bit, whatever
``PYTHONHASHSEED``.

Cache: ``vectors-<key>.npz`` (the words, counts and ``float32 [V, d]`` vectors, read with
``allow_pickle=False``) and ``vectors-<key>.json`` (settings, corpus key, training time) in
:func:`~workbench.techniques.transfer.cache.default_cache_dir`; ``key`` hashes the corpus
key (:attr:`PretrainingCorpus.key`, or a hash of the sentences for any other iterable),
every :class:`Word2VecSettings` field and gensim's version.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.data.text import Vocabulary
from workbench.techniques.transfer.cache import atomic_write, cache_key, resolve_cache_dir
from workbench.techniques.transfer.corpus import PretrainingCorpus
from workbench.validation import check_bool, check_int, check_number, fail

__all__ = [
    "CoverageReport",
    "WordVectors",
    "Word2VecSettings",
    "embedding_matrix",
    "find_embedding",
    "init_embedding",
    "remap_embedding",
    "train_word_vectors",
    "vocabulary_coverage",
]


@dataclass(frozen=True)
class Word2VecSettings:
    """Settings of :func:`train_word_vectors` (gensim ``Word2Vec`` arguments).

    Attributes:
        vector_size: dimension of the vectors (default 128, the default ``embed_dim`` of
            :class:`~workbench.models.text.KimCNN`; Kim 2014 used Google's 300-dimensional
            vectors from ~100B words; our corpus has ~3.3M tokens).
        window: largest distance between a word and a context word, in tokens (default 5,
            Mikolov et al. 2013's skip-gram setting and gensim's default; gensim samples the
            effective window uniformly in ``[1, window]``).
        min_count: words seen fewer times in the corpus get no vector (default 2).
        sg: 1 skip-gram (default; issue 13), 0 CBOW.
        negative: negative samples per positive pair (default 5).
        sample: down-sampling threshold for frequent words (default 1e-3).
        epochs: passes over the corpus (default 5).
        alpha, min_alpha: the linearly decaying learning rate, start and end (0.025, 1e-4).
        seed: random seed (default 0).
        workers: threads; 1 (default) for bit-identical results.
    """

    vector_size: int = 128
    window: int = 5
    min_count: int = 2
    sg: int = 1
    negative: int = 5
    sample: float = 1e-3
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 1e-4
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        p = "Word2VecSettings."
        check_int("vector_size", self.vector_size, 1, 4096, prefix=p)
        check_int("window", self.window, 1, 100, prefix=p)
        check_int("min_count", self.min_count, 1, prefix=p)
        check_int("sg", self.sg, 0, 1, prefix=p)
        check_int("negative", self.negative, 1, 100, prefix=p)
        check_number("sample", self.sample, 0.0, 1.0, prefix=p)
        check_int("epochs", self.epochs, 1, 1000, prefix=p)
        check_number("alpha", self.alpha, 0.0, 1.0, lo_open=True, prefix=p)
        check_number("min_alpha", self.min_alpha, 0.0, self.alpha, prefix=p)
        check_int("seed", self.seed, 0, 2**32 - 1, prefix=p)
        check_int("workers", self.workers, 1, 256, prefix=p)


@dataclass
class WordVectors:
    """Trained word vectors.

    Attributes:
        words: ``list[str]``, the vocabulary, most frequent first (gensim's order).
        vectors: ``float32 [len(words), vector_size]`` numpy array.
        counts: ``int64 [len(words)]``, each word's count in the corpus.
        settings: the :class:`Word2VecSettings`.
        corpus_key: the corpus's cache key.
        key: the vectors' cache key; ``path``: the cached file ("" if not cached).
        train_seconds: wall-clock seconds gensim trained (the cost to charge to a run that
            uses the vectors; kept when loading from the cache).
        from_cache: loaded from the cache.
        train_cpu_seconds: CPU seconds of the training (all threads of the process; on a
            shared machine a steadier cost than the wall clock).
    """

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray
    settings: Word2VecSettings
    corpus_key: str = ""
    key: str = ""
    path: str = ""
    train_seconds: float = 0.0
    from_cache: bool = False
    train_cpu_seconds: float = float("nan")
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._index:
            self._index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        """The vector of ``word`` (``float32 [vector_size]``); ``KeyError`` if absent."""
        return self.vectors[self._index[word]]

    @classmethod
    def from_embedding(cls, words: Sequence[str], weight: torch.Tensor | np.ndarray,
                       skip: Sequence[str] = ("<pad>", "<unk>")) -> WordVectors:
        """Vectors from a trained embedding table: row ``i`` of ``weight`` (``[len(words),
        d]``) is the vector of ``words[i]`` (``Vocabulary.itos``); the tokens in ``skip``
        (padding, unknown) are left out. For moving a pretrained model's embedding to a
        fine-tuning vocabulary with :func:`embedding_matrix` (the vocabulary mapping of
        issue 13, trap 9). Raises ``ValueError`` when the sizes differ."""
        w = weight.detach().cpu().float().numpy() if isinstance(weight, torch.Tensor) else np.asarray(
            weight, dtype=np.float32)
        words = list(words)
        if w.ndim != 2 or w.shape[0] != len(words):
            raise fail("weight", f"a [len(words)={len(words)}, d] table", tuple(w.shape))
        keep = [i for i, t in enumerate(words) if t not in set(skip)]
        return cls([words[i] for i in keep], np.ascontiguousarray(w[keep], dtype=np.float32),
                   np.zeros(len(keep), dtype=np.int64), Word2VecSettings(vector_size=max(1, w.shape[1])),
                   corpus_key="embedding")

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int | None:
        """Row of ``word`` in :attr:`vectors`, or None."""
        return self._index.get(word)

    def keyed_vectors(self):
        """The vectors as gensim ``KeyedVectors`` (for ``most_similar``, analogies, ...)."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.vector_size, dtype=np.float32)
        kv.add_vectors(self.words, self.vectors)
        for w, c in zip(self.words, self.counts.tolist()):
            kv.set_vecattr(w, "count", int(c))
        return kv

    def most_similar(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        """The ``topn`` nearest words by cosine similarity (gensim's ``most_similar``)."""
        return self.keyed_vectors().most_similar(word, topn=topn)


def _corpus_key(corpus: Any) -> str:
    if isinstance(corpus, PretrainingCorpus):
        return corpus.key
    return cache_key([list(s) for s in corpus], 32)


def train_word_vectors(corpus: PretrainingCorpus | Iterable[Sequence[str]],
                       settings: Word2VecSettings | None = None,
                       cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                       verbose: bool = True, **overrides: Any) -> WordVectors:
    """Train (or load from the cache) skip-gram word vectors on ``corpus``.

    Args:
        corpus: a :class:`PretrainingCorpus` or any re-iterable of token lists.
        settings: :class:`Word2VecSettings` (default: its defaults); ``**overrides`` replace
            single fields (``vector_size=300``).
        cache_dir: the cache folder (default :func:`~workbench.techniques.transfer.cache.default_cache_dir`).
        use_cache: read and write the cache.
        verbose: print one line (vocabulary size, seconds, cached or trained).

    Returns:
        :class:`WordVectors`.

    Raises:
        ValueError: invalid settings (naming the field and its range), an empty corpus, or a
            corpus whose words all fall below ``min_count``.
    """
    from gensim import __version__ as gensim_version
    from gensim.models import Word2Vec

    settings = settings or Word2VecSettings()
    if not isinstance(settings, Word2VecSettings):
        raise fail("settings", "a Word2VecSettings or None", settings)
    if overrides:
        unknown = sorted(set(overrides) - set(asdict(settings)))
        if unknown:
            raise fail("overrides", f"Word2VecSettings fields {sorted(asdict(settings))}", unknown)
        settings = Word2VecSettings(**{**asdict(settings), **overrides})
    check_bool("use_cache", use_cache)
    if not isinstance(corpus, PretrainingCorpus):
        corpus = [list(s) for s in corpus]
    if len(corpus) == 0:
        raise fail("corpus", "a non-empty collection of token lists", corpus)
    ckey = _corpus_key(corpus)
    key = cache_key({"corpus": ckey, "settings": asdict(settings), "gensim": gensim_version})
    folder = resolve_cache_dir(cache_dir)
    npz, meta = folder / f"vectors-{key}.npz", folder / f"vectors-{key}.json"
    if use_cache and npz.is_file() and meta.is_file():
        info = json.loads(meta.read_text(encoding="utf-8"))
        with np.load(npz, allow_pickle=False) as z:
            words, vectors, counts = z["words"].tolist(), z["vectors"], z["counts"]
        wv = WordVectors(words, vectors, counts, settings, ckey, key, str(npz),
                         float(info["train_seconds"]), True,
                         float(info.get("train_cpu_seconds", float("nan"))))
        if verbose:
            print(f"word vectors: {len(wv):,} words x {wv.vector_size} (cache {key}; trained in "
                  f"{wv.train_seconds:.1f} s)")
        return wv
    t0, c0 = time.perf_counter(), time.process_time()
    s = asdict(settings)
    model = Word2Vec(sentences=corpus, vector_size=s["vector_size"], window=s["window"],
                     min_count=s["min_count"], sg=s["sg"], hs=0, negative=s["negative"],
                     sample=s["sample"], epochs=s["epochs"], alpha=s["alpha"],
                     min_alpha=s["min_alpha"], seed=s["seed"], workers=s["workers"])
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    kv = model.wv
    if len(kv.index_to_key) == 0:
        raise fail("corpus", f"words seen at least min_count={settings.min_count} times", "none")
    words = list(kv.index_to_key)
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    counts = np.asarray([kv.get_vecattr(w, "count") for w in words], dtype=np.int64)
    wv = WordVectors(words, vectors, counts, settings, ckey, key, str(npz) if use_cache else "",
                     seconds, False, cpu_seconds)
    if use_cache:
        def write_npz(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, words=np.asarray(words, dtype=str), vectors=vectors, counts=counts)

        atomic_write(npz, write_npz)
        atomic_write(meta, lambda tmp: tmp.write_text(json.dumps(
            {"settings": asdict(settings), "corpus_key": ckey, "train_seconds": seconds,
             "train_cpu_seconds": cpu_seconds,
             "words": len(words), "gensim": gensim_version}, indent=1), encoding="utf-8"))
    if verbose:
        print(f"word vectors: {len(wv):,} words x {wv.vector_size} (trained in {seconds:.1f} s, "
              f"key {key})")
    return wv


# ---------------------------------------------------------------------------- coverage
@dataclass
class CoverageReport:
    """How much of a fine-tuning vocabulary the pretrained vectors cover.

    Specials (padding, unknown) are not counted. By token: weighted by the vocabulary's
    training-split counts (``Vocabulary.freq``), i.e. the share of training tokens whose
    word starts from a pretrained vector.

    Attributes:
        vocab_types: words in the vocabulary (specials excluded).
        covered_types: of them, words with a pretrained vector.
        type_coverage: ``covered_types / vocab_types``.
        vocab_tokens, covered_tokens, token_coverage: the same weighted by training counts.
        lowercase_matches: words matched only after lower-casing.
        missing: the most frequent uncovered words (up to 20), ``[(word, count), ...]``.
        pretrained_words: size of the pretrained vocabulary.
        init_range: ``a`` of the ``U[-a, a]`` initialisation of the uncovered words.
    """

    vocab_types: int
    covered_types: int
    vocab_tokens: int
    covered_tokens: int
    lowercase_matches: int
    missing: list[tuple[str, int]]
    pretrained_words: int
    init_range: float = math.nan

    @property
    def type_coverage(self) -> float:
        return self.covered_types / self.vocab_types if self.vocab_types else math.nan

    @property
    def token_coverage(self) -> float:
        return self.covered_tokens / self.vocab_tokens if self.vocab_tokens else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(type_coverage=self.type_coverage, token_coverage=self.token_coverage)
        return d

    def __str__(self) -> str:
        miss = ", ".join(w for w, _ in self.missing[:8])
        return (f"pretrained vectors cover {self.covered_types:,} of {self.vocab_types:,} vocabulary "
                f"words ({self.type_coverage:.1%}) and {self.token_coverage:.1%} of the training "
                f"tokens; most frequent uncovered: {miss}")


def _lookup(word: str, vectors: WordVectors) -> tuple[int | None, bool]:
    i = vectors.index(word)
    if i is not None:
        return i, False
    low = word.lower()
    if low != word:
        i = vectors.index(low)
        if i is not None:
            return i, True
    return None, False


def vocabulary_coverage(vocab: Vocabulary, vectors: WordVectors) -> CoverageReport:
    """:class:`CoverageReport` of ``vocab`` by ``vectors`` (no embedding built)."""
    return embedding_matrix(vocab, vectors)[1]


def embedding_matrix(vocab: Vocabulary, vectors: WordVectors, init_range: float | None = None,
                     seed: int = 0, pad_id: int = 0) -> tuple[torch.Tensor, CoverageReport]:
    """An embedding table for ``vocab`` from ``vectors``.

    Row ``i`` is the pretrained vector of ``vocab.itos[i]`` when the word (or its lower-cased
    form) has one; else a draw from ``U[-a, a]`` (Kim 2014, section 3.1: "initialized
    randomly", with ``a`` chosen so the random vectors have the variance of the pretrained
    ones: ``a = sqrt(3 * var(vectors))``, over all entries); the padding row is zero.

    Args:
        vocab: the fine-tuning vocabulary (``splits.vocab``).
        vectors: :class:`WordVectors`.
        init_range: ``a``; None (default): the variance-matching value above.
        seed: seed of the random rows (a private generator; the global RNG is untouched).
        pad_id: the padding row (zeroed), in ``[0, len(vocab))``.

    Returns:
        ``(weight, report)``: ``float32 [len(vocab), vectors.vector_size]`` and the
        :class:`CoverageReport`.

    Raises:
        ValueError: invalid ``init_range`` / ``pad_id``.
    """
    if not isinstance(vocab, Vocabulary):
        raise fail("vocab", "a workbench.data.text.Vocabulary", type(vocab).__name__)
    check_int("pad_id", pad_id, 0, len(vocab) - 1)
    if init_range is None:
        init_range = math.sqrt(3.0 * float(np.var(vectors.vectors))) if len(vectors) else 0.25
    a = check_number("init_range", init_range, 0.0, lo_open=True)
    g = torch.Generator().manual_seed(int(seed))
    d = vectors.vector_size
    weight = (torch.rand(len(vocab), d, generator=g, dtype=torch.float32) * 2 - 1) * a
    specials = set(vocab.specials)
    vocab_types = covered = vocab_tokens = covered_tokens = lower = 0
    missing: list[tuple[str, int]] = []
    for i, word in enumerate(vocab.itos):
        if word in specials:
            continue
        count = int(vocab.freq.get(word, 0))
        vocab_types += 1
        vocab_tokens += count
        row, by_lower = _lookup(word, vectors)
        if row is None:
            missing.append((word, count))
            continue
        weight[i] = torch.from_numpy(np.asarray(vectors.vectors[row], dtype=np.float32))
        covered += 1
        covered_tokens += count
        lower += int(by_lower)
    weight[pad_id] = 0.0
    missing.sort(key=lambda wc: (-wc[1], wc[0]))
    report = CoverageReport(vocab_types, covered, vocab_tokens, covered_tokens, lower, missing[:20],
                            len(vectors), float(a))
    return weight, report


def remap_embedding(weight: torch.Tensor, source_vocab: Vocabulary | Sequence[str], target_vocab: Vocabulary,
                    init_range: float | None = None, seed: int = 0,
                    pad_id: int = 0) -> tuple[torch.Tensor, CoverageReport]:
    """Move a pretrained embedding table from the pretraining vocabulary to a fine-tuning
    vocabulary (issue 13, trap 9): row ``j`` of the result is the source row of
    ``target_vocab.itos[j]`` when the source vocabulary has that token (or its lower-cased
    form), else a ``U[-a, a]`` draw (:func:`embedding_matrix`); the padding row is zero.

    Args:
        weight: ``float [len(source_vocab), d]`` (e.g. ``lm.embedding.weight``).
        source_vocab: the pretraining vocabulary (a :class:`Vocabulary` or its ``itos``).
        target_vocab: the fine-tuning vocabulary (``splits.vocab``).
        init_range, seed, pad_id: as for :func:`embedding_matrix`.

    Returns:
        ``(float32 [len(target_vocab), d], CoverageReport)``.
    """
    itos = source_vocab.itos if isinstance(source_vocab, Vocabulary) else list(source_vocab)
    specials = source_vocab.specials if isinstance(source_vocab, Vocabulary) else ("<pad>", "<unk>")
    vectors = WordVectors.from_embedding(itos, weight, skip=specials)
    return embedding_matrix(target_vocab, vectors, init_range=init_range, seed=seed, pad_id=pad_id)


def find_embedding(model: nn.Module) -> nn.Embedding:
    """The model's (trainable) token embedding: ``model.embedding`` when it is an
    ``nn.Embedding`` (every text model in :mod:`workbench.models`), else the only
    ``nn.Embedding`` among its modules other than ``static_embedding``.

    Raises:
        ValueError: no embedding, or several and none named ``embedding``.
    """
    emb = getattr(model, "embedding", None)
    if isinstance(emb, nn.Embedding):
        return emb
    found = [(n, m) for n, m in model.named_modules()
             if isinstance(m, nn.Embedding) and not n.endswith("static_embedding")]
    if len(found) != 1:
        raise ValueError(f"cannot tell which embedding of {type(model).__name__} to initialise: "
                         f"found {[n for n, _ in found]}; give the model an 'embedding' attribute")
    return found[0][1]


def init_embedding(model: nn.Module, vocab: Vocabulary, vectors: WordVectors,
                   freeze: bool | None = None, init_range: float | None = None,
                   seed: int = 0) -> CoverageReport:
    """Initialise ``model``'s embedding (:func:`find_embedding`) in place from ``vectors``
    for the model's own vocabulary ``vocab`` (:func:`embedding_matrix`).

    Args:
        model: a text model whose embedding has ``len(vocab)`` rows of
            ``vectors.vector_size`` columns.
        vocab: the vocabulary the model's token ids come from.
        vectors: :class:`WordVectors`.
        freeze: True: ``requires_grad=False`` (Kim's CNN-static); False: trainable
            (CNN-non-static); None: leave as it is.
        init_range, seed: for the uncovered words (:func:`embedding_matrix`).

    Returns:
        the :class:`CoverageReport`.

    Raises:
        ValueError: the embedding's shape does not match ``[len(vocab), vectors.vector_size]``.
    """
    emb = find_embedding(model)
    if tuple(emb.weight.shape) != (len(vocab), vectors.vector_size):
        raise ValueError(f"the model's embedding is {tuple(emb.weight.shape)}; the vocabulary and "
                         f"vectors need ({len(vocab)}, {vectors.vector_size}) (build the model with "
                         f"embed_dim={vectors.vector_size})")
    pad = emb.padding_idx if emb.padding_idx is not None else 0
    weight, report = embedding_matrix(vocab, vectors, init_range=init_range, seed=seed, pad_id=pad)
    with torch.no_grad():
        emb.weight.copy_(weight.to(emb.weight.dtype))
    if freeze is not None:
        emb.weight.requires_grad_(not check_bool("freeze", freeze))
    return report
