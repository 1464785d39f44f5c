"""Acquisition functions for pool-based active learning, and batched pool scoring.

The **scores** are pure functions of tensors: predicted class probabilities ``probs``
(float ``[N, C]``, rows summing to 1), Monte Carlo dropout samples ``samples`` (float
``[T, N, C]``: ``T`` stochastic forward passes), or feature vectors (k-center greedy).
Every score follows one convention: **higher means more worth labelling**, and
:func:`select_top_k` takes the ``k`` highest. Ties are broken uniformly at random with the
caller's private generator (the loop always passes its own); without one, by the lower
position. Random tie-breaking matters: variation ratios take few distinct values (``T + 1``
at most), and data sets stored in class order (SUBJ's ids are: all objective sentences,
then all subjective ones) would otherwise turn "lowest id first" into "one class first".

=====================  ====================================  ================================
strategy               score                                 paper
=====================  ====================================  ================================
``random``             uniform ``U(0, 1)`` (private RNG)     baseline
``least_confidence``   ``1 - max_c p_c``                     Settles (2009), sec. 3.1
``margin``             ``1 - (p_(1) - p_(2))``               Scheffer et al. (2001)
``entropy``            ``-sum_c p_c log p_c`` (nats)         Settles (2009), sec. 3.1
``bald``               ``H[mean_t p_t] - mean_t H[p_t]``     Houlsby et al. (2011); Gal et al. (2017)
``variation_ratios``   ``1 - (votes for the modal class)/T`` Freeman (1965); Gal et al. (2017)
``coreset``            k-center greedy on model features     Sener & Savarese (2018)
=====================  ====================================  ================================

Scoring a pool (:func:`predict_probs`, :func:`mc_dropout_probs`, :func:`pool_features`)
goes through the package's one inference loop
(:func:`workbench.train.inference.inference_batches`): batches under
``torch.inference_mode`` with the model in eval mode; MC dropout
switches only the dropout modules back to training mode, and draws its masks from a
seeded RNG inside ``torch.random.fork_rng``, so acquiring never changes the global RNG
stream that training uses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from workbench.train.inference import device_of, inference_batches
from workbench.validation import check_int

__all__ = [
    "MC_STRATEGIES",
    "STRATEGIES",
    "Acquisition",
    "acquire",
    "bald",
    "entropy",
    "has_dropout",
    "k_center_greedy",
    "least_confidence",
    "margin",
    "mc_dropout_probs",
    "pool_features",
    "predict_probs",
    "random_scores",
    "select_top_k",
    "variation_ratios",
]

#: Strategy names accepted by :func:`acquire` and the active-learning loop.
STRATEGIES: tuple[str, ...] = ("random", "least_confidence", "margin", "entropy", "bald",
                               "variation_ratios", "coreset")
#: Strategies that need Monte Carlo dropout samples (a model with dropout).
MC_STRATEGIES: frozenset[str] = frozenset({"bald", "variation_ratios"})

# ----------------------------------------------------------------------------- checks


def _check_probs(probs: Any, name: str = "probs") -> torch.Tensor:
    if not isinstance(probs, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(probs).__name__}")
    if probs.dim() != 2 or probs.shape[1] < 2:
        raise ValueError(f"{name} must have shape [N, C] with C >= 2 classes; got {tuple(probs.shape)}")
    _check_distribution(probs, name)
    return probs.to(torch.float64)


def _check_samples(samples: Any) -> torch.Tensor:
    if not isinstance(samples, torch.Tensor):
        raise TypeError(f"samples must be a torch.Tensor; got {type(samples).__name__}")
    if samples.dim() != 3 or samples.shape[0] < 1 or samples.shape[2] < 2:
        raise ValueError(f"samples must have shape [T, N, C] with T >= 1 passes and C >= 2 classes; "
                         f"got {tuple(samples.shape)}")
    _check_distribution(samples, "samples")
    return samples.to(torch.float64)


def _check_distribution(p: torch.Tensor, name: str) -> None:
    if not p.is_floating_point():
        raise ValueError(f"{name} must be floating point probabilities; got dtype {p.dtype}")
    if p.numel() == 0:
        return
    if not bool(torch.isfinite(p).all()) or float(p.min()) < -1e-6 or float(p.max()) > 1 + 1e-6:
        raise ValueError(f"{name} must hold probabilities in [0, 1] (apply softmax to logits first)")
    sums = p.sum(dim=-1)
    if not bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3)):
        raise ValueError(f"{name}: every distribution must sum to 1 over the class dimension "
                         f"(got sums from {float(sums.min()):.4f} to {float(sums.max()):.4f}); "
                         f"apply softmax to logits first")


def _xlogx(p: torch.Tensor) -> torch.Tensor:
    """``p * log p`` with ``0 log 0 = 0``."""
    return torch.where(p > 0, p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p))


# ----------------------------------------------------------------------------- scores


def random_scores(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random acquisition: ``n`` scores drawn uniformly from ``[0, 1)``.

    The top ``k`` of these is a uniformly random ``k``-subset of the pool: the baseline
    every strategy is compared against ("passive learning", Settles 2009, sec. 1).

    Args:
        n: pool size (>= 0).
        generator: a private ``torch.Generator`` so the draw does not consume the global RNG.

    Returns:
        float32 ``[n]``.
    """
    return torch.rand(check_int("n", n, 0), generator=generator)


