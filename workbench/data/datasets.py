"""Data sets with stable example ids, and loaders for real data.

Loaders return a :class:`DataSplits` (train / val / test :class:`ExampleDataset` s, a
:class:`~workbench.config.TaskSpec`, the :class:`~workbench.data.text.Vocabulary` for text,
and an ``info`` dict that records the source and the split).

Built-in data sets (:func:`load_dataset` names):

=========  =========================================  ================================  ========
name       what                                       source                            examples
=========  =========================================  ================================  ========
digits     8x8 handwritten digits, 10 classes         ``sklearn.datasets.load_digits``  1,797
subj       subjective (1) vs objective (0) sentences  NLTK ``subjectivity``             10,000
mr         positive (1) vs negative (0) snippets      NLTK ``sentence_polarity``        10,662
pros_cons  pro (1) vs con (0) review sentences        NLTK ``pros_cons``                45,867
=========  =========================================  ================================  ========

(The ``pros_cons`` corpus holds 45,875 sentences; 8 are empty and are dropped, their ids
left unused.) Your own data: :func:`load_text_file` (CSV / TSV / JSON lines) and
:func:`load_arrays` (NumPy ``X``, ``y``).

Split protocol (every loader; recorded in ``DataSplits.info["split_protocol"]``):
``n_test = round(fractions[2] * N)`` and ``n_val = round(fractions[1] * N)`` examples are
held out, the rest is training data. First ``sklearn.model_selection.train_test_split(
positions, test_size=n_test, stratify=labels, random_state=seed)`` separates the test set,
then the same call on the remainder (``test_size=n_val``, stratified by the remaining
labels, same ``random_state``) separates validation from training. Each split is then
sorted by example id. If stratification is impossible (a class with a single example, or
fewer held-out examples than classes) that step falls back to an unstratified split with a
warning and ``info["stratified"] = False``; regression targets are never stratified. With
``max_examples`` a stratified subsample of that many examples (``train_test_split(
train_size=max_examples, stratify=labels, random_state=seed)``) is drawn before
splitting. Example ids are corpus positions, independent of the seed: the same id is the
same example under every seed.

Text loaders tokenize with :func:`workbench.data.text.tokenize` and build the vocabulary
on the training split only; ``DataSplits.vocab.encode(tokenize(text))[:max_length]``
reproduces an example's ``input`` from its ``texts`` entry.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from workbench.config import TaskSpec
from workbench.data.nltk_data import ensure_corpus
from workbench.data.text import Vocabulary, tokenize

__all__ = [
    "DATASETS",
    "DataSplits",
    "DataValidationError",
    "ExampleDataset",
    "SPLIT_PROTOCOL",
    "load_arrays",
    "load_dataset",
    "load_digits",
    "load_mr",
    "load_pros_cons",
    "load_subj",
    "load_text_file",
]

SPLIT_PROTOCOL = (
    "n_test = round(f_test * N), n_val = round(f_val * N), train = rest; "
    "test = sklearn train_test_split(positions, test_size=n_test, stratify=labels, "
    "random_state=seed); val = train_test_split(remainder, test_size=n_val, "
    "stratify=remainder labels, random_state=seed); each split sorted by id"
)

#: Default fractions (train, val, test).
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


class DataValidationError(ValueError):
    """Invalid input data, found at load time.

    The message names what is wrong and where; the attributes repeat it for programs.

    Attributes:
        source: file path or argument name (``"X"``, ``"y"``) the problem is in, or None.
        row: 1-based data row (CSV: data row after the header; JSON lines: line number of
            the file) or 0-based array index for arrays, or None.
        field: column / field name, or None.
    """

    def __init__(self, message: str, source: str | None = None, row: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.source = source
        self.row = row
        self.field = field


# ---------------------------------------------------------------------------------- data set
class ExampleDataset(Dataset):
    """A data set whose every example carries a stable integer id.

    Items are dicts ``{"id": int, "input": Tensor, "target": int | float | Tensor}``:

    - text: ``input`` is a 1-D ``torch.long`` tensor of token ids (variable length, no padding);
    - vision: ``input`` is ``torch.float32`` ``[C, H, W]`` (values in [0, 1], not normalised);
    - tabular: ``input`` is ``torch.float32`` ``[F]``.

    Args:
        inputs: a list of 1-D integer tensors (text; lists of ints are converted), or one
            stacked tensor ``[N, ...]`` (vision, tabular; floating point is kept as float32).
        targets: ``[N]`` integer class labels (stored as ``torch.long``) or ``[N]`` /
            ``[N, K]`` floats for regression (stored as ``torch.float32``).
        ids: ``[N]`` distinct integers (stored as ``torch.long``).
        texts: the original strings (text data), or None.
        name: for display.

    Attributes:
        ids: ``LongTensor [N]``. targets: ``LongTensor [N]`` (or float). inputs: as given.
        texts: ``list[str]`` or None. name: ``str``. modality: ``"text"``, ``"vision"``
        (4-D stacked inputs), ``"tabular"`` (2-D) or ``"other"``.

    Raises:
        ValueError: if the lengths of ``inputs``, ``targets``, ``ids`` (and ``texts``)
            differ, ids repeat, or a text input is not 1-D.
    """

    def __init__(self, inputs: Sequence[torch.Tensor] | torch.Tensor, targets: Any, ids: Any,
                 texts: Sequence[str] | None = None, name: str = ""):
        self.name = str(name)
        self.ids = torch.as_tensor(np.asarray(ids, dtype=np.int64) if not isinstance(ids, torch.Tensor)
                                   else ids).long().reshape(-1)
        targets = targets if isinstance(targets, torch.Tensor) else torch.as_tensor(np.asarray(targets))
        if targets.dtype == torch.bool or not torch.is_floating_point(targets):
            targets = targets.long()
        else:
            targets = targets.float()
        self.targets = targets
        n = len(self.ids)
        if isinstance(inputs, torch.Tensor):
            if torch.is_floating_point(inputs):
                inputs = inputs.float()
            self.inputs = inputs
            self.modality = {4: "vision", 2: "tabular"}.get(inputs.dim(), "other")
        else:
            converted = []
            for i, x in enumerate(inputs):
                x = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.long)
                if x.dim() != 1:
                    raise ValueError(f"{self._label()}text input at position {i} must be 1-D; got shape {tuple(x.shape)}")
                converted.append(x if x.dtype == torch.long else x.long())
            self.inputs = converted
            self.modality = "text"
        if len(self.inputs) != n or len(self.targets) != n:
            raise ValueError(f"{self._label()}inputs ({len(self.inputs)}), targets ({len(self.targets)}) "
                             f"and ids ({n}) must have the same length")
        self.texts = list(texts) if texts is not None else None
        if self.texts is not None and len(self.texts) != n:
            raise ValueError(f"{self._label()}texts ({len(self.texts)}) and ids ({n}) must have the same length")
        self._id_list: list[int] = self.ids.tolist()
        self._position: dict[int, int] = {int(i): p for p, i in enumerate(self._id_list)}
        if len(self._position) != n:
            raise ValueError(f"{self._label()}ids must be distinct; {n - len(self._position)} repeat")
        self._target_list: list[Any] = (self.targets.tolist() if self.targets.dim() == 1
                                        else list(self.targets))

    def _label(self) -> str:
        return f"ExampleDataset {self.name!r}: " if self.name else "ExampleDataset: "

    def __len__(self) -> int:
        return len(self._id_list)

    def __getitem__(self, position: int) -> dict[str, Any]:
        position = int(position)
        if position < 0:
            position += len(self)
        return {"id": self._id_list[position], "input": self.inputs[position],
                "target": self._target_list[position]}

    def __repr__(self) -> str:
        shape = ("variable-length token ids" if self.modality == "text"
                 else f"inputs {tuple(self.inputs.shape)}")
        return f"ExampleDataset(name={self.name!r}, size={len(self)}, {self.modality}, {shape})"

    @property
    def lengths(self) -> torch.Tensor | None:
        """Text only: ``LongTensor [N]`` of token counts; None for other modalities."""
        if self.modality != "text":
            return None
        return torch.tensor([len(x) for x in self.inputs], dtype=torch.long)

    def position_of(self, example_id: int) -> int:
        """The position (0-based index into this data set) of the example with id ``example_id``.

        Raises:
            KeyError: if no example here has that id.
        """
        try:
            return self._position[int(example_id)]
        except KeyError:
            raise KeyError(f"{self._label()}no example with id {int(example_id)}") from None

    def subset(self, positions: Sequence[int] | np.ndarray | torch.Tensor) -> ExampleDataset:
        """A new data set with the examples at ``positions`` (in that order); ids are kept.

        Tensors are indexed (copies of the selected rows); text input tensors are shared.

        Raises:
            IndexError: for a position outside ``[-len, len)``.
        """
        pos = torch.as_tensor(np.asarray(positions, dtype=np.int64).reshape(-1)
                              if not isinstance(positions, torch.Tensor) else positions).long().reshape(-1)
        n = len(self)
        if len(pos) and (int(pos.min()) < -n or int(pos.max()) >= n):
            raise IndexError(f"{self._label()}positions must be in [-{n}, {n}); got {pos.min()}..{pos.max()}")
        pos = torch.where(pos < 0, pos + n, pos)
        plist = pos.tolist()
        inputs = ([self.inputs[p] for p in plist] if self.modality == "text"
                  else self.inputs[pos])
        texts = [self.texts[p] for p in plist] if self.texts is not None else None
        return ExampleDataset(inputs, self.targets[pos], self.ids[pos], texts=texts, name=self.name)

    def subset_by_ids(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> ExampleDataset:
        """A new data set with the examples whose ids are ``ids`` (in that order).

        Raises:
            KeyError: naming the ids (up to 10) that are not in this data set.
        """
        id_list = ids.tolist() if isinstance(ids, (torch.Tensor, np.ndarray)) else list(ids)
        missing = [int(i) for i in id_list if int(i) not in self._position]
        if missing:
            raise KeyError(f"{self._label()}{len(missing)} ids not in this data set, e.g. {missing[:10]}")
        return self.subset([self._position[int(i)] for i in id_list])


@dataclass
class DataSplits:
    """Train / validation / test splits of one data set, with its task description.

    Attributes:
        name: data-set name (``"subj"``, ``"digits"``, a file stem, ...).
        train, val, test: :class:`ExampleDataset` s (val or test may be empty when its
            fraction is 0).
        task: :class:`~workbench.config.TaskSpec` (modality, classes, shapes, vocabulary
            size, normalisation statistics; ``task.collator()`` gives the collate function).
        vocab: the :class:`~workbench.data.text.Vocabulary` (text, built on ``train`` only) or None.
        info: plain-Python dict: ``source`` (citation), ``split_seed``, ``fractions``,
            ``split_protocol``, ``stratified``, ``sizes`` ``{"train", "val", "test"}``,
            ``class_counts`` per split, and loader-specific entries.
    """

    name: str
    train: ExampleDataset
    val: ExampleDataset
    test: ExampleDataset
    task: TaskSpec
    vocab: Vocabulary | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> dict[str, ExampleDataset]:
        """``{"train": ..., "val": ..., "test": ...}``."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        vocab = f", vocab={len(self.vocab)}" if self.vocab is not None else ""
        return (f"DataSplits(name={self.name!r}, {sizes}, modality={self.task.modality!r}, "
                f"num_classes={self.task.num_classes}{vocab})")


