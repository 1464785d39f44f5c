"""Curriculum learning: difficulty scores, pacing functions, schedulers, and the loop adapters.

Pure parts (tested on their own):

- **Pacing functions** ``f(step, ...) -> fraction`` of the difficulty-sorted training data
  available at mini-batch ``step`` (:data:`PACING_FUNCTIONS`, :func:`make_pacing`).
- **Difficulty scores** per example id (:func:`difficulty_scores`): length, vocabulary
  rarity and a cross-fitted reference model's loss or confidence, z-normalised with the
  training split's statistics and combined with weights 0.3 / 0.3 / 0.4.
- **Schedulers** that move the difficulty range from training feedback
  (:class:`ProgressiveDifficulty`, :class:`CompetencePacing`, :class:`MultiStageCurriculum`,
  :class:`DynamicDifficulty`); plain objects with ``update`` and ``state_dict``.

Loop adapters: :class:`CurriculumScheduling` (a :class:`~workbench.train.Technique` that
feeds validation metrics to a scheduler and sets a
:class:`~workbench.data.curriculum_samplers.DifficultySampler`'s range for the next
epoch); a curriculum variant is a :class:`~workbench.experiment.Variant` whose ``sampler``
factory builds the paced sampler (:func:`paced_sampler_factory`, :func:`curriculum_variants`).

Papers: Bengio et al. (2009) curriculum learning; Hacohen & Weinshall (2019), "On the power
of curriculum learning in training deep networks" (ICML), Sec. 2-3: scoring by a
reference ("transfer" / "self-taught") model, fixed / varied exponential and single-step
pacing; Platanios et al. (2019), "Competence-based curriculum learning for neural machine
translation" (NAACL), Sec. 3: sentence length and word rarity difficulty, competence
linear and sqrt (Eq. 4-5); Wu, Dyer & Neyshabur (2021), "When do curricula work?" (ICLR):
anti-curriculum and random-curriculum controls.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.experiment import Experiment, Variant
from workbench.train.events import Technique

__all__ = [
    "COMPONENTS",
    "CompetencePacing",
    "CurriculumExperiment",
    "CurriculumScheduling",
    "DEFAULT_WEIGHTS",
    "DifficultyScores",
    "DynamicDifficulty",
    "MultiStageCurriculum",
    "PACING_FUNCTIONS",
    "ProgressiveDifficulty",
    "SamplerVariant",
    "Stage",
    "competence_linear",
    "competence_sqrt",
    "curriculum_order",
    "curriculum_variants",
    "difficulty_scores",
    "exponential",
    "fixed_exponential",
    "compare_curriculum",
    "curriculum_panel_callback",
    "flip_labels",
    "hardest_and_easiest",
    "paced_sampler_factory",
    "plot_difficulty_histograms",
    "plot_pacing",
    "linear",
    "make_pacing",
    "pacing_curve",
    "root",
    "single_step",
    "varied_exponential",
]


# ============================================================================ pacing functions
def _check_pacing(step: int, total_steps: float | None = None, start: float | None = None) -> None:
    if step < 0:
        raise ValueError(f"pacing: step must be >= 0; got {step}")
    if total_steps is not None and not total_steps > 0:
        raise ValueError(f"pacing: total_steps must be > 0; got {total_steps}")
    if start is not None and not 0.0 < start <= 1.0:
        raise ValueError(f"pacing: the starting fraction must be in (0, 1]; got {start}")


def linear(step: int, total_steps: int, start: float = 0.04) -> float:
    """Linear pacing: ``g(t) = min(1, s + (1 - s) t / T)``.

    ``s`` = ``start`` (fraction at step 0), ``T`` = ``total_steps`` (the step at which all
    data is available). Raises ``ValueError`` for ``step < 0``, ``T <= 0``, ``s`` outside (0, 1].
    """
    _check_pacing(step, total_steps, start)
    return min(1.0, start + (1.0 - start) * step / total_steps)


def root(step: int, total_steps: int, start: float = 0.04, p: float = 2.0) -> float:
    """Root-p pacing: ``g(t) = min(1, (s^p + (1 - s^p) t / T)^(1/p))`` (p = 2: square root;
    Platanios et al. 2019 Eq. 5 generalised; Penha & Hauff 2020). Grows fast, then slowly."""
    _check_pacing(step, total_steps, start)
    if p < 1:
        raise ValueError(f"root pacing: p must be >= 1; got {p}")
    return min(1.0, (start ** p + (1.0 - start ** p) * step / total_steps) ** (1.0 / p))


def exponential(step: int, total_steps: int, start: float = 0.04) -> float:
    """Exponential (geometric) pacing: ``g(t) = min(1, s * (1/s)^(t/T))``: the available
    data grows by a constant factor per step and reaches all of it at ``T``."""
    _check_pacing(step, total_steps, start)
    return min(1.0, start * (1.0 / start) ** (step / total_steps))


def fixed_exponential(step: int, starting_percent: float = 0.04, increase_amount: float = 1.9,
                      step_length: int = 100) -> float:
    """Hacohen & Weinshall (2019) fixed exponential pacing (Sec. 2.2; their code's defaults):
    ``g(i) = min(1, starting_percent * increase_amount ^ floor(i / step_length))``."""
    _check_pacing(step, None, starting_percent)
    if increase_amount <= 1 or step_length < 1:
        raise ValueError(f"fixed_exponential: increase_amount must be > 1 and step_length >= 1; "
                         f"got {increase_amount}, {step_length}")
    return min(1.0, starting_percent * increase_amount ** (step // step_length))


def varied_exponential(step: int, starting_percent: float = 0.04, increase_amount: float = 1.9,
                       step_lengths: Sequence[int] = (100,), rest_step_length: int = 100) -> float:
    """Hacohen & Weinshall (2019) varied exponential pacing: as fixed exponential, but the
    ``k``-th increase happens after ``step_lengths[k]`` more steps (then every
    ``rest_step_length``): ``g(i) = min(1, s * a^z(i))``, ``z(i) = #{j : J_j < i}`` with jump
    points ``J = cumsum(step_lengths)`` extended by ``rest_step_length``."""
    _check_pacing(step, None, starting_percent)
    if increase_amount <= 1 or rest_step_length < 1 or any(s < 1 for s in step_lengths):
        raise ValueError("varied_exponential: increase_amount must be > 1 and step lengths >= 1")
    needed = math.ceil(math.log(1.0 / starting_percent, increase_amount)) if starting_percent < 1 else 0
    jumps = list(np.cumsum(list(step_lengths))) if step_lengths else []
    while len(jumps) < needed:
        jumps.append((jumps[-1] if jumps else 0) + rest_step_length)
    z = sum(1 for j in jumps if j < step)
    return min(1.0, starting_percent * increase_amount ** z)


def single_step(step: int, starting_percent: float = 0.04, step_length: int = 100) -> float:
    """Hacohen & Weinshall (2019) single-step pacing: ``g(i) = starting_percent`` for
    ``i < step_length``, then 1."""
    _check_pacing(step, None, starting_percent)
    if step_length < 0:
        raise ValueError(f"single_step: step_length must be >= 0; got {step_length}")
    return starting_percent if step < step_length else 1.0


def competence_linear(step: int, total_steps: int, c0: float = 0.01) -> float:
    """Platanios et al. (2019) linear competence (Eq. 4): ``c(t) = min(1, t (1 - c0) / T + c0)``."""
    _check_pacing(step, total_steps, c0)
    return min(1.0, step * (1.0 - c0) / total_steps + c0)


def competence_sqrt(step: int, total_steps: int, c0: float = 0.01) -> float:
    """Platanios et al. (2019) square-root competence (Eq. 5):
    ``c(t) = min(1, sqrt(t (1 - c0^2) / T + c0^2))``."""
    _check_pacing(step, total_steps, c0)
    return min(1.0, math.sqrt(step * (1.0 - c0 ** 2) / total_steps + c0 ** 2))


#: name -> pacing function (all ``f(step, ...) -> fraction in (0, 1]``, non-decreasing in step)
PACING_FUNCTIONS: dict[str, Callable[..., float]] = {
    "linear": linear,
    "root": root,
    "exponential": exponential,
    "single_step": single_step,
    "fixed_exponential": fixed_exponential,
    "varied_exponential": varied_exponential,
    "competence_linear": competence_linear,
    "competence_sqrt": competence_sqrt,
}


def make_pacing(name: str, total_steps: int = 1000, start: float = 0.04, increase_amount: float = 1.9,
                step_length: int | None = None) -> Callable[[int], float]:
    """A one-argument pacing ``step -> fraction`` from common settings (the notebook sliders).

    ``start`` is the starting fraction (``c0`` for competence); ``total_steps`` is when all
    data is available for linear / root / exponential / competence; ``step_length``
    (default ``total_steps / ceil(log(1/start) / log(increase_amount))``, so the
    exponential steps also end near ``total_steps``) is the step length of the
    Hacohen & Weinshall functions (``single_step`` switches at ``step_length``, default
    ``total_steps / 2``). ``varied_exponential`` uses step lengths growing
    ``0.5x, 1x, 1.5x`` of ``step_length``, then ``step_length``.

    Raises:
        ValueError: unknown name (lists the valid ones) or invalid settings.
    """
    if name not in PACING_FUNCTIONS:
        raise ValueError(f"unknown pacing {name!r}; valid: {sorted(PACING_FUNCTIONS)}")
    if total_steps < 1:
        raise ValueError(f"make_pacing: total_steps must be >= 1; got {total_steps}")
    if not 0 < start <= 1:
        raise ValueError(f"make_pacing: start must be in (0, 1]; got {start}")
    if increase_amount <= 1:
        raise ValueError(f"make_pacing: increase_amount must be > 1; got {increase_amount}")
    jumps = max(1, math.ceil(math.log(1 / start) / math.log(increase_amount))) if start < 1 else 1
    sl = max(1, int(step_length if step_length is not None else round(total_steps / jumps)))
    if name in ("linear", "exponential"):
        return partial(PACING_FUNCTIONS[name], total_steps=total_steps, start=start)
    if name == "root":
        return partial(root, total_steps=total_steps, start=start)
    if name in ("competence_linear", "competence_sqrt"):
        return partial(PACING_FUNCTIONS[name], total_steps=total_steps, c0=start)
    if name == "fixed_exponential":
        return partial(fixed_exponential, starting_percent=start, increase_amount=increase_amount, step_length=sl)
    if name == "varied_exponential":
        return partial(varied_exponential, starting_percent=start, increase_amount=increase_amount,
                       step_lengths=(max(1, sl // 2), sl, max(1, 3 * sl // 2)), rest_step_length=sl)
    return partial(single_step, starting_percent=start,
                   step_length=int(step_length) if step_length is not None else max(1, total_steps // 2))


def pacing_curve(pacing: Callable[[int], float], total_steps: int, points: int = 200) -> tuple[list[int], list[float]]:
    """``(steps, fractions)`` of ``pacing`` at ``points`` steps in ``[0, total_steps]``."""
    steps = sorted({int(round(x)) for x in np.linspace(0, total_steps, max(2, points))})
    return steps, [float(pacing(s)) for s in steps]


# ============================================================================ difficulty scores
#: the components of the combined score, in order
COMPONENTS = ("length", "rarity", "model")
#: default weights of length, rarity and reference-model loss (SPEC)
DEFAULT_WEIGHTS = (0.3, 0.3, 0.4)

_CACHE: dict[str, DifficultyScores] = {}


@dataclass
class DifficultyScores:
    """Difficulty per example id (higher = harder).

    Attributes:
        ids: ``LongTensor [N]`` example ids (the data set's order).
        components: name -> ``FloatTensor [N]`` raw values (``length``, ``rarity``, ``model``).
        normalized: name -> ``FloatTensor [N]`` z-scores ``(x - mean) / std`` with the
            statistics of the scored (training) split.
        total: ``FloatTensor [N]``, ``sum_k w_k * normalized_k``.
        weights: name -> weight. settings: how the scores were made (cache key).
    """

    ids: torch.Tensor
    components: dict[str, torch.Tensor]
    normalized: dict[str, torch.Tensor]
    total: torch.Tensor
    weights: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)

    def for_dataset(self, dataset: Any, which: str = "total") -> torch.Tensor:
        """Scores aligned to ``dataset``'s positions (``FloatTensor [len(dataset)]``).

        Raises:
            KeyError: an id of ``dataset`` that was not scored.
        """
        values = self.total if which == "total" else self.normalized.get(which, self.components.get(which))
        if values is None:
            raise KeyError(f"no score {which!r}; have total, {sorted(self.components)}")
        index = {int(i): k for k, i in enumerate(self.ids.tolist())}
        try:
            return values[torch.tensor([index[int(i)] for i in dataset.ids.tolist()], dtype=torch.long)]
        except KeyError as exc:
            raise KeyError(f"example id {exc.args[0]} was not scored") from None

    def easiest(self, k: int = 5, which: str = "total") -> list[int]:
        """Ids of the ``k`` easiest examples."""
        return self.ids[torch.argsort(self.total if which == "total" else self.normalized[which])[:k]].tolist()

    def hardest(self, k: int = 5, which: str = "total") -> list[int]:
        """Ids of the ``k`` hardest examples (hardest first)."""
        v = self.total if which == "total" else self.normalized[which]
        return self.ids[torch.argsort(v, descending=True)[:k]].tolist()

    def to_dict(self) -> dict[str, Any]:
        return {"ids": self.ids, "components": self.components, "normalized": self.normalized,
                "total": self.total, "weights": self.weights, "settings": self.settings}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DifficultyScores:
        return cls(d["ids"], dict(d["components"]), dict(d["normalized"]), d["total"], dict(d["weights"]),
                   dict(d["settings"]))


def _fingerprint(dataset: Any) -> str:
    h = hashlib.sha256()
    h.update(str(getattr(dataset, "name", "")).encode())
    h.update(dataset.ids.numpy().tobytes())
    h.update(dataset.targets.numpy().tobytes())
    if dataset.modality == "text":
        for x in dataset.inputs:
            h.update(x.numpy().tobytes())
            h.update(b"|")
    else:
        h.update(dataset.inputs.numpy().tobytes())
    return h.hexdigest()[:20]


def _length(dataset: Any) -> torch.Tensor:
    if dataset.modality == "text":
        return dataset.lengths.double()
    # images / tabular: total "ink" (sum of pixel intensities) as a length proxy
    return dataset.inputs.reshape(len(dataset), -1).double().sum(dim=1)


def _rarity(dataset: Any, vocab: Any) -> torch.Tensor:
    if dataset.modality == "text":
        if vocab is None:
            raise ValueError("difficulty_scores: text rarity needs the training vocabulary (splits.vocab)")
        total = sum(vocab.freq.values())
        v = len(vocab.freq) + 1
        # -log p(w) of each token id, add-one smoothed unigram frequencies of the training split
        neglogp = torch.tensor([-math.log((vocab.freq.get(tok, 0) + 1) / (total + v)) for tok in vocab.itos],
                               dtype=torch.float64)
        out = torch.empty(len(dataset), dtype=torch.float64)
        for k, x in enumerate(dataset.inputs):
            out[k] = neglogp[x].mean() if len(x) else 0.0
        return out
    # images: atypicality = distance to the leave-one-out mean image of the example's class
    x = dataset.inputs.reshape(len(dataset), -1).double()
    y = dataset.targets
    out = torch.empty(len(dataset), dtype=torch.float64)
    for c in torch.unique(y):
        m = y == c
        xs = x[m]
        n = len(xs)
        if n < 2:
            out[m] = 0.0
            continue
        loo = (xs.sum(dim=0, keepdim=True) - xs) / (n - 1)
        out[m] = (xs - loo).norm(dim=1)
    return out


def _features(dataset: Any, vocab_size: int | None):
    from scipy import sparse

    if dataset.modality == "text":
        rows, cols = [], []
        for k, x in enumerate(dataset.inputs):
            u = torch.unique(x).tolist()
            rows += [k] * len(u)
            cols += u
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(dataset), vocab_size))
    return dataset.inputs.reshape(len(dataset), -1).double().numpy()


def _reference_model(dataset: Any, folds: int, seed: int, kind: str, vocab_size: int | None) -> torch.Tensor:
    """Cross-fitted reference-model difficulty: each fold is scored by a logistic regression
    trained on the other folds (no example is scored by a model trained on it)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x = _features(dataset, vocab_size)
    y = dataset.targets.numpy()
    out = np.zeros(len(y))
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in skf.split(np.zeros(len(y)), y):
        clf = LogisticRegression(max_iter=1000, C=1.0,
                                 solver="liblinear" if len(np.unique(y)) == 2 else "lbfgs")
        clf.fit(x[train_idx], y[train_idx])
        proba = clf.predict_proba(x[test_idx])
        col = {c: k for k, c in enumerate(clf.classes_.tolist())}
        p = np.array([proba[r, col[t]] if t in col else 0.0 for r, t in enumerate(y[test_idx].tolist())])
        p = np.clip(p, 1e-12, 1.0)
        out[test_idx] = -np.log(p) if kind == "loss" else 1.0 - p
    return torch.from_numpy(out)


def difficulty_scores(dataset: Any, vocab: Any = None, weights: Sequence[float] = DEFAULT_WEIGHTS,
                      reference: str = "loss", folds: int = 3, seed: int = 0,
                      cache_dir: str | Path | None = None, use_cache: bool = True) -> DifficultyScores:
    """Difficulty of every example of ``dataset`` (normally the training split).

    Components (raw, then z-normalised with this data set's mean and standard deviation):

    - ``length``: text: tokens (Platanios et al. 2019 Sec. 3.1, sentence length); images
      (no length): the total ink, sum of pixel intensities, as a proxy for stroke length.
    - ``rarity``: text: mean ``-log p(w)`` over the example's tokens, ``p`` the add-one
      smoothed unigram frequency in the *training split* (``vocab.freq``; Platanios et al.
      Sec. 3.1 word rarity, averaged so that it does not duplicate length); images:
      atypicality, the Euclidean distance to the leave-one-out mean image of its class.
    - ``model``: a reference model's ``-log p(y|x)`` (``reference="loss"``) or ``1 - p(y|x)``
      (``"confidence"``), cross-fitted over ``folds`` stratified folds: a logistic regression
      on bag-of-words (text) or pixels (images), trained on the other folds (Hacohen &
      Weinshall's "transfer" scoring with a light reference model; no example is scored by
      a model trained on it).

    ``total = w_length * z_length + w_rarity * z_rarity + w_model * z_model`` (default
    weights 0.3 / 0.3 / 0.4; a zero weight skips that component's computation).

    Results are cached in memory, keyed by the data set's content and the settings, and on
    disk under ``cache_dir`` (``difficulty-<key>.pt``, loaded with ``weights_only=True``).

    Returns:
        :class:`DifficultyScores`.

    Raises:
        ValueError: weights not 3 non-negative numbers with a positive sum, unknown
            ``reference``, ``folds < 2``, text data without ``vocab``.
    """
    w = [float(x) for x in weights]
    if len(w) != 3 or any(x < 0 or not math.isfinite(x) for x in w) or sum(w) <= 0:
        raise ValueError(f"difficulty_scores: weights must be 3 non-negative numbers (length, rarity, model) "
                         f"with a positive sum; got {weights}")
    if reference not in ("loss", "confidence"):
        raise ValueError(f"difficulty_scores: reference must be 'loss' or 'confidence'; got {reference!r}")
    if folds < 2:
        raise ValueError(f"difficulty_scores: folds must be >= 2; got {folds}")
    settings = {"weights": w, "reference": reference, "folds": int(folds), "seed": int(seed), "version": 1}
    key = hashlib.sha256((_fingerprint(dataset) + repr(sorted(settings.items()))).encode()).hexdigest()[:24]
    if use_cache and key in _CACHE:
        return _CACHE[key]
    path = Path(cache_dir) / f"difficulty-{key}.pt" if cache_dir else None
    if use_cache and path is not None and path.exists():
        scores = DifficultyScores.from_dict(torch.load(path, weights_only=True))
        _CACHE[key] = scores
        return scores
    vocab_size = len(vocab.itos) if vocab is not None else None
    n = len(dataset)
    comps: dict[str, torch.Tensor] = {}
    for name, wk, fn in (("length", w[0], lambda: _length(dataset)),
                         ("rarity", w[1], lambda: _rarity(dataset, vocab)),
                         ("model", w[2], lambda: _reference_model(dataset, folds, seed, reference, vocab_size))):
        comps[name] = fn().double() if wk > 0 else torch.zeros(n, dtype=torch.float64)
    normalized = {k: _zscore(v) for k, v in comps.items()}
    total = sum(wk * normalized[k] for k, wk in zip(COMPONENTS, w))
    scores = DifficultyScores(dataset.ids.clone(), {k: v.float() for k, v in comps.items()},
                              {k: v.float() for k, v in normalized.items()}, total.float(),
                              dict(zip(COMPONENTS, w)), settings | {"key": key})
    _CACHE[key] = scores
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(scores.to_dict(), tmp)
        tmp.replace(path)
    return scores


def _zscore(v: torch.Tensor) -> torch.Tensor:
    std = float(v.std()) if len(v) > 1 else 0.0
    return (v - v.mean()) / std if std > 0 else torch.zeros_like(v)


def curriculum_order(scores: Sequence[float] | torch.Tensor, order: str = "curriculum", seed: int = 0) -> torch.Tensor:
    """Positions ordered for a curriculum: ``"curriculum"`` easiest first, ``"anti"`` hardest
    first (anti-curriculum), ``"random"`` a random permutation seeded by ``seed`` (random
    curriculum: same pacing, no difficulty; Wu et al. 2021). Ties keep position order.

    Raises:
        ValueError: unknown order.
    """
    s = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    if order == "curriculum":
        return torch.sort(s, stable=True).indices
    if order == "anti":
        return torch.sort(-s, stable=True).indices
    if order == "random":
        return torch.randperm(len(s), generator=torch.Generator().manual_seed(10_007 + int(seed)))
    raise ValueError(f"curriculum order must be 'curriculum', 'anti' or 'random'; got {order!r}")


# ============================================================================ schedulers
class ProgressiveDifficulty:
    """Progressive difficulty: the difficulty threshold (a quantile of the sorted data)
    stays at ``initial`` for ``warmup_steps``, then moves linearly to ``final`` over
    ``steps`` steps: ``q(t) = initial + (final - initial) * clip((t - warmup) / steps, 0, 1)``.

    Raises:
        ValueError: thresholds outside (0, 1], ``steps < 1``, ``warmup_steps < 0``.
    """

    def __init__(self, initial: float = 0.2, final: float = 1.0, steps: int = 1000, warmup_steps: int = 0) -> None:
        if not (0 < initial <= 1 and 0 < final <= 1):
            raise ValueError(f"ProgressiveDifficulty: initial and final must be in (0, 1]; got {initial}, {final}")
        if steps < 1 or warmup_steps < 0:
            raise ValueError(f"ProgressiveDifficulty: steps must be >= 1 and warmup_steps >= 0; "
                             f"got {steps}, {warmup_steps}")
        self.initial, self.final, self.steps, self.warmup_steps = float(initial), float(final), int(steps), int(warmup_steps)
        self.threshold = self.initial

    def at(self, step: int) -> float:
        frac = min(1.0, max(0.0, (step - self.warmup_steps) / self.steps))
        return self.initial + (self.final - self.initial) * frac

    def update(self, step: int = 0, **_: Any) -> tuple[float, float]:
        """The range ``(0, q(step))`` to use."""
        self.threshold = self.at(step)
        return (0.0, self.threshold)

    def state_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.threshold = float(d["threshold"])


class CompetencePacing:
    """Competence-based pacing from accuracy feedback.

    The competence ``c`` (the available quantile) rises by ``increase`` when accuracy
    exceeds ``target + 0.1`` for ``patience`` consecutive updates, and falls by
    ``decrease`` when it is below ``target - 0.2`` for ``patience`` updates; it stays in
    ``[minimum, 1]``. (Margins per the SPEC; ``raise_margin`` / ``lower_margin`` change them.)

    Raises:
        ValueError: values outside their ranges.
    """

    def __init__(self, target: float = 0.8, initial: float = 0.2, increase: float = 0.1, decrease: float = 0.1,
                 patience: int = 1, minimum: float = 0.05, raise_margin: float = 0.1, lower_margin: float = 0.2) -> None:
        if not 0 < initial <= 1 or not 0 < minimum <= initial:
            raise ValueError(f"CompetencePacing: need 0 < minimum <= initial <= 1; got {minimum}, {initial}")
        if increase <= 0 or decrease < 0 or patience < 1:
            raise ValueError("CompetencePacing: increase must be > 0, decrease >= 0, patience >= 1")
        self.target, self.increase, self.decrease, self.patience = float(target), float(increase), float(decrease), int(patience)
        self.minimum, self.raise_margin, self.lower_margin = float(minimum), float(raise_margin), float(lower_margin)
        self.competence = float(initial)
        self.above = self.below = 0

    def update(self, accuracy: float | None = None, **_: Any) -> tuple[float, float]:
        if accuracy is not None and not math.isnan(accuracy):
            self.above = self.above + 1 if accuracy > self.target + self.raise_margin else 0
            self.below = self.below + 1 if accuracy < self.target - self.lower_margin else 0
            if self.above >= self.patience:
                self.competence, self.above = min(1.0, self.competence + self.increase), 0
            elif self.below >= self.patience:
                self.competence, self.below = max(self.minimum, self.competence - self.decrease), 0
        return (0.0, self.competence)

    def state_dict(self) -> dict[str, Any]:
        return {"competence": self.competence, "above": self.above, "below": self.below}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.competence, self.above, self.below = float(d["competence"]), int(d["above"]), int(d["below"])


@dataclass
class Stage:
    """A stage of a :class:`MultiStageCurriculum`: a difficulty range (quantiles), the
    validation accuracy that ends it, its learning rate (None: unchanged) and the most
    updates it may last (None: no limit)."""

    low: float
    high: float
    target_accuracy: float
    lr: float | None = None
    max_updates: int | None = None


class MultiStageCurriculum:
    """Stages with a difficulty range, target accuracy and learning rate; advances to the
    next stage when the stage's target accuracy is met (or ``max_updates`` passed).

    Raises:
        ValueError: no stages or a range outside [0, 1].
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise ValueError("MultiStageCurriculum needs at least one stage")
        for i, s in enumerate(stages):
            if not 0 <= s.low <= s.high <= 1:
                raise ValueError(f"MultiStageCurriculum stage {i}: range must satisfy 0 <= low <= high <= 1; "
                                 f"got ({s.low}, {s.high})")
        self.stages = list(stages)
        self.index = 0
        self.updates = 0

    @property
    def stage(self) -> Stage:
        return self.stages[self.index]

    @property
    def lr(self) -> float | None:
        return self.stage.lr

    def update(self, accuracy: float | None = None, **_: Any) -> tuple[float, float]:
        self.updates += 1
        s = self.stage
        met = accuracy is not None and not math.isnan(accuracy) and accuracy >= s.target_accuracy
        if self.index < len(self.stages) - 1 and (met or (s.max_updates is not None and self.updates >= s.max_updates)):
            self.index += 1
            self.updates = 0
        return (self.stage.low, self.stage.high)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "updates": self.updates}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.index, self.updates = int(d["index"]), int(d["updates"])


class DynamicDifficulty:
    """Dynamic difficulty adjustment from validation loss: when the loss improved by more
    than ``min_delta`` since the last update the threshold rises by ``step_up`` (the model
    copes: harder data); when it worsened by more than ``tolerance`` it falls by
    ``step_down``; after ``patience`` updates without change (a plateau) it rises too.

    Raises:
        ValueError: values outside their ranges.
    """

    def __init__(self, initial: float = 0.3, step_up: float = 0.1, step_down: float = 0.05, min_delta: float = 1e-3,
                 tolerance: float = 0.02, patience: int = 2, minimum: float = 0.05) -> None:
        if not 0 < minimum <= initial <= 1 or step_up <= 0 or step_down < 0 or patience < 1:
            raise ValueError("DynamicDifficulty: need 0 < minimum <= initial <= 1, step_up > 0, step_down >= 0, "
                             "patience >= 1")
        self.threshold, self.step_up, self.step_down = float(initial), float(step_up), float(step_down)
        self.min_delta, self.tolerance, self.patience, self.minimum = float(min_delta), float(tolerance), int(patience), float(minimum)
        self.last: float | None = None
        self.flat = 0

    def update(self, val_loss: float | None = None, **_: Any) -> tuple[float, float]:
        if val_loss is not None and not math.isnan(val_loss):
            if self.last is None:
                pass
            elif val_loss < self.last - self.min_delta:
                self.threshold, self.flat = min(1.0, self.threshold + self.step_up), 0
            elif val_loss > self.last + self.tolerance:
                self.threshold, self.flat = max(self.minimum, self.threshold - self.step_down), 0
            else:
                self.flat += 1
                if self.flat >= self.patience:
                    self.threshold, self.flat = min(1.0, self.threshold + self.step_up), 0
            self.last = float(val_loss)
        return (0.0, self.threshold)

    def state_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "last": self.last, "flat": self.flat}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.threshold, self.flat = float(d["threshold"]), int(d["flat"])
        self.last = None if d["last"] is None else float(d["last"])


# ============================================================================ loop adapters
class CurriculumScheduling(Technique):
    """Feeds training feedback to a scheduler and sets a
    :class:`~workbench.data.curriculum_samplers.DifficultySampler`'s range for the next
    epoch (the sampler applies it at ``set_epoch``; resume is exact).

    ``eval_end``: ``scheduler.update(step=effective_step, accuracy=val_accuracy,
    val_loss=val_loss)``; ``epoch_end``: the same for step-driven schedulers
    (:class:`ProgressiveDifficulty`). A scheduler with an ``lr`` (a stage's learning
    rate) sets every parameter group's learning rate. Counts ``curriculum_updates``.
    """

    name = "curriculum"

    def __init__(self, sampler: Any, scheduler: Any) -> None:
        super().__init__()
        self.sampler, self.scheduler = sampler, scheduler
        self.history: list[list[float]] = []

    def _apply(self, state: Any) -> None:
        rng = self.scheduler.update(step=state.effective_step, accuracy=state.metrics.get("val_accuracy"),
                                    val_loss=state.metrics.get("val_loss"))
        self.sampler.set_range(*rng)
        lr = getattr(self.scheduler, "lr", None)
        if lr is not None:
            for g in state.optimizer.param_groups:
                g["lr"] = lr
        self.history.append([float(state.effective_step), float(rng[0]), float(rng[1])])
        state.count("curriculum_updates")

    def on_eval_end(self, state: Any) -> None:
        if not isinstance(self.scheduler, ProgressiveDifficulty):
            self._apply(state)

    def on_epoch_end(self, state: Any) -> None:
        if isinstance(self.scheduler, ProgressiveDifficulty):
            self._apply(state)

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict(), "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = [list(h) for h in state["history"]]


#: Kept for readability at call sites: a curriculum variant is a plain
#: :class:`~workbench.experiment.Variant` with a ``sampler`` factory, run by the stock
#: :class:`~workbench.experiment.Experiment`.
SamplerVariant = Variant
CurriculumExperiment = Experiment


def paced_sampler_factory(order: str, pacing_name: str, ramp_fraction: float = 0.5, start: float = 0.04,
                          increase_amount: float = 1.9, weights: Sequence[float] = DEFAULT_WEIGHTS,
                          cache_dir: str | None = None) -> Callable[[Any, int, Any], tuple[Any, Any, list]]:
    """``SamplerVariant.sampler`` for a paced curriculum (``order`` curriculum / anti /
    random) whose pacing reaches all data after ``ramp_fraction`` of the run's optimizer
    steps (``config.max_steps`` or epochs x batches)."""
    from workbench.data.curriculum_samplers import PacingSampler

    def make(splits: Any, seed: int, config: Any):
        n = len(splits.train)
        batches = n // config.batch_size if config.drop_last else math.ceil(n / config.batch_size)
        total = batches * config.epochs
        if config.max_steps:
            total = min(total, config.max_steps * config.grad_accum_steps)
        pacing = make_pacing(pacing_name, total_steps=max(1, round(ramp_fraction * total)), start=start,
                             increase_amount=increase_amount)
        scores = difficulty_scores(splits.train, splits.vocab, weights=weights, cache_dir=cache_dir)
        positions = curriculum_order(scores.for_dataset(splits.train), order, seed=seed)
        return PacingSampler(positions, pacing, config.batch_size, seed=seed, drop_last=config.drop_last), None, []

    return make


def curriculum_variants(pacing_name: str = "fixed_exponential", ramp_fraction: float = 0.5, start: float = 0.04,
                        orders: Sequence[str] = ("curriculum", "anti", "random"),
                        cache_dir: str | None = None, claim: str = "1.4x (curriculum, claimed)") -> list[Variant]:
    """The baseline plus one :class:`SamplerVariant` per order, sharing the pacing."""
    names = {"curriculum": "curriculum", "anti": "anti-curriculum", "random": "random-curriculum"}
    out: list[Variant] = [Variant("baseline")]
    for o in orders:
        out.append(SamplerVariant(names[o], sampler=paced_sampler_factory(o, pacing_name, ramp_fraction, start,
                                                                           cache_dir=cache_dir),
                                  claim=claim if o == "curriculum" else ""))
    return out


def flip_labels(dataset: Any, fraction: float, num_classes: int, seed: int = 0):
    """A copy of ``dataset`` with ``round(fraction * N)`` labels replaced by a different
    class chosen uniformly (symmetric label noise; ids kept). Returns ``(dataset, flipped_ids)``.

    Raises:
        ValueError: ``fraction`` outside [0, 1] or fewer than 2 classes.
    """
    from workbench.data.datasets import ExampleDataset

    if not 0 <= fraction <= 1:
        raise ValueError(f"flip_labels: fraction must be in [0, 1]; got {fraction}")
    if num_classes < 2:
        raise ValueError(f"flip_labels: num_classes must be >= 2; got {num_classes}")
    g = torch.Generator().manual_seed(424_242 + int(seed))
    n = len(dataset)
    k = round(fraction * n)
    pos = torch.randperm(n, generator=g)[:k]
    targets = dataset.targets.clone()
    shift = torch.randint(1, num_classes, (k,), generator=g)
    targets[pos] = (targets[pos] + shift) % num_classes
    new = ExampleDataset(dataset.inputs, targets, dataset.ids, texts=dataset.texts, name=dataset.name)
    return new, dataset.ids[pos].clone()


# ============================================================================ notebook functions
def plot_pacing(name: str = "fixed_exponential", start: float = 0.04, increase_amount: float = 1.9,
                step_length: int = 100, total_steps: int = 1000, compare: Sequence[str] = ()):
    """A plotly figure of the pacing ``name`` (fraction of the easiest data available against
    mini-batch steps), with the functions in ``compare`` drawn thin for reference. The
    curriculum notebook's slider callback.

    Raises:
        ValueError: as :func:`make_pacing`.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for other in compare:
        if other == name:
            continue
        xs, ys = pacing_curve(make_pacing(other, total_steps, start, increase_amount, step_length), total_steps)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=other, line={"width": 1, "dash": "dot"}))
    xs, ys = pacing_curve(make_pacing(name, total_steps, start, increase_amount, step_length), total_steps)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line={"width": 3}, line_shape="hv"))
    fig.update_layout(title=f"pacing: {name} (start {start:g}, growth x{increase_amount:g}, step length "
                            f"{step_length})", xaxis_title="training steps (mini-batches)",
                      yaxis_title="fraction of the easiest data available", yaxis_range=[0, 1.05],
                      template="plotly_white", height=380)
    return fig