def least_confidence(probs: torch.Tensor) -> torch.Tensor:
    """Least confidence: ``1 - max_c p(c | x)``.

    Settles (2009), "Active Learning Literature Survey", sec. 3.1, eq. for
    :math:`x^*_{LC}` (after Culotta & McCallum 2005). 0 for a one-hot prediction,
    ``1 - 1/C`` for the uniform distribution over ``C`` classes.

    Args:
        probs: float ``[N, C]`` predicted probabilities (rows sum to 1).

    Returns:
        float64 ``[N]`` in ``[0, 1 - 1/C]``.

    Raises:
        ValueError: wrong shape, or rows that are not probability distributions.
    """
    p = _check_probs(probs)
    return 1.0 - p.max(dim=1).values


def margin(probs: torch.Tensor) -> torch.Tensor:
    """Margin ("breaking ties"): ``1 - (p_(1) - p_(2))``, the two largest probabilities.

    Scheffer, Decomain & Wrobel (2001), "Active Hidden Markov Models for Information
    Extraction" (IDA), sec. 4; Settles (2009), sec. 3.1, :math:`x^*_M` (which minimises the
    margin; here ``1 - margin`` so that higher is more uncertain). Schröder et al. (2022)
    call it breaking ties and find it a strong choice for text classification.
    0 for a one-hot prediction, 1 when the two top classes tie (uniform included).

    Args:
        probs: float ``[N, C]``, ``C >= 2``.

    Returns:
        float64 ``[N]`` in ``[0, 1]``.

    Raises:
        ValueError: wrong shape, or rows that are not probability distributions.
    """
    p = _check_probs(probs)
    top2 = p.topk(2, dim=1).values
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Predictive entropy: ``H[p] = -sum_c p_c log p_c`` in nats (``0 log 0 = 0``).

    Settles (2009), sec. 3.1, :math:`x^*_H` (Shannon 1948). 0 for a one-hot prediction,
    ``log C`` for the uniform distribution. Gal et al. (2017) "max entropy" is this score
    applied to the mean of MC dropout samples: ``entropy(samples.mean(0))``.

    Args:
        probs: float ``[N, C]``.

    Returns:
        float64 ``[N]`` in ``[0, log C]``.

    Raises:
        ValueError: wrong shape, or rows that are not probability distributions.
    """
    p = _check_probs(probs)
    return -_xlogx(p).sum(dim=1)


def bald(samples: torch.Tensor) -> torch.Tensor:
    """BALD, Bayesian active learning by disagreement: the mutual information between the
    prediction and the model parameters, estimated from ``T`` MC dropout samples:

    ``I = H[(1/T) sum_t p_t] - (1/T) sum_t H[p_t]``  (nats)

    Houlsby, Huszár, Ghahramani & Lengyel (2011), "Bayesian Active Learning for
    Classification and Preference Learning", eq. 2; Gal, Islam & Ghahramani (2017), "Deep
    Bayesian Active Learning with Image Data", sec. 3, with MC dropout (Gal & Ghahramani
    2016) as the approximate posterior. 0 when all passes agree (whatever the prediction,
    uniform included); ``log 2`` for two confident passes that disagree on two classes.

    Args:
        samples: float ``[T, N, C]`` probabilities of ``T`` stochastic passes.

    Returns:
        float64 ``[N]`` in ``[0, log C]`` (tiny negative rounding clamped to 0).

    Raises:
        ValueError: wrong shape, or rows that are not probability distributions.
    """
    s = _check_samples(samples)
    mean = s.mean(dim=0)
    h_mean = -_xlogx(mean).sum(dim=1)
    mean_h = -_xlogx(s).sum(dim=2).mean(dim=0)
    return (h_mean - mean_h).clamp_min(0.0)


def variation_ratios(samples: torch.Tensor) -> torch.Tensor:
    """Variation ratios: ``1 - f_m / T``, where ``f_m`` is the number of the ``T`` MC
    dropout passes whose arg-max is the modal class.

    Freeman (1965), "Elementary Applied Statistics"; used with MC dropout by Gal, Islam &
    Ghahramani (2017), sec. 3 (their best on MNIST: 295 labels to 95%). 0 when every pass
    predicts the same class. A pass whose probabilities tie votes for the lowest class
    index (``argmax``); ties between modal classes do not change ``f_m``.

    Args:
        samples: float ``[T, N, C]``.

    Returns:
        float64 ``[N]`` in ``[0, 1 - ceil(T/C)/T]``.

    Raises:
        ValueError: wrong shape, or rows that are not probability distributions.
    """
    s = _check_samples(samples)
    t, _, c = s.shape
    votes = torch.nn.functional.one_hot(s.argmax(dim=2), c).sum(dim=0)  # [N, C]
    return 1.0 - votes.max(dim=1).values.to(torch.float64) / t


def k_center_greedy(pool: torch.Tensor, centers: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """k-center greedy core-set selection.

    Sener & Savarese (2018), "Active Learning for Convolutional Neural Networks: A Core-Set
    Approach" (ICLR), Algorithm 1: repeat ``k`` times: pick the pool point farthest (l2) from
    its nearest center, ``u = argmax_i min_j ||x_i - c_j||``, and make it a center. The
    centers start as the labelled points. Ties go to the lower pool position. With no
    initial centers the first pick is pool position 0 (an arbitrary start, as in the
    algorithm), scored ``inf``.

    Args:
        pool: float ``[N, D]`` features of the unlabelled pool.
        centers: float ``[M, D]`` features of the labelled set (``M`` may be 0).
        k: number of points to pick, ``0 <= k <= N``.

    Returns:
        ``(positions, distances)``: long ``[k]`` pool positions in the order picked, and
        float64 ``[k]``: each point's distance to its nearest center when it was picked
        (non-increasing; the covering radius after ``i`` picks is ``distances[i]``).

    Raises:
        ValueError: shapes that are not ``[N, D]`` / ``[M, D]`` with the same ``D``, or
            ``k`` outside ``[0, N]``.
    """
    if pool.dim() != 2 or centers.dim() != 2 or pool.shape[1] != centers.shape[1]:
        raise ValueError(f"pool and centers must be [N, D] and [M, D] with the same D; got "
                         f"{tuple(pool.shape)} and {tuple(centers.shape)}")
    n = pool.shape[0]
    check_int("k", k, 0, n)  # at most the pool size
    x = pool.to(torch.float64)
    if centers.shape[0]:
        c = centers.to(torch.float64)
        # chunked nearest-center distances, so the [N, M] matrix never has to exist at once
        nearest = torch.cat([torch.cdist(x[i:i + 4096], c).min(dim=1).values
                             for i in range(0, n, 4096)]) if n else x.new_zeros(0)
    else:
        nearest = torch.full((n,), math.inf, dtype=torch.float64)
    picked, dists = [], []
    for _ in range(k):
        u = int(torch.argmax(nearest))  # first maximal value: ties go to the lower position
        picked.append(u)
        dists.append(float(nearest[u]))
        nearest = torch.minimum(nearest, (x - x[u]).norm(dim=1))
        nearest[u] = -math.inf  # never picked twice
    return torch.tensor(picked, dtype=torch.long), torch.tensor(dists, dtype=torch.float64)


def select_top_k(scores: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Positions of the ``k`` highest scores, highest first.

    Ties: with ``generator``, broken uniformly at random (a random permutation, then a
    stable sort); without, the lower position comes first. Either way the result is a
    deterministic function of the scores and the generator's state.

    Args:
        scores: float ``[N]`` (no NaN).
        k: ``0 <= k <= N``.
        generator: private ``torch.Generator`` for random tie-breaking, or None.

    Returns:
        long ``[k]``.

    Raises:
        ValueError: ``scores`` not 1-D or holding NaN, or ``k`` outside ``[0, N]``.
    """
    if scores.dim() != 1:
        raise ValueError(f"scores must be 1-D [N]; got shape {tuple(scores.shape)}")
    n = scores.shape[0]
    check_int("k", k, 0, n)  # at most the pool size
    if bool(torch.isnan(scores).any()):
        raise ValueError("scores contain NaN; an acquisition score must be defined for every pool example")
    if generator is None:
        return torch.sort(scores, descending=True, stable=True).indices[:k]
    perm = torch.randperm(n, generator=generator)
    order = torch.sort(scores[perm], descending=True, stable=True).indices
    return perm[order][:k]


