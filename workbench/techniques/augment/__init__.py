"""Text data augmentation: EDA (Wei & Zou 2019) and back-translation (Sennrich et al. 2016).

See ``README.md`` in this folder (the method card). Submodules, imported one way (each uses
only those above it):

- :mod:`~workbench.techniques.augment.eda` (pure): the four EDA operations (functions on
  token lists), WordNet synonyms, NLTK stop words, :class:`EDAConfig`, :class:`EDA`;
- :mod:`~workbench.techniques.augment.dataset`: :class:`AugmentedDataset` (copies carry
  their source id), :func:`augment_dataset`, :func:`augment_splits`, :func:`subsample_train`,
  :func:`extend_vocabulary` (cover pretrained words), :func:`new_token_oov_rate`;
- :mod:`~workbench.techniques.augment.backtranslation`: the :class:`Translator` interface,
  :func:`back_translate`, :class:`BackTranslation`, :class:`MarianTranslator`;
- :mod:`~workbench.techniques.augment.comparison`: the EDA paper's with/without experiment
  (:func:`eda_comparison`, :class:`EDAComparison`);
- :mod:`~workbench.techniques.augment.display` (notebook helpers): highlighted previews,
  the slider panel, :func:`plot_gains` and the comparison's button callback.

Augmentation here transforms the data set before training (offline, seeded per example),
so the family has no loop technique: ``TECHNIQUES`` is empty.
"""

from workbench.techniques.augment.backtranslation import (
    BackTranslation,
    MarianTranslator,
    Translator,
    TranslatorUnavailableError,
    back_translate,
    back_translation_dataset,
    back_translation_splits,
    marian_pair,
)
from workbench.techniques.augment.comparison import (
    PAPER_GAINS,
    WITH_EDA,
    WITHOUT_EDA,
    EDAComparison,
    comparison_config,
    eda_comparison,
)
from workbench.techniques.augment.dataset import (
    AugmentedDataset,
    augment_dataset,
    augment_splits,
    build_augmented_dataset,
    example_rng,
    extend_vocabulary,
    id_base_for,
    new_token_oov_rate,
    subsample_train,
)
from workbench.techniques.augment.display import (
    eda_comparison_callback,
    eda_preview_html,
    eda_preview_panel,
    highlight_changes,
    plot_gains,
    sample_sentences,
    show_eda_preview,
)
from workbench.techniques.augment.eda import (
    EDA,
    OPERATIONS,
    PAPER_RECOMMENDED,
    EDAConfig,
    WordNetSynonyms,
    english_stop_words,
    num_changes,
    random_deletion,
    random_insertion,
    random_swap,
    recommended_config,
    synonym_replacement,
)

__all__ = [
    "EDA", "OPERATIONS", "PAPER_GAINS", "PAPER_RECOMMENDED", "WITHOUT_EDA", "WITH_EDA",
    "AugmentedDataset", "BackTranslation", "EDAComparison", "EDAConfig", "MarianTranslator",
    "Translator", "TranslatorUnavailableError", "WordNetSynonyms",
    "augment_dataset", "augment_splits", "back_translate", "back_translation_dataset",
    "back_translation_splits", "build_augmented_dataset", "comparison_config", "eda_comparison",
    "eda_comparison_callback", "eda_preview_html", "eda_preview_panel", "english_stop_words",
    "example_rng", "extend_vocabulary", "highlight_changes", "id_base_for", "marian_pair", "new_token_oov_rate", "num_changes", "plot_gains",
    "random_deletion", "random_insertion", "random_swap", "recommended_config", "sample_sentences",
    "show_eda_preview", "subsample_train", "synonym_replacement",
]

#: loop techniques of this family (Technique subclasses); see tests/techniques/test_contract.py
TECHNIQUES: list = []
