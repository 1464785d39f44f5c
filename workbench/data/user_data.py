"""Your own data: :func:`load_text_file` (CSV / TSV / JSON lines), :func:`load_arrays`
(NumPy ``X``, ``y``), :func:`load_npz` (a NumPy ``.npz`` archive of ``X`` and ``y``) and
:func:`load_file` (any of these files, by suffix). All validate the input before any training and raise
:class:`~workbench.data.splits.DataValidationError` naming the file (or argument), row and
field; both split by the protocol of :mod:`workbench.data.splits`.
"""

from __future__ import annotations

import csv
import json
import math
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.data.splits import (
    DEFAULT_FRACTIONS,
    DataSplits,
    DataValidationError,
    _array_splits,
    _text_splits,
)
from workbench.data.text import tokenize

__all__ = ["ARRAY_SUFFIXES", "TEXT_SUFFIXES", "load_arrays", "load_file", "load_npz", "load_text_file"]


# ---------------------------------------------------------------------------------- text files
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}
_INT_RE = re.compile(r"^[+-]?\d+$")

#: Label cells read as a missing value (pandas' default ``na_values`` for ``read_csv``).
MISSING_LABELS = frozenset({
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})

#: Default ``max_length`` (tokens) of :func:`load_text_file`: BERT's maximum sequence
#: length; longer examples are truncated, with a warning that counts them.
TEXT_FILE_MAX_LENGTH = 512


def _undecodable(value: str) -> int | None:
    """Index of the first character decoded with ``surrogateescape`` (an invalid byte), or None."""
    for i, ch in enumerate(value):
        if "\udc80" <= ch <= "\udcff":
            return i
    return None


def _bad_bytes_error(path: Path, encoding: str, desc: str, row: int | None, column: str,
                     value: str, at: int) -> DataValidationError:
    byte = ord(value[at]) - 0xDC00
    return DataValidationError(
        f"{path}: {desc}: column {column!r} holds byte 0x{byte:02x} (character {at + 1}), which is "
        f"not valid {encoding}; re-save the file as UTF-8, or pass the file's encoding (for "
        "example encoding='cp1252' or 'latin-1')", source=str(path), row=row, field=column)


def _read_rows(path: Path, fmt: str, text_column: str, label_column: str,
               encoding: str) -> tuple[list[str], list[Any], list[str], list[int]]:
    """Rows as (texts, raw labels, row descriptions for messages, row numbers).

    The file is decoded with ``errors="surrogateescape"``: a byte that is not valid in
    ``encoding`` raises :class:`DataValidationError` naming the row and column it is in
    (bytes in columns that are not used are ignored).
    """
    texts: list[str] = []
    labels: list[Any] = []
    where: list[str] = []
    rows: list[int] = []

    def take(text: Any, label: Any, desc: str, row: int) -> None:
        for col, value in ((text_column, text), (label_column, label)):
            at = _undecodable(value) if isinstance(value, str) else None
            if at is not None:
                raise _bad_bytes_error(path, encoding, desc, row, col, value, at)
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
        rows.append(row)

    if fmt in ("csv", "tsv"):
        # A text field may be longer than the csv module's default limit (131,072
        # characters): raise the limit while reading (it is truncated to max_length later).
        old_limit = csv.field_size_limit()
        csv.field_size_limit(max(old_limit, 2**31 - 1))
        try:
            return _read_csv(path, fmt, text_column, label_column, encoding, take,
                             (texts, labels, where, rows))
        finally:
            csv.field_size_limit(old_limit)

    with open(path, encoding=encoding, errors="surrogateescape") as fh:
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
    return texts, labels, where, rows


def _read_csv(path: Path, fmt: str, text_column: str, label_column: str, encoding: str,
              take: Any, out: tuple[list, list, list, list]) -> tuple[list, list, list, list]:
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, delimiter="," if fmt == "csv" else "\t")
        row = 0
        try:
            header = next(reader, None)
            if header is None:
                raise DataValidationError(f"{path}: the data set is empty (no header, no rows)",
                                          source=str(path))
            header = [h.strip() for h in header]
            for h in header:
                at = _undecodable(h)
                if at is not None:
                    raise _bad_bytes_error(path, encoding, "the header (line 1)", 0, h, h, at)
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
        except csv.Error as exc:
            raise DataValidationError(f"{path}: data row {row + 1} (line {reader.line_num}) cannot be "
                                      f"read as {fmt.upper()}: {exc}", source=str(path),
                                      row=row + 1) from None
    return out


