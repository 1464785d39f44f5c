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
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from workbench.data.datasets import DataSplits, ExampleDataset
from workbench.data.text import Vocabulary, tokenize
from workbench.techniques.augment.eda import EDA, EDAConfig

__all__ = [
    "AugmentedDataset",
    "augment_dataset",
    "augment_splits",
    "build_augmented_dataset",
    "example_rng",
    "id_base_for",
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

    Attributes:
        source_ids, copy_index: ``LongTensor [N]``. stats: ``dict``.

    Raises:
        ValueError: lengths differ, ids repeat, or an original's id differs from its source id.
    """

    def __init__(self, inputs: Sequence[torch.Tensor], targets: Any, ids: Any, source_ids: Any,
                 copy_index: Any, texts: Sequence[str] | None = None, name: str = "",
                 stats: dict[str, Any] | None = None) -> None:
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
                                texts=base.texts, name=self.name, stats=self.stats)

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
        difference), ``new_token_oov_rate`` and ``identical_copies``.

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
    target_list = data.targets.tolist()
    for i, (sid, src, cps) in enumerate(zip(ids, source_tokens, copies)):
        src_count = Counter(src)
        for k, toks in enumerate(cps, start=1):
            toks = list(toks)
            if not toks:
                raise ValueError(f"copy {k} of example id {sid} is empty")
            identical += toks == src
            new = Counter(toks) - src_count
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
                            copy_index, texts=texts, name=name or f"{data.name}+aug", stats=figures)


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
