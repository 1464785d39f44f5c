"""Domain-adversarial training (DANN, Ganin et al. 2016) as a loop technique.

Each micro-batch the Trainer forwards a labelled *source* batch as usual; at
``after_forward`` :class:`DomainAdversarial` draws an unlabelled *target* batch of the same
size from its own resumable iterator over the target data, encodes both
(``model.encode``, with the batch fields the model names in ``forward_keys``), passes the
features through the gradient reversal layer (factor ``lambda_p``) to a
:class:`~workbench.techniques.domain.models.DomainDiscriminator`, and at
``before_backward`` adds the binary cross-entropy domain loss (source 0, target 1) to the
loss: ``L = L_y + w * L_d(D(R_lambda(f)))``. The discriminator minimises ``L_d``; through
the reversal the encoder maximises it (Ganin et al.'s saddle point, their eq. 9-10).

The discriminator's parameters are returned by :meth:`DomainAdversarial.param_groups`, so
the Trainer's optimizer steps them and its checkpoint carries their optimizer state; the
technique's ``state_dict`` holds the discriminator weights, the target iterator's position
and the running statistics. Target labels are never read: target items are copied without
their ``"target"`` value (a placeholder ``-1`` is collated and dropped).

The cost: one extra ``encode`` of the source batch and one of the target batch per step
(the source logits come from the Trainer's own forward pass), plus the discriminator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from workbench.data.steps import optimizer_steps_per_run
from workbench.techniques.domain.models import DomainDiscriminator
from workbench.techniques.domain.reversal import _check_lambda, ganin_lambda, grad_reverse
from workbench.train.events import Event, Technique
from workbench.train.inference import device_of, to_device


def _encode(model: Any, batch: dict[str, Any]) -> torch.Tensor:
    keys = getattr(model, "forward_keys", ()) or ()
    return model.encode(batch["inputs"], **{k: batch[k] for k in keys})


class DomainAdversarial(Technique):
    """DANN: a domain discriminator on the encoder's features through gradient reversal.

    Args:
        target_data: the target domain's training data (a data set of items with
            ``"id"`` and ``"input"``; their ``"target"`` is never read).
        feature_dim: the encoder's feature size (``model.feature_dim``, >= 1).
        collate_fn: turns a list of target items into a batch (``task.collator()``).
        lambda_: ``"ganin"`` (``lambda_p = 2 / (1 + exp(-10 p)) - 1``, ``p`` = optimizer
            steps done / steps in the run) or a constant (finite, >= 0).
        total_steps: optimizer steps in the run for ``p`` (None: computed at ``fit_start``
            from the config and ``num_examples``, or ``config.max_steps``).
        num_examples: source training examples (for ``total_steps``; >= 1).
        weight: multiplies the domain loss (> 0; 1 in the paper).
        hidden, dropout: the discriminator's width and dropout (see
            :class:`~workbench.techniques.domain.models.DomainDiscriminator`).
        seed: seeds the discriminator's initial weights and the target iterator's order.

    Row metrics (every training and evaluation row, since the previous row):
    ``domain_loss`` (mean BCE), ``domain_accuracy`` (the discriminator's accuracy on source
    and target examples at threshold 0) and ``domain_lambda`` (the factor at the row's
    step). ``trace``: ``[[effective_step, domain_loss, domain_accuracy, lambda], ...]`` at
    every evaluation.

    Raises:
        ValueError: an argument outside its range, or empty target data.
    """

    name = "domain_adversarial"
    events = frozenset({Event.FIT_START, Event.AFTER_FORWARD, Event.BEFORE_BACKWARD, Event.EVAL_END})

    def __init__(self, target_data: Any, feature_dim: int, collate_fn: Callable, lambda_: float | str = "ganin",
                 total_steps: int | None = None, num_examples: int | None = None, weight: float = 1.0,
                 hidden: int = 256, dropout: float = 0.5, seed: int = 0) -> None:
        super().__init__()
        if target_data is None or len(target_data) == 0:
            raise ValueError("target_data must hold at least one example")
        if lambda_ != "ganin":
            lambda_ = _check_lambda(lambda_)
            if lambda_ < 0:
                raise ValueError(f"lambda_ must be 'ganin' or a number >= 0; got {lambda_!r}")
        for arg, v in (("total_steps", total_steps), ("num_examples", num_examples)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{arg} must be None or an integer >= 1; got {v!r}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0 or math.isinf(weight):
            raise ValueError(f"weight must be a finite number > 0; got {weight!r}")
        if not callable(collate_fn):
            raise ValueError(f"collate_fn must be callable; got {collate_fn!r}")
        self.target_data = target_data
        self.collate_fn = collate_fn
        self.lambda_ = lambda_
        self.total_steps = total_steps
        self.num_examples = num_examples
        self.weight = float(weight)
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.discriminator = DomainDiscriminator(feature_dim, hidden=hidden, dropout=dropout)
        self._pass = 0          # passes over the target data started
        self._pos = 0           # position in the current pass's order
        self._order = self._permutation(0)
        self._steps_in_run: int | None = total_steps
        self._domain_loss: torch.Tensor | None = None
        self._reset_running()
        self.trace: list[list[float]] = []

    # ----------------------------------------------------------------- construction
    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> DomainAdversarial:
        """For :class:`~workbench.techniques.domain.data.DomainSplits`: the target corpus's
        training split as the unlabelled data (a ``DomainDataset``, items with ``"domain": 1``), the source task's collator, ``feature_dim``
        of the task's reference text model (Kim CNN: 300; bag of embeddings: 300).
        For a plain :class:`~workbench.data.splits.DataSplits` (the contract test), its own
        training split stands in for the target data.
        """
        target = getattr(splits, "target", None)
        target_train = splits.dataset("train", ("target",)) if target is not None else splits.train
        kw: dict[str, Any] = {"target_data": target_train, "feature_dim": 300,
                              "collate_fn": splits.task.collator(), "num_examples": len(splits.train)}
        kw.update(overrides)
        return cls(**kw)

    def param_groups(self) -> list[dict[str, Any]]:
        """The discriminator's parameters, one group (the Trainer's optimizer settings)."""
        return [{"params": list(self.discriminator.parameters())}]

    # ----------------------------------------------------------------- target iterator
    def _permutation(self, k: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
        return torch.randperm(len(self.target_data), generator=g)

    def next_target_positions(self, n: int) -> list[int]:
        """The next ``n`` positions of the target data (a seeded permutation per pass,
        passes joined without repeats inside one pass)."""
        out: list[int] = []
        while len(out) < n:
            if self._pos >= len(self._order):
                self._pass += 1
                self._pos = 0
                self._order = self._permutation(self._pass)
            take = self._order[self._pos:self._pos + n - len(out)].tolist()
            self._pos += len(take)
            out.extend(take)
        return out

    def target_batch(self, n: int) -> dict[str, Any]:
        """The next ``n`` target items collated, without targets (their labels are never read)."""
        items = []
        for i in self.next_target_positions(n):
            item = self.target_data[i]
            items.append({**{k: item[k] for k in item if k != "target"}, "target": -1})
        batch = self.collate_fn(items)
        batch.pop("targets", None)
        return batch

    # ----------------------------------------------------------------- schedule
    def current_lambda(self, effective_step: int) -> float:
        """The reversal factor at ``effective_step`` (constant, or Ganin's with ``p`` clipped to 1)."""
        if self.lambda_ != "ganin":
            return float(self.lambda_)
        total = self._steps_in_run or 1
        return ganin_lambda(min(1.0, effective_step / total))

    # ----------------------------------------------------------------- handlers
    def on_fit_start(self, state: Any) -> None:
        self.discriminator.to(device_of(state.model))
        if self.total_steps is None:
            cfg = state.config
            if getattr(cfg, "max_steps", None):
                self._steps_in_run = int(cfg.max_steps)
            elif self.num_examples is not None:
                self._steps_in_run = optimizer_steps_per_run(cfg, self.num_examples)

    def on_after_forward(self, state: Any) -> None:
        model = state.model
        src = state.batch
        n = int(src["inputs"].shape[0])
        tgt = to_device(self.target_batch(n), device_of(model))
        feats = torch.cat([_encode(model, src), _encode(model, tgt)])
        lam = self.current_lambda(state.effective_step)
        self.discriminator.train(model.training)
        logits = self.discriminator(grad_reverse(feats, lam))
        labels = torch.cat([torch.zeros(n, device=logits.device), torch.ones(len(feats) - n, device=logits.device)])
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels)
        self._domain_loss = loss
        d = logits.detach()
        self._loss_sum += float(loss.detach()) * len(labels)
        self._correct += int(((d > 0).float() == labels).sum())
        self._count += len(labels)
        self._last_lambda = lam

    def on_before_backward(self, state: Any) -> None:
        if self._domain_loss is None:
            return
        accum = state.config.grad_accum_steps
        extra = self.weight * self._domain_loss
        state.loss = state.loss + (extra / accum if accum > 1 else extra)
        self._domain_loss = None

    def on_eval_end(self, state: Any) -> None:
        row = state.history[-1] if state.history else {}
        self.trace.append([float(state.effective_step), float(row.get("domain_loss", math.nan)),
                           float(row.get("domain_accuracy", math.nan)), float(row.get("domain_lambda", math.nan))])

    # ----------------------------------------------------------------- metrics
    def _reset_running(self) -> None:
        self._loss_sum = 0.0
        self._correct = 0
        self._count = 0
        self._last_lambda = 0.0  # reported only with a step since the last row

    def row_metrics(self) -> dict[str, float]:
        """``domain_loss``, ``domain_accuracy``, ``domain_lambda`` since the last row (then reset);
        empty when no step ran since."""
        if not self._count:
            return {}
        out = {"domain_loss": self._loss_sum / self._count, "domain_accuracy": self._correct / self._count,
               "domain_lambda": self._last_lambda}
        self._reset_running()
        return out

    # ----------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {"discriminator": {k: v.detach().cpu().clone() for k, v in self.discriminator.state_dict().items()},
                "target_pass": self._pass, "target_position": self._pos,
                "running": [self._loss_sum, self._correct, self._count, self._last_lambda],
                "trace": [list(r) for r in self.trace]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for k, v in self.discriminator.state_dict().items():
                v.copy_(state["discriminator"][k])
        self._pass = int(state["target_pass"])
        self._pos = int(state["target_position"])
        self._order = self._permutation(self._pass)
        ls, c, n, lam = state["running"]
        self._loss_sum, self._correct, self._count, self._last_lambda = float(ls), int(c), int(n), float(lam)
        self.trace = [list(r) for r in state["trace"]]