# ---------------------------------------------------------------------------------- helpers
def _check_fractions(fractions: Any) -> tuple[float, float, float]:
    ok = isinstance(fractions, (tuple, list)) and len(fractions) == 3
    if ok:
        try:
            fr = tuple(float(f) for f in fractions)
        except (TypeError, ValueError):
            ok = False
    if not ok or not all(math.isfinite(f) and 0.0 <= f <= 1.0 for f in fr) or fr[0] <= 0 \
            or abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError("fractions must be three numbers (train, val, test) in [0, 1] with "
                         f"train > 0 that sum to 1; got {fractions!r}")
    return fr  # type: ignore[return-value]


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32); got {seed!r}")
    return int(seed)


def _check_optional_int(name: str, value: Any, lo: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be None or an integer >= {lo}; got {value!r}")
    return int(value)


def _stratified_or_plain(positions: np.ndarray, size: int, labels: np.ndarray | None, seed: int,
                         what: str, keep: str = "test") -> tuple[np.ndarray, np.ndarray, bool]:
    """Split ``positions`` into (rest, held) with ``len(held) == size``; stratify if possible."""
    from sklearn.model_selection import train_test_split

    kwargs: dict[str, Any] = {"random_state": seed}
    kwargs["train_size" if keep == "train" else "test_size"] = size
    if labels is not None:
        try:
            a, b = train_test_split(positions, stratify=labels, **kwargs)
            return (b, a, True) if keep == "train" else (a, b, True)
        except ValueError as exc:
            warnings.warn(f"cannot stratify the {what} split ({exc}); using an unstratified split",
                          stacklevel=3)
    a, b = train_test_split(positions, **kwargs)
    return ((b, a, labels is None) if keep == "train" else (a, b, labels is None))


def _split_positions(labels: np.ndarray | None, n: int, fractions: tuple[float, float, float],
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Positions ``0..n-1`` split into sorted (train, val, test); see the module's split protocol.

    ``labels`` (``[n]`` ints) stratifies; None (regression) does not. Returns also whether
    every step was stratified.
    """
    n_test = int(round(fractions[2] * n))
    n_val = int(round(fractions[1] * n))
    if n - n_test - n_val < 1:
        raise DataValidationError(f"{n} examples are too few for fractions {fractions}: "
                                  "the training split would be empty")
    positions = np.arange(n)
    stratified = labels is not None
    empty = np.zeros(0, dtype=np.int64)
    if n_test > 0:
        rest, test, s = _stratified_or_plain(positions, n_test, labels, seed, "test")
        stratified = stratified and s
    else:
        rest, test = positions, empty
    if n_val > 0:
        sub = labels[rest] if labels is not None else None
        train, val, s = _stratified_or_plain(rest, n_val, sub, seed, "validation")
        stratified = stratified and s
    else:
        train, val = rest, empty
    return (np.sort(train).astype(np.int64), np.sort(val).astype(np.int64),
            np.sort(test).astype(np.int64), stratified)


def _subsample(labels: np.ndarray | None, n: int, max_examples: int | None, seed: int) -> np.ndarray:
    """Sorted positions of a (stratified when possible) subsample of ``max_examples`` of ``n``."""
    if max_examples is None or max_examples >= n:
        return np.arange(n)
    _, keep, _ = _stratified_or_plain(np.arange(n), max_examples, labels, seed, "max_examples",
                                      keep="train")
    return np.sort(keep)


def _check_train_classes(name: str, train_labels: np.ndarray, all_labels: np.ndarray,
                         class_names: Sequence[str] | None) -> None:
    present = np.unique(train_labels)
    if len(present) < 2:
        only = int(present[0]) if len(present) else None
        shown = f"{only} ({class_names[only]!r})" if (only is not None and class_names
                                                        and only < len(class_names)) else str(only)
        counts = {int(c): int(k) for c, k in zip(*np.unique(all_labels, return_counts=True))}
        raise DataValidationError(
            f"{name}: the training split has a single class ({shown}); a classifier needs at "
            f"least two. Class counts in the whole data set: {counts}. Add examples of the "
            "other classes or check the label column.", source=name, field="label")


def _class_counts(labels: np.ndarray, num_classes: int) -> list[int]:
    return np.bincount(labels, minlength=num_classes).astype(int).tolist()


def _split_info(source: str, seed: int, fractions: tuple[float, float, float], stratified: bool,
                parts: dict[str, np.ndarray], labels: np.ndarray | None,
                num_classes: int) -> dict[str, Any]:
    info: dict[str, Any] = {
        "source": source,
        "split_seed": seed,
        "fractions": list(fractions),
        "split_protocol": SPLIT_PROTOCOL,
        "stratified": bool(stratified),
        "sizes": {k: int(len(v)) for k, v in parts.items()},
    }
    if labels is not None:
        info["class_counts"] = {k: _class_counts(labels[v], num_classes) for k, v in parts.items()}
    return info


# ---------------------------------------------------------------------------------- text
def _encode_all(vocab: Vocabulary, token_lists: Sequence[Sequence[str]],
                max_length: int | None) -> tuple[list[torch.Tensor], int, int]:
    """(1-D long tensors, number of tokens, number of unknown tokens)."""
    get, unk = vocab.stoi.get, vocab.unk_id
    flat: list[int] = []
    lengths: list[int] = []
    for toks in token_lists:
        if max_length is not None:
            toks = toks[:max_length]
        flat.extend([get(t, unk) for t in toks])
        lengths.append(len(toks))
    if not lengths:
        return [], 0, 0
    ids = torch.tensor(flat, dtype=torch.long)
    # clone: each example owns its storage (small pickles, no hidden sharing between splits)
    return [t.clone() for t in ids.split(lengths)], len(flat), int((ids == unk).sum())


def _text_splits(name: str, texts: Sequence[str], token_lists: Sequence[Sequence[str]],
                 labels: np.ndarray, ids: np.ndarray, class_names: Sequence[str], source: str, *,
                 seed: int, fractions: Any, min_freq: int, max_length: int | None,
                 lowercase: bool, max_examples: int | None, max_vocab_size: int | None,
                 extra_info: dict[str, Any]) -> DataSplits:
    seed = _check_seed(seed)
    fr = _check_fractions(fractions)
    max_length = _check_optional_int("max_length", max_length, 1)
    max_examples = _check_optional_int("max_examples", max_examples, 2)
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an integer >= 1; got {min_freq!r}")
    n_all = len(texts)
    if n_all == 0:
        raise DataValidationError(f"{name}: the data set is empty (no examples)", source=name)
    num_classes = len(class_names)
    keep = _subsample(labels, n_all, max_examples, seed)
    labels_k = labels[keep]
    tr, va, te, stratified = _split_positions(labels_k, len(keep), fr, seed)
    _check_train_classes(name, labels_k[tr], labels_k, class_names)
    parts = {"train": keep[tr], "val": keep[va], "test": keep[te]}
    vocab = Vocabulary.build((token_lists[p] for p in parts["train"]), min_freq=min_freq,
                             max_size=max_vocab_size)
    datasets: dict[str, ExampleDataset] = {}
    truncated = 0
    oov: dict[str, float] = {}
    for split, pos in parts.items():
        plist = pos.tolist()
        toks = [token_lists[p] for p in plist]
        inputs, n_tok, n_unk = _encode_all(vocab, toks, max_length)
        if max_length is not None:
            truncated += sum(1 for t in toks if len(t) > max_length)
        oov[split] = n_unk / n_tok if n_tok else 0.0
        datasets[split] = ExampleDataset(inputs, torch.as_tensor(labels[pos], dtype=torch.long),
                                         torch.as_tensor(ids[pos], dtype=torch.long),
                                         texts=[texts[p] for p in plist], name=f"{name}/{split}")
    task = TaskSpec(modality="text", num_classes=num_classes, vocab_size=len(vocab), pad_id=0,
                    max_length=max_length, min_length=5, class_names=tuple(class_names), name=name)
    info = _split_info(source, seed, fr, stratified, parts, labels, num_classes)
    info.update({
        "num_examples": int(n_all),
        "max_examples": max_examples,
        "tokenizer": "workbench.data.text.tokenize",
        "lowercase": bool(lowercase),
        "min_freq": int(min_freq),
        "max_vocab_size": max_vocab_size,
        "max_length": max_length,
        "truncated": int(truncated),
        "vocab_size": len(vocab),
        "oov_rate": oov,
    })
    info.update(extra_info)
    return DataSplits(name=name, train=datasets["train"], val=datasets["val"], test=datasets["test"],
                      task=task, vocab=vocab, info=info)


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
                 lowercase: bool, max_examples: int | None, max_vocab_size: int | None) -> DataSplits:
    spec = _CORPORA[key]
    path = ensure_corpus(spec.corpus)
    texts, labels, ids, dropped, corpus_size = _read_corpus(key, path)
    tokens = _tokenized_corpus(key, path, bool(lowercase))
    extra = {"corpus": spec.corpus, "corpus_path": path, "corpus_size": corpus_size,
             "dropped_ids": list(dropped),
             "id_order": "sorted NLTK file ids, then sentence order within each file",
             "label_names": {str(i): f"{c} ({spec.categories[i]})" for i, c in enumerate(spec.class_names)}}
    return _text_splits(key, texts, tokens, labels, ids, spec.class_names, spec.source, seed=seed,
                        fractions=fractions, min_freq=min_freq, max_length=max_length,
                        lowercase=lowercase, max_examples=max_examples,
                        max_vocab_size=max_vocab_size, extra_info=extra)


_TEXT_LOADER_ARGS = """
    Args:
        seed: split seed (the split protocol in :mod:`workbench.data.datasets`).
        fractions: (train, val, test) fractions, summing to 1.
        min_freq: vocabulary keeps training tokens seen at least this often.
        max_length: truncate token sequences to this many tokens (also ``task.max_length``).
        lowercase: lower-case before tokenizing.
        max_examples: draw a stratified subsample of this many examples (seeded) before
            splitting, for quick runs; None: all.
        max_vocab_size: cap on the vocabulary size, specials included.

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
              max_examples: int | None = None, max_vocab_size: int | None = None) -> DataSplits:
    """SUBJ: 10,000 movie sentences, subjective (label 1, review snippets from Rotten
    Tomatoes) vs objective (label 0, plot summaries from IMDb); 5,000 each.

    Source: Pang & Lee (2004), ACL; NLTK corpus ``subjectivity`` (categories ``obj``,
    ``subj``). Ids: 0-4999 are ``plot.tok.gt9.5000`` (objective), 5000-9999
    ``quote.tok.gt9.5000`` (subjective), in file order. Published accuracy: Kim (2014) CNN
    89.6-93.4, NBSVM 93.2 (10-fold cross-validation).
    """
    return _load_corpus("subj", seed, fractions, min_freq, max_length, lowercase, max_examples,
                        max_vocab_size)


def load_mr(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS, min_freq: int = 1,
            max_length: int | None = None, lowercase: bool = True,
            max_examples: int | None = None, max_vocab_size: int | None = None) -> DataSplits:
    """MR: 10,662 movie-review snippets, positive (label 1) vs negative (label 0); 5,331 each.

    Source: Pang & Lee (2005), ACL; NLTK corpus ``sentence_polarity`` (categories ``neg``,
    ``pos``). Ids: 0-5330 are ``rt-polarity.neg``, 5331-10661 ``rt-polarity.pos``, in file
    order. Published accuracy: Kim (2014) CNN 76.1-81.5, NBSVM 79.4.
    """
    return _load_corpus("mr", seed, fractions, min_freq, max_length, lowercase, max_examples,
                        max_vocab_size)


#: Default truncation for pros_cons: the longest sentence has 219 tokens, 99% have <= 25;
#: 64 truncates 12 sentences.
PROS_CONS_MAX_LENGTH = 64


def load_pros_cons(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   min_freq: int = 1, max_length: int | None = PROS_CONS_MAX_LENGTH,
                   lowercase: bool = True, max_examples: int | None = None,
                   max_vocab_size: int | None = None) -> DataSplits:
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
                        max_examples, max_vocab_size)


