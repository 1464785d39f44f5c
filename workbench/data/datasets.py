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
:func:`load_arrays` (NumPy ``X``, ``y``), :func:`load_npz` (an ``.npz`` file of them) and
:func:`load_file` (any of these files, by suffix).

Every loader splits by one seeded, stratified protocol (recorded in
``DataSplits.info["split_protocol"]``; described in :mod:`workbench.data.splits`).

This module is the public entry point; the code lives by concern in
:mod:`workbench.data.splits` (:class:`ExampleDataset`, :class:`DataSplits`,
:class:`DataValidationError`, the split protocol), :mod:`workbench.data.corpora` (the
built-in data sets) and :mod:`workbench.data.user_data` (:func:`load_text_file`,
:func:`load_arrays`). The names below are those modules' objects, re-exported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.data.corpora import (
    PROS_CONS_MAX_LENGTH,
    load_digits,
    load_mr,
    load_pros_cons,
    load_subj,
)
from workbench.data.splits import (
    DEFAULT_FRACTIONS,
    SPLIT_PROTOCOL,
    DataSplits,
    DataValidationError,
    ExampleDataset,
)
from workbench.data.user_data import load_arrays, load_file, load_npz, load_text_file

__all__ = [
    "DATASETS",
    "DEFAULT_FRACTIONS",
    "DataSplits",
    "DataValidationError",
    "ExampleDataset",
    "PROS_CONS_MAX_LENGTH",
    "SPLIT_PROTOCOL",
    "load_arrays",
    "load_file",
    "load_npz",
    "load_dataset",
    "load_digits",
    "load_mr",
    "load_pros_cons",
    "load_subj",
    "load_text_file",
]

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
