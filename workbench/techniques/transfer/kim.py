"""Kim (2014)'s CNN variants with our word vectors: ``rand``, ``static``, ``non-static``
(and ``multichannel``), built for a data set's own vocabulary.

Kim (2014), "Convolutional Neural Networks for Sentence Classification", EMNLP, section 3.2
and table 2: CNN-rand (random embeddings, trained), CNN-static (word2vec vectors, frozen),
CNN-non-static (word2vec vectors, fine-tuned), CNN-multichannel (both). Published: MR 76.1
/ 81.0 / 81.5 / 81.1, SUBJ 89.6 / 93.0 / 93.4 / 93.2 with Google News vectors (~100B
words); ours come from ~3.3M tokens (:mod:`~workbench.techniques.transfer.corpus`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from workbench.config import TaskSpec
from workbench.data.text import Vocabulary
from workbench.models import build_model
from workbench.models.text import KIM_MODES, KimCNN
from workbench.techniques.transfer.vectors import CoverageReport, WordVectors, embedding_matrix
from workbench.validation import check_choice

__all__ = ["KIM_MODES", "kim_cnn", "kim_cnn_factory"]


def kim_cnn(task: TaskSpec, vocab: Vocabulary, vectors: WordVectors | None = None,
            mode: str = "non-static", seed: int = 0, **kwargs: Any) -> tuple[KimCNN, CoverageReport | None]:
    """A :class:`~workbench.models.text.KimCNN` for ``task`` in Kim's ``mode``.

    Args:
        task: the data's :class:`TaskSpec` (``splits.task``).
        vocab: the data's vocabulary (``splits.vocab``; its ids are the model's rows).
        vectors: :class:`WordVectors` (required unless ``mode="rand"``); the embedding
            width is ``vectors.vector_size``.
        mode: one of :data:`KIM_MODES` (``"rand"``, ``"static"``, ``"non-static"``,
            ``"multichannel"``).
        seed: seed of the random rows for words without a vector.
        **kwargs: other :class:`KimCNN` arguments (``dropout``, ``num_filters``, ...).

    Returns:
        ``(model, coverage)``: the model and the :class:`CoverageReport` (None for ``rand``).

    Raises:
        ValueError: an unknown mode, vectors missing for a pretrained mode, or a vocabulary
            whose size is not ``task.vocab_size``.
    """
    check_choice("mode", mode, KIM_MODES)
    if mode == "rand":
        return build_model("kim_cnn", task, mode="rand", **kwargs), None
    if vectors is None:
        raise ValueError(f"mode={mode!r} needs word vectors (train_word_vectors(...)); mode='rand' does not")
    if len(vocab) != task.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} words but task.vocab_size is {task.vocab_size}; "
                         "pass the vocabulary of the same splits")
    weight, report = embedding_matrix(vocab, vectors, seed=seed, pad_id=task.pad_id)
    kwargs.setdefault("embed_dim", vectors.vector_size)
    model = build_model("kim_cnn", task, mode=mode, pretrained_embeddings=weight, **kwargs)
    return model, report


def kim_cnn_factory(vocab: Vocabulary, vectors: WordVectors | None = None, mode: str = "non-static",
                    seed: int = 0, **kwargs: Any) -> Callable[[TaskSpec], torch.nn.Module]:
    """A model factory ``factory(task) -> KimCNN`` (for ``Experiment`` / ``Variant.model_factory``)
    building :func:`kim_cnn` in ``mode``; ``factory.coverage`` holds the last
    :class:`CoverageReport`. Arguments as for :func:`kim_cnn`."""
    check_choice("mode", mode, KIM_MODES)
    if mode != "rand" and vectors is None:
        raise ValueError(f"mode={mode!r} needs word vectors (train_word_vectors(...)); mode='rand' does not")

    def factory(task: TaskSpec) -> torch.nn.Module:
        model, factory.coverage = kim_cnn(task, vocab, vectors, mode=mode, seed=seed, **kwargs)
        return model

    factory.coverage = None
    factory.__name__ = f"kim_cnn_{mode.replace('-', '_')}"
    return factory
