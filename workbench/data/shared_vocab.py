"""One vocabulary over several text corpora, and re-encoding a split with it.

Used by every family that trains one model on several text data sets (multi-task learning,
domain adaptation): :func:`shared_vocabulary` counts the *training* texts of each data set
(tokenised as :mod:`workbench.data.corpora` does: :func:`~workbench.data.text.tokenize`,
lower-cased unless a data set's ``info["lowercase"]`` is False); :func:`reencode` maps one
split's original texts to ids of that vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from workbench.data.splits import DataSplits, ExampleDataset
from workbench.data.text import Vocabulary, tokenize


def shared_vocabulary(splits: Mapping[str, DataSplits], min_freq: int = 1,
                      max_size: int | None = None) -> Vocabulary:
    """One :class:`~workbench.data.text.Vocabulary` over the training texts of every data set.

    Only training splits are counted (no validation or test token leaks into the vocabulary).

    Raises:
        ValueError: no data set, or one whose training split has no texts (not a text data set).
    """
    if not splits:
        raise ValueError("shared_vocabulary: splits must name at least one task; got none")
    lists = []
    for name, s in splits.items():
        texts = s.train.texts
        if texts is None:
            raise ValueError(f"shared_vocabulary: task {name!r} has no texts (a text data set is needed)")
        low = bool(s.info.get("lowercase", True))
        lists.extend(tokenize(t, lowercase=low) for t in texts)
    return Vocabulary.build(lists, min_freq=min_freq, max_size=max_size)


def reencode(data: ExampleDataset, vocab: Vocabulary, max_length: int | None, lowercase: bool = True) -> ExampleDataset:
    """``data`` with every text re-tokenised and encoded with ``vocab`` (truncated at
    ``max_length`` tokens; an empty encoding becomes ``[unk]``); ids, targets and texts kept.

    Raises:
        ValueError: ``data`` has no texts.
    """
    if data.texts is None:
        raise ValueError(f"reencode: data set {data.name!r} has no texts (a text data set is needed)")
    inputs = [torch.tensor(vocab.encode(tokenize(t, lowercase=lowercase), max_length=max_length) or [vocab.unk_id],
                           dtype=torch.long) for t in data.texts]
    return ExampleDataset(inputs, data.targets.clone(), data.ids.clone(), texts=list(data.texts), name=data.name)
