"""Core data types and the split protocol: :class:`ExampleDataset`, :class:`DataSplits`,
:class:`DataValidationError`, and the seeded stratified train / validation / test split every
loader uses (:mod:`workbench.data.corpora` for the built-in corpora,
:mod:`workbench.data.user_data` for your own files and arrays; :mod:`workbench.data.datasets`
is the public entry point that re-exports all of them).

Split protocol (every loader; recorded in ``DataSplits.info["split_protocol"]``):
``n_test = round(fractions[2] * N)`` and ``n_val = round(fractions[1] * N)`` examples are
held out, the rest is training data. First ``sklearn.model_selection.train_test_split(
positions, test_size=n_test, stratify=labels, random_state=seed)`` separates the test set,
then the same call on the remainder (``test_size=n_val``, stratified by the remaining
labels, same ``random_state``) separates validation from training. Each split is then
sorted by example id. A class with a single example (in the data, or left in the remainder
after the test split) cannot be stratified: that example stays in the training split, the
other classes are stratified, a warning says so and ``info["unstratified_classes"]`` lists
those classes. If stratification is still impossible (fewer held-out examples than
classes) that step falls back to an unstratified split with a warning and
``info["stratified"] = False``; regression targets are never stratified. With
``max_examples`` a stratified subsample of that many examples (``train_test_split(
train_size=max_examples, stratify=labels, random_state=seed)``) is drawn before
splitting. Example ids are corpus positions, independent of the seed: the same id is the
same example under every seed.

Text splits tokenize with :func:`workbench.data.text.tokenize` and build the vocabulary
on the training split only; ``DataSplits.vocab.encode(tokenize(text))[:max_length]``
reproduces an example's ``input`` from its ``texts`` entry.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from workbench.config import TaskSpec
from workbench.data.collate import ItemBatch
from workbench.data.text import Vocabulary

__all__ = [
    "DEFAULT_FRACTIONS",
    "DataSplits",
    "DataValidationError",
    "ExampleDataset",
    "SPLIT_PROTOCOL",
    "cap_splits",
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

    def __getitems__(self, positions: Sequence[int]) -> Sequence[dict[str, Any]]:
        """The items at ``positions``, fetched as one batch (``torch.utils.data.DataLoader``
        calls this instead of ``__getitem__`` once per item, PyTorch >= 2.2).

        Returns an :class:`ItemBatch`: a sequence of the same dicts ``self[p]`` gives, built
        on access, through which workbench's collators index this data set's tensors once
        per batch (:mod:`workbench.data.collate`). A subclass that overrides
        ``__getitem__`` gets a plain list of its own items, so its extra keys are kept.

        Raises:
            IndexError: for a position outside ``[-len, len)``.
        """
        if type(self).__getitem__ is not ExampleDataset.__getitem__:
            return [self[p] for p in positions]
        return ItemBatch(self, positions)

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
                         what: str, keep: str = "test") -> tuple[np.ndarray, np.ndarray, bool, list[int]]:
    """Split ``positions`` into (rest, held) with ``len(held) == size``; stratify if possible.

    A class with a single example here cannot be stratified: that example stays on the
    training side (``rest``; the kept side when ``keep == "train"``) and the other classes
    are stratified, with a warning. Returns also whether the split was stratified and the
    single-example classes.
    """
    from sklearn.model_selection import train_test_split

    kwargs: dict[str, Any] = {"random_state": seed}
    singles: list[int] = []
    aside = positions[:0]
    if labels is not None:
        classes, counts = np.unique(labels, return_counts=True)
        singles = [int(c) for c in classes[counts == 1]]
        if singles and len(singles) < len(classes):
            alone = np.isin(labels, singles)
            aside, positions, labels = positions[alone], positions[~alone], labels[~alone]
            warnings.warn(f"class(es) {singles} have a single example: it stays in the training "
                          f"split and the other classes are stratified ({what} split)", stacklevel=3)
            if keep == "train":
                size -= len(aside)
    kwargs["train_size" if keep == "train" else "test_size"] = size
    if labels is not None and size > 0:
        try:
            a, b = train_test_split(positions, stratify=labels, **kwargs)
            return ((b, np.concatenate([aside, a]), True, singles) if keep == "train"
                    else (np.concatenate([aside, a]), b, True, singles))
        except ValueError as exc:
            warnings.warn(f"cannot stratify the {what} split ({exc}); using an unstratified split",
                          stacklevel=3)
    if size <= 0:  # keep == "train": the single-example classes fill the sample
        return positions, aside, labels is None, singles
    a, b = train_test_split(positions, **kwargs)
    if keep == "train":
        return b, np.concatenate([aside, a]), labels is None, singles
    return np.concatenate([aside, a]), b, labels is None, singles


def _split_positions(labels: np.ndarray | None, n: int, fractions: tuple[float, float, float],
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, list[int]]:
    """Positions ``0..n-1`` split into sorted (train, val, test); see the module's split protocol.

    ``labels`` (``[n]`` ints) stratifies; None (regression) does not. Returns also whether
    every step was stratified and the classes whose single example was kept in training
    (not stratified).
    """
    n_test = int(round(fractions[2] * n))
    n_val = int(round(fractions[1] * n))
    if n - n_test - n_val < 1:
        raise DataValidationError(f"{n} examples are too few for fractions {fractions}: "
                                  "the training split would be empty")
    positions = np.arange(n)
    stratified = labels is not None
    singles: set[int] = set()
    empty = np.zeros(0, dtype=np.int64)
    if n_test > 0:
        rest, test, s, one = _stratified_or_plain(positions, n_test, labels, seed, "test")
        stratified, singles = stratified and s, singles | set(one)
    else:
        rest, test = positions, empty
    if n_val > 0:
        sub = labels[rest] if labels is not None else None
        train, val, s, one = _stratified_or_plain(rest, n_val, sub, seed, "validation")
        stratified, singles = stratified and s, singles | set(one)
    else:
        train, val = rest, empty
    return (np.sort(train).astype(np.int64), np.sort(val).astype(np.int64),
            np.sort(test).astype(np.int64), stratified, sorted(singles))


def _subsample(labels: np.ndarray | None, n: int, max_examples: int | None, seed: int) -> np.ndarray:
    """Sorted positions of a (stratified when possible) subsample of ``max_examples`` of ``n``."""
    if max_examples is None or max_examples >= n:
        return np.arange(n)
    _, keep, _, _ = _stratified_or_plain(np.arange(n), max_examples, labels, seed, "max_examples",
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
                num_classes: int, train_only: Sequence[int] = ()) -> dict[str, Any]:
    info: dict[str, Any] = {
        "source": source,
        "split_seed": seed,
        "fractions": list(fractions),
        "split_protocol": SPLIT_PROTOCOL,
        "stratified": bool(stratified),
        "sizes": {k: int(len(v)) for k, v in parts.items()},
    }
    if train_only:
        info["unstratified_classes"] = list(train_only)
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
    tr, va, te, stratified, train_only = _split_positions(labels_k, len(keep), fr, seed)
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
    info = _split_info(source, seed, fr, stratified, parts, labels, num_classes, train_only)
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



def _array_splits(name: str, X: np.ndarray, y: np.ndarray, modality: str, num_classes: int,
                  class_names: tuple[str, ...] | None, source: str, seed: int, fractions: Any,
                  max_examples: int | None, extra_info: dict[str, Any],
                  standardize: bool = True) -> DataSplits:
    """Split arrays and attach the training split's input statistics to ``task``.

    ``standardize``: vision -> per-channel ``task.mean`` / ``task.std``; tabular ->
    per-feature ones (scikit-learn ``StandardScaler``'s: mean and population std, a feature
    constant on the training split gets std 1). The collator applies them; ``X`` is stored
    as given. Statistics come from the training split only.
    """
    seed = _check_seed(seed)
    fr = _check_fractions(fractions)
    max_examples = _check_optional_int("max_examples", max_examples, 2)
    n_all = len(X)
    classification = num_classes >= 2
    labels = y if classification else None
    keep = _subsample(labels, n_all, max_examples, seed)
    sub_labels = labels[keep] if labels is not None else None
    tr, va, te, stratified, train_only = _split_positions(sub_labels, len(keep), fr, seed)
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
    constant: list[int] = []
    if standardize and modality in ("vision", "tabular"):
        train_x = X[parts["train"]].astype(np.float64)
        axes = (0, 2, 3) if modality == "vision" else (0,)
        mean = tuple(float(m) for m in train_x.mean(axis=axes))
        raw_std = train_x.std(axis=axes)
        # constant on the training split (max == min): std 1, as StandardScaler does
        flat = np.moveaxis(train_x, 1, 0).reshape(train_x.shape[1], -1) if modality == "vision" \
            else train_x.T
        constant = [int(i) for i in np.flatnonzero(flat.max(axis=1) == flat.min(axis=1))]
        std = tuple(1.0 if i in constant else float(s) for i, s in enumerate(raw_std))
        if constant and modality == "vision":
            extra_info = {**extra_info, "note_std": "a constant channel has std 0; 1.0 is used"}
    task = TaskSpec(modality=modality, num_classes=num_classes, input_shape=tuple(X.shape[1:]),
                    mean=mean, std=std, class_names=class_names, name=name)
    info = _split_info(source, seed, fr, stratified, parts, labels,
                       num_classes if classification else 0, train_only)
    info.update({"num_examples": int(n_all), "max_examples": max_examples,
                 "id_order": "0-based row index"})
    info["standardize"] = bool(standardize)
    if mean is not None and modality == "vision":
        info["normalization"] = {"mean": list(mean), "std": list(std),
                                 "computed_on": "training split, per channel, population std"}
    elif mean is not None:
        info["standardization"] = {
            "mean": list(mean), "std": list(std),
            "computed_on": "training split, per feature, population std (sklearn StandardScaler)",
            "constant_features": constant,
            "applied_by": "task.collator() (TabularCollator): (x - mean) / std"}
    info.update(extra_info)
    return DataSplits(name=name, train=datasets["train"], val=datasets["val"],
                      test=datasets["test"], task=task, vocab=None, info=info)


def cap_splits(splits: DataSplits, train: int | None = None, val: int | None = None, test: int | None = None,
               seed: int = 0) -> DataSplits:
    """``splits`` with at most ``train`` / ``val`` / ``test`` examples (seeded random subsets,
    stratification not kept; None keeps a split), for quick runs and tests.

    Raises:
        ValueError: a size below 1.
    """
    for arg, v in (("train", train), ("val", val), ("test", test)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"cap_splits: {arg} must be None or an integer >= 1; got {v!r}")
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, cap in (("train", train), ("val", val), ("test", test)):
        d = getattr(splits, k)
        if cap is not None and cap < len(d):
            out[k] = d.subset(sorted(torch.randperm(len(d), generator=g)[:cap].tolist()))
    return dataclasses.replace(splits, **out)
