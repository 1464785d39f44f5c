"""Transfer learning: pretrain on local unlabelled text, then fine-tune.

See ``README.md`` in this folder (the method card). Modules, imported one way:

- :mod:`~workbench.techniques.transfer.cache`: the on-disk cache (folder, keys, atomic writes).
- :mod:`~workbench.techniques.transfer.corpus`: the pretraining corpus (NLTK corpora and
  training-split text, or your own files) with held-out sentences removed.
- :mod:`~workbench.techniques.transfer.vectors`: skip-gram word vectors (gensim), cached;
  a model's embedding from them for its own vocabulary, with the coverage.
- :mod:`~workbench.techniques.transfer.kim`: Kim (2014)'s CNN-rand / static / non-static /
  multichannel on our vectors.
- :mod:`~workbench.techniques.transfer.finetune`: layer groups, freeze / unfreeze /
  freeze_to, :class:`GradualUnfreezing` (a loop technique), discriminative learning rates,
  :func:`load_pretrained_weights` with its :class:`LoadReport`.

The slanted triangular learning rate is the ``"slanted_triangular"`` schedule of
:mod:`workbench.train.schedules` (``TrainingConfig(schedule="slanted_triangular")``).
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
from workbench.techniques.transfer.finetune import (
    DEFAULT_PREFIXES,
    GradualUnfreezing,
    LoadReport,
    PretrainedWeightsError,
    discriminative_param_groups,
    freeze,
    freeze_to,
    layer_groups,
    load_pretrained_weights,
    trainable_groups,
    ulmfit_schedule,
    unfreeze,
)
from workbench.techniques.transfer.kim import KIM_MODES, kim_cnn, kim_cnn_factory
from workbench.techniques.transfer.vectors import (
    CoverageReport,
    Word2VecSettings,
    WordVectors,
    embedding_matrix,
    find_embedding,
    init_embedding,
    remap_embedding,
    train_word_vectors,
    vocabulary_coverage,
)

__all__ = [
    "BUILTIN_SOURCES",
    "CorpusReport",
    "CoverageReport",
    "DEFAULT_HELDOUT",
    "DEFAULT_PREFIXES",
    "GradualUnfreezing",
    "KIM_MODES",
    "LoadReport",
    "PretrainedWeightsError",
    "PretrainingCorpus",
    "SourceCounts",
    "TECHNIQUES",
    "Word2VecSettings",
    "WordVectors",
    "build_pretraining_corpus",
    "default_cache_dir",
    "discriminative_param_groups",
    "embedding_matrix",
    "find_embedding",
    "freeze",
    "freeze_to",
    "heldout_sentences",
    "init_embedding",
    "kim_cnn",
    "kim_cnn_factory",
    "layer_groups",
    "load_pretrained_weights",
    "normalize_sentence",
    "read_text_file",
    "remap_embedding",
    "train_word_vectors",
    "trainable_groups",
    "ulmfit_schedule",
    "unfreeze",
    "vocabulary_coverage",
]

#: loop techniques of this family (Technique subclasses); see tests/techniques/test_contract.py
TECHNIQUES: list = [GradualUnfreezing]