for _f in (load_subj, load_mr, load_pros_cons):
    _f.__doc__ = (_f.__doc__ or "") + _TEXT_LOADER_ARGS


# ---------------------------------------------------------------------------------- text files
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}
_INT_RE = re.compile(r"^[+-]?\d+$")


def _read_rows(path: Path, fmt: str, text_column: str, label_column: str,
               encoding: str) -> tuple[list[str], list[Any], list[str]]:
    """Rows as (texts, raw labels, row descriptions for messages)."""
    texts: list[str] = []
    labels: list[Any] = []
    where: list[str] = []

    def take(text: Any, label: Any, desc: str, row: int) -> None:
        if text is None or (isinstance(text, str) and not text.strip()):
            raise DataValidationError(f"{path}: {desc} has empty text in column {text_column!r}",
                                      source=str(path), row=row, field=text_column)
        if isinstance(text, (dict, list)):
            raise DataValidationError(f"{path}: {desc}: {text_column!r} must be a string; got {text!r:.60}",
                                      source=str(path), row=row, field=text_column)
        if label is None or (isinstance(label, str) and not label.strip()):
            raise DataValidationError(f"{path}: {desc} has an empty label in column {label_column!r}",
                                      source=str(path), row=row, field=label_column)
        texts.append(str(text))
        labels.append(label.strip() if isinstance(label, str) else label)
        where.append(desc)

    if fmt in ("csv", "tsv"):
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter="," if fmt == "csv" else "\t")
            header = next(reader, None)
            if header is None:
                raise DataValidationError(f"{path}: the data set is empty (no header, no rows)",
                                          source=str(path))
            header = [h.strip() for h in header]
            missing = [c for c in (text_column, label_column) if c not in header]
            if missing:
                raise DataValidationError(
                    f"{path}: missing column(s) {missing}; columns present: {header}",
                    source=str(path), field=missing[0])
            ti, li = header.index(text_column), header.index(label_column)
            row = 0
            for fields in reader:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # blank line
                row += 1
                desc = f"row {row} (line {reader.line_num})"
                if len(fields) <= max(ti, li):
                    raise DataValidationError(
                        f"{path}: {desc} has {len(fields)} fields but the header has {len(header)}; "
                        f"column {header[max(ti, li)]!r} is missing", source=str(path), row=row,
                        field=header[max(ti, li)])
                take(fields[ti], fields[li], desc, row)
        return texts, labels, where

    with open(path, encoding=encoding) as fh:
        content = fh.read()
    if content.lstrip().startswith("["):  # a JSON array of objects
        try:
            records = json.loads(content)
        except json.JSONDecodeError as exc:
            raise DataValidationError(f"{path}: not valid JSON ({exc})", source=str(path)) from None
        items = [(i + 1, f"record {i + 1}", r) for i, r in enumerate(records)]
    else:
        items = []
        for lineno, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(f"{path}: line {lineno} is not valid JSON ({exc.msg})",
                                          source=str(path), row=lineno) from None
            items.append((lineno, f"line {lineno}", rec))
    for row, desc, rec in items:
        if not isinstance(rec, dict):
            raise DataValidationError(f"{path}: {desc} is not a JSON object; got {rec!r:.60}",
                                      source=str(path), row=row)
        for col in (text_column, label_column):
            if col not in rec:
                raise DataValidationError(
                    f"{path}: {desc} has no field {col!r}; fields present: {sorted(rec)}",
                    source=str(path), row=row, field=col)
        take(rec[text_column], rec[label_column], desc, row)
    return texts, labels, where


