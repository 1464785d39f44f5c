"""Data: real data sets with stable example ids, tokenization and vocabularies, collators.

- :mod:`workbench.data.nltk_data`: :func:`find_corpus` / :func:`ensure_corpus` for NLTK corpora;
- :mod:`workbench.data.text`: :func:`tokenize`, :class:`Vocabulary`;
- :mod:`workbench.data.datasets`: the public entry point, :func:`load_dataset`, re-exporting
  :mod:`workbench.data.splits` (:class:`ExampleDataset`, :class:`DataSplits`,
  :class:`DataValidationError`, the split protocol), :mod:`workbench.data.corpora`
  (:func:`load_digits`, :func:`load_subj`, :func:`load_mr`, :func:`load_pros_cons`) and
  :mod:`workbench.data.user_data` (:func:`load_text_file`, :func:`load_arrays`,
  :func:`load_npz`, :func:`load_file`);
- :mod:`workbench.data.collate`: :class:`TextCollator`, :class:`VisionCollator`,
  :class:`TabularCollator`.
"""

from __future__ import annotations

from workbench.data.collate import LUMA_WEIGHTS, TabularCollator, TextCollator, VisionCollator
from workbench.data.datasets import (
    DATASETS,
    SPLIT_PROTOCOL,
    DataSplits,
    DataValidationError,
    ExampleDataset,
    load_arrays,
    load_dataset,
    load_digits,
    load_file,
    load_mr,
    load_npz,
    load_pros_cons,
    load_subj,
    load_text_file,
)
from workbench.data.nltk_data import CorpusNotFoundError, ensure_corpus, find_corpus
from workbench.data.text import Vocabulary, tokenize

__all__ = [
    "DATASETS",
    "LUMA_WEIGHTS",
    "SPLIT_PROTOCOL",
    "CorpusNotFoundError",
    "DataSplits",
    "DataValidationError",
    "ExampleDataset",
    "TabularCollator",
    "TextCollator",
    "Vocabulary",
    "VisionCollator",
    "ensure_corpus",
    "find_corpus",
    "load_arrays",
    "load_file",
    "load_npz",
    "load_dataset",
    "load_digits",
    "load_mr",
    "load_pros_cons",
    "load_subj",
    "load_text_file",
    "tokenize",
]
