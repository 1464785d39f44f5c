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
- :mod:`~workbench.techniques.transfer.lm`: language-model pretraining of
  :class:`~workbench.models.transformer.TransformerLM` (cached by corpus + config), held-out
  perplexity, and the interpolated Kneser-Ney n-gram baseline.
- :mod:`~workbench.techniques.transfer.pipeline`: :func:`pretrain_and_finetune` (one call,
  pretraining and fine-tuning seconds apart) and the experiment runner's variants
  (:func:`ulmfit_variant`, :func:`scratch_transformer_variant`).
- :mod:`~workbench.techniques.transfer.display`: notebook helpers (perplexity curve, text
  generation with the KV cache, unfreezing schedule, label-budget curves and their prose).

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
from workbench.techniques.transfer.display import (
    generate_text,
    label_budget_curves,
    label_budget_figure,
    label_budget_prose,
    perplexity_figure,
    unfreezing_figure,
    unfreezing_table,
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
from workbench.techniques.transfer.lm import (
    KneserNeyLM,
    LMConfig,
    PretrainedLM,
    kneser_ney_baseline,
    pretrain_lm,
    sentence_perplexity,
)
from workbench.techniques.transfer.pipeline import (
    TransferResult,
    lm_splits,
    lm_vocabulary_coverage,
    pretrain_and_finetune,
    scratch_transformer_variant,
    ulmfit_variant,
)
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
    "DEFAULT_HELDOUT",
    "DEFAULT_PREFIXES",
    "KIM_MODES",
    "TECHNIQUES",
    "CorpusReport",
    "CoverageReport",
    "GradualUnfreezing",
    "KneserNeyLM",
    "LMConfig",
    "LoadReport",
    "PretrainedLM",
    "PretrainedWeightsError",
    "PretrainingCorpus",
    "SourceCounts",
    "TransferResult",
    "Word2VecSettings",
    "WordVectors",
    "build_pretraining_corpus",
    "default_cache_dir",
    "discriminative_param_groups",
    "embedding_matrix",
    "find_embedding",
    "freeze",
    "freeze_to",
    "generate_text",
    "heldout_sentences",
    "init_embedding",
    "kim_cnn",
    "kim_cnn_factory",
    "kneser_ney_baseline",
    "label_budget_curves",
    "label_budget_figure",
    "label_budget_prose",
    "layer_groups",
    "lm_splits",
    "lm_vocabulary_coverage",
    "load_pretrained_weights",
    "normalize_sentence",
    "perplexity_figure",
    "pretrain_and_finetune",
    "pretrain_lm",
    "read_text_file",
    "remap_embedding",
    "scratch_transformer_variant",
    "sentence_perplexity",
    "train_word_vectors",
    "trainable_groups",
    "ulmfit_schedule",
    "ulmfit_variant",
    "unfreeze",
    "unfreezing_figure",
    "unfreezing_table",
    "vocabulary_coverage",
]

#: loop techniques of this family (Technique subclasses); see tests/techniques/test_contract.py
TECHNIQUES: list = [GradualUnfreezing]
