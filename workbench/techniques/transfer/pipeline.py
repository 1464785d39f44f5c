"""Pretrain, then fine-tune: one call (:func:`pretrain_and_finetune`) and the experiment
runner's variants (:func:`ulmfit_variant`, :func:`scratch_transformer_variant`).

ULMFiT (Howard & Ruder 2018, section 3) on a :class:`~workbench.models.transformer.TransformerLM`:

1. language-model pretraining on unlabelled text (:func:`~workbench.techniques.transfer.lm.pretrain_lm`,
   cached on disk by corpus + configuration; its seconds are recorded when it runs and kept
   in the cache, so a loaded model still reports what it cost);
2. the labelled splits re-encoded with the LM's vocabulary (:func:`lm_splits`; the
   pretrained vocabulary is not the fine-tuning split's, issue 13 trap 9: the share of the
   training tokens the LM knows is reported as ``coverage``);
3. classifier fine-tuning (section 3.3): a new head on the pretrained network,
   discriminative learning rates (each layer group below the top at the rate above / 2.6;
   :func:`~workbench.techniques.transfer.finetune.discriminative_param_groups`), slanted
   triangular rates (``cut_frac=0.1``, ``ratio=32``; the ``"slanted_triangular"``
   schedule) and gradual unfreezing, one layer group per epoch from the top
   (:class:`~workbench.techniques.transfer.finetune.GradualUnfreezing`).

Early stopping is off in :data:`ULMFIT_FINETUNE` (an early stop would cut the slanted
triangular schedule short; trap 9): the run keeps the best validation model instead
(``restore_best``).

Costs are kept apart: ``pretrain_seconds`` (the LM run) and ``finetune_seconds`` (the
Trainer's wall time); :class:`TransferResult` adds them for the total.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.config import TrainingConfig
from workbench.data.shared_vocab import reencode
from workbench.data.splits import DataSplits
from workbench.data.text import Vocabulary, tokenize
from workbench.experiment import Variant
from workbench.models.transformer import TransformerLM
from workbench.techniques.transfer.finetune import (
    GradualUnfreezing,
    discriminative_param_groups,
    load_pretrained_weights,
    ulmfit_schedule,
)
from workbench.techniques.transfer.lm import LMConfig, PretrainedLM, pretrain_lm
from workbench.train import Trainer
from workbench.train.param_groups import ULMFIT_LAYER_DECAY
from workbench.validation import check_int, check_number

__all__ = [
    "ULMFIT_FINETUNE",
    "TransferResult",
    "finetune_config",
    "lm_splits",
    "pretrain_and_finetune",
    "scratch_transformer_variant",
    "ulmfit_variant",
    "lm_vocabulary_coverage",
]

#: ULMFiT classifier fine-tuning (section 3.3) as TrainingConfig fields; ``min_steps`` in
#: :func:`finetune_config` stretches the epochs of tiny label budgets.
ULMFIT_FINETUNE: dict[str, Any] = {
    "optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.01, "batch_size": 32, "epochs": 8,
    "schedule": "slanted_triangular", "schedule_kwargs": {"cut_frac": 0.1, "ratio": 32.0},
    "warmup_steps": 0, "restore_best": True, "early_stopping_patience": None, "eval_every_epochs": 1,
    "max_grad_norm": 1.0,
}


def lm_vocabulary_coverage(splits: DataSplits, vocab: Vocabulary) -> dict[str, float]:
    """How much of the fine-tuning training text ``vocab`` (the LM's) knows.

    Returns:
        ``{"token_coverage"}`` (share of training tokens in ``vocab``), ``"type_coverage"``
        (share of distinct training tokens), ``"types"``, ``"tokens"``.
    """
    if splits.train.texts is None:
        raise ValueError(f"lm_vocabulary_coverage: {splits.name!r} has no texts (a text data set is needed)")
    low = bool(splits.info.get("lowercase", True))
    toks = [t for s in splits.train.texts for t in tokenize(s, lowercase=low)]
    types = set(toks)
    known = sum(t in vocab.stoi for t in toks)
    return {"token_coverage": known / max(1, len(toks)),
            "type_coverage": sum(t in vocab.stoi for t in types) / max(1, len(types)),
            "types": len(types), "tokens": len(toks)}


def lm_splits(splits: DataSplits, vocab: Vocabulary, max_length: int) -> DataSplits:
    """``splits`` re-encoded with the LM's ``vocab`` (truncated at ``max_length`` tokens):
    same ids, targets, texts and split; ``task.vocab_size = len(vocab)``;
    ``info["lm_vocabulary"]`` holds :func:`lm_vocabulary_coverage`.

    Raises:
        ValueError: splits without texts.
    """
    check_int("max_length", max_length, 1)
    cov = lm_vocabulary_coverage(splits, vocab)
    low = bool(splits.info.get("lowercase", True))
    parts = {k: reencode(getattr(splits, k), vocab, max_length, lowercase=low) for k in ("train", "val", "test")}
    task = dataclasses.replace(splits.task, vocab_size=len(vocab), pad_id=vocab.pad_id,
                               max_length=min(max_length, splits.task.max_length or max_length))
    info = dict(splits.info) | {"lm_vocabulary": cov}
    return dataclasses.replace(splits, train=parts["train"], val=parts["val"], test=parts["test"], task=task,
                               vocab=vocab, info=info)


def finetune_config(base: TrainingConfig | None, train_size: int, min_steps: int = 150,
                    max_epochs: int = 40, **changes: Any) -> TrainingConfig:
    """The fine-tuning :class:`TrainingConfig`: ``base`` (default: a fresh one) with
    :data:`ULMFIT_FINETUNE`, the batch size capped at the training size, and enough
    epochs for ``min_steps`` optimizer steps (at most ``max_epochs``; a 100-label budget
    otherwise gets only a few dozen steps). ``changes`` override fields."""
    check_int("train_size", train_size, 1)
    fields = dict(ULMFIT_FINETUNE)
    fields["batch_size"] = min(fields["batch_size"], train_size)
    per_epoch = math.ceil(train_size / fields["batch_size"])
    fields["epochs"] = min(max_epochs, max(fields["epochs"], math.ceil(min_steps / per_epoch)))
    fields |= changes
    base = TrainingConfig(progress_bar=False) if base is None else base
    return base.replace(**fields)


def _check_task(task: Any, pretrained: PretrainedLM) -> None:
    if task.vocab_size != len(pretrained.vocab):
        raise ValueError(f"the data's vocabulary has {task.vocab_size} entries but the pretrained LM's has "
                         f"{len(pretrained.vocab)}: re-encode the splits with lm_splits(splits, "
                         "pretrained.vocab, ...) before fine-tuning")


def _groups(model: TransformerLM, config: TrainingConfig, layer_decay: float) -> list[dict[str, Any]]:
    return discriminative_param_groups(model, config.lr, layer_decay, layers=model.layer_groups(),
                                       weight_decay=config.weight_decay)


def ulmfit_variant(pretrained: PretrainedLM, name: str = "transformer (LM-pretrained, ULMFiT)",
                   layer_decay: float = ULMFIT_LAYER_DECAY, gradual_unfreezing: bool = True,
                   unfreeze_every: int = 1, pooling: str = "mean", claim: str = "",
                   config: Mapping[str, Any] | None = None) -> Variant:
    """A :class:`~workbench.experiment.Variant` that fine-tunes ``pretrained`` ULMFiT-style.

    Run it on splits re-encoded with :func:`lm_splits` (the model factory raises
    ``ValueError`` otherwise). The variant's config is :func:`finetune_config` of the
    experiment's base config and the split (``config`` overrides); its optimizer groups
    have discriminative rates (``layer_decay``, 2.6 as ULMFiT; 1.0: one rate); gradual
    unfreezing unfreezes one layer group every ``unfreeze_every`` epochs, top first.
    Pretraining seconds are not in the run's wall time: charge
    ``pretrained.pretrain_seconds`` yourself (as ``benchmarks/transfer.py`` does).
    """
    check_number("layer_decay", layer_decay, 1.0, 100.0)
    check_int("unfreeze_every", unfreeze_every, 1)
    extra = dict(config or {})

    def model_factory(task: Any) -> TransformerLM:
        _check_task(task, pretrained)
        return pretrained.classifier_model(task.num_classes, pooling=pooling)

    def techniques(splits: Any, seed: int) -> list[Any]:
        if not gradual_unfreezing:
            return []
        names = list(TransformerLM.layer_groups(pretrained.model))
        return [GradualUnfreezing(ulmfit_schedule(names, every=unfreeze_every), layers=pretrained.model.layer_groups())]

    return Variant(name, config=_finetune_changes(extra), techniques=techniques, model_factory=model_factory,
                   claim=claim,
                   param_groups=lambda model, cfg: _groups(model, cfg, layer_decay))


def _finetune_changes(extra: dict[str, Any]) -> Callable[[TrainingConfig, Any], dict[str, Any]]:
    """A :class:`Variant` ``config`` callable: the fields :func:`finetune_config` changes
    in the recipe's config for the variant's training split (the seed kept)."""

    def changes(base: TrainingConfig, splits: Any) -> dict[str, Any]:
        cfg = finetune_config(base, len(splits.train), **extra)
        keep = {f.name for f in dataclasses.fields(TrainingConfig)} - {"seed"}
        return {k: getattr(cfg, k) for k in keep if getattr(cfg, k) != getattr(base, k)}

    return changes


def scratch_transformer_variant(pretrained_or_config: PretrainedLM | LMConfig,
                                name: str = "transformer (scratch)", pooling: str = "mean",
                                config: Mapping[str, Any] | None = None) -> Variant:
    """The same network and fine-tuning budget from random weights: no pretraining, one
    learning rate, no gradual unfreezing (nothing is pretrained to protect). Runs on the
    same :func:`lm_splits` data as :func:`ulmfit_variant` when given a
    :class:`~workbench.techniques.transfer.lm.PretrainedLM` (same vocabulary), on any text
    splits when given an :class:`~workbench.techniques.transfer.lm.LMConfig`."""
    lm_config = pretrained_or_config.config if isinstance(pretrained_or_config, PretrainedLM) \
        else pretrained_or_config
    if not isinstance(lm_config, LMConfig):
        raise ValueError(f"pretrained_or_config must be a PretrainedLM or an LMConfig; got "
                         f"{type(pretrained_or_config).__name__}")
    extra = dict(config or {})

    def model_factory(task: Any) -> TransformerLM:
        return TransformerLM(task.vocab_size, num_classes=task.num_classes, pad_id=task.pad_id, pooling=pooling,
                             **lm_config.model_kwargs())

    return Variant(name, config=_finetune_changes(extra), model_factory=model_factory)


@dataclass
class TransferResult:
    """What :func:`pretrain_and_finetune` did.

    Attributes:
        pretrained: the :class:`~workbench.techniques.transfer.lm.PretrainedLM`.
        model: the fine-tuned classifier (best validation weights).
        splits: the splits re-encoded with the LM's vocabulary.
        history: the fine-tuning Trainer's metric rows.
        val_metrics, test_metrics: final evaluation (``val_accuracy``, ``test_accuracy``, ...).
        pretrain_seconds: the LM run's wall seconds (from the cache when loaded: what it cost).
        finetune_seconds: the fine-tuning Trainer's wall seconds.
        coverage: :func:`lm_vocabulary_coverage` of the training split.
        load_report: the :class:`~workbench.techniques.transfer.finetune.LoadReport` of the
            pretrained weights into the classifier.
        pretrain_from_cache: the LM came from the cache (no pretraining seconds spent now).
    """

    pretrained: PretrainedLM
    model: TransformerLM
    splits: DataSplits
    history: list[dict[str, Any]]
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    pretrain_seconds: float
    finetune_seconds: float
    coverage: dict[str, float]
    load_report: Any = None
    pretrain_from_cache: bool = False
    config: TrainingConfig | None = field(default=None, repr=False)

    @property
    def total_seconds(self) -> float:
        """``pretrain_seconds + finetune_seconds``."""
        return self.pretrain_seconds + self.finetune_seconds

    def summary(self) -> str:
        p = self.pretrained
        return (f"LM: held-out perplexity {p.heldout.get('perplexity', math.nan):.1f} after "
                f"{p.config.steps} steps, {self.pretrain_seconds:.1f} s"
                f"{' (from the cache)' if self.pretrain_from_cache else ''}; vocabulary covers "
                f"{self.coverage['token_coverage']:.1%} of the training tokens; fine-tuning "
                f"{self.finetune_seconds:.1f} s -> test accuracy {self.test_metrics.get('test_accuracy', math.nan):.1%}")


def pretrain_and_finetune(splits: DataSplits, corpus: Any = None, lm_config: LMConfig | None = None, *,
                          pretrained: PretrainedLM | None = None, seed: int = 0,
                          config: Mapping[str, Any] | None = None, layer_decay: float = ULMFIT_LAYER_DECAY,
                          gradual_unfreezing: bool = True, unfreeze_every: int = 1, pooling: str = "mean",
                          cache_dir: Any = None, on_pretrain_eval: Any = None, techniques: tuple = (),
                          progress: bool = False) -> TransferResult:
    """Pretrain a language model on ``corpus`` (or load it from the cache, or take
    ``pretrained``), then fine-tune it on ``splits`` ULMFiT-style (see the module docstring).

    Args:
        splits: labelled text :class:`~workbench.data.splits.DataSplits` (a built-in data
            set or your own file through :func:`~workbench.data.user_data.load_text_file`).
        corpus: the unlabelled text (:func:`~workbench.techniques.transfer.lm.as_sentences`:
            a :class:`~workbench.techniques.transfer.corpus.PretrainingCorpus`, your text
            file, or sentences). Needed unless ``pretrained`` is given.
        lm_config: :class:`~workbench.techniques.transfer.lm.LMConfig` (default ``LMConfig()``).
        pretrained: an already pretrained LM (skips step 1).
        seed: the fine-tuning seed.
        config: TrainingConfig field changes on top of :func:`finetune_config`.
        layer_decay, gradual_unfreezing, unfreeze_every, pooling: see :func:`ulmfit_variant`.
        cache_dir: the LM cache folder.
        on_pretrain_eval: ``callback(row)`` per pretraining evaluation (live perplexity).
        techniques: more loop techniques for the fine-tuning run.

    Returns:
        :class:`TransferResult`.

    Raises:
        ValueError: neither ``corpus`` nor ``pretrained``; invalid settings.
    """
    from workbench.train.trainer import seed_everything

    if pretrained is None:
        if corpus is None:
            raise ValueError("pretrain_and_finetune needs corpus= (text to pretrain on) or pretrained=")
        pretrained = pretrain_lm(corpus, lm_config, cache_dir=cache_dir, on_eval=on_pretrain_eval,
                                 progress=progress)
    data = lm_splits(splits, pretrained.vocab, pretrained.config.max_len)
    variant = ulmfit_variant(pretrained, layer_decay=layer_decay, gradual_unfreezing=gradual_unfreezing,
                             unfreeze_every=unfreeze_every, pooling=pooling, config=config)
    base = TrainingConfig(progress_bar=progress, seed=seed)
    cfg = base.replace(**variant.config(base, data))
    seed_everything(seed)
    model = TransformerLM(len(pretrained.vocab), num_classes=data.task.num_classes, pad_id=pretrained.vocab.pad_id,
                          pooling=pooling, **pretrained.config.model_kwargs())
    report = load_pretrained_weights(model, pretrained.model.state_dict())
    trainer = Trainer(model, cfg, data.train, data.val, task=data.task,
                      techniques=list(variant.techniques(data, seed)) + list(techniques),
                      param_groups=variant.param_groups(model, cfg))
    state = trainer.fit()
    val = trainer.evaluate(data.val, prefix="val_")
    test = trainer.evaluate(data.test, prefix="test_")
    return TransferResult(pretrained, model, data, [dict(r) for r in state.history], val, test,
                          pretrain_seconds=pretrained.pretrain_seconds, finetune_seconds=state.wall_time,
                          coverage=data.info["lm_vocabulary"], load_report=report,
                          pretrain_from_cache=pretrained.from_cache, config=cfg)
