"""The skipping family's loop techniques: :class:`SelectiveBackprop` (forward on the whole
batch without gradients, forward + backward on the selected examples only),
:class:`DifficultyPrediction` (examples predicted easy are dropped before their forward
pass) and :class:`GradientCaching` (examples close to a cached one reuse its classifier
gradient instead of being backpropagated). All replace ``state.batch`` at ``batch_start``: the Trainer then forwards and
backpropagates only the kept examples, so the saving is real (no mask over a full
backward), and ``state.examples_seen`` counts the examples trained on.

Counters (``state.counters``, cumulative, in every metric row):

- ``examples_skipped``: examples removed from a batch before the (gradient) forward pass;
- ``backward_skipped``: for these techniques, *examples* whose backward pass was skipped
  (the same number here; the Trainer's own ``skip_backward`` counts whole micro-batches);
- ``scoring_examples`` (selective backprop): examples forwarded without gradients to be
  scored, the rule's overhead;
- ``predictor_updates`` (difficulty prediction): online fits of the predictor;
- ``skipping_overhead_us``: microseconds spent in the technique's handlers (the scoring
  pass and the draws; the features, predictions and predictor fits), already inside the
  Trainer's ``wall_time``, counted separately so the overhead can be shown on its own.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import numpy as np
import torch

from workbench.data.steps import micro_batches_per_run
from workbench.techniques.skipping.difficulty import (
    FEATURE_NAMES,
    OnlineRidge,
    example_features,
    is_held_out,
    spearman,
    token_rarity_table,
)
from workbench.techniques.skipping.gradcache import (
    GradientCache,
    adapt_threshold,
    classifier_example_grads,
    reuse_error,
)
from workbench.techniques.skipping.selection import (
    LossHistory,
    keep_fraction_indices,
    percentile_keep_probability,
    should_select,
)
from workbench.train.events import Event, Technique
from workbench.train.inference import eval_mode, forward_batch
from workbench.train.optim import build_loss
from workbench.validation import check_choice, check_int, check_number

__all__ = ["DifficultyPrediction", "GradientCaching", "RhoLoss", "SelectiveBackprop", "subset_batch"]


def subset_batch(batch: dict[str, Any], keep: torch.Tensor) -> dict[str, Any]:
    """The batch restricted to positions ``keep`` (long ``[n]``): every tensor whose first
    dimension is the batch size is indexed; other values are passed through."""
    b = int(batch["targets"].shape[0])
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == b:
            out[k] = v[keep.to(v.device)]
        else:
            out[k] = v
    return out


def _loss_fn(config: Any):
    return build_loss(config.loss, huber_delta=config.huber_delta, label_smoothing=config.label_smoothing)


class SelectiveBackprop(Technique):
    """Selective Backprop: score the whole batch with a forward pass without gradients,
    then forward and backpropagate only the selected examples (the Trainer's normal step
    on the subset; their mean loss is backpropagated, so each kept example's loss is
    rescaled by ``1 / n_kept`` instead of ``1 / B``, as both references do).

    Rules:

    - ``rule="jiang"`` (Jiang et al. 2019, "Accelerating Deep Learning by Focusing on the
      Biggest Losers"): keep each example with probability ``F(loss) ** beta``, ``F`` the
      percentile of its loss among the last ``history_size`` (1,024) losses, ``beta`` 3.
      Jiang et al. gather selected examples until a full batch is formed; here each
      batch's selected examples form a smaller batch (same expected work, no carry-over).
    - ``rule="composer"`` (MosaicML Composer's ``SelectiveBackprop``): keep
      ``int(keep * B)`` examples sampled by loss rank (see
      :func:`~workbench.techniques.skipping.selection.keep_fraction_indices`).

    Both select only while ``start <= elapsed < end`` (``elapsed``: the fraction of the
    run's micro-batches done) and on batches with ``(i + 1) % interrupt != 0``; other
    batches are trained in full without a scoring pass. Composer's defaults are
    ``start=0.5, end=0.9, keep=0.5, interrupt=2, scale_factor=1``; Jiang et al. select
    from the start, so ``start=0.0, end=1.0, interrupt=0`` reproduce the paper.
    ``scale_factor`` (Composer's input down-scaling of images for the scoring pass) is
    accepted only as 1 (no down-scaling).

    Args:
        rule: ``"jiang"`` or ``"composer"``.
        beta: Jiang's selectivity, > 0.
        history_size: Jiang's ``R``, >= 1.
        keep: Composer's kept fraction, in ``(0, 1]``.
        start, end: the selection interval as fractions of the run, ``0 <= start < end <= 1``.
        interrupt: every ``interrupt``-th batch is trained in full (0: never), >= 0.
        scale_factor: must be 1.
        n_train: training examples (for the elapsed fraction); :meth:`default` sets it.
            None: the fraction is counted in whole epochs.
        seed: seed of the technique's own generator (the draws), checkpointed.

    Raises:
        ValueError: an argument out of range (named).
    """

    name = "selective_backprop"
    events = frozenset({Event.FIT_START, Event.BATCH_START})

    def __init__(self, rule: str = "jiang", beta: float = 3.0, history_size: int = 1024,
                 keep: float = 0.5, start: float = 0.5, end: float = 0.9, interrupt: int = 2,
                 scale_factor: float = 1.0, n_train: int | None = None, seed: int = 0) -> None:
        super().__init__()
        self.rule = check_choice("rule", rule, ("jiang", "composer"))
        self.beta = check_number("beta", beta, 0.0, None, lo_open=True)
        self.history = LossHistory(history_size)
        self.keep = check_number("keep", keep, 0.0, 1.0, lo_open=True)
        self.start = check_number("start", start, 0.0, 1.0)
        self.end = check_number("end", end, 0.0, 1.0)
        if self.end <= self.start:
            raise ValueError(f"end must be greater than start ({start}); got {end}")
        self.interrupt = check_int("interrupt", interrupt, 0)
        if scale_factor != 1:
            raise ValueError(f"scale_factor must be 1 (input down-scaling is not implemented); got {scale_factor!r}")
        self.n_train = check_int("n_train", n_train, 1, optional=True)
        self.seed = check_int("seed", seed, 0)
        self.generator = torch.Generator().manual_seed(self.seed)
        self._loss_fn = None
        self._total = None

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> SelectiveBackprop:
        """Jiang's rule with the paper's ``beta = 3``, ``R = 1024`` and Composer's interval
        (``start=0.5, end=0.9, interrupt=2``); ``n_train`` from ``splits.train``."""
        return cls(**{"n_train": len(splits.train), **overrides})

    def _elapsed(self, state: Any) -> float:
        cfg = state.config
        if self.n_train is not None:
            total = micro_batches_per_run(cfg, self.n_train)
            return state.step / max(1, total)
        return state.epoch / max(1, cfg.epochs)

    def on_fit_start(self, state: Any) -> None:
        self._loss_fn = _loss_fn(state.config)

    def on_batch_start(self, state: Any) -> None:
        if not should_select(self._elapsed(state), state.batch_in_epoch, self.start, self.end, self.interrupt):
            return
        t0 = time.perf_counter()
        batch = state.batch
        b = int(batch["targets"].shape[0])
        with torch.no_grad():
            losses = self._loss_fn(forward_batch(state.model, batch), batch["targets"]).float().cpu()
        state.count("scoring_examples", b)
        if self.rule == "jiang":
            self.history.add(losses)
            p = percentile_keep_probability(losses, self.history.values(), self.beta)
            chosen = torch.rand(b, generator=self.generator) < p
            if not bool(chosen.any()):
                chosen[int(losses.argmax())] = True
            keep = chosen.nonzero().flatten()
        else:
            keep = keep_fraction_indices(losses, self.keep, self.generator)
        n = int(keep.numel())
        if n < b:
            state.batch = subset_batch(batch, keep)
            state.count("examples_skipped", b - n)
            state.count("backward_skipped", b - n)
        state.count("skipping_overhead_us", round(1e6 * (time.perf_counter() - t0)))

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history.load_state_dict(state["history"])
        self.generator.set_state(state["generator"])


class DifficultyPrediction(Technique):
    """Skip examples predicted easy before their forward pass.

    A ridge regression (:class:`~workbench.techniques.skipping.difficulty.OnlineRidge`) on
    cheap features known before the forward pass (:data:`FEATURE_NAMES`: length, token
    rarity, class rarity, the example's last reported loss and its age) predicts
    ``log1p(loss)``; it is refitted online after every micro-batch on the losses the main
    model reports for the examples it forwarded. At ``batch_start`` (from epoch
    ``warmup_epochs`` on), the ``skip_fraction`` of the batch with the lowest predicted
    loss is dropped, except examples never seen, examples not seen for ``max_skip_epochs``
    epochs (so every skipped example is re-checked after at most that many epochs), and
    the held-out ids.

    Held-out ids (``holdout_fraction`` of the ids, a fixed hash): never used to fit the
    predictor and never skipped; at each evaluation the Spearman correlation between the
    predictions made for them and their actual losses since the previous evaluation is
    written to the evaluation row as ``predictor_spearman`` (and kept in
    :attr:`spearman_log` as ``(effective_step, rho, pairs)``, this process's evaluations
    only: a resumed run finds the earlier values in the checkpointed metric rows).

    Args:
        skip_fraction: fraction of each batch to skip, in ``[0, 1)``.
        warmup_epochs: epochs trained in full first (the predictor needs losses), >= 0.
        max_skip_epochs: ``K``: an example not seen for ``K`` epochs is kept, >= 1.
        holdout_fraction: ids held out from the predictor's fit, in ``[0, 1)``.
        decay, l2: the predictor's forgetting factor and ridge penalty.
        token_rarity: float ``[V]`` ``-log p(token)`` (text); :meth:`default` builds it.
        class_rarity: float ``[C]`` ``-log p(class)``; :meth:`default` builds it (None: 0).
        pad_id: padding token id.

    Raises:
        ValueError: an argument out of range (named).
    """

    name = "difficulty_prediction"
    events = frozenset({Event.BATCH_START, Event.AFTER_FORWARD, Event.EVAL_END})

    def __init__(self, skip_fraction: float = 0.2, warmup_epochs: int = 1, max_skip_epochs: int = 2,
                 holdout_fraction: float = 0.1, decay: float = 0.98, l2: float = 1e-2,
                 token_rarity: torch.Tensor | None = None, class_rarity: torch.Tensor | None = None,
                 pad_id: int = 0) -> None:
        super().__init__()
        self.skip_fraction = check_number("skip_fraction", skip_fraction, 0.0, 1.0, hi_open=True)
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 0)
        self.max_skip_epochs = check_int("max_skip_epochs", max_skip_epochs, 1)
        self.holdout_fraction = check_number("holdout_fraction", holdout_fraction, 0.0, 1.0, hi_open=True)
        self.predictor = OnlineRidge(len(FEATURE_NAMES), decay=decay, l2=l2)
        self.token_rarity = None if token_rarity is None else torch.as_tensor(token_rarity).float()
        self.class_rarity = None if class_rarity is None else torch.as_tensor(class_rarity).float()
        self.pad_id = int(pad_id)
        self.last_loss = torch.zeros(0)
        self.last_seen_epoch = torch.full((0,), -1, dtype=torch.long)
        self.skip_count = torch.zeros(0, dtype=torch.long)  # times each id was skipped
        self._pending: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._held_pred: list[float] = []
        self._held_loss: list[float] = []
        self.spearman_log: list[tuple[int, float, int]] = []

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> DifficultyPrediction:
        """Skip 20% of each batch (the seed's claim) after one full epoch, ``K = 2``; token
        and class rarities from ``splits.train``."""
        train, task = splits.train, splits.task
        kw: dict[str, Any] = {}
        if getattr(task, "modality", None) == "text" and splits.vocab is not None:
            kw["token_rarity"] = token_rarity_table(list(train.inputs), len(splits.vocab), task.pad_id)
            kw["pad_id"] = task.pad_id
        if not train.targets.is_floating_point():
            c = torch.bincount(train.targets.long(), minlength=task.num_classes).double() + 1
            kw["class_rarity"] = (-(c / c.sum()).log()).float()
        return cls(**{**kw, **overrides})

    def _grow(self, max_id: int) -> None:
        n = self.last_loss.numel()
        if max_id < n:
            return
        m = max(max_id + 1, 2 * n)
        self.last_loss = torch.cat([self.last_loss, torch.zeros(m - n)])
        self.last_seen_epoch = torch.cat([self.last_seen_epoch, torch.full((m - n,), -1, dtype=torch.long)])
        self.skip_count = torch.cat([self.skip_count, torch.zeros(m - n, dtype=torch.long)])

    def _features(self, batch: dict[str, Any], epoch: int) -> torch.Tensor:
        n_classes = int(batch["targets"].max()) + 1 if not batch["targets"].is_floating_point() else 1
        cls_r = self.class_rarity if self.class_rarity is not None else torch.zeros(max(1, n_classes))
        return example_features(batch, self.last_loss, self.last_seen_epoch, epoch, cls_r,
                                self.token_rarity, self.pad_id)

    def on_batch_start(self, state: Any) -> None:
        t0 = time.perf_counter()
        batch = state.batch
        ids = batch["ids"].cpu().long()
        self._grow(int(ids.max()))
        x = self._features(batch, state.epoch)
        pred = self.predictor.predict(x)
        held = is_held_out(ids, self.holdout_fraction)
        b = ids.numel()
        n_skip = int(self.skip_fraction * b)
        keep_mask = torch.ones(b, dtype=torch.bool)
        if state.epoch >= self.warmup_epochs and n_skip > 0 and self.predictor.updates > 0:
            seen = self.last_seen_epoch[ids] >= 0
            stale = (state.epoch - self.last_seen_epoch[ids]) >= self.max_skip_epochs
            candidate = seen & ~stale & ~held
            order = torch.argsort(torch.where(candidate, pred, torch.full_like(pred, math.inf)), stable=True)
            drop = order[:min(n_skip, int(candidate.sum()), b - 1)]
            keep_mask[drop] = False
        keep = keep_mask.nonzero().flatten()
        if keep.numel() < b:
            skipped_ids = ids[~keep_mask]
            self.skip_count[skipped_ids] += 1
            state.batch = subset_batch(batch, keep)
            state.count("examples_skipped", b - keep.numel())
            state.count("backward_skipped", b - keep.numel())
        self._pending = (ids[keep], x[keep], pred[keep])
        state.count("skipping_overhead_us", round(1e6 * (time.perf_counter() - t0)))

    def on_after_forward(self, state: Any) -> None:
        if self._pending is None:
            return
        t0 = time.perf_counter()
        ids, x, pred = self._pending
        self._pending = None
        loss = state.per_example_loss.detach().float().cpu()
        if loss.dim() != 1 or loss.numel() != ids.numel():
            return
        held = is_held_out(ids, self.holdout_fraction)
        if bool(held.any()) and self.predictor.updates > 0:
            self._held_pred.extend(pred[held].tolist())
            self._held_loss.extend(loss[held].tolist())
        train = ~held
        self.predictor.update(x[train], torch.log1p(loss[train].clamp(min=0)))
        state.count("predictor_updates")
        self.last_loss[ids] = loss
        self.last_seen_epoch[ids] = state.epoch
        state.count("skipping_overhead_us", round(1e6 * (time.perf_counter() - t0)))

    def on_eval_end(self, state: Any) -> None:
        rho = spearman(self._held_pred, self._held_loss)
        self.spearman_log.append((int(state.effective_step), rho, len(self._held_pred)))
        if state.history:
            state.history[-1]["predictor_spearman"] = rho
        self._held_pred, self._held_loss = [], []

    def state_dict(self) -> dict[str, Any]:
        return {"predictor": self.predictor.state_dict(), "last_loss": self.last_loss.clone(),
                "last_seen_epoch": self.last_seen_epoch.clone(), "skip_count": self.skip_count.clone(),
                "held_pred": torch.tensor(self._held_pred, dtype=torch.float64),
                "held_loss": torch.tensor(self._held_loss, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.predictor.load_state_dict(state["predictor"])
        self.last_loss = state["last_loss"].clone()
        self.last_seen_epoch = state["last_seen_epoch"].clone()
        self.skip_count = state["skip_count"].clone()
        self._held_pred = state["held_pred"].tolist()
        self._held_loss = state["held_loss"].tolist()



class GradientCaching(Technique):
    """Reuse a cached per-example gradient instead of backpropagating an example whose
    features are close to a cached example's (the seed's gradient-caching idea, made
    measurable; the published relative is CRAIG, Mirzasoleiman et al. 2020).

    Per micro-batch, at ``batch_start``: one forward pass without gradients in eval mode
    computes ``h = model.encode(x)`` (the scoring pass, counted in ``scoring_examples``);
    each example whose ``h`` has cosine similarity ``>= tau`` with a cached entry of its
    class is a **hit**: it is removed from the batch (no forward with gradients, no
    backward), and the cached gradient is added to the classifier's gradient after the
    backward pass, weighted as one example of the original batch (the kept examples'
    losses are weighted ``n_kept / B`` so every example counts ``1 / B``). Misses are
    trained normally and their classifier gradients (closed form from ``h``, see
    :func:`~workbench.techniques.skipping.gradcache.classifier_example_grads`) enter the
    cache.

    **What is cached (the memory budget):** only the final linear layer
    (``model.classifier``: ``C * D + C`` numbers per entry), ``slots`` entries per class:
    ``C * slots * (D + C * D + C) * 4`` bytes (``grad_cache_memory_bytes`` in the rows).
    A hit contributes **nothing** to the encoder's gradient, so the true error of reuse
    is larger than the classifier-gradient error measured here.

    **Threshold:** ``tau`` moves after every micro-batch toward ``target_hit_rate``
    (:func:`~workbench.techniques.skipping.gradcache.adapt_threshold`, step ``tau_rate``).

    **Error, measured:** on up to ``error_sample`` hits per micro-batch, the true
    classifier gradient (closed form, eval-mode features) is compared with the reused
    one; each evaluation row gets ``grad_cache_cosine`` and ``grad_cache_rel_error``
    (means over the sampled hits since the previous row: per hit, ``||g_reused - g|| /
    ||g||``, which a hit with a near-zero true gradient can make arbitrarily large),
    ``grad_cache_pooled_rel_error`` (``sum ||g_reused - g|| / sum ||g||`` over the same
    hits: the error relative to the gradient mass the hits stand for), ``grad_cache_hit_rate``,
    ``grad_cache_tau`` and ``grad_cache_memory_bytes``. Counters: ``cache_hits``,
    ``cache_misses``, ``examples_skipped`` / ``backward_skipped`` (= hits),
    ``scoring_examples``, ``skipping_overhead_us``.

    Cost model: a no-gradient forward on every example plus forward + backward on the
    misses, against forward + backward on all: with backward ~2x forward, it breaks even
    near a 1/3 hit rate, before the look-ups' cost.

    Args:
        tau: initial cosine threshold, in ``[-1, 1]``.
        target_hit_rate: in ``[0, 1)``; the seed's claim is for 0.2.
        tau_rate: the threshold's step, >= 0 (0: fixed ``tau``).
        slots: cache entries per class, >= 1.
        error_sample: hits per micro-batch checked against the true gradient, >= 0.

    Raises:
        ValueError: an argument out of range (named); at ``fit_start`` a model without
            ``encode`` / ``classifier`` (an ``nn.Linear``) or a loss other than
            cross-entropy.
    """

    name = "gradient_caching"
    events = frozenset({Event.FIT_START, Event.BATCH_START, Event.AFTER_FORWARD, Event.AFTER_BACKWARD,
                        Event.EVAL_END})

    def __init__(self, tau: float = 0.98, target_hit_rate: float = 0.2, tau_rate: float = 0.02,
                 slots: int = 64, error_sample: int = 8) -> None:
        super().__init__()
        self.tau = check_number("tau", tau, -1.0, 1.0)
        self.target_hit_rate = check_number("target_hit_rate", target_hit_rate, 0.0, 1.0, hi_open=True)
        self.tau_rate = check_number("tau_rate", tau_rate, 0.0)
        self.slots = check_int("slots", slots, 1)
        self.error_sample = check_int("error_sample", error_sample, 0)
        self.cache: GradientCache | None = None
        self._hit_sum: torch.Tensor | None = None
        self._scale = 1.0
        self._row = {"hits": 0, "seen": 0, "cos": 0.0, "rel": 0.0, "checked": 0, "err_norm": 0.0, "true_norm": 0.0}
        self.log: list[dict[str, float]] = []

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> GradientCaching:
        """The seed's target of a 20% hit rate, 64 entries per class, tau from 0.98."""
        return cls(**overrides)

    def on_fit_start(self, state: Any) -> None:
        model = state.model
        clf = getattr(model, "classifier", None)
        if not callable(getattr(model, "encode", None)) or not isinstance(clf, torch.nn.Linear):
            raise ValueError("GradientCaching needs a model with encode(x) and a final nn.Linear `classifier` "
                             "(every reference model has them)")
        if state.config.loss != "cross_entropy" or state.config.label_smoothing:
            raise ValueError("GradientCaching's closed-form classifier gradient needs loss='cross_entropy' "
                             "without label_smoothing")
        c, d = clf.out_features, clf.in_features
        if self.cache is None:
            self.cache = GradientCache(c, d, c * d + c, self.slots)

    def on_batch_start(self, state: Any) -> None:
        t0 = time.perf_counter()
        self._hit_sum = None
        batch, model = state.batch, state.model
        targets = batch["targets"].cpu().long()
        b = targets.numel()
        with torch.no_grad(), eval_mode(model):
            h = model.encode(batch["inputs"])
            z = model.classifier(h)
        h, z = h.float().cpu(), z.float().cpu()
        state.count("scoring_examples", b)
        hit, entry = self.cache.lookup(h, targets, self.tau)
        if bool(hit.all()):  # keep one example for the loop's step
            hit[0] = False
        miss = ~hit
        n_hit = int(hit.sum())
        if n_hit:
            cached = self.cache.get(targets[hit], entry[hit])
            self._hit_sum = cached.sum(0)
            self._scale = (b - n_hit) / b
            k = min(self.error_sample, n_hit)
            if k:
                true = classifier_example_grads(h[hit][:k], z[hit][:k], targets[hit][:k])
                cos, rel = reuse_error(cached[:k], true)
                self._row["cos"] += float(cos.sum())
                self._row["rel"] += float(rel.sum())
                self._row["checked"] += k
                # pooled: the error's norm over the true gradients' norm, summed over the
                # hits (a hit whose true gradient is near zero does not dominate it)
                self._row["err_norm"] = self._row.get("err_norm", 0.0) + float(
                    (cached[:k].float() - true.float()).norm(dim=1).sum())
                self._row["true_norm"] = self._row.get("true_norm", 0.0) + float(true.float().norm(dim=1).sum())
            state.batch = subset_batch(batch, miss.nonzero().flatten())
            state.count("examples_skipped", n_hit)
            state.count("backward_skipped", n_hit)
        self.cache.insert(h[miss], targets[miss], classifier_example_grads(h[miss], z[miss], targets[miss]))
        state.count("cache_hits", n_hit)
        state.count("cache_misses", b - n_hit)
        self._row["hits"] += n_hit
        self._row["seen"] += b
        self.tau = adapt_threshold(self.tau, n_hit / b, self.target_hit_rate, self.tau_rate)
        state.count("skipping_overhead_us", round(1e6 * (time.perf_counter() - t0)))

    def on_after_forward(self, state: Any) -> None:
        if self._hit_sum is not None:
            pel = state.per_example_loss
            state.loss_weights = torch.full_like(pel.detach(), self._scale)

    def on_after_backward(self, state: Any) -> None:
        if self._hit_sum is None:
            return
        clf = state.model.classifier
        c, d = clf.out_features, clf.in_features
        n = int(state.batch["targets"].shape[0])
        b = round(n / self._scale)  # the original batch size
        g = self._hit_sum / (b * state.config.grad_accum_steps)
        for p, part in ((clf.weight, g[:c * d].view(c, d)), (clf.bias, g[c * d:])):
            if p is None:
                continue
            part = part.to(device=p.device, dtype=p.dtype)
            if p.grad is None:
                p.grad = part.clone()
            else:
                p.grad.add_(part)
        self._hit_sum = None

    def on_eval_end(self, state: Any) -> None:
        r = self._row
        row = {"grad_cache_hit_rate": r["hits"] / r["seen"] if r["seen"] else math.nan,
               "grad_cache_cosine": r["cos"] / r["checked"] if r["checked"] else math.nan,
               "grad_cache_rel_error": r["rel"] / r["checked"] if r["checked"] else math.nan,
               "grad_cache_pooled_rel_error": (r.get("err_norm", 0.0) / r["true_norm"]
                                               if r["checked"] and r.get("true_norm", 0.0) > 0 else math.nan),
               "grad_cache_tau": self.tau,
               "grad_cache_memory_bytes": self.cache.nbytes if self.cache is not None else 0}
        self.log.append({"effective_step": state.effective_step, **row})
        if state.history:
            state.history[-1].update(row)
        self._row = {"hits": 0, "seen": 0, "cos": 0.0, "rel": 0.0, "checked": 0, "err_norm": 0.0, "true_norm": 0.0}

    def state_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "row": dict(self._row),
                "cache": None if self.cache is None else self.cache.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tau = float(state["tau"])
        self._row = dict(state["row"])
        if state["cache"] is not None:
            if self.cache is None:
                g = state["cache"]["grads"]
                f = state["cache"]["features"]
                self.cache = GradientCache(g.shape[0], f.shape[2], g.shape[2], g.shape[1])
            self.cache.load_state_dict(state["cache"])


def _default_il_model(task: Any) -> torch.nn.Module:
    from workbench.models import build_model

    return build_model("boe" if getattr(task, "modality", None) == "text" else "mlp", task)


class RhoLoss(Technique):
    """RHO-LOSS selection (Mindermann et al. 2022, "Prioritized Training on Points that are
    Learnable, Worth Learning, and Not Yet Learnt"): from each batch the loader gives (the
    **candidate** batch, ``n_B`` examples), train on the ``keep`` fraction with the largest
    **reducible loss** ``L(y | x; model) - L(y | x; irreducible-loss model)``.

    The irreducible-loss (IL) model is trained at ``fit_start`` on ``holdout`` (its
    per-example losses on the training split, by example id, are cached), or, with
    ``holdout=None``, cross-fitted on the two halves of the training split (each half's
    IL from a model trained on the other half: no extra data, two IL trainings). Its
    training time is **charged to the run**: added to ``state.wall_time`` (also in the
    counter ``il_training_us``). Its state (the cached losses) is checkpointed, so a
    resumed run does not train it again. The IL training runs inside
    ``torch.random.fork_rng`` with Python's and NumPy's generator states restored (the
    main run's random streams are untouched).

    Per batch: a forward pass without gradients on the candidate batch (counted in
    ``scoring_examples``), then the Trainer's forward + backward on the selected examples
    (their mean loss). Use a loader batch ``1 / keep`` times the usual one to keep the
    trained batch size (the paper: ``n_b / n_B = 0.1``).

    Args:
        train: the training split (the examples whose IL is cached), an ExampleDataset.
        task: its TaskSpec.
        holdout: data for the IL model, or None (cross-fitted halves).
        keep: ``n_b / n_B``, in ``(0, 1]``.
        il_epochs: IL model training epochs, >= 1.
        il_model: ``factory(task) -> module`` (default: the reference MLP / bag of
            embeddings, small as in the paper's experiments).
        il_lr, il_batch_size: the IL model's Adam rate and batch size.
        seed: the IL training's seed.

    Raises:
        ValueError: an argument out of range (named).
    """

    name = "rho_loss"
    events = frozenset({Event.FIT_START, Event.BATCH_START})

    def __init__(self, train: Any, task: Any, holdout: Any = None, keep: float = 0.1, il_epochs: int = 5,
                 il_model: Any = None, il_lr: float = 3e-3, il_batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        if train is None or len(train) == 0:
            raise ValueError("train must be a non-empty training split (the examples whose irreducible loss "
                             "is cached)")
        self.train, self.task, self.holdout = train, task, holdout
        self.keep = check_number("keep", keep, 0.0, 1.0, lo_open=True)
        self.il_epochs = check_int("il_epochs", il_epochs, 1)
        self.il_model = il_model or _default_il_model
        self.il_lr = check_number("il_lr", il_lr, 0.0, 10.0, lo_open=True)
        self.il_batch_size = check_int("il_batch_size", il_batch_size, 1)
        self.seed = check_int("seed", seed, 0)
        self.il_losses: torch.Tensor | None = None  # float [max id + 1]
        self._loss_fn = None

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> RhoLoss:
        """The paper's ``n_b / n_B = 0.1``, the IL model cross-fitted on the training
        split's halves (no holdout data taken from validation), 5 IL epochs at Adam 3e-3."""
        return cls(**{"train": splits.train, "task": splits.task, **overrides})

    def _fit_il(self, data: Any, config_cls: Any) -> torch.nn.Module:
        from workbench.train.trainer import Trainer

        model = self.il_model(self.task)
        cfg = config_cls(epochs=self.il_epochs, batch_size=self.il_batch_size, optimizer="adam", lr=self.il_lr,
                         progress_bar=False, eval_every_epochs=None, seed=self.seed)
        Trainer(model, cfg, data, None, task=self.task).fit()
        return model

    def _il_losses(self, model: torch.nn.Module, data: Any, out: torch.Tensor, loss_fn: Any) -> None:
        from workbench.train.inference import inference_batches

        for batch, logits in inference_batches(model, data, self.task.collator()):
            out[batch["ids"].long()] = loss_fn(logits, batch["targets"]).float().cpu()

    def on_fit_start(self, state: Any) -> None:
        self._loss_fn = _loss_fn(state.config)
        if self.il_losses is not None:
            return
        t0 = time.perf_counter()
        config_cls = type(state.config)
        losses = torch.zeros(int(self.train.ids.max()) + 1)
        # the nested Trainer seeds Python's, NumPy's and torch's global generators: keep
        # the main run's streams as they were
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            if self.holdout is not None:
                self._il_losses(self._fit_il(self.holdout, config_cls), self.train, losses, self._loss_fn)
            else:
                g = torch.Generator().manual_seed(self.seed)
                perm = torch.randperm(len(self.train), generator=g)
                halves = [perm[: len(perm) // 2].tolist(), perm[len(perm) // 2:].tolist()]
                for fit_on, score in ((0, 1), (1, 0)):
                    model = self._fit_il(self.train.subset(halves[fit_on]), config_cls)
                    self._il_losses(model, self.train.subset(halves[score]), losses, self._loss_fn)
        random.setstate(py_state)
        np.random.set_state(np_state)
        self.il_losses = losses
        dt = time.perf_counter() - t0
        state.wall_time += dt  # charged to the run
        state.count("il_training_us", round(1e6 * dt))

    def on_batch_start(self, state: Any) -> None:
        t0 = time.perf_counter()
        batch = state.batch
        b = int(batch["targets"].shape[0])
        n = max(1, int(self.keep * b))
        if n >= b:
            return
        with torch.no_grad():
            losses = self._loss_fn(forward_batch(state.model, batch), batch["targets"]).float().cpu()
        state.count("scoring_examples", b)
        ids = batch["ids"].cpu().long().clamp(max=self.il_losses.numel() - 1)
        reducible = losses - self.il_losses[ids]
        keep = torch.topk(reducible, n).indices.sort().values
        state.batch = subset_batch(batch, keep)
        state.count("examples_skipped", b - n)
        state.count("backward_skipped", b - n)
        state.count("skipping_overhead_us", round(1e6 * (time.perf_counter() - t0)))

    def state_dict(self) -> dict[str, Any]:
        return {"il_losses": None if self.il_losses is None else self.il_losses.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        v = state["il_losses"]
        self.il_losses = None if v is None else v.clone()
