"""Loss weighting for multi-task learning, as pure functions on tensors.

The multi-task loss is ``sum_i w_i L_i`` over the tasks ``i`` (``L_i``: the mean loss of
task ``i``'s examples). The weightings, with LibMTL's defaults:

- equal: ``w_i = 1`` (LibMTL's ``EW``). Kurin et al. (2022, "In Defense of the Unitary
  Scalarization for Deep Multi-Task Learning") and Xin et al. (2022, "Do Current
  Multi-Task Optimization Methods in Deep Learning Even Help?") find that this plain sum,
  with standard regularisation, often matches the specialised weightings.
- uncertainty (Kendall, Gal & Cipolla 2018, "Multi-Task Learning Using Uncertainty to
  Weigh Losses"): ``sum_i exp(-s_i) L_i + s_i`` with learnable log-variances ``s_i``
  (:func:`uncertainty_loss`).
- GradNorm (Chen et al. 2018, "GradNorm: Gradient Normalization for Adaptive Loss
  Balancing"): weights moved so that each task's gradient norm on the last shared layer,
  ``G_i = w_i ||grad_W L_i||``, approaches ``mean_j(G_j) * r_i^alpha`` with
  ``r_i = (L_i / L_i(0)) / mean_j(L_j / L_j(0))``; ``alpha = 1.5``; after each update the
  weights are renormalised to sum to the number of tasks (:func:`gradnorm_step`).
- dynamic weight average (DWA; Liu, Johns & Davison 2019, "End-to-End Multi-Task Learning
  with Attention"): ``w_i(t) = K exp(r_i(t-1) / T) / sum_j exp(r_j(t-1) / T)`` with
  ``r_i(t-1) = L_i(t-1) / L_i(t-2)`` (epoch-mean losses), temperature ``T = 2`` and equal
  weights in the first two epochs (:func:`dwa_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: the weighting names of this family
WEIGHTINGS = ("equal", "uncertainty", "gradnorm", "dwa")


def task_losses(per_example_loss: torch.Tensor, tasks: torch.Tensor, num_tasks: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-task mean losses of a batch.

    Args:
        per_example_loss: float ``[B]``.
        tasks: long ``[B]``, task indices in ``[0, num_tasks)``.
        num_tasks: ``K >= 1``.

    Returns:
        ``(means, counts)``: float ``[K]`` (0 for a task absent from the batch; keeps the
        autograd graph) and long ``[K]``.

    Raises:
        ValueError: ``num_tasks < 1`` or shapes that differ.
    """
    if num_tasks < 1:
        raise ValueError(f"num_tasks must be >= 1; got {num_tasks}")
    if per_example_loss.shape != tasks.shape:
        raise ValueError(f"per_example_loss {tuple(per_example_loss.shape)} and tasks {tuple(tasks.shape)} "
                         "must have the same shape [B]")
    counts = torch.bincount(tasks, minlength=num_tasks)
    sums = per_example_loss.new_zeros(num_tasks).index_add(0, tasks, per_example_loss)
    return sums / counts.clamp(min=1).to(sums.dtype), counts


def example_weights(tasks: torch.Tensor, task_weights: torch.Tensor) -> torch.Tensor:
    """Per-example weights ``[B]`` such that ``sum_b pel_b * weight_b / B`` equals
    ``sum_i w_i L_i`` over the tasks present in the batch (``L_i`` the task's mean loss):
    ``weight_b = w_{task(b)} * B / n_{task(b)}``. For a batch of one task, ``w_task``.
    Differentiable in ``task_weights``.

    Args:
        tasks: long ``[B]``; task_weights: float ``[K]``.
    """
    counts = torch.bincount(tasks, minlength=task_weights.shape[0]).to(task_weights.dtype)
    return task_weights[tasks] * (tasks.shape[0] / counts[tasks])


def equal_weights(num_tasks: int) -> torch.Tensor:
    """``w_i = 1`` for every task: float ``[K]`` (LibMTL's ``EW``).

    Raises:
        ValueError: ``num_tasks < 1``.
    """
    if num_tasks < 1:
        raise ValueError(f"num_tasks must be >= 1; got {num_tasks}")
    return torch.ones(num_tasks)


