"""Per-technique settings for the contract test (like Composer's
``tests/algorithms/algorithm_settings.py``): for each ``Technique`` class a family lists in
``TECHNIQUES``, the constructor arguments that must be rejected and the data set it runs on.

A technique added to a family's ``TECHNIQUES`` without an entry here fails the contract
test with a message saying what to add.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def multitask_splits():
    """SUBJ + MR, 60 training / 20 validation / 20 test sentences each, shared vocabulary."""
    import torch

    from workbench.data.datasets import load_dataset
    from workbench.techniques.multitask import multitask_splits as combine

    out = {}
    for i, name in enumerate(("subj", "mr")):
        s = load_dataset(name)
        g = torch.Generator().manual_seed(i)
        pick = {k: torch.randperm(len(getattr(s, k)), generator=g)[:n].tolist()
                for k, n in (("train", 60), ("val", 20), ("test", 20))}
        out[name] = type(s)(**{**s.__dict__, **{k: getattr(s, k).subset(v) for k, v in pick.items()}})
    return combine(out)


def multitask_model(splits):
    """A bag-of-embeddings encoder with one head per task."""
    from workbench.techniques.multitask import multitask_model as build

    return build("boe", splits, dropout=0.1)


@cache
def domain_splits():
    """pros_cons (source) -> MR (target), 120 / 40 / 40 sentences each, shared vocabulary."""
    from workbench.data.datasets import load_dataset
    from workbench.techniques.domain import cap_splits
    from workbench.techniques.domain import domain_splits as combine

    src, tgt = (cap_splits(load_dataset(n), train=120, val=40, test=40, seed=i)
                for i, n in enumerate(("pros_cons", "mr")))
    return combine(src, tgt)


def domain_model(splits):
    """A bag-of-embeddings text model (128 features) on the shared vocabulary."""
    from workbench.models import build_model

    return build_model("boe", splits.task)


_MULTITASK = {"modality": "text", "splits": multitask_splits, "model": multitask_model}

#: class name -> {"invalid": {argument: bad value, ...}, "modality": "vision" | "text",
#:                 "overrides": {argument: value} (optional: passed to default() for the runs,
#:                 so the technique acts within the contract's short run),
#:                 "splits": a zero-argument builder of the data (optional: instead of the
#:                 modality's tiny data set, e.g. multi-task data), "model": splits -> model
#:                 (optional: instead of the modality's reference model)}
SETTINGS: dict[str, dict[str, Any]] = {
    # curriculum (workbench.techniques.curriculum)
    "CurriculumScheduling": {"invalid": {"sampler": [0.0, 0.5], "scheduler": "competence"}, "modality": "vision"},
    # optimization: the contract's config has TrainingConfig's default schedule, "constant",
    # which DynamicLR needs (it sets the rate itself)
    "DynamicLR": {"invalid": {"monitor": "accuracy", "patience": 0, "decrease_factor": 1.5,
                              "check_every_steps": 5},
                  # checks on the training loss every 2 steps with patience 1, so the rate
                  # moves (and the moves must survive the resume) within the short run
                  "overrides": {"monitor": "train_loss", "check_every_steps": 2, "patience": 1},
                  "modality": "vision"},
    # multitask: SUBJ + MR with a shared vocabulary, a multi-task model (one head per task)
    "EqualWeighting": {"invalid": {"task_names": []}, **_MULTITASK},
    "UncertaintyWeighting": {"invalid": {"init_log_var": float("nan"), "task_names": []}, **_MULTITASK},
    "GradNormWeighting": {"invalid": {"alpha": -1.0, "lr": 0.0}, **_MULTITASK},
    # epochs=2 in the contract run: DWA's weights stay equal for two epochs, so a
    # temperature this small still leaves them equal; the epoch-loss sums must resume
    "DWAWeighting": {"invalid": {"temperature": 0.0}, **_MULTITASK},
    # performance-based: evaluations move the sampler's probabilities (in effect from the
    # next epoch); batch_size as the contract's config
    "TaskScheduling": {"invalid": {"schedule": "random", "batch_size": 0, "temperature": -1.0},
                       "overrides": {"schedule": "performance", "batch_size": 16}, **_MULTITASK},
    # domain: pros_cons -> MR (120 sentences each); the technique draws MR batches itself
    "DomainAdversarial": {"invalid": {"lambda_": -1.0, "weight": 0.0, "hidden": 0, "dropout": 1.0,
                                      "total_steps": 0},
                          # the bag of embeddings' 128 features (the default is Kim CNN's 300)
                          "overrides": {"feature_dim": 128},
                          "modality": "text", "splits": domain_splits, "model": domain_model},
    # skipping: selection over the whole contract run (Composer's interval would start at
    # its second half), so the draws and the loss history must survive the resume
    "SelectiveBackprop": {"invalid": {"rule": "random", "beta": 0.0, "keep": 1.5, "end": 0.2,
                                      "interrupt": -1, "scale_factor": 0.5, "history_size": 0},
                          "overrides": {"start": 0.0, "end": 1.0}, "modality": "vision"},
    # skips from the second epoch (the contract run has two): the per-id losses, the
    # predictor's statistics and the held-out pairs must survive the resume
    "DifficultyPrediction": {"invalid": {"skip_fraction": 1.0, "warmup_epochs": -1, "max_skip_epochs": 0,
                                         "holdout_fraction": -0.1, "decay": 0.0},
                             "modality": "text"},
    # a 50% target hit rate from a low threshold: hits (cached gradients added after the
    # backward) happen within the short run, and the cache and threshold must resume
    "GradientCaching": {"invalid": {"tau": 1.5, "target_hit_rate": 1.0, "tau_rate": -0.1, "slots": 0,
                                    "error_sample": -1},
                        "overrides": {"tau": 0.5, "target_hit_rate": 0.5}, "modality": "vision"},
    # the irreducible-loss model is cross-fitted at fit_start (1 epoch here); a resumed run
    # must reuse the checkpointed losses, not retrain it
    "RhoLoss": {"invalid": {"keep": 0.0, "il_epochs": 0, "il_lr": -1.0, "il_batch_size": 0},
                "overrides": {"keep": 0.5, "il_epochs": 1}, "modality": "vision"},
    # transfer: ULMFiT's default schedule over the bag of embeddings' layers unfreezes the
    # top group at epoch 0 and the next one at epoch 1 (within the two-epoch contract run),
    # so the resumed run must re-apply the frozen set of the epoch it resumes in
    "GradualUnfreezing": {"invalid": {"schedule": {-1: "classifier"}, "layers": 5}, "modality": "text"},
}