def _labels_to_ints(path: Path, raw: list[Any], where: list[str], label_column: str,
                    label_map: dict[Any, int] | None) -> tuple[np.ndarray, tuple[str, ...], str]:
    """(int labels, class names, how they were mapped)."""
    def fail(i: int, why: str) -> DataValidationError:
        return DataValidationError(f"{path}: {where[i]}: label {raw[i]!r} in column {label_column!r} {why}",
                                   source=str(path), field=label_column)

    if label_map is not None:
        if not label_map or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                    and v >= 0 for v in label_map.values()):
            raise ValueError(f"label_map must map labels to integers >= 0; got {label_map!r}")
        out = []
        for i, lab in enumerate(raw):
            if lab in label_map:
                out.append(int(label_map[lab]))
            elif str(lab) in label_map:
                out.append(int(label_map[str(lab)]))
            else:
                raise fail(i, f"is not in label_map (keys: {sorted(map(str, label_map))})")
        num_classes = max(int(v) for v in label_map.values()) + 1
        names = []
        for c in range(num_classes):
            keys = sorted(str(k) for k, v in label_map.items() if v == c)
            names.append(keys[0] if keys else str(c))
        return np.asarray(out, dtype=np.int64), tuple(names), "label_map"

    def as_int(lab: Any) -> int | None:
        if isinstance(lab, (bool, int, np.integer)):
            return int(lab)
        if isinstance(lab, float) and lab.is_integer():
            return int(lab)
        if isinstance(lab, str) and _INT_RE.match(lab):
            return int(lab)
        return None

    ints = [as_int(lab) for lab in raw]
    if all(v is not None for v in ints):
        for i, v in enumerate(ints):
            if v < 0:  # type: ignore[operator]
                raise fail(i, "is negative; integer labels must be class indices 0, 1, ...")
        num_classes = max(ints) + 1  # type: ignore[type-var]
        return (np.asarray(ints, dtype=np.int64), tuple(str(c) for c in range(num_classes)),
                "integer labels kept")
    names = sorted({str(lab) for lab in raw})
    index = {n: i for i, n in enumerate(names)}
    return (np.asarray([index[str(lab)] for lab in raw], dtype=np.int64), tuple(names),
            "string labels -> sorted order")


