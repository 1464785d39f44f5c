"""The domain-adaptation comparison of ``benchmarks/domain_adaptation.py``: one source ->
target direction, five variants with the same encoder and the same training configuration.

Variants (target test accuracy is the measure; model selection never uses target labels
except where the variant trains on them):

- ``source_only``: the encoder + linear classifier trained on the labelled source, validated
  (``restore_best``) on the source validation split.
- ``dann``: the same, with :class:`~workbench.techniques.domain.technique.DomainAdversarial`
  drawing unlabelled target training batches (Ganin's lambda schedule).
- ``target_supervised``: the tuned baseline on the target (``workbench.recipes.baseline_recipe``
  of the target: its model and configuration), trained and validated on target labels; the
  upper bound.
- ``joint_shared_ln`` / ``joint_adaptive_ln``: both labelled domains together, the encoder's
  features through a shared :class:`torch.nn.LayerNorm` or an
  :class:`~workbench.techniques.domain.models.AdaptiveLayerNorm` (per-domain affine), then one
  classifier; validated on both domains; per-domain test accuracy reported.

Gap closed: ``(dann - source_only) / (target_supervised - source_only)`` on target test accuracy.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from workbench.config import TrainingConfig
from workbench.models import build_model
from workbench.techniques.domain.data import DomainSplits
from workbench.techniques.domain.models import DomainNormClassifier
from workbench.techniques.domain.technique import DomainAdversarial
from workbench.train import Trainer
from workbench.train.events import Event, Technique

VARIANTS = ("source_only", "dann", "target_supervised", "joint_shared_ln", "joint_adaptive_ln")


def _config(base: TrainingConfig, seed: int, **changes: Any) -> TrainingConfig:
    return dataclasses.replace(base, seed=seed, progress_bar=False, **changes)


def run_variant(ds: DomainSplits, variant: str, seed: int, config: TrainingConfig, model: str = "kim_cnn",
                target_config: TrainingConfig | None = None, target_model: str | None = None,
                dann_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one variant once and measure it.

    Args:
        ds: the source and target splits on one vocabulary (:func:`domain_splits`).
        variant: one of :data:`VARIANTS`.
        seed: training seed (model initialisation, batch order, dropout).
        config: the configuration every variant but ``target_supervised`` uses.
        model: the encoder (a :func:`~workbench.models.build_model` name).
        target_config, target_model: the target's tuned recipe (``target_supervised``;
            default ``config`` / ``model``).
        dann_overrides: passed to :class:`DomainAdversarial` (e.g. ``{"lambda_": 0.1}``).

    Returns:
        ``{"variant", "seed", "target_test_accuracy", "source_test_accuracy", "steps",
        "wall_time_s", "history"}`` (``history``: the metric rows).

    Raises:
        ValueError: an unknown variant.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
    task = ds.task
    src_tr, tgt_tr = ds.dataset("train", ("source",)), ds.dataset("train", ("target",))
    src_te, tgt_te = ds.dataset("test", ("source",)), ds.dataset("test", ("target",))
    torch.manual_seed(seed)
    techniques: list[Any] = []
    cfg = _config(config, seed)
    if variant in ("source_only", "dann"):
        net = build_model(model, task)
        train, val = src_tr, ds.dataset("val", ("source",))
        if variant == "dann":
            techniques.append(DomainAdversarial(tgt_tr, net.feature_dim, task.collator(), num_examples=len(train),
                                                seed=seed, **(dann_overrides or {})))
    elif variant == "target_supervised":
        cfg = _config(target_config or config, seed)
        net = build_model(target_model or model, task)
        train, val = tgt_tr, ds.dataset("val", ("target",))
    else:
        norm = "shared" if variant == "joint_shared_ln" else "adaptive"
        net = DomainNormClassifier(build_model(model, task), norm=norm, num_domains=2)
        train, val = ds.dataset("train", ("source", "target")), ds.dataset("val", ("source", "target"))
    trainer = Trainer(net, cfg, train, val, task=task, techniques=techniques)
    t0 = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - t0
    return {"variant": variant, "seed": seed,
            "target_test_accuracy": float(trainer.evaluate(tgt_te)["accuracy"]),
            "source_test_accuracy": float(trainer.evaluate(src_te)["accuracy"]),
            "steps": int(trainer.state.effective_step), "wall_time_s": wall,
            "history": [dict(r) for r in trainer.state.history]}


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per variant: ``target_test_accuracy_mean`` / ``_std`` (sample std, NaN for one seed),
    ``source_test_accuracy_mean`` / ``_std``, ``seeds``, ``steps``, ``wall_time_s_mean``."""
    out = []
    for v in VARIANTS:
        rs = [r for r in runs if r["variant"] == v]
        if not rs:
            continue
        row: dict[str, Any] = {"variant": v, "seeds": len(rs), "steps": rs[0]["steps"],
                               "wall_time_s_mean": statistics.fmean(r["wall_time_s"] for r in rs)}
        for k in ("target_test_accuracy", "source_test_accuracy"):
            xs = [r[k] for r in rs]
            row[k + "_mean"] = statistics.fmean(xs)
            row[k + "_std"] = statistics.stdev(xs) if len(xs) > 1 else math.nan
        out.append(row)
    return out


