"""Domain-adaptation data: two text corpora with one shared vocabulary, and data sets whose
items carry the domain they come from.

:func:`domain_splits` takes the :class:`~workbench.data.splits.DataSplits` of a source and a
target corpus with the same label meaning (pros_cons and MR: 0 negative, 1 positive),
builds one vocabulary over both *training* texts
(:func:`workbench.data.shared_vocab.shared_vocabulary`; the target's training texts are
unlabelled data, which unsupervised domain adaptation may read) and re-encodes every split.
:class:`DomainDataset` concatenates data sets and adds ``"domain": int`` to each item; the
collators pass it through, so batches carry ``batch["domain"]`` (long ``[B]``), which
:class:`~workbench.techniques.domain.models.DomainNormClassifier` reads and the Trainer's
evaluation breaks metrics down by (``group_key = "domain"``).

Pure data code: no training loop, no technique.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch.utils.data import Dataset

from workbench.data.shared_vocab import reencode, shared_vocabulary
from workbench.data.splits import (
    DataSplits,
    ExampleDataset,
    cap_splits,  # noqa: F401 - re-exported by the family
)
from workbench.data.text import Vocabulary


class DomainDataset(Dataset):
    """The examples of one or more domains in one data set (domain after domain).

    Items are the parts' items plus ``"domain": int`` (the part's domain index, from
    ``domains``; default: the position in ``parts``). Ids get a per-part offset
    (``id_offsets``; default: the earlier parts' largest id + 1) so they stay unique.

    Attributes:
        names, domains, id_offsets, offsets: per part.
        ids, targets, domain_ids: ``LongTensor [N]``.
        group_key, group_names: ``"domain"`` and the names indexed by domain id, so
            :meth:`workbench.train.Trainer.evaluate` reports ``val_accuracy/<domain>``.

    Raises:
        ValueError: no part, an empty part, a negative domain, mismatched lengths.
    """

    group_key = "domain"

    def __init__(self, parts: Mapping[str, ExampleDataset], domains: Sequence[int] | None = None,
                 id_offsets: Sequence[int] | None = None) -> None:
        if not parts:
            raise ValueError("DomainDataset: parts must name at least one domain; got none")
        self.names = [str(n) for n in parts]
        self.parts = list(parts.values())
        if any(len(p) == 0 for p in self.parts):
            raise ValueError(f"DomainDataset: every part needs examples; sizes {[len(p) for p in self.parts]}")
        self.domains = list(range(len(self.parts))) if domains is None else [int(d) for d in domains]
        if len(self.domains) != len(self.parts) or any(d < 0 for d in self.domains):
            raise ValueError(f"DomainDataset: domains must be one integer >= 0 per part; got {domains!r}")
        if id_offsets is None:
            id_offsets, o = [], 0
            for p in self.parts:
                id_offsets.append(o)
                o += int(p.ids.max()) + 1
        if len(id_offsets) != len(self.parts):
            raise ValueError(f"DomainDataset: id_offsets must have one entry per part; got {id_offsets!r}")
        self.id_offsets = [int(o) for o in id_offsets]
        self.offsets, o = [], 0
        for p in self.parts:
            self.offsets.append(o)
            o += len(p)
        self._n = o
        self.ids = torch.cat([p.ids + off for p, off in zip(self.parts, self.id_offsets)])
        self.domain_ids = torch.cat([torch.full((len(p),), d, dtype=torch.long)
                                     for p, d in zip(self.parts, self.domains)])
        self.name = "+".join(self.names)

    @property
    def targets(self) -> torch.Tensor:
        return torch.cat([p.targets for p in self.parts])

    @property
    def group_names(self) -> list[str]:
        names = [f"domain{i}" for i in range(max(self.domains) + 1)]
        for n, d in zip(self.names, self.domains):
            names[d] = n
        return names

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, position: int) -> dict[str, Any]:
        position = int(position)
        if not 0 <= position < self._n:
            raise IndexError(f"position {position} out of range [0, {self._n})")
        k = max(i for i, o in enumerate(self.offsets) if o <= position)
        item = dict(self.parts[k][position - self.offsets[k]])
        item["id"] = int(item["id"]) + self.id_offsets[k]
        item["domain"] = self.domains[k]
        return item


@dataclass
class DomainSplits:
    """A source and a target corpus re-encoded with one shared vocabulary.

    Attributes:
        source, target: :class:`~workbench.data.splits.DataSplits` (each with the shared
            ``vocab`` and a ``task`` whose ``vocab_size`` is the shared one).
        source_name, target_name: the corpora's names.
        vocab: the shared :class:`~workbench.data.text.Vocabulary`.
        info: ``{"vocab_size", "id_offsets": [0, source corpus size], "overlap": {...}}``.
    """

    source_name: str
    target_name: str
    source: DataSplits
    target: DataSplits
    vocab: Vocabulary
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> Any:
        """The source's :class:`~workbench.config.TaskSpec` (shared vocabulary size)."""
        return self.source.task

    @property
    def name(self) -> str:
        return f"{self.source_name}->{self.target_name}"

    # the source domain's splits, as a DataSplits has them (items carry "domain": 0), so
    # the Trainer and the contract test take DomainSplits as they take one data set
    @property
    def train(self) -> DomainDataset:
        return self.dataset("train")

    @property
    def val(self) -> DomainDataset:
        return self.dataset("val")

    @property
    def test(self) -> DomainDataset:
        return self.dataset("test")

    def dataset(self, split: str, which: Sequence[str] = ("source",)) -> DomainDataset:
        """A :class:`DomainDataset` of ``split`` (``"train"``, ``"val"``, ``"test"``) over the
        named domains (``"source"`` is domain 0, ``"target"`` domain 1, ids offset by
        ``info["id_offsets"]``).

        Raises:
            ValueError: an unknown split or domain name.
        """
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test'; got {split!r}")
        if not which or any(w not in ("source", "target") for w in which):
            raise ValueError(f"which must name 'source' and/or 'target'; got {which!r}")
        names = {"source": self.source_name, "target": self.target_name}
        idx = {"source": 0, "target": 1}
        parts = {names[w]: getattr(getattr(self, w), split) for w in which}
        return DomainDataset(parts, [idx[w] for w in which], [self.info["id_offsets"][idx[w]] for w in which])


def vocabulary_overlap(a: DataSplits, b: DataSplits) -> dict[str, float]:
    """Token-type overlap of two corpora's training splits (encoded with one vocabulary):
    ``{"types_a", "types_b", "shared", "jaccard", "coverage_b"}`` (``coverage_b``: share of
    b's training tokens whose type also occurs in a)."""
    ta = set(torch.cat(list(a.train.inputs)).tolist())
    cb = torch.cat(list(b.train.inputs))
    tb = set(cb.tolist())
    shared = ta & tb
    cov = float(torch.isin(cb, torch.tensor(sorted(ta))).float().mean()) if len(cb) else 0.0
    return {"types_a": len(ta), "types_b": len(tb), "shared": len(shared),
            "jaccard": len(shared) / max(1, len(ta | tb)), "coverage_b": cov}


def domain_splits(source: DataSplits, target: DataSplits, source_name: str | None = None,
                  target_name: str | None = None, min_freq: int = 1, max_vocab_size: int | None = None) -> DomainSplits:
    """Re-encode a source and a target text corpus with one vocabulary over both training splits.

    Args:
        source, target: text :class:`~workbench.data.splits.DataSplits` with the same classes.
        source_name, target_name: default ``source.name`` / ``target.name``.
        min_freq, max_vocab_size: as :meth:`~workbench.data.text.Vocabulary.build`.

    Raises:
        ValueError: a data set that is not text, different numbers of classes, equal names.
    """
    sn, tn = source_name or source.name, target_name or target.name
    if sn == tn:
        raise ValueError(f"source_name and target_name must differ; got {sn!r} twice")
    for arg, s in (("source", source), ("target", target)):
        if s.task.modality != "text":
            raise ValueError(f"domain_splits: {arg} is {s.task.modality!r}; a text data set is needed")
    if source.task.num_classes != target.task.num_classes:
        raise ValueError(f"domain_splits: source has {source.task.num_classes} classes and target "
                         f"{target.task.num_classes}; the label sets must match")
    vocab = shared_vocabulary({sn: source, tn: target}, min_freq=min_freq, max_size=max_vocab_size)
    out = {}
    for s in (source, target):
        low = bool(s.info.get("lowercase", True))
        parts = {k: reencode(getattr(s, k), vocab, s.task.max_length, low) for k in ("train", "val", "test")}
        out[id(s)] = replace(s, **parts, vocab=vocab, task=replace(s.task, vocab_size=len(vocab)))
    src, tgt = out[id(source)], out[id(target)]
    size = int(source.info.get("corpus_size", 0)) or int(max(int(getattr(source, k).ids.max())
                                                             for k in ("train", "val", "test"))) + 1
    info = {"vocab_size": len(vocab), "id_offsets": [0, size], "overlap": vocabulary_overlap(src, tgt)}
    return DomainSplits(sn, tn, src, tgt, vocab, info)