def _is_missing(label: Any) -> bool:
    if isinstance(label, float) and math.isnan(label):
        return True
    return isinstance(label, str) and label.strip() in MISSING_LABELS


def _labels_to_ints(path: Path, raw: list[Any], where: list[str], label_column: str,
                    label_map: dict[Any, int] | None,
                    rows: list[int] | None = None) -> tuple[np.ndarray, tuple[str, ...], str]:
    """(int labels, class names, how they were mapped)."""
    rows = rows if rows is not None else [None] * len(raw)  # type: ignore[list-item]

    def fail(i: int, why: str) -> DataValidationError:
        return DataValidationError(f"{path}: {where[i]}: label {raw[i]!r} in column {label_column!r} {why}",
                                   source=str(path), row=rows[i], field=label_column)

    missing = [i for i, lab in enumerate(raw) if _is_missing(lab)
               and not (label_map is not None and (lab in label_map or str(lab) in label_map))]
    if missing:
        shown = ", ".join(where[i] for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise DataValidationError(
            f"{path}: {len(missing)} row(s) have a missing-value label ({raw[missing[0]]!r}) in column "
            f"{label_column!r}: {shown}. Drop or label those rows (a label_map that maps "
            f"{raw[missing[0]]!r} to a class keeps it as a class).", source=str(path),
            row=rows[missing[0]], field=label_column)

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
        seen = sorted(set(ints))  # type: ignore[type-var]
        if seen == list(range(len(seen))):
            return (np.asarray(ints, dtype=np.int64), tuple(str(c) for c in seen),
                    "integer labels kept")
        # not 0..K-1 (for example 1..6, or -1 / 1): the labels seen, in numeric order
        index = {v: i for i, v in enumerate(seen)}
        return (np.asarray([index[v] for v in ints], dtype=np.int64), tuple(str(v) for v in seen),
                "integer labels -> numeric order")
    names = sorted({str(lab) for lab in raw})
    index = {n: i for i, n in enumerate(names)}
    return (np.asarray([index[str(lab)] for lab in raw], dtype=np.int64), tuple(names),
            "string labels -> sorted order")


def load_text_file(path: str | Path, text_column: str = "text", label_column: str = "label",
                   format: str | None = None, label_map: dict[Any, int] | None = None,
                   seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   min_freq: int = 1, max_length: int | None = TEXT_FILE_MAX_LENGTH,
                   lowercase: bool = True, max_examples: int | None = None,
                   max_vocab_size: int | None = None, encoding: str = "utf-8-sig") -> DataSplits:
    """Load a labelled text-classification file (CSV, TSV or JSON lines).

    Args:
        path: the file.
        text_column, label_column: column (CSV/TSV header) or field (JSON) names.
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"``; None infers it from the suffix
            (``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` / ``.json``). ``.json`` may hold
            one object per line or a single JSON array of objects.
        label_map: ``{label: class index}``; None: labels that are all integers (``1``,
            ``"1"``, ``1.0``) are mapped in numeric order to class indices 0..K-1 over the
            labels seen (``0, 1, 2`` stay as they are; ``1..6`` become ``0..5``; ``-1, 1``
            become ``0, 1``), otherwise the distinct label strings are sorted and numbered
            0, 1, ...; ``task.class_names`` holds the original labels in class order. A
            label cell holding a missing-value marker (:data:`MISSING_LABELS`, pandas'
            ``na_values``: ``NaN``, ``nan``, ``NA``, ``null``, ``None``, ...) is an error,
            unless ``label_map`` maps it.
        seed, fractions, min_freq, lowercase, max_examples, max_vocab_size: as for
            :func:`~workbench.data.corpora.load_subj`.
        max_length: truncate token sequences to this many tokens (default
            :data:`TEXT_FILE_MAX_LENGTH`, 512); a ``UserWarning`` counts the truncated
            examples (also ``info["truncated"]``). None: no limit (a 50,000-word line pads
            its batch to 50,000 tokens).
        encoding: text encoding (a UTF-8 byte-order mark is skipped by default).

    Returns:
        :class:`DataSplits` (text modality); ids are 0-based data-row indices (header and
        blank lines not counted), ``texts`` the text column. ``info["label_mapping"]``
        says how labels became class indices.

    Splitting follows :mod:`workbench.data.splits`: a class with a single example keeps it
    in the training split (a warning; ``info["unstratified_classes"]``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        DataValidationError: (a ``ValueError``) naming the file and the row (CSV: 1-based
            data row and the file line; JSON lines: the file line number) and field for: a
            missing column (listing the columns present), empty text, an empty label, a
            missing-value label (``NaN``, ...: all such rows are listed, up to 10), a label
            not in ``label_map``, a byte that is not valid in ``encoding`` (its row, column
            and value), a CSV row the ``csv`` module cannot parse, malformed JSON, an empty
            file, a training split with a single class. CSV fields longer than the ``csv``
            module's default limit (131,072 characters) are read (the limit is raised
            while reading).
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
    texts, raw_labels, where, rows = _read_rows(path, fmt, text_column, label_column, encoding)
    if not texts:
        raise DataValidationError(f"{path}: the data set is empty (no data rows)", source=str(path))
    labels, class_names, how = _labels_to_ints(path, raw_labels, where, label_column, label_map, rows)
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
    splits = _text_splits(path.stem, texts, tokens, labels, ids, class_names, str(path), seed=seed,
                          fractions=fractions, min_freq=min_freq, max_length=max_length,
                          lowercase=lowercase, max_examples=max_examples,
                          max_vocab_size=max_vocab_size, extra_info=extra)
    truncated = splits.info["truncated"]
    if truncated:
        n = sum(splits.info["sizes"].values())
        warnings.warn(f"{path}: {truncated} of {n} examples are longer than max_length={max_length} "
                      f"tokens and were truncated (the longest has {max(map(len, tokens)):,} tokens); "
                      "pass a larger max_length, or max_length=None to keep every token",
                      stacklevel=2)
    return splits



def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def load_arrays(X: Any, y: Any, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                num_classes: int | None = None, image_shape: Sequence[int] | None = None,
                class_names: Sequence[str] | None = None, name: str = "arrays",
                max_examples: int | None = None, standardize: bool = True) -> DataSplits:
    """Build splits from in-memory arrays (NumPy arrays, torch tensors or nested lists).

    Shapes: ``X`` 2-D ``[N, F]`` -> tabular (``float32 [F]`` items); 4-D ``[N, C, H, W]``
    -> vision; 3-D ``[N, H, W]`` -> vision with ``C = 1``; with ``image_shape=(C, H, W)``
    a 2-D ``X`` of ``[N, C*H*W]`` is reshaped to images. Vision values are used as given
    (``uint8`` images are divided by 255, as torchvision's ``ToTensor`` does). Ids are
    0-based row indices.

    Standardisation (``standardize=True``, the default): ``task.mean`` / ``task.std`` hold
    statistics of the **training split only** -- per feature for tabular data (the mean and
    population standard deviation, as scikit-learn's ``StandardScaler``; a feature that is
    constant on the training split gets std 1), per channel for images. Items keep the
    values as given; ``task.collator()`` applies ``(x - mean) / std`` to every batch, so
    training, evaluation, prediction and anything built from ``task`` use the same
    statistics. They are also in ``info["standardization"]`` (tabular; with
    ``"constant_features"``) or ``info["normalization"]`` (images). Unscaled features
    (0..1000 next to 0..1) slow or stall gradient training: on scikit-learn's breast-cancer
    data the default MLP reaches 88-93% test accuracy raw and about 98% standardised.
    ``standardize=False`` leaves ``task.mean`` / ``task.std`` None and the inputs unscaled
    (for features you have already scaled).

    ``y`` holds integer class labels ``[N]`` (classification), or, with ``num_classes=1``,
    float regression targets ``[N]`` or ``[N, K]`` (never stratified). With
    ``num_classes=None`` labels ``0..K-1`` are class indices as they are; other labels
    (``1..6``) are mapped in numeric order to ``0..K-1`` over the labels seen
    (``class_names`` default to the original labels; ``info["label_mapping"]`` says so),
    so no empty class appears.

    Args:
        X, y: the data.
        seed, fractions, max_examples: as for :func:`~workbench.data.corpora.load_subj`.
        num_classes: number of classes (labels must lie in ``[0, num_classes)``), 1 for
            regression, None to infer.
        image_shape: ``(C, H, W)`` to treat 2-D ``X`` as flattened images.
        class_names: optional names, one per class.
        name: data-set name.
        standardize: attach the training split's statistics (see above); False: none.

    Raises:
        DataValidationError: (a ``ValueError``) with the offending index/value for: an empty
            data set; ``len(X) != len(y)``; ``X`` not 2/3/4-D or of a non-numeric dtype;
            NaN or infinity in ``X`` (or in regression ``y``); ``y`` not 1-D integer labels
            (unless ``num_classes=1``); labels outside ``[0, num_classes)``; a training split
            with a single class.
        ValueError: for invalid arguments (``num_classes``, ``image_shape``, ``class_names``,
            ``standardize`` not a bool, ``seed``, ``fractions``, ``max_examples``).
    """
    standardize = _check_bool("standardize", standardize)
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
                             max_examples, {"scale": scale_note} if scale_note else {},
                             standardize=standardize)

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
    mapping_note = None
    if num_classes is None:
        seen = np.unique(y)
        if len(seen) < 2:
            raise DataValidationError(f"every label is {int(y[0])}: a classifier needs at least two "
                                      "classes (the training split would have a single class)",
                                      source="y")
        if int(seen[-1]) != len(seen) - 1:  # not 0..K-1 (for example 1..6): map the labels seen
            y = np.searchsorted(seen, y).astype(np.int64)
            mapping_note = f"labels {[int(v) for v in seen]} -> class indices 0..{len(seen) - 1}"
            if class_names is None:
                class_names = [str(int(v)) for v in seen]
        num_classes = len(seen)
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
    extra = {"scale": scale_note} if scale_note else {}
    if mapping_note:
        extra["label_mapping"] = mapping_note
    return _array_splits(name, X, y, modality, num_classes, class_names, "arrays (load_arrays)",
                         seed, fractions, max_examples, extra,
                         standardize=standardize)


# ---------------------------------------------------------------------------------- .npz files
#: Keys :func:`load_npz` tries, in order, when ``x_key`` / ``y_key`` are not given.
NPZ_X_KEYS = ("X", "x", "inputs", "features", "images", "data")
NPZ_Y_KEYS = ("y", "labels", "label", "targets", "target")

#: File suffixes :func:`load_file` reads with :func:`load_text_file` / :func:`load_npz`.
TEXT_SUFFIXES = tuple(sorted(_FORMATS))
ARRAY_SUFFIXES = (".npz",)


def _npz_key(path: Path, keys: Sequence[str], given: str | None, candidates: Sequence[str], what: str) -> str:
    if given is not None:
        if given not in keys:
            raise DataValidationError(f"{path}: no array {given!r} ({what}); arrays present: {sorted(keys)}",
                                      source=str(path), field=given)
        return given
    for k in candidates:
        if k in keys:
            return k
    raise DataValidationError(
        f"{path}: none of the arrays {list(candidates)} ({what}) is present; arrays present: {sorted(keys)}. "
        f"Save the archive with np.savez(path, X=..., y=...) or name the arrays (x_key=, y_key=; "
        f"--x-key / --y-key on the command line)", source=str(path), field=candidates[0])


def load_npz(path: str | Path, x_key: str | None = None, y_key: str | None = None, **kwargs: Any) -> DataSplits:
    """Load a NumPy ``.npz`` archive of inputs and integer labels through :func:`load_arrays`.

    ``X`` ``[N, F]`` is tabular; ``[N, H, W]`` or ``[N, C, H, W]`` are images (see
    :func:`load_arrays` for dtypes, scaling and standardisation); ``y`` ``[N]`` holds
    integer class labels. The data set is named after the file (``path.stem``) unless
    ``name=`` is given. The archive is read with ``allow_pickle=False`` (no Python
    objects are unpickled from a file).

    Args:
        path: the ``.npz`` file (``np.savez`` / ``np.savez_compressed``).
        x_key, y_key: the arrays' names; None tries :data:`NPZ_X_KEYS` (``X``, ``x``,
            ``inputs``, ...) and :data:`NPZ_Y_KEYS` (``y``, ``labels``, ...) in order.
        **kwargs: :func:`load_arrays` arguments (``seed``, ``fractions``, ``max_examples``,
            ``image_shape``, ``class_names``, ``num_classes``, ``standardize``).

    Returns:
        :class:`DataSplits` (tabular or vision); ids are 0-based row indices of ``X``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataValidationError: (a ``ValueError``) naming the file: not a readable ``.npz``
            archive, an array of Python objects, no inputs / labels array (listing the
            arrays present), or any of :func:`load_arrays`' checks (shapes, NaN, labels,
            a single class), its row when there is one.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"array data file not found: {path}")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if not magic.startswith(b"PK"):  # every zip archive (an .npz is one) starts with "PK"
        what = "a single .npy array" if magic == b"\x93NUMPY" else f"its first bytes are {magic!r}"
        raise DataValidationError(f"{path}: not a NumPy .npz archive ({what}); write one with "
                                  "np.savez(path, X=..., y=...)", source=str(path))
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataValidationError(f"{path}: not a readable NumPy .npz archive ({exc}); write it with "
                                  "np.savez(path, X=..., y=...)", source=str(path)) from None
    with archive:
        keys = list(archive.files)
        xk = _npz_key(path, keys, x_key, NPZ_X_KEYS, "inputs")
        yk = _npz_key(path, keys, y_key, NPZ_Y_KEYS, "labels")
        arrays = {}
        for k in (xk, yk):
            try:
                arrays[k] = archive[k]
            except ValueError as exc:  # object arrays need pickle
                raise DataValidationError(f"{path}: array {k!r} cannot be read without unpickling Python "
                                          f"objects ({exc}); save numbers (int or float arrays)",
                                          source=str(path), field=k) from None
    kwargs.setdefault("name", path.stem)
    try:
        splits = load_arrays(arrays[xk], arrays[yk], **kwargs)
    except DataValidationError as exc:
        field = {"X": xk, "y": yk}.get(exc.source or "", exc.field)
        names = "" if (xk, yk) == ("X", "y") else f" (X is the archive's array {xk!r}, y its {yk!r})"
        raise DataValidationError(f"{path}: {exc}{names}", source=str(path), row=exc.row,
                                  field=field) from None
    splits.info.update({"path": str(path), "x_key": xk, "y_key": yk, "source": str(path)})
    return splits


def load_file(path: str | Path, text_column: str = "text", label_column: str = "label",
              x_key: str | None = None, y_key: str | None = None, **kwargs: Any) -> DataSplits:
    """Load your labelled file by its suffix: :data:`TEXT_SUFFIXES` (``.csv``, ``.tsv``,
    ``.jsonl``, ``.json``, ``.ndjson``) with :func:`load_text_file` (``text_column``,
    ``label_column``), ``.npz`` with :func:`load_npz` (``x_key``, ``y_key``); ``kwargs``
    go to that loader (``seed``, ``max_examples``, ...).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown suffix (the message lists the known ones).
        DataValidationError: the loader's checks (see :func:`load_text_file`, :func:`load_npz`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in _FORMATS:
        return load_text_file(path, text_column=text_column, label_column=label_column, **kwargs)
    if suffix in ARRAY_SUFFIXES:
        return load_npz(path, x_key=x_key, y_key=y_key, **kwargs)
    raise ValueError(f"{path}: unknown file type {path.suffix or '(no suffix)'!r}; known: text "
                     f"{list(TEXT_SUFFIXES)} (labelled text: a text and a label column), arrays "
                     f"{list(ARRAY_SUFFIXES)} (np.savez(path, X=..., y=...))")
