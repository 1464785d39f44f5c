"""Difficulty scores per example id, and the curriculum order they give.

:func:`difficulty_scores` combines three components, each z-normalised with the scored
(training) split's mean and standard deviation, with weights 0.3 / 0.3 / 0.4 (SPEC):
length, vocabulary rarity (or, for images, ink and atypicality) and a cross-fitted
reference model's loss or confidence. :func:`curriculum_order` turns scores into positions
easiest-first (curriculum), hardest-first (anti-curriculum) or in a seeded random order
(random curriculum). Torch and NumPy; the reference model is scikit-learn's
``LogisticRegression`` (imported when it is needed).

Papers: Bengio et al. (2009), "Curriculum learning" (ICML); Platanios et al. (2019) Sec. 3.1
(sentence length, word rarity); Hacohen & Weinshall (2019) Sec. 2-3 (scoring by a reference,
"transfer" model); Wu, Dyer & Neyshabur (2021), "When do curricula work?" (ICLR), Sec. 3:
anti-curriculum and random-curriculum controls.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.validation import check_choice, check_int

__all__ = [
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "ORDERS",
    "DifficultyScores",
    "curriculum_order",
    "difficulty_scores",
]

#: the components of the combined score, in order
COMPONENTS = ("length", "rarity", "model")
#: default weights of length, rarity and reference-model loss (SPEC)
DEFAULT_WEIGHTS = (0.3, 0.3, 0.4)

#: curriculum orders: easiest first, hardest first, seeded random (Wu et al. 2021's controls)
ORDERS = ("curriculum", "anti", "random")

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
    trained on the other folds (no example is scored by a model trained on it).

    The fits run with one BLAS thread (``threadpoolctl``, a scikit-learn dependency): the
    matrices are small, and on a busy machine OpenBLAS's threads spin against each other
    (measured on digits: 0.2 s with one thread against 14 s with two, same coefficients
    within 1e-12)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    x = _features(dataset, vocab_size)
    y = dataset.targets.numpy()
    out = np.zeros(len(y))
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in skf.split(np.zeros(len(y)), y):
        clf = LogisticRegression(max_iter=1000, C=1.0,
                                 solver="liblinear" if len(np.unique(y)) == 2 else "lbfgs")
        with threadpool_limits(limits=1, user_api="blas"):
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
    disk under ``cache_dir`` (``difficulty-<key>.pt``). A cache file is read with
    ``torch.load(weights_only=True)`` (no arbitrary objects are unpickled) and checked to be
    ours (the same key, ids and sizes); a file that is unreadable, holds anything else or
    belongs to other data is ignored with a ``RuntimeWarning``, and the scores are
    recomputed and written over it.

    Returns:
        :class:`DifficultyScores`.

    Raises:
        ValueError: weights not 3 non-negative numbers with a positive sum, unknown
            ``reference``, ``folds < 2``, ``seed < 0``, text data without ``vocab``.
    """
    try:
        w = [float(x) for x in weights]
    except (TypeError, ValueError):
        w = []
    if len(w) != 3 or any(x < 0 or not math.isfinite(x) for x in w) or sum(w) <= 0:
        raise ValueError(f"difficulty_scores: weights must be 3 non-negative numbers (length, rarity, model) "
                         f"with a positive sum; got {weights}")
    check_choice("reference", reference, ("loss", "confidence"))
    check_int("folds", folds, 2)
    check_int("seed", seed, 0)
    settings = {"weights": w, "reference": reference, "folds": int(folds), "seed": int(seed), "version": 1}
    key = hashlib.sha256((_fingerprint(dataset) + repr(sorted(settings.items()))).encode()).hexdigest()[:24]
    if use_cache and key in _CACHE:
        return _CACHE[key]
    path = Path(cache_dir) / f"difficulty-{key}.pt" if cache_dir else None
    if use_cache and path is not None and path.exists():
        scores = _load_cache_file(path, key, dataset)
        if scores is not None:
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


#: what a cache file may fail with: unreadable bytes, a pickle ``weights_only`` refuses, a
#: truncated file, a read error, or content of another shape
_CACHE_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, TypeError, ValueError,
                 AttributeError, IndexError)


def _load_cache_file(path: Path, key: str, dataset: Any) -> DifficultyScores | None:
    """The scores in ``path`` if it is a readable weights-only file written by
    :func:`difficulty_scores` for ``key`` and ``dataset``; else None, with a warning."""
    try:
        scores = DifficultyScores.from_dict(torch.load(path, weights_only=True))
        n = len(dataset)
        if scores.settings.get("key") != key:
            raise ValueError(f"its key is {scores.settings.get('key')!r}, expected {key!r}")
        tensors = [scores.ids, scores.total, *scores.components.values(), *scores.normalized.values()]
        if not all(isinstance(t, torch.Tensor) and t.shape == (n,) for t in tensors):
            raise ValueError(f"it does not hold {n} scores per component")
        if sorted(scores.components) != sorted(COMPONENTS) or not torch.equal(scores.ids, dataset.ids):
            raise ValueError("its components or example ids differ from this data set's")
    except _CACHE_ERRORS as exc:
        warnings.warn(f"difficulty_scores: ignoring the cache file {path}: not a difficulty-score file of this "
                      f"data set ({type(exc).__name__}: {exc}); recomputing the scores and writing them over it",
                      RuntimeWarning, stacklevel=3)
        return None
    return scores


def _zscore(v: torch.Tensor) -> torch.Tensor:
    std = float(v.std()) if len(v) > 1 else 0.0
    return (v - v.mean()) / std if std > 0 else torch.zeros_like(v)


def curriculum_order(scores: Sequence[float] | torch.Tensor, order: str = "curriculum", seed: int = 0) -> torch.Tensor:
    """Positions ordered for a curriculum: ``"curriculum"`` easiest first, ``"anti"`` hardest
    first (anti-curriculum), ``"random"`` a random permutation seeded by ``seed`` (random
    curriculum: same pacing, no difficulty; Wu et al. 2021). Ties keep position order.

    Returns ``LongTensor [N]``, a permutation of the positions ``0..N-1`` of ``scores``
    (``[N]``, higher = harder).

    Raises:
        ValueError: unknown order.
    """
    check_choice("order", order, ORDERS)
    s = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    if order == "curriculum":
        return torch.sort(s, stable=True).indices
    if order == "anti":
        return torch.sort(-s, stable=True).indices
    return torch.randperm(len(s), generator=torch.Generator().manual_seed(10_007 + int(seed)))

