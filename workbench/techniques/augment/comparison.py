"""With / without EDA on training subsets: the EDA paper's experiment (Wei & Zou 2019, section 4).

Protocol (:func:`eda_comparison`), for each data set, training size and seed:

1. a stratified training subset of the size (:func:`subsample_train`, seeded with the run's
   seed; validation and test stay whole), with the vocabulary rebuilt on the subset;
2. **without EDA**: the tuned baseline (``baseline_recipe``: Kim CNN-rand, Adam) trained on
   the subset;
3. **with EDA**: the same model and config trained on the subset plus ``n_aug`` EDA copies
   of each sentence at the paper's recommended ``(alpha, n_aug)`` for the size
   (:func:`recommended_config`), made with the run's seed;
4. both arms use the same early stopping: validation accuracy every *pass* (one pass =
   as many examples as the subset holds, ``ceil(size / batch_size)`` optimizer steps; for
   the baseline a pass is an epoch, for EDA ``1 / (n_aug + 1)`` of an epoch, so both are
   checked after equal amounts of training), patience ``patience`` evaluations, at most
   ``max_passes`` passes, the best validation checkpoint restored (``restore_best``) and
   scored on the test split. (The paper's Keras code stops on validation loss with
   patience 3, per epoch; evaluating per pass keeps both arms' stopping comparable when
   EDA's epochs are up to 17 times longer.)

Pretrained embeddings (issue 13, item 7): ``extra_vocabulary`` adds words (e.g. every word
with a word2vec vector) to each subset's vocabulary before EDA runs
(:func:`~workbench.techniques.augment.dataset.extend_vocabulary`), so the synonyms EDA
brings in have rows, and ``model_factory_for(splits, seed)`` builds each run's model for
that run's vocabulary (e.g. Kim CNN-non-static from the vectors). The share of EDA's new
words unknown to the subset's own vocabulary is recorded either way
(``new_token_oov_rate_subset_vocab``), beside the share unknown to the vocabulary the runs
used (``new_token_oov_rate``).

Runs go through :class:`workbench.experiment.Experiment` (records, time-to-target,
summaries); the gain is paired by seed (same subset for both arms). The figure and the
notebook's button callback are in :mod:`~workbench.techniques.augment.display`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.config import TrainingConfig
from workbench.data.steps import batches_per_epoch, optimizer_steps_per_epoch
from workbench.experiment import Experiment, ExperimentResult, Variant
from workbench.techniques.augment.dataset import (
    augment_splits,
    extend_vocabulary,
    new_token_oov_rate,
    subsample_train,
)
from workbench.techniques.augment.eda import EDAConfig, recommended_config
from workbench.validation import check_int

__all__ = [
    "EDAComparison",
    "PAPER_GAINS",
    "WITH_EDA",
    "WITHOUT_EDA",
    "comparison_config",
    "eda_comparison",
]

WITHOUT_EDA = "without EDA"
WITH_EDA = "with EDA"

#: Wei & Zou (2019), table 2 / figure 1: average test-accuracy gain of EDA over five data
#: sets (SST-2, CR, SUBJ, TREC, PC), CNN and RNN averaged, in accuracy units (0.030 = 3.0 points).
PAPER_GAINS: dict[str, float] = {"500": 0.030, "2000": 0.008, "5000": 0.009, "full": 0.008}

PAPER_CLAIM = ("EDA paper (5 data sets, avg.): +3.0 pts at 500, +0.8 at 2,000, +0.9 at 5,000, +0.8 full; "
               "half the data with EDA matched all of it without")


def _label(size: int | str | None) -> str:
    return "full" if size in (None, "full") else str(int(size))


def comparison_config(config: TrainingConfig, n_train: int, patience: int = 3,
                      max_passes: int = 30) -> TrainingConfig:
    """The shared training config of both arms for a subset of ``n_train`` examples.

    Evaluates every pass (``ceil(n_train / batch_size)`` optimizer steps), early-stops after
    ``patience`` evaluations without a better validation accuracy, restores the best
    weights, and stops after ``max_passes`` passes at most.

    Raises:
        ValueError: ``n_train``, ``patience`` or ``max_passes`` < 1.
    """
    for name, v in (("n_train", n_train), ("patience", patience), ("max_passes", max_passes)):
        check_int(name, v, 1)
    steps = optimizer_steps_per_epoch(batches_per_epoch(n_train, config.batch_size, config.drop_last),
                                      config.grad_accum_steps)
    return config.replace(epochs=max_passes, max_steps=max_passes * steps, eval_every_epochs=None,
                          eval_every_steps=steps, early_stopping_patience=patience,
                          early_stopping_min_delta=0.0, restore_best=True, monitor="val_accuracy",
                          monitor_mode="max", progress_bar=False)


@dataclass
class EDAComparison:
    """Result of :func:`eda_comparison`.

    Attributes:
        result: the :class:`~workbench.experiment.ExperimentResult` (data-set keys
            ``"subj/500"``, ``"subj/full"``, ...; variants ``"without EDA"`` (baseline) and
            ``"with EDA"``).
        sizes: key -> number of training sentences.
        augmentation: one dict per (key, seed): the augmented set's statistics
            (augmentations per second, OOV rates of augmented tokens, ...).
        train_size_full: data set -> size of its whole training split.
        vocabulary: how each run's vocabulary was built (printed with the results).
    """

    result: ExperimentResult
    sizes: dict[str, int]
    augmentation: list[dict[str, Any]] = field(default_factory=list)
    train_size_full: dict[str, int] = field(default_factory=dict)
    vocabulary: str = "rebuilt on each subset"

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (data set, size): test accuracy without / with (mean, std over
        seeds), the gain (paired by seed: mean, sample std; NaN std for one seed), the
        paper's average gain, augmentation speed and OOV figures (the share of EDA's new
        words unknown to the runs' vocabulary, ``new_token_oov_rate``, and to the subset's
        own, ``new_token_oov_rate_subset_vocab``), the mean vocabulary size, passes run."""
        out = []
        recs = self.result.records
        for key, n in self.sizes.items():
            dataset, label = key.split("/", 1)
            by = {v: {r.seed: r for r in recs if r.dataset == key and r.variant == v} for v in (WITHOUT_EDA, WITH_EDA)}
            seeds = sorted(set(by[WITHOUT_EDA]) & set(by[WITH_EDA]))
            if not seeds:
                continue
            acc = {v: np.array([by[v][s].test_metrics.get("test_accuracy", math.nan) for s in seeds]) for v in by}
            gain = acc[WITH_EDA] - acc[WITHOUT_EDA]
            aug = [a for a in self.augmentation if a["key"] == key]

            def _sd(a: np.ndarray) -> float:
                return float(a.std(ddof=1)) if len(a) > 1 else math.nan

            def _passes(v: str, by=by, n=n, seeds=seeds) -> float:
                return float(np.mean([by[v][s].examples_seen / n for s in seeds]))

            out.append({
                "dataset": dataset, "train_size": n, "size_label": label, "seeds": len(seeds),
                "accuracy_without_mean": float(acc[WITHOUT_EDA].mean()), "accuracy_without_std": _sd(acc[WITHOUT_EDA]),
                "accuracy_with_mean": float(acc[WITH_EDA].mean()), "accuracy_with_std": _sd(acc[WITH_EDA]),
                "gain_mean": float(gain.mean()), "gain_std": _sd(gain),
                "paper_gain": PAPER_GAINS.get(label if label == "full" else str(n), math.nan),
                "alpha": aug[0]["eda"]["alpha_sr"] if aug else math.nan,
                "n_aug": aug[0]["eda"]["n_aug"] if aug else math.nan,
                "augmentations_per_s": float(np.mean([a["augmentations_per_s"] for a in aug])) if aug else math.nan,
                "augment_s": float(np.mean([a["augment_s"] for a in aug])) if aug else math.nan,
                "copy_oov_rate": float(np.mean([a["copy_oov_rate"] for a in aug])) if aug else math.nan,
                "new_token_oov_rate": float(np.mean([a["new_token_oov_rate"] for a in aug])) if aug else math.nan,
                # records made without these figures (older or hand-built): the subset's own
                # vocabulary was the runs' vocabulary, and its size is unknown
                "new_token_oov_rate_subset_vocab": float(np.mean([a.get("new_token_oov_rate_subset_vocab",
                                                                        a["new_token_oov_rate"])
                                                                  for a in aug])) if aug else math.nan,
                "vocab_size": float(np.mean([a.get("vocab_size", math.nan) for a in aug])) if aug else math.nan,
                "passes_without": _passes(WITHOUT_EDA), "passes_with": _passes(WITH_EDA),
                "train_s_without": float(np.mean([by[WITHOUT_EDA][s].wall_time for s in seeds])),
                "train_s_with": float(np.mean([by[WITH_EDA][s].wall_time for s in seeds])),
            })
        return out

    def table(self):
        """:meth:`rows` formatted for display (``pandas.DataFrame`` of strings; accuracies
        and gains in percentage points)."""
        import pandas as pd

        def pm(m: float, s: float, scale: float = 100.0, signed: bool = False) -> str:
            if m != m:
                return "—"
            txt = f"{m * scale:+.1f}" if signed else f"{m * scale:.1f}"
            return txt + (f" ± {s * scale:.1f}" if s == s else "")

        rows = []
        for r in self.rows():
            rows.append({
                "data set": r["dataset"], "train size": f"{r['train_size']:,}" + (" (full)" if r["size_label"] == "full" else ""),
                "seeds": r["seeds"], "alpha / n_aug": f"{r['alpha']:g} / {r['n_aug']}",
                "accuracy without (%)": pm(r["accuracy_without_mean"], r["accuracy_without_std"]),
                "accuracy with (%)": pm(r["accuracy_with_mean"], r["accuracy_with_std"]),
                "gain (points)": pm(r["gain_mean"], r["gain_std"], signed=True),
                "paper gain (5-set avg.)": pm(r["paper_gain"], math.nan, signed=True),
                "passes w/o / with": f"{r['passes_without']:.0f} / {r['passes_with']:.0f}",
                "augmentations/s": f"{r['augmentations_per_s']:,.0f}",
                "unknown new tokens": f"{r['new_token_oov_rate']:.0%}",
            })
        return pd.DataFrame(rows)

    def fraction_matching_full(self) -> dict[str, float | None]:
        """Per data set: the smallest training fraction whose mean accuracy *with* EDA
        reaches the *full* training set's mean accuracy *without* it (the paper: about
        0.5), or None when no size does or the full size was not run."""
        rows = self.rows()
        out: dict[str, float | None] = {}
        for dataset in dict.fromkeys(r["dataset"] for r in rows):
            mine = [r for r in rows if r["dataset"] == dataset]
            full = [r for r in mine if r["size_label"] == "full"]
            if not full:
                out[dataset] = None
                continue
            goal = full[0]["accuracy_without_mean"]
            hits = sorted(r["train_size"] for r in mine if r["accuracy_with_mean"] >= goal)
            out[dataset] = hits[0] / full[0]["train_size"] if hits else None
        return out

    def verdicts(self) -> list[str]:
        """One sentence per (data set, size): does EDA help here, measured against the
        seed-to-seed spread of the gain."""
        out = []
        for r in self.rows():
            g, s = r["gain_mean"], r["gain_std"]
            head = f"{r['dataset']} at {r['train_size']:,} sentences: EDA {g * 100:+.1f} points"
            if s != s:
                verdict = "one seed, so no spread to judge it by"
            elif abs(g) <= s:
                verdict = f"within the seed-to-seed spread (± {s * 100:.1f}): no measured effect"
            else:
                verdict = ("helps" if g > 0 else "hurts") + f" (spread ± {s * 100:.1f})"
            paper = r["paper_gain"]
            extra = f"; the paper's 5-data-set average: {paper * 100:+.1f}" if paper == paper else ""
            out.append(f"{head}, {verdict}{extra}.")
        return out