# ------------------------------------------------------------------------ pool scoring


def has_dropout(model: nn.Module) -> bool:
    """True when ``model`` has a dropout module with ``p > 0`` (MC dropout needs one)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())


def predict_probs(model: nn.Module, data: Dataset, collate_fn: Callable,
                  batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities of ``model`` (eval mode) for every example of ``data``.

    Batched under ``torch.inference_mode``; the model's train/eval mode is restored.

    Returns:
        ``(ids, probs)``: long ``[N]`` and float32 ``[N, C]`` on the CPU, in data-set order.
    """
    ids, out = [], []
    for batch, logits in inference_batches(model, data, collate_fn, batch_size):
        ids.append(batch["ids"].cpu())
        out.append(torch.softmax(logits.float(), dim=1).cpu())
    return _cat(ids, torch.long), _cat(out, torch.float32)


def mc_dropout_probs(model: nn.Module, data: Dataset, collate_fn: Callable, samples: int = 20,
                     seed: int = 0, batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """``T = samples`` stochastic forward passes with dropout active (MC dropout, Gal &
    Ghahramani 2016) for every example of ``data``.

    The pass is the package's inference loop
    (:func:`~workbench.train.inference.inference_batches`: eval mode, so BatchNorm uses its
    running statistics, ``torch.inference_mode``, data-set order, every submodule's mode
    restored afterwards) with only the dropout modules switched back to training mode.
    Each batch of ``B = max(1, batch_size // T)`` examples is repeated ``T`` times and run
    as one forward pass of ``T * B`` rows (so ``batch_size`` bounds the rows per pass). The
    dropout masks come from the global RNG seeded with ``seed`` inside
    ``torch.random.fork_rng``: the same seed gives the same samples, and the caller's RNG
    state is unchanged afterwards.

    Returns:
        ``(ids, samples)``: long ``[N]`` and float32 ``[T, N, C]`` on the CPU.

    Raises:
        ValueError: ``samples < 1``, or a model without dropout (``p > 0``): every pass
            would be identical and BALD would be 0 everywhere.
    """
    check_int("samples", samples, 1)
    if not has_dropout(model):
        raise ValueError(f"{type(model).__name__} has no dropout module with p > 0, so MC dropout "
                         f"passes would all be identical; build the model with dropout > 0")
    dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]

    def passes(x: torch.Tensor) -> torch.Tensor:  # [B, ...] -> probabilities [T, B, C]
        for m in dropouts:  # inside the eval-mode pass: dropout only back in training mode
            m.train()
        rep = x.repeat(samples, *([1] * (x.dim() - 1)))  # [T*B, ...], pass-major
        return torch.softmax(model(rep).float(), dim=1).view(samples, x.shape[0], -1)

    device = device_of(model)
    ids, out = [], []
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for batch, probs in inference_batches(model, data, collate_fn, max(1, batch_size // samples),
                                              device=device, forward=passes):
            ids.append(batch["ids"].cpu())
            out.append(probs.cpu())
    if not out:
        return torch.zeros(0, dtype=torch.long), torch.zeros(samples, 0, 0)
    return torch.cat(ids), torch.cat(out, dim=1)


def pool_features(model: nn.Module, data: Dataset, collate_fn: Callable,
                  batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.encode`` features (the penultimate layer, eval mode) of every example.

    Returns:
        ``(ids, features)``: long ``[N]`` and float32 ``[N, D]`` on the CPU.

    Raises:
        ValueError: the model has no ``encode`` method (the reference models all have one).
    """
    if not callable(getattr(model, "encode", None)):
        raise ValueError(f"{type(model).__name__} has no encode(x) method; k-center greedy needs "
                         f"features (every workbench reference model has encode)")
    ids, out = [], []
    for batch, feats in inference_batches(model, data, collate_fn, batch_size, forward=model.encode):
        ids.append(batch["ids"].cpu())
        out.append(feats.float().cpu())
    return _cat(ids, torch.long), _cat(out, torch.float32)


def _cat(parts: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    return torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)


@dataclass
class Acquisition:
    """The examples one acquisition picked.

    Attributes:
        ids: long ``[k]`` example ids, in the order picked (highest score first).
        scores: float64 ``[k]`` their acquisition scores (for ``coreset``: distance to the
            nearest center when picked).
        seconds: wall-clock seconds spent scoring and selecting.
        strategy: the strategy name.
    """

    ids: torch.Tensor
    scores: torch.Tensor
    seconds: float
    strategy: str


def acquire(strategy: str, model: nn.Module, pool: Dataset, k: int, collate_fn: Callable,
            labeled: Dataset | None = None, generator: torch.Generator | None = None,
            mc_samples: int = 20, mc_seed: int = 0, batch_size: int = 512,
            mc_batch_size: int = 2048) -> Acquisition:
    """Pick ``k`` examples of ``pool`` to label with ``strategy`` (one of :data:`STRATEGIES`).

    Args:
        strategy: the acquisition function (see the module table).
        model: the current model (its mode is restored afterwards).
        pool: the unlabelled examples (an :class:`~workbench.data.datasets.ExampleDataset`
            or any data set of ``{"id", "input", "target"}`` items; targets are not read).
        k: how many to pick, ``0 <= k <= len(pool)``.
        collate_fn: the task's collator (``task.collator()``).
        labeled: the labelled set; ``coreset`` needs it (its features are the initial
            centers).
        generator: private RNG for ``random`` scores and for breaking ties between equal
            scores (default: a fresh one seeded 0 for ``random``; ties to the lower position).
        mc_samples: ``T``, MC dropout passes for ``bald`` / ``variation_ratios``.
        mc_seed: seed of the MC dropout masks.
        batch_size: examples per forward pass when scoring; ``mc_batch_size``: rows
            (examples x passes) per MC forward pass.

    Returns:
        :class:`Acquisition`.

    Raises:
        ValueError: unknown strategy, ``k`` outside ``[0, len(pool)]``, ``coreset`` without
            ``labeled``, or an MC strategy with a model that has no dropout.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown acquisition strategy {strategy!r}; valid: {list(STRATEGIES)}")
    n = len(pool)
    check_int("k", k, 0, n)  # at most the pool size
    t0 = time.perf_counter()
    if strategy == "coreset":
        if labeled is None:
            raise ValueError("strategy 'coreset' needs labeled= (the labelled set's features are the centers)")
        ids, feats = pool_features(model, pool, collate_fn, batch_size)
        _, centers = pool_features(model, labeled, collate_fn, batch_size)
        pos, scores = k_center_greedy(feats, centers, k)
        return Acquisition(ids[pos], scores, time.perf_counter() - t0, strategy)
    if strategy == "random":
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        ids = _pool_ids(pool)
        scores = random_scores(n, generator)
    elif strategy in MC_STRATEGIES:
        ids, samples = mc_dropout_probs(model, pool, collate_fn, mc_samples, mc_seed, mc_batch_size)
        scores = bald(samples) if strategy == "bald" else variation_ratios(samples)
    else:
        ids, probs = predict_probs(model, pool, collate_fn, batch_size)
        scores = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}[strategy](probs)
    pos = select_top_k(scores, k, generator=generator)
    return Acquisition(ids[pos], scores[pos].to(torch.float64), time.perf_counter() - t0, strategy)


def _pool_ids(pool: Dataset) -> torch.Tensor:
    ids = getattr(pool, "ids", None)
    if isinstance(ids, torch.Tensor):
        return ids.long().clone()
    return torch.tensor([int(pool[i]["id"]) for i in range(len(pool))], dtype=torch.long)