def plot_difficulty_histograms(scores: DifficultyScores, bins: int = 40):
    """Histograms of the raw difficulty components and of the combined score (one panel each)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(COMPONENTS) + ["total"]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[
        f"{n} (w={scores.weights[n]:g})" if n in scores.weights else "combined (z-scores)" for n in names])
    for k, n in enumerate(names, start=1):
        v = scores.total if n == "total" else scores.components[n]
        fig.add_trace(go.Histogram(x=v.tolist(), nbinsx=bins, name=n, showlegend=False), row=1, col=k)
    fig.update_layout(title="difficulty components (training split)", template="plotly_white", height=320)
    return fig


def hardest_and_easiest(splits: Any, scores: DifficultyScores, k: int = 5):
    """The ``k`` easiest and ``k`` hardest training examples: for text a
    ``pandas.DataFrame`` (rank, id, label, score, sentence); for images a plotly figure
    (two rows of images, titled with id, label and score)."""
    data = splits.train
    ids = scores.easiest(k) + scores.hardest(k)
    index = {int(i): j for j, i in enumerate(scores.ids.tolist())}
    names = getattr(splits.task, "class_names", None)

    def label(t: int) -> str:
        return str(names[t]) if names else str(t)

    if data.texts is not None:
        import pandas as pd

        rows = []
        for r, i in enumerate(ids):
            p = data.position_of(i)
            rows.append({"which": "easiest" if r < k else "hardest", "id": i, "label": label(int(data.targets[p])),
                         "difficulty": round(float(scores.total[index[i]]), 3), "sentence": data.texts[p]})
        return pd.DataFrame(rows)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = [f"id {i}, y={label(int(data.targets[data.position_of(i)]))}, d={float(scores.total[index[i]]):.2f}"
              for i in ids]
    fig = make_subplots(rows=2, cols=k, subplot_titles=titles)
    for r, i in enumerate(ids):
        img = data.inputs[data.position_of(i)].reshape(-1, data.inputs.shape[-1])
        fig.add_trace(go.Heatmap(z=img.flip(0).tolist(), colorscale="gray_r", showscale=False), row=1 + r // k,
                      col=1 + r % k)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title="easiest (top) and hardest (bottom) training images", height=380,
                      template="plotly_white", font={"size": 9})
    return fig


def compare_curriculum(dataset: str = "digits", pacing: str = "fixed_exponential", ramp_fraction: float = 0.5,
                       start: float = 0.04, seeds: Sequence[int] = (0,), smoke: bool = False, splits: Any = None,
                       orders: Sequence[str] = ("curriculum",), on_eval: Callable[[Experiment], Any] | None = None,
                       progress: bool = False, epochs: int | None = None):
    """Train the tuned baseline and the paced curriculum (and any controls in ``orders``)
    on ``dataset``; returns the :class:`~workbench.experiment.ExperimentResult`.

    Raises:
        ValueError: unknown data set, pacing or order.
    """
    from workbench.recipes import baseline_recipe, load_splits, model_factory

    if pacing not in PACING_FUNCTIONS:
        raise ValueError(f"unknown pacing {pacing!r}; valid: {sorted(PACING_FUNCTIONS)}")
    recipe = baseline_recipe(dataset, smoke=smoke, splits=splits, **({"epochs": epochs} if epochs else {}))
    dataset = recipe.dataset  # your own data (splits=): its name, its modality's default recipe
    splits = splits if splits is not None else load_splits(dataset, smoke=smoke)
    variants = curriculum_variants(pacing, ramp_fraction, start, orders=orders)
    exp = CurriculumExperiment({dataset: splits}, model_factory(recipe.model), recipe.config, variants,
                               seeds=list(seeds), target=recipe.target, on_eval=on_eval, progress=progress,
                               name=f"curriculum on {dataset}")
    return exp.run()


def curriculum_panel_callback(dataset: str = "digits", pacing: str = "fixed_exponential", ramp_fraction: float = 0.5,
                              start: float = 0.04, smoke: bool = False, output: Any = None, seed: int = 0,
                              epochs: int | None = None):
    """The notebook's button: baseline vs curriculum with live validation-accuracy curves
    (into ``output``); returns the results table (``pandas.DataFrame``)."""
    from workbench import plots, ui
    from workbench.recipes import baseline_recipe

    target = baseline_recipe(dataset, smoke=smoke).target.value
    live = ui.LivePlot.for_history(x="examples_seen", y="val_accuracy", target=target, output=output, every_s=1.0)
    with live:
        result = compare_curriculum(dataset, pacing, ramp_fraction, start, seeds=[seed], smoke=smoke,
                                    on_eval=live.callback(), epochs=epochs)
    return plots.results_table(result.summary)