def load_text_file(path: str | Path, text_column: str = "text", label_column: str = "label",
                   format: str | None = None, label_map: dict[Any, int] | None = None,
                   seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   min_freq: int = 1, max_length: int | None = None, lowercase: bool = True,
                   max_examples: int | None = None, max_vocab_size: int | None = None,
                   encoding: str = "utf-8-sig") -> DataSplits:
    """Load a labelled text-classification file (CSV, TSV or JSON lines).

    Args:
        path: the file.
        text_column, label_column: column (CSV/TSV header) or field (JSON) names.
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"``; None infers it from the suffix
            (``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` / ``.json``). ``.json`` may hold
            one object per line or a single JSON array of objects.
        label_map: ``{label: class index}``; None: labels that are all integers (``1``,
            ``"1"``, ``1.0``) are kept as class indices (``num_classes = max + 1``),
            otherwise the distinct label strings are sorted and numbered 0, 1, ...
            (``task.class_names`` holds them in that order).
        seed, fractions, min_freq, max_length, lowercase, max_examples, max_vocab_size: as
            for :func:`load_subj`.
        encoding: text encoding (a UTF-8 byte-order mark is skipped by default).

    Returns:
        :class:`DataSplits` (text modality); ids are 0-based data-row indices (header and
        blank lines not counted), ``texts`` the text column.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        DataValidationError: (a ``ValueError``) naming the file and the row (CSV: 1-based
            data row and the file line; JSON lines: the file line number) and field for: a
            missing column (listing the columns present), empty text, an empty label, a
            label not in ``label_map``, a negative integer label, malformed JSON, an empty
            file, a training split with a single class.
        ValueError: for an unknown format or invalid arguments.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text data file not found: {path}")
    if format is None:
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"cannot infer the format of {path} from its suffix {path.suffix!r}; "
                             f"pass format= one of 'csv', 'tsv', 'jsonl' (known suffixes: {sorted(_FORMATS)})")
    else:
        fmt = {"json": "jsonl", "ndjson": "jsonl"}.get(format, format)
        if fmt not in ("csv", "tsv", "jsonl"):
            raise ValueError(f"format must be 'csv', 'tsv', 'jsonl' or None; got {format!r}")
    texts, raw_labels, where = _read_rows(path, fmt, text_column, label_column, encoding)
    if not texts:
        raise DataValidationError(f"{path}: the data set is empty (no data rows)", source=str(path))
    labels, class_names, how = _labels_to_ints(path, raw_labels, where, label_column, label_map)
    if len(class_names) < 2:
        raise DataValidationError(
            f"{path}: every row has the label {class_names[0]!r} in column {label_column!r}; a "
            "classifier needs at least two classes (the training split would have a single class)",
            source=str(path), field=label_column)
    tokens = [tokenize(t, lowercase=bool(lowercase)) for t in texts]
    ids = np.arange(len(texts), dtype=np.int64)
    extra = {"path": str(path), "format": fmt, "text_column": text_column,
             "label_column": label_column, "label_mapping": how,
             "id_order": "0-based data-row index in the file"}
    return _text_splits(path.stem, texts, tokens, labels, ids, class_names, str(path), seed=seed,
                        fractions=fractions, min_freq=min_freq, max_length=max_length,
                        lowercase=lowercase, max_examples=max_examples,
                        max_vocab_size=max_vocab_size, extra_info=extra)


# ---------------------------------------------------------------------------------- arrays
def _array_splits(name: str, X: np.ndarray, y: np.ndarray, modality: str, num_classes: int,
                  class_names: tuple[str, ...] | None, source: str, seed: int, fractions: Any,
                  max_examples: int | None, extra_info: dict[str, Any]) -> DataSplits:
    seed = _check_seed(seed)
    fr = _check_fractions(fractions)
    max_examples = _check_optional_int("max_examples", max_examples, 2)
    n_all = len(X)
    classification = num_classes >= 2
    labels = y if classification else None
    keep = _subsample(labels, n_all, max_examples, seed)
    sub_labels = labels[keep] if labels is not None else None
    tr, va, te, stratified = _split_positions(sub_labels, len(keep), fr, seed)
    if classification:
        _check_train_classes(name, sub_labels[tr], sub_labels, class_names)
    parts = {"train": keep[tr], "val": keep[va], "test": keep[te]}
    x_all = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    y_all = torch.from_numpy(np.ascontiguousarray(y))
    y_all = y_all.long() if classification else y_all.float()
    datasets = {
        split: ExampleDataset(x_all[torch.from_numpy(pos)], y_all[torch.from_numpy(pos)],
                              torch.from_numpy(pos), name=f"{name}/{split}")
        for split, pos in parts.items()
    }
    mean = std = None
    if modality == "vision":
        train_x = X[parts["train"]].astype(np.float64)
        mean = tuple(float(m) for m in train_x.mean(axis=(0, 2, 3)))
        raw_std = train_x.std(axis=(0, 2, 3))
        std = tuple(float(s) if s > 0 else 1.0 for s in raw_std)
        if any(s <= 0 for s in raw_std):
            extra_info = {**extra_info, "note_std": "a constant channel has std 0; 1.0 is used"}
    task = TaskSpec(modality=modality, num_classes=num_classes, input_shape=tuple(X.shape[1:]),
                    mean=mean, std=std, class_names=class_names, name=name)
    info = _split_info(source, seed, fr, stratified, parts, labels,
                       num_classes if classification else 0)
    info.update({"num_examples": int(n_all), "max_examples": max_examples,
                 "id_order": "0-based row index"})
    if mean is not None:
        info["normalization"] = {"mean": list(mean), "std": list(std),
                                 "computed_on": "training split, per channel, population std"}
    info.update(extra_info)
    return DataSplits(name=name, train=datasets["train"], val=datasets["val"],
                      test=datasets["test"], task=task, vocab=None, info=info)


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


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def load_arrays(X: Any, y: Any, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                num_classes: int | None = None, image_shape: Sequence[int] | None = None,
                class_names: Sequence[str] | None = None, name: str = "arrays",
                max_examples: int | None = None) -> DataSplits:
    """Build splits from in-memory arrays (NumPy arrays, torch tensors or nested lists).

    Shapes: ``X`` 2-D ``[N, F]`` -> tabular (``float32 [F]`` items); 4-D ``[N, C, H, W]``
    -> vision; 3-D ``[N, H, W]`` -> vision with ``C = 1``; with ``image_shape=(C, H, W)``
    a 2-D ``X`` of ``[N, C*H*W]`` is reshaped to images. Vision values are used as given
    (``uint8`` images are divided by 255, as torchvision's ``ToTensor`` does) and
    ``task.mean`` / ``task.std`` are per-channel statistics of the training split. Ids are
    0-based row indices.

    ``y`` holds integer class labels ``[N]`` (classification; ``num_classes`` defaults to
    ``max(y) + 1``), or, with ``num_classes=1``, float regression targets ``[N]`` or
    ``[N, K]`` (never stratified).

    Args:
        X, y: the data.
        seed, fractions, max_examples: as for :func:`load_subj`.
        num_classes: number of classes (labels must lie in ``[0, num_classes)``), 1 for
            regression, None to infer.
        image_shape: ``(C, H, W)`` to treat 2-D ``X`` as flattened images.
        class_names: optional names, one per class.
        name: data-set name.

    Raises:
        DataValidationError: (a ``ValueError``) with the offending index/value for: an empty
            data set; ``len(X) != len(y)``; ``X`` not 2/3/4-D or of a non-numeric dtype;
            NaN or infinity in ``X`` (or in regression ``y``); ``y`` not 1-D integer labels
            (unless ``num_classes=1``); labels outside ``[0, num_classes)``; a training split
            with a single class.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise DataValidationError(f"X must hold numbers (bool, int, float); got dtype {X.dtype}",
                                  source="X")
    if X.ndim == 0:
        raise DataValidationError(f"X must be an array [N, ...]; got a scalar {X!r}", source="X")
    if len(X) == 0:
        raise DataValidationError(f"the data set is empty: X has shape {X.shape}", source="X")
    if y.ndim == 0 or len(y) != len(X):
        raise DataValidationError(f"X and y must have the same length; got len(X) = {len(X)}, "
                                  f"y shape {y.shape}", source="y")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
                                    or num_classes < 1):
        raise ValueError(f"num_classes must be None, 1 (regression) or an integer >= 2; got {num_classes!r}")
    scale_note = None
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 3 or any(s < 1 for s in image_shape):
            raise ValueError(f"image_shape must be (C, H, W); got {image_shape!r}")
        if X.shape[1:] != image_shape:
            if X.ndim != 2 or X.shape[1] != int(np.prod(image_shape)):
                raise DataValidationError(f"X with shape {X.shape} cannot be reshaped to images "
                                          f"{image_shape}: need [N, {int(np.prod(image_shape))}]",
                                          source="X")
            X = X.reshape((len(X), *image_shape))
    if X.ndim == 3:
        X = X[:, None, :, :]
    if X.ndim not in (2, 4):
        raise DataValidationError(f"X must be 2-D [N, F] (tabular), 3-D [N, H, W] or 4-D "
                                  f"[N, C, H, W] (images); got shape {X.shape}", source="X")
    modality = "tabular" if X.ndim == 2 else "vision"
    if X.dtype.kind == "f":
        finite = np.isfinite(X)
        if not finite.all():
            idx = _first_bad(~finite)
            raise DataValidationError(f"X has {int((~finite).sum())} NaN/infinite value(s); first at "
                                      f"X{list(idx)} = {X[idx]!r} (row {idx[0]})", source="X",
                                      row=idx[0])
    elif X.dtype == np.uint8 and modality == "vision":
        X = X.astype(np.float32) / 255.0
        scale_note = "uint8 images divided by 255"
    X = X.astype(np.float32)

    if num_classes == 1:  # regression
        if y.dtype.kind not in "biuf" or y.ndim not in (1, 2):
            raise DataValidationError(f"regression targets y must be numeric [N] or [N, K]; got "
                                      f"dtype {y.dtype}, shape {y.shape}", source="y")
        y = y.astype(np.float32)
        bad = ~np.isfinite(y)
        if bad.any():
            idx = _first_bad(bad)
            raise DataValidationError(f"y has NaN/infinite targets; first at y{list(idx)}", source="y",
                                      row=idx[0])
        return _array_splits(name, X, y, modality, 1, None, "arrays (load_arrays)", seed, fractions,
                             max_examples, {"scale": scale_note} if scale_note else {})

    if y.ndim != 1 or y.dtype.kind not in "biu":
        raise DataValidationError(
            f"y must be 1-D integer class labels; got dtype {y.dtype}, shape {y.shape} "
            "(cast with y.astype(int), or pass num_classes=1 for float regression targets)",
            source="y")
    y = y.astype(np.int64)
    negative = y < 0
    if negative.any():
        i = int(np.argmax(negative))
        raise DataValidationError(f"y[{i}] = {int(y[i])} is negative; labels must be class indices "
                                  f"0, 1, ... ({int(negative.sum())} labels are negative)",
                                  source="y", row=i)
    if num_classes is None:
        num_classes = int(y.max()) + 1
        if num_classes < 2:
            raise DataValidationError(f"every label is {int(y[0])}: a classifier needs at least two "
                                      "classes (the training split would have a single class)",
                                      source="y")
    else:
        num_classes = int(num_classes)
        out = y >= num_classes
        if out.any():
            i = int(np.argmax(out))
            raise DataValidationError(
                f"y[{i}] = {int(y[i])} is outside [0, {num_classes}) (num_classes={num_classes}); "
                f"{int(out.sum())} label(s) are out of range", source="y", row=i)
    if class_names is not None:
        class_names = tuple(str(c) for c in class_names)
        if len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} names; num_classes is {num_classes}")
    else:
        class_names = tuple(str(c) for c in range(num_classes))
    return _array_splits(name, X, y, modality, num_classes, class_names, "arrays (load_arrays)",
                         seed, fractions, max_examples, {"scale": scale_note} if scale_note else {})


# ---------------------------------------------------------------------------------- registry
#: Built-in data sets for :func:`load_dataset`.
DATASETS: dict[str, Callable[..., DataSplits]] = {
    "digits": load_digits,
    "subj": load_subj,
    "mr": load_mr,
    "pros_cons": load_pros_cons,
}


def load_dataset(name: str, **kwargs: Any) -> DataSplits:
    """Load a built-in data set by name (case-insensitive): ``"digits"``, ``"subj"``,
    ``"mr"``, ``"pros_cons"``; ``kwargs`` go to its loader (:func:`load_digits`, ...).

    Raises:
        ValueError: for an unknown name, listing the valid names.
        CorpusNotFoundError: when an NLTK corpus is missing (see :func:`load_subj`).
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names: {sorted(DATASETS)} "
                         "(for your own data use load_text_file() or load_arrays())")
    return DATASETS[key](**kwargs)