def uncertainty_loss(losses: torch.Tensor, log_vars: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
    """Kendall et al. (2018): ``sum_i exp(-s_i) L_i + s_i`` (``s_i = log sigma_i^2``).

    Args:
        losses: float ``[K]``, task losses ``L_i``.
        log_vars: float ``[K]``, the learnable ``s_i``.
        present: optional bool ``[K]``: only these tasks contribute (a batch without task
            ``i`` adds neither its loss nor its ``s_i``).

    Returns:
        a scalar tensor (differentiable in ``losses`` and ``log_vars``).
    """
    terms = torch.exp(-log_vars) * losses + log_vars
    if present is not None:
        terms = terms * present.to(terms.dtype)
    return terms.sum()


def uncertainty_weights(log_vars: torch.Tensor) -> torch.Tensor:
    """The effective task weights ``exp(-s_i)`` of uncertainty weighting: float ``[K]``."""
    return torch.exp(-log_vars)


def gradnorm_step(weights: torch.Tensor, grad_norms: torch.Tensor, losses: torch.Tensor,
                  initial_losses: torch.Tensor, alpha: float = 1.5, lr: float = 0.025
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One GradNorm update of the task weights (Chen et al. 2018, Algorithm 1).

    With ``G_i = w_i g_i`` (``g_i = ||grad_W L_i||``, the unweighted loss's gradient norm
    on the last shared layer ``W``), ``Gbar = mean_i G_i``, ``Lt_i = L_i / L_i(0)`` and
    ``r_i = Lt_i / mean_j Lt_j``, the gradient loss is
    ``L_grad = sum_i |G_i - Gbar r_i^alpha|`` with the target ``Gbar r_i^alpha`` held
    constant (as in the paper and LibMTL). Its gradient is
    ``dL_grad/dw_i = sign(G_i - target_i) g_i``; the weights take one gradient step of
    size ``lr``, are clamped to stay positive, and are renormalised to sum to ``K``.

    Args:
        weights: float ``[K]``, current ``w_i`` (> 0).
        grad_norms: float ``[K]``, ``g_i`` (>= 0).
        losses: float ``[K]``, current ``L_i``.
        initial_losses: float ``[K]``, ``L_i(0)`` (> 0).
        alpha: the restoring-force strength, >= 0 (1.5, as in the paper's experiments and
            LibMTL; 0 pulls every task's gradient norm to the mean).
        lr: step size for the weights (> 0).

    Returns:
        ``(new_weights [K] summing to K, L_grad scalar)``.

    Raises:
        ValueError: ``alpha < 0`` or ``lr <= 0``.
    """
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0; got {alpha}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    k = weights.shape[0]
    g = weights * grad_norms
    gbar = g.mean()
    ratio = losses / initial_losses
    r = ratio / ratio.mean()
    target = gbar * r.pow(alpha)
    l_grad = (g - target).abs().sum()
    grad = torch.sign(g - target) * grad_norms
    new = (weights - lr * grad).clamp(min=1e-6)
    return new * (k / new.sum()), l_grad


def dwa_weights(loss_history: Sequence[Sequence[float]] | torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    """Dynamic weight average (Liu et al. 2019) from per-epoch mean task losses.

    Args:
        loss_history: ``[E, K]``: row ``e`` holds the mean loss of every task in epoch ``e``
            (epochs completed so far, oldest first).
        temperature: ``T > 0`` (2 in the paper and LibMTL).

    Returns:
        float ``[K]`` summing to ``K``: equal weights while fewer than two epochs are
        complete, else ``K softmax(r / T)`` with ``r_i = L_i(E-1) / L_i(E-2)``.

    Raises:
        ValueError: ``temperature <= 0``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    h = torch.as_tensor(loss_history, dtype=torch.float64)
    if h.dim() != 2:
        raise ValueError(f"loss_history must be [epochs, tasks]; got shape {tuple(h.shape)}")
    k = h.shape[1]
    if h.shape[0] < 2:
        return torch.ones(k, dtype=torch.float32)
    r = h[-1] / h[-2]
    return (k * torch.softmax(r / temperature, dim=0)).float()