def gap_closed(summary: Sequence[dict[str, Any]]) -> float:
    """``(dann - source_only) / (target_supervised - source_only)`` of the target test
    accuracy means (NaN when a variant is missing or the denominator is 0)."""
    m = {r["variant"]: r["target_test_accuracy_mean"] for r in summary}
    if not {"dann", "source_only", "target_supervised"} <= set(m):
        return math.nan
    den = m["target_supervised"] - m["source_only"]
    return (m["dann"] - m["source_only"]) / den if den else math.nan


def beats_beyond_spread(summary: Sequence[dict[str, Any]], a: str = "dann", b: str = "source_only") -> bool | None:
    """Whether ``a``'s mean target accuracy exceeds ``b``'s by more than the sum of their
    standard deviations (None with fewer than two seeds: no spread to judge by)."""
    m = {r["variant"]: r for r in summary}
    if a not in m or b not in m or m[a]["seeds"] < 2 or m[b]["seeds"] < 2:
        return None
    return (m[a]["target_test_accuracy_mean"] - m[b]["target_test_accuracy_mean"]
            > m[a]["target_test_accuracy_std"] + m[b]["target_test_accuracy_std"])


class _OnEval(Technique):
    """Calls ``callback(rows)`` after every evaluation (live plots)."""

    name = "_domain_on_eval"
    events = frozenset({Event.EVAL_END})

    def __init__(self, callback: Callable[[list[dict[str, Any]]], Any]) -> None:
        super().__init__()
        self.callback = callback

    def on_eval_end(self, state: Any) -> None:
        self.callback([dict(r) for r in state.history])


def load_domain_splits(source: str = "pros_cons", target: str = "mr", smoke: bool = False,
                       caps: tuple[int, int, int] | None = None) -> DomainSplits:
    """:func:`domain_splits` of two built-in corpora (fixed split seed 0); ``smoke``: 300 /
    100 / 200 sentences per corpus; ``caps``: ``(train, val, test)`` per corpus."""
    from workbench.recipes import load_splits
    from workbench.techniques.domain.data import cap_splits, domain_splits

    caps = (300, 100, 200) if smoke and caps is None else caps
    corpora = {n: load_splits(n, seed=0) for n in (source, target)}
    if caps is not None:
        corpora = {n: cap_splits(s, *caps, seed=0) for n, s in corpora.items()}
    return domain_splits(corpora[source], corpora[target], source, target)


def train_dann(ds: DomainSplits, adversarial: bool = True, lambda_: float | str = "ganin", seed: int = 0,
               smoke: bool = False, on_eval: Callable[[list[dict[str, Any]]], Any] | None = None,
               **config_changes: Any) -> dict[str, Any]:
    """The notebook's run: Kim CNN (``smoke``: bag of embeddings, 2 epochs) on the labelled
    source, with DANN when ``adversarial``; validated on source *and* target validation
    sentences (``val_accuracy/<domain>``, for the live curves only: ``restore_best`` is off,
    so no target label selects the model).

    Returns:
        ``{"model", "technique", "state", "test": {"source", "target"}}``.
    """
    from workbench.recipes import baseline_recipe
    from workbench.train import seed_everything

    recipe = baseline_recipe(ds.target_name)
    changes = {"restore_best": False, "eval_every_steps": 10 if smoke else 50, "progress_bar": False,
               "seed": seed} | ({"epochs": 2} if smoke else {}) | config_changes
    config = dataclasses.replace(recipe.config, **changes)
    seed_everything(seed)
    model = build_model("boe" if smoke else "kim_cnn", ds.task)
    techs: list[Technique] = []
    tech = None
    if adversarial:
        tech = DomainAdversarial(ds.dataset("train", ("target",)), model.feature_dim, ds.task.collator(),
                                 lambda_=lambda_, num_examples=len(ds.train), seed=seed)
        techs.append(tech)
    if on_eval is not None:
        techs.append(_OnEval(on_eval))
    trainer = Trainer(model, config, ds.train, ds.dataset("val", ("source", "target")), task=ds.task,
                      techniques=techs)
    state = trainer.fit()
    test = {w: float(trainer.evaluate(ds.dataset("test", (w,)))["accuracy"]) for w in ("source", "target")}
    return {"model": model, "technique": tech, "state": state, "test": test}


def features(model: Any, ds: DomainSplits, split: str = "test", n: int = 300, seed: int = 0) -> dict[str, Any]:
    """``model.encode`` features of up to ``n`` sentences per domain of ``split`` (eval
    mode): ``{"features": float [M, feature_dim], "domain": long [M]}``."""
    from workbench.train.inference import inference_batches

    out, dom = [], []
    for d, w in enumerate(("source", "target")):
        data = ds.dataset(split, (w,))
        g = torch.Generator().manual_seed(seed)
        pick = sorted(torch.randperm(len(data), generator=g)[:n].tolist())
        sub = torch.utils.data.Subset(data, pick)
        for batch, f in inference_batches(model, sub, ds.task.collator(), 256, forward=model.encode):
            out.append(f.float().cpu())
            dom.append(torch.full((len(batch["inputs"]),), d, dtype=torch.long))
    return {"features": torch.cat(out), "domain": torch.cat(dom)}