def eda_comparison(datasets: str | Sequence[str] = "subj", train_sizes: Sequence[int | str | None] = (500,),
                   seeds: Sequence[int] = (0,), eda: EDAConfig | None = None, *, smoke: bool = False,
                   patience: int = 3, max_passes: int = 30, rebuild_vocab: bool = True,
                   extra_vocabulary: Iterable[str] | None = None,
                   model_factory_for: Callable[[Any, int], Callable[[Any], Any]] | None = None,
                   splits: Any = None, config_changes: dict[str, Any] | None = None,
                   on_eval: Callable[[Experiment], Any] | None = None,
                   progress: bool = True, log: Callable[[str], Any] | None = None) -> EDAComparison:
    """Train without and with EDA on training subsets (see the module docstring).

    Args:
        datasets: built-in text data-set names with a baseline recipe (``"subj"``, ``"mr"``).
        train_sizes: training subset sizes; ``"full"`` or None for the whole training split
            (a size above it is clipped to it).
        seeds: seeds; each draws its own subset and augmentation, shared by both arms.
        eda: an :class:`EDAConfig` for every size (default: the paper's recommendation
            for the size, :func:`recommended_config`).
        smoke: small data and budget for tests (600 examples, at most 3 passes); numbers
            from smoke runs are not measurements.
        patience, max_passes: early stopping (see :func:`comparison_config`).
        rebuild_vocab: rebuild the vocabulary on each subset (:func:`subsample_train`).
        extra_vocabulary: words added to each subset's vocabulary before augmenting
            (:func:`~workbench.techniques.augment.dataset.extend_vocabulary`), e.g.
            ``vectors.words`` of pretrained word vectors; None: the subset's words only.
        model_factory_for: ``(splits, seed) -> factory(task) -> model``, called for every
            run with that run's splits (their vocabulary) to build its model, e.g.
            ``lambda s, seed: kim_cnn_factory(s.vocab, vectors, "non-static", seed=seed)``
            from :mod:`workbench.techniques.transfer`; None: the recipe's model.
        splits: preloaded :class:`DataSplits` (one data set) or dict name -> splits.
        config_changes: ``TrainingConfig`` changes applied to the baseline recipe of both
            arms (for example ``{"device": "cuda"}``).
        on_eval: called with the experiment after every validation pass (live plots).
        progress: a progress line per run through ``log``.
        log: where progress lines go (default ``print``).

    Returns:
        :class:`EDAComparison`.

    Raises:
        ValueError: unknown data set, an empty ``train_sizes`` or ``seeds``, or invalid
            ``patience`` / ``max_passes``.
    """
    from workbench.recipes import baseline_recipe, load_splits, model_factory

    names = [datasets] if isinstance(datasets, str) else list(datasets)
    if isinstance(extra_vocabulary, str):
        raise ValueError("extra_vocabulary must be an iterable of words (e.g. vectors.words), not one string")
    extra = list(extra_vocabulary) if extra_vocabulary is not None else None
    if model_factory_for is not None and not callable(model_factory_for):
        raise ValueError(f"model_factory_for must be a callable (splits, seed) -> factory; got {model_factory_for!r}")
    if not names or not list(train_sizes) or not list(seeds):
        raise ValueError("eda_comparison needs at least one data set, one training size and one seed")
    for s in train_sizes:
        if s not in (None, "full") and (isinstance(s, bool) or not isinstance(s, int) or s < 2):
            raise ValueError(f"train_sizes must hold integers >= 2, 'full' or None; got {s!r}")
    log = log or print
    if smoke:
        max_passes = min(max_passes, 3)
        patience = min(patience, 2)
    loaded: dict[str, Any] = {}
    for d in names:
        given = splits.get(d) if isinstance(splits, dict) else (splits if splits is not None and len(names) == 1 else None)
        loaded[d] = given if given is not None else load_splits(d, smoke=smoke)
    recipes = {d: baseline_recipe(d, smoke=smoke, splits=loaded[d],
                                  **({"progress_bar": False} | dict(config_changes or {})))
               for d in names}
    # your own data given under a built-in name (the default "subj"): name it by its own name
    loaded = {recipes[d].dataset: loaded[d] for d in names}
    recipes = {r.dataset: r for r in recipes.values()}
    names = list(recipes)
    data, configs, targets, factories, sizes, plans = {}, {}, {}, {}, {}, {}
    for d in names:
        n_full = len(loaded[d].train)
        for s in train_sizes:
            n = n_full if s in (None, "full") else min(int(s), n_full)
            key = f"{d}/{'full' if n == n_full else n}"
            if key in data:
                continue
            data[key], sizes[key] = loaded[d], n
            configs[key] = comparison_config(recipes[d].config, n, patience, max_passes)
            targets[key] = recipes[d].target
            factories[key] = model_factory(recipes[d].model)
            plans[key] = eda if eda is not None else recommended_config(n)
    variants = [Variant(WITHOUT_EDA), Variant(WITH_EDA, claim=PAPER_CLAIM)]
    exp = Experiment(data, dict(factories), configs, variants, seeds=seeds, target=targets, on_eval=on_eval,
                     progress=False, name="EDA with / without")
    if progress:
        log(exp.describe())
    augmentation = []
    for key, n in sizes.items():
        d = key.split("/", 1)[0]
        n_full = len(loaded[d].train)
        for seed in exp.seeds:
            plain = subsample_train(loaded[d], None if n == n_full else n, seed=seed, rebuild_vocab=rebuild_vocab)
            own_vocab = plain.vocab
            if extra is not None:
                plain = extend_vocabulary(plain, extra)
            aug = augment_splits(plain, plans[key], seed=seed)
            stats = dict(aug.info["augmentation"]) | {
                "key": key, "seed": seed, "vocab_size": len(plain.vocab),
                "new_token_oov_rate_subset_vocab": new_token_oov_rate(aug, own_vocab)}
            augmentation.append(stats)
            for variant, split in ((exp.variants[0], plain), (exp.variants[1], aug)):
                exp.data[key] = split
                if model_factory_for is not None:
                    exp.model_factory[key] = model_factory_for(split, seed)
                rec = exp.run_one(key, variant, seed)
                exp.records.append(rec)
                if progress:
                    log(f"  {key} seed {seed} {variant.name}: test accuracy "
                        f"{rec.test_metrics.get('test_accuracy', math.nan):.3f} after "
                        f"{rec.examples_seen / n:.0f} passes ({rec.wall_time:.0f} s; {rec.stop_reason})"
                        + (f"; {stats['copies']:,} copies at {stats['augmentations_per_s']:,.0f}/s, "
                           f"{stats['new_token_oov_rate']:.0%} of new tokens unknown"
                           if variant.name == WITH_EDA else ""))
        exp.data[key] = loaded[d]
        exp.model_factory[key] = factories[key]
    result = ExperimentResult(exp.records, exp.targets, WITHOUT_EDA, claims={WITH_EDA: PAPER_CLAIM})
    how = "rebuilt on each subset" if rebuild_vocab else "the full training split's"
    if extra is not None:
        how += f", extended with {len(extra):,} words (extra_vocabulary) before augmenting"
    return EDAComparison(result, sizes, augmentation, {d: len(loaded[d].train) for d in names}, how)
