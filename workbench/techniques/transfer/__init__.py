"""Transfer learning: pretrain on local unlabelled text, then fine-tune.

See ``README.md`` in this folder (the method card). Modules, imported one way:

- :mod:`~workbench.techniques.transfer.cache`: the on-disk cache (folder, keys, atomic writes).
- :mod:`~workbench.techniques.transfer.corpus`: the pretraining corpus (NLTK corpora and
  training-split text, or your own files) with held-out sentences removed.
"""

from workbench.techniques.transfer.cache import default_cache_dir
from workbench.techniques.transfer.corpus import (
    BUILTIN_SOURCES,
    DEFAULT_HELDOUT,
    CorpusReport,
    PretrainingCorpus,
    SourceCounts,
    build_pretraining_corpus,
    heldout_sentences,
    normalize_sentence,
    read_text_file,
)

__all__ = [
    "BUILTIN_SOURCES",
    "DEFAULT_HELDOUT",
    "TECHNIQUES",
    "CorpusReport",
    "PretrainingCorpus",
    "SourceCounts",
    "build_pretraining_corpus",
    "default_cache_dir",
    "heldout_sentences",
    "normalize_sentence",
    "read_text_file",
]

#: loop techniques of this family (Technique subclasses); see tests/techniques/test_contract.py
TECHNIQUES: list = []
