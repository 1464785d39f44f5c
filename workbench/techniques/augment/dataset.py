"""Augmented training sets: precomputed copies that keep their source example's id.

Id scheme (:class:`AugmentedDataset`):

- an **original** example keeps its id (``id == source_id``, ``copy_index == 0``), so
  anything keyed by example id (difficulty scores, losses, acquired labels) still refers
  to it;
- the ``k``-th augmented copy (``k = 1 .. stride``) of the example with id ``s`` gets the
  new id ``id_base + s * stride + (k - 1)``, with ``stride`` the largest number of copies
  per example and ``id_base`` larger than every id of every split (:func:`augment_splits`
  uses ``max(corpus size, largest id + 1)``). Copy ids are therefore unique, stable for a
  given ``(id_base, stride)`` whatever subset is augmented, and disjoint from every
  original id of the training, validation and test splits, so per-example bookkeeping
  never mixes a copy with a real example;
- every item carries ``source_id`` (the id of the training example it was made from), and
  the collator passes it through as ``batch["source_id"]`` (long ``[B]``).

Only the training split is augmented: a copy's ``source_id`` is always a training id, so
no augmented copy of a validation or test sentence can exist.

Copies are precomputed once (augmentation never runs inside an epoch, so it cannot slow
one down); :attr:`AugmentedDataset.stats` records how long it took (augmentations per
second) and how many augmented tokens the training vocabulary does not know (they are
encoded as the unknown id: the vocabulary is built on the training split only, so a
WordNet synonym never seen in training becomes ``<unk>``).

With pretrained word vectors the vocabulary can be made to cover the synonyms EDA brings
in: :func:`extend_vocabulary` adds words (e.g. every word that has a vector) after the
training words and re-encodes every split, and :func:`new_token_oov_rate` measures the
share of the words EDA introduced that a given vocabulary does not know (issue 13, item 7).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from workbench.data.datasets import DataSplits, ExampleDataset
from workbench.data.text import Vocabulary, tokenize
from workbench.techniques.augment.eda import EDA, EDAConfig
from workbench.validation import check_int

__all__ = [
    "AugmentedDataset",
    "augment_dataset",
    "augment_splits",
    "build_augmented_dataset",
    "example_rng",
    "extend_vocabulary",
    "id_base_for",
    "new_token_oov_rate",
    "subsample_train",
]


class AugmentedDataset(ExampleDataset):
    """An :class:`~workbench.data.datasets.ExampleDataset` of originals and augmented copies.

    Items: ``{"id": int, "input": LongTensor [L], "target": int, "source_id": int}``; see
    the module docstring for the id scheme.

    Args:
        inputs, targets, ids, texts, name: as :class:`ExampleDataset` (``ids`` distinct).
        source_ids: ``[N]`` the id of the example each item was made from (its own id
            for an original).
        copy_index: ``[N]`` 0 for an original, ``k >= 1`` for the ``k``-th copy.
        stats: plain-Python figures about how the data set was made (see
            :func:`build_augmented_dataset`).
        new_token_counts: how often each word occurs in a copy without occurring in its
            source sentence (summed over all copies; see :func:`build_augmented_dataset`).

    Attributes:
        source_ids, copy_index: ``LongTensor [N]``. stats: ``dict``.
        new_token_counts: ``collections.Counter`` word -> count, of the whole data set as
            built (a :meth:`subset` keeps it as is); read it with :func:`new_token_oov_rate`.

    Raises:
        ValueError: lengths differ, ids repeat, or an original's id differs from its source id.
    """

    def __init__(self, inputs: Sequence[torch.Tensor], targets: Any, ids: Any, source_ids: Any,
                 copy_index: Any, texts: Sequence[str] | None = None, name: str = "",
                 stats: dict[str, Any] | None = None,
                 new_token_counts: Counter | dict[str, int] | None = None) -> None:
        super().__init__(inputs, targets, ids, texts=texts, name=name)
        self.source_ids = torch.as_tensor(np.asarray(source_ids, dtype=np.int64)).reshape(-1)
        self.copy_index = torch.as_tensor(np.asarray(copy_index, dtype=np.int64)).reshape(-1)
        n = len(self)
        if len(self.source_ids) != n or len(self.copy_index) != n:
            raise ValueError(f"{self._label()}source_ids ({len(self.source_ids)}) and copy_index "
                             f"({len(self.copy_index)}) must have one entry per example ({n})")
        originals = self.copy_index == 0
        if bool((self.ids[originals] != self.source_ids[originals]).any()):
            raise ValueError(f"{self._label()}an original (copy_index 0) must keep its source id as its id")
        self._source_list: list[int] = self.source_ids.tolist()
        self.stats: dict[str, Any] = dict(stats or {})
        self.new_token_counts: Counter = Counter(new_token_counts or {})

    def __getitem__(self, position: int) -> dict[str, Any]:
        item = super().__getitem__(position)
        position = int(position)
        item["source_id"] = self._source_list[position if position >= 0 else position + len(self)]
        return item

    def __repr__(self) -> str:
        n_orig = int((self.copy_index == 0).sum())
        return (f"AugmentedDataset(name={self.name!r}, size={len(self)}, originals={n_orig}, "
                f"copies={len(self) - n_orig})")

    @property
    def is_original(self) -> torch.Tensor:
        """``BoolTensor [N]``: True for the original examples."""
        return self.copy_index == 0

    def subset(self, positions: Sequence[int] | np.ndarray | torch.Tensor) -> AugmentedDataset:
        """As :meth:`ExampleDataset.subset`, keeping ``source_ids``, ``copy_index`` and ``stats``."""
        base = super().subset(positions)
        pos = torch.as_tensor(np.asarray(positions, dtype=np.int64).reshape(-1)
                              if not isinstance(positions, torch.Tensor) else positions).long().reshape(-1)
        pos = torch.where(pos < 0, pos + len(self), pos)
        return AugmentedDataset(base.inputs, base.targets, base.ids, self.source_ids[pos], self.copy_index[pos],
                                texts=base.texts, name=self.name, stats=self.stats,
                                new_token_counts=self.new_token_counts)

    def copies_of(self, source_id: int) -> AugmentedDataset:
        """The original with id ``source_id`` and its copies (original first)."""
        pos = (self.source_ids == int(source_id)).nonzero().flatten()
        order = torch.argsort(self.copy_index[pos], stable=True)
        return self.subset(pos[order])


def example_rng(seed: int, source_id: int, salt: str = "eda") -> random.Random:
    """The ``random.Random`` for one example: seeded with the string
    ``"{salt}:{seed}:{source_id}"`` (hashed with SHA-512 by ``random.seed``), so an
    example's copies depend only on the seed and its id, not on the order, the subset
    or the process."""
    return random.Random(f"{salt}:{int(seed)}:{int(source_id)}")


def id_base_for(splits: DataSplits) -> int:
    """The smallest id above every id of ``splits`` (and the corpus size when known)."""
    hi = max((int(d.ids.max()) + 1 for d in splits.splits.values() if len(d)), default=0)
    return max(hi, int(splits.info.get("corpus_size", 0) or 0))


def _tokens_of(data: ExampleDataset, lowercase: bool) -> list[list[str]]:
    if data.texts is None:
        raise ValueError(f"{data.name or 'the data set'}: augmentation needs the original sentences "
                         "(ExampleDataset.texts is None)")
    return [tokenize(t, lowercase=lowercase) for t in data.texts]


def build_augmented_dataset(data: ExampleDataset, vocab: Vocabulary,
                            copies: Sequence[Sequence[Sequence[str]]], *, id_base: int | None = None,
                            include_original: bool = True, max_length: int | None = None,
                            lowercase: bool = True, name: str | None = None,
                            stats: dict[str, Any] | None = None) -> AugmentedDataset:
    """An :class:`AugmentedDataset` from precomputed copies.

    Args:
        data: the source (training) data set, with ``texts``.
        vocab: the training vocabulary; copies are encoded with it (unknown -> ``unk_id``).
        copies: ``copies[i]`` is the list of augmented token lists of ``data``'s ``i``-th example.
        id_base: first copy id (default ``max(data.ids) + 1``; pass :func:`id_base_for`
            of the splits so copy ids are disjoint from validation and test ids too).
        include_original: put the originals in too (EDA trains on both).
        max_length: truncate copies to this many tokens (the data set's ``max_length``).
        lowercase: how the source sentences were tokenized (for the OOV figures).
        name: data-set name (default ``data.name + "+aug"``).
        stats: extra figures merged into :attr:`AugmentedDataset.stats`.

    Returns:
        The data set: originals first (in ``data``'s order) when included, then each source
        example's copies in order. ``stats`` holds ``sources, copies, items, stride,
        id_base, copy_tokens, copy_oov_rate`` (fraction of copy tokens that are unknown),
        ``new_tokens`` (tokens a copy has that its source has not, counted as a multiset
        difference: the words synonym replacement and random insertion brought in),
        ``new_token_oov_rate`` (the share of them ``vocab`` does not know) and
        ``identical_copies``; :attr:`AugmentedDataset.new_token_counts` holds the new
        tokens themselves, to measure their OOV share under another vocabulary
        (:func:`new_token_oov_rate`).

    Raises:
        ValueError: ``copies`` does not have one entry per example, an empty copy, or an
            ``id_base`` that would collide with ``data``'s ids.
    """
    if len(copies) != len(data):
        raise ValueError(f"copies must have one entry per example ({len(data)}); got {len(copies)}")
    stride = max((len(c) for c in copies), default=0)
    ids = data.ids.tolist()
    if id_base is None:
        id_base = (max(ids) + 1) if ids else 0
    if ids and id_base <= max(ids):
        raise ValueError(f"id_base must be larger than every source id (max {max(ids)}); got {id_base}")
    source_tokens = _tokens_of(data, lowercase)
    get, unk = vocab.stoi.get, vocab.unk_id
    inputs: list[torch.Tensor] = []
    targets: list[Any] = []
    new_ids: list[int] = []
    sources: list[int] = []
    copy_index: list[int] = []
    texts: list[str] = []
    if include_original:
        inputs.extend(data.inputs)
        targets.extend(data.targets.tolist())
        new_ids.extend(ids)
        sources.extend(ids)
        copy_index.extend([0] * len(ids))
        texts.extend(data.texts)
    n_tok = n_unk = n_new = n_new_unk = identical = truncated = 0
    new_counts: Counter = Counter()
    target_list = data.targets.tolist()
    for i, (sid, src, cps) in enumerate(zip(ids, source_tokens, copies)):
        src_count = Counter(src)
        for k, toks in enumerate(cps, start=1):
            toks = list(toks)
            if not toks:
                raise ValueError(f"copy {k} of example id {sid} is empty")
            identical += toks == src
            new = Counter(toks) - src_count
            new_counts.update(new)
            n_new += sum(new.values())
            n_new_unk += sum(c for t, c in new.items() if t not in vocab.stoi)
            if max_length is not None and len(toks) > max_length:
                toks = toks[:max_length]
                truncated += 1
            enc = [get(t, unk) for t in toks]
            n_tok += len(enc)
            n_unk += sum(1 for e in enc if e == unk)
            inputs.append(torch.tensor(enc, dtype=torch.long))
            targets.append(target_list[i])
            new_ids.append(id_base + sid * stride + (k - 1))
            sources.append(sid)
            copy_index.append(k)
            texts.append(" ".join(toks))
    n_copies = len(new_ids) - (len(ids) if include_original else 0)
    figures = {
        "sources": len(ids), "copies": n_copies, "items": len(new_ids), "stride": stride,
        "id_base": int(id_base), "include_original": bool(include_original),
        "copy_tokens": n_tok, "copy_oov_rate": n_unk / n_tok if n_tok else 0.0,
        "new_tokens": n_new, "new_token_oov_rate": n_new_unk / n_new if n_new else 0.0,
        "identical_copies": identical, "truncated_copies": truncated,
    }
    figures.update(stats or {})
    return AugmentedDataset(inputs, torch.as_tensor(targets, dtype=data.targets.dtype), new_ids, sources,
                            copy_index, texts=texts, name=name or f"{data.name}+aug", stats=figures,
                            new_token_counts=new_counts)


def augment_dataset(data: ExampleDataset, vocab: Vocabulary, augmenter: EDA | EDAConfig | None = None,
                    seed: int = 0, *, id_base: int | None = None, include_original: bool = True,
                    max_length: int | None = None, lowercase: bool = True,
                    progress: Callable[[int, int], Any] | None = None) -> AugmentedDataset:
    """EDA copies of every example of ``data``, precomputed (Wei & Zou 2019).

    Each example's copies come from :func:`example_rng` ``(seed, id)``: reproducible, and
    independent of the order and of which other examples are augmented.

    Args:
        data: the training split (with ``texts``).
        vocab: the training vocabulary.
        augmenter: an :class:`~workbench.techniques.augment.eda.EDA`, an
            :class:`~workbench.techniques.augment.eda.EDAConfig` (WordNet synonyms, NLTK
            stop words) or None (the reference defaults).
        seed: augmentation seed.
        id_base, include_original, max_length, lowercase: see :func:`build_augmented_dataset`.
        progress: called as ``progress(done, total)`` every 500 examples.

    Returns:
        An :class:`AugmentedDataset`; ``stats`` also holds ``augment_s`` (seconds spent
        making the copies: WordNet look-ups included, loading WordNet and encoding
        excluded), ``augmentations_per_s`` (copies per second), ``synonyms_load_s`` and
        ``eda`` (the config).

    Raises:
        ValueError: ``data`` has no ``texts``, or an example has no tokens.
    """
    eda = augmenter if isinstance(augmenter, EDA) else EDA(augmenter)
    tokens = _tokens_of(data, lowercase)
    ids = data.ids.tolist()
    t_load = time.perf_counter()
    eda.synonyms("good")  # loads WordNet (seconds, once per process): not counted as augmentation time
    load_s = time.perf_counter() - t_load
    t0 = time.perf_counter()
    copies: list[list[list[str]]] = []
    for i, (sid, toks) in enumerate(zip(ids, tokens)):
        if not toks:
            raise ValueError(f"example id {sid} has no tokens; EDA needs a non-empty sentence")
        copies.append(eda.augment(toks, example_rng(seed, sid)))
        if progress is not None and (i + 1) % 500 == 0:
            progress(i + 1, len(ids))
    seconds = time.perf_counter() - t0
    n = sum(len(c) for c in copies)
    return build_augmented_dataset(
        data, vocab, copies, id_base=id_base, include_original=include_original, max_length=max_length,
        lowercase=lowercase,
        stats={"method": "eda", "eda": eda.config.to_dict(), "seed": int(seed), "augment_s": seconds,
               "synonyms_load_s": load_s,
               "augmentations_per_s": n / seconds if seconds > 0 else float("inf")})


def augment_splits(splits: DataSplits, augmenter: EDA | EDAConfig | None = None, seed: int = 0,
                   include_original: bool = True) -> DataSplits:
    """``splits`` with its training split replaced by an EDA-augmented one.

    Validation and test are untouched (never augmented); copy ids start at
    :func:`id_base_for` ``(splits)``, so they are disjoint from every id of every split.
    ``info["augmentation"]`` holds the :attr:`AugmentedDataset.stats` and ``info["sizes"]``
    the new training size. ``vocab`` and ``task`` are unchanged (the vocabulary stays the
    one built on the original training sentences).

    Raises:
        ValueError: ``splits`` is not a text data set with a vocabulary and sentences.
    """
    if splits.vocab is None or splits.train.texts is None:
        raise ValueError(f"augment_splits: {splits.name!r} is not a text data set with a vocabulary and sentences")
    lowercase = bool(splits.info.get("lowercase", True))
    aug = augment_dataset(splits.train, splits.vocab, augmenter, seed, id_base=id_base_for(splits),
                          include_original=include_original, max_length=splits.info.get("max_length"),
                          lowercase=lowercase)
    aug.name = f"{splits.train.name}+eda"
    info = dict(splits.info)
    info["augmentation"] = dict(aug.stats) | {"source_train_size": len(splits.train)}
    info["sizes"] = dict(info.get("sizes", {})) | {"train": len(aug)}
    return DataSplits(splits.name, aug, splits.val, splits.test, splits.task, splits.vocab, info)


def _encode(data: ExampleDataset, vocab: Vocabulary, lowercase: bool,
            max_length: int | None) -> tuple[ExampleDataset, float]:
    toks = _tokens_of(data, lowercase)
    inputs = [torch.tensor(vocab.encode(t, max_length), dtype=torch.long) for t in toks]
    n = sum(len(x) for x in inputs)
    unk = sum(int((x == vocab.unk_id).sum()) for x in inputs)
    return ExampleDataset(inputs, data.targets, data.ids, texts=data.texts, name=data.name), (unk / n if n else 0.0)


def subsample_train(splits: DataSplits, size: int | None, seed: int = 0,
                    rebuild_vocab: bool = True) -> DataSplits:
    """``splits`` with a stratified random subset of ``size`` training examples.

    The subset is ``sklearn.model_selection.train_test_split(positions, train_size=size,
    stratify=train targets, random_state=seed)``, sorted by id (unstratified if a class
    is too small). Validation and test are kept whole, as in the EDA paper's protocol
    (training subsets, one test set).

    With ``rebuild_vocab`` (default) the vocabulary is rebuilt on the subset's sentences
    only (same tokenizer, ``min_freq`` and size cap as the loader recorded in ``info``) and
    every split is re-encoded with it, so a model trained on ``size`` sentences knows only
    their words, as a model given only that data would; ``task.vocab_size`` follows.

    Args:
        splits: a text :class:`DataSplits` (built-in loaders or ``load_text_file``).
        size: number of training examples; None, or ``size >= len(train)``: all of them
            (the splits are returned unchanged).
        seed: subset seed.
        rebuild_vocab: rebuild the vocabulary on the subset.

    Returns:
        A new :class:`DataSplits`; ``info["train_subset"]`` records ``size, of, seed,
        vocab``; ``info["oov_rate"]`` the unknown-token rate per split under the vocabulary.

    Raises:
        ValueError: ``size < 2`` or fewer than the number of classes, or a text data set
            without sentences.
    """
    n = len(splits.train)
    if size is None or size >= n:
        info = dict(splits.info) | {"train_subset": {"size": n, "of": n, "seed": seed, "vocab": "unchanged"}}
        return dataclasses.replace(splits, info=info)
    num_classes = splits.task.num_classes
    if isinstance(size, bool) or not isinstance(size, int) or size < max(2, num_classes):
        raise ValueError(f"size must be None or an integer >= {max(2, num_classes)} (the number of classes); "
                         f"got {size!r}")
    from sklearn.model_selection import train_test_split

    positions = np.arange(n)
    try:
        keep, _ = train_test_split(positions, train_size=size, stratify=splits.train.targets.numpy(),
                                   random_state=seed)
    except ValueError:
        keep, _ = train_test_split(positions, train_size=size, random_state=seed)
    train = splits.train.subset(np.sort(keep))
    info = dict(splits.info)
    info["sizes"] = dict(info.get("sizes", {})) | {"train": size}
    vocab, task = splits.vocab, splits.task
    parts = {"train": train, "val": splits.val, "test": splits.test}
    if rebuild_vocab and splits.vocab is not None:
        if train.texts is None:
            raise ValueError(f"subsample_train: {splits.name!r} has no sentences to rebuild the vocabulary from")
        lowercase = bool(info.get("lowercase", True))
        max_length = info.get("max_length")
        vocab = Vocabulary.build((tokenize(t, lowercase=lowercase) for t in train.texts),
                                 min_freq=int(info.get("min_freq", 1) or 1),
                                 max_size=info.get("max_vocab_size"), specials=splits.vocab.specials)
        oov = {}
        for k, d in parts.items():
            parts[k], oov[k] = _encode(d, vocab, lowercase, max_length)
        info["oov_rate"] = oov
        info["vocab_size"] = len(vocab)
        task = dataclasses.replace(task, vocab_size=len(vocab))
    info["train_subset"] = {"size": size, "of": n, "seed": int(seed),
                            "vocab": "rebuilt on the subset" if rebuild_vocab else "full training split"}
    return DataSplits(splits.name, parts["train"], parts["val"], parts["test"], task, vocab, info)


def extend_vocabulary(splits: DataSplits, words: Iterable[str], max_added: int | None = None) -> DataSplits:
    """``splits`` with ``words`` added to the vocabulary and every split re-encoded.

    The EDA paper's models start from word2vec vectors for every word (Wei & Zou 2019,
    section 3: "we use pre-trained word2vec embeddings"), so a WordNet synonym that never
    occurs in the training sentences still has a row, and a meaningful one. A vocabulary
    learnt from the training sentences alone maps such a synonym to ``<unk>`` (29-60% of
    the words EDA brought in on SUBJ and MR, issue 5). Adding the words of pretrained
    vectors here lets a model initialised from them (e.g.
    :func:`workbench.techniques.transfer.kim_cnn`) see those synonyms as themselves.

    The training words keep their ids (the new words follow them, in the order given,
    without duplicates, specials or words already present), so ids ``< len(splits.vocab)``
    mean the same before and after; ``vocab.freq`` stays the training split's counts (the
    added words count 0). No label information is used: the words come from unlabelled
    text, and validation or test words outside ``words`` stay unknown.

    Args:
        splits: a text :class:`DataSplits` with a vocabulary and sentences (``texts``).
        words: words to add (e.g. ``WordVectors.words``), tokenized as the data set is
            (lower-cased when ``splits.info["lowercase"]`` is true, the default).
        max_added: add at most this many (the first ones given; word2vec lists its words
            by descending corpus frequency); None: all.

    Returns:
        A new :class:`DataSplits`: the extended ``vocab``, ``task.vocab_size`` following
        it, every split re-encoded; ``info["vocab_extension"]`` holds ``base_size``,
        ``added`` and ``size``, ``info["oov_rate"]`` the unknown-token rate per split.

    Raises:
        ValueError: not a text data set with a vocabulary and sentences, or ``max_added``
            not None and < 0.
    """
    if splits.vocab is None or any(d.texts is None for d in (splits.train, splits.val, splits.test) if len(d)):
        raise ValueError(f"extend_vocabulary: {splits.name!r} is not a text data set with a vocabulary "
                         "and sentences in every split")
    if max_added is not None:
        check_int("max_added", max_added, 0)
    if isinstance(words, str):
        raise ValueError("words must be an iterable of words, not one string")
    base = splits.vocab
    itos = list(base.itos)
    seen = set(itos)
    limit = math.inf if max_added is None else max_added
    added = 0
    for w in words:
        if added >= limit:
            break
        if not isinstance(w, str) or not w or w in seen:
            continue
        itos.append(w)
        seen.add(w)
        added += 1
    vocab = Vocabulary(itos, freq=base.freq, specials=base.specials, min_freq=base.min_freq,
                       max_size=base.max_size)
    lowercase = bool(splits.info.get("lowercase", True))
    max_length = splits.info.get("max_length")
    parts = {}
    oov = {}
    for k, d in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        if isinstance(d, AugmentedDataset):
            raise ValueError("extend_vocabulary: extend the vocabulary before augmenting (augment_splits), "
                             "so the copies are encoded with it")
        parts[k], oov[k] = _encode(d, vocab, lowercase, max_length) if len(d) else (d, 0.0)
    info = dict(splits.info)
    info["vocab_extension"] = {"base_size": len(base), "added": added, "size": len(vocab)}
    info["oov_rate"] = oov
    info["vocab_size"] = len(vocab)
    task = dataclasses.replace(splits.task, vocab_size=len(vocab))
    return DataSplits(splits.name, parts["train"], parts["val"], parts["test"], task, vocab, info)


def new_token_oov_rate(data: AugmentedDataset | DataSplits, known: Vocabulary | Container[str]) -> float:
    """The share of the words EDA brought in that ``known`` does not know.

    A copy's new words are those it holds more often than its source sentence (multiset
    difference: the synonyms of synonym replacement and random insertion; swaps and
    deletions bring none), counted with multiplicity over all copies
    (:attr:`AugmentedDataset.new_token_counts`). Under the vocabulary the copies were
    encoded with this equals ``stats["new_token_oov_rate"]``; pass another vocabulary or
    a word set (e.g. ``set(vectors.words)``) to measure it there.

    Args:
        data: an :class:`AugmentedDataset`, or augmented splits (their training split).
        known: a :class:`Vocabulary` (specials do not count as known) or any container of words.

    Returns:
        A fraction in ``[0, 1]``; NaN when the copies brought in no new word.

    Raises:
        ValueError: ``data`` is not augmented.
    """
    aug = data.train if isinstance(data, DataSplits) else data
    if not isinstance(aug, AugmentedDataset):
        raise ValueError(f"new_token_oov_rate needs an AugmentedDataset (augment_splits / augment_dataset); "
                         f"got {type(aug).__name__}")
    specials = set(known.specials) if isinstance(known, Vocabulary) else set()
    words = known.stoi if isinstance(known, Vocabulary) else known
    total = sum(aug.new_token_counts.values())
    if not total:
        return math.nan
    unknown = sum(c for w, c in aug.new_token_counts.items() if w in specials or w not in words)
    return unknown / total
