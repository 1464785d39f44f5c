"""Gradient reversal and Ganin's schedules (pure functions and one autograd function).

Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand & Lempitsky (2016),
"Domain-Adversarial Training of Neural Networks", JMLR 17(59):

- the gradient reversal layer ``R_lambda``: ``R(x) = x`` in the forward pass,
  ``dR/dx = -lambda I`` in the backward pass (their eq. 15-16);
- the adaptation factor ``lambda_p = 2 / (1 + exp(-gamma p)) - 1`` with ``gamma = 10``
  and ``p`` the training progress in ``[0, 1]`` (section 5.2.2);
- the learning-rate annealing ``mu_p = mu_0 / (1 + alpha p) ** beta`` with
  ``alpha = 10``, ``beta = 0.75`` (section 5.2.2).

No training loop here; :mod:`~workbench.techniques.domain.technique` uses these.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def _check_lambda(value: Any, name: str = "lambda_") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def _check_progress(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p (training progress) must be a number in [0, 1]; got {p!r}")
    return float(p)


class GradientReversalFunction(torch.autograd.Function):
    """``y = x`` forward; ``dL/dx = -lambda * dL/dy`` backward (Ganin et al. 2016, eq. 15-16).

    Call as ``GradientReversalFunction.apply(x, lambda_)`` with ``x`` any float tensor and
    ``lambda_`` a Python float; the output has ``x``'s shape and dtype (a view-free copy of
    ``x``: ``x.view_as(x)``). No gradient flows to ``lambda_``.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lambda_: float) -> torch.Tensor:
        ctx.lambda_ = float(lambda_)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_output.neg() * ctx.lambda_, None


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    """Gradient reversal of ``x`` with factor ``lambda_`` (see :class:`GradientReversalFunction`).

    Raises:
        ValueError: ``lambda_`` not a finite number.
    """
    return GradientReversalFunction.apply(x, _check_lambda(lambda_))


class GradientReversal(nn.Module):
    """The gradient reversal layer as a module: identity forward, gradient times ``-lambda_``.

    Args:
        lambda_: the reversal factor (finite; 0 blocks the gradient, 1 negates it). The
            attribute ``lambda_`` may be changed between steps (a schedule does so).

    Raises:
        ValueError: ``lambda_`` not a finite number.
    """

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        self.lambda_ = _check_lambda(lambda_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float ``[...]`` -> the same tensor values, reversed gradient."""
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:
        return f"lambda_={self.lambda_}"


def ganin_lambda(p: float, gamma: float = 10.0) -> float:
    """Ganin et al.'s adaptation factor ``2 / (1 + exp(-gamma p)) - 1``: 0 at ``p = 0``,
    rising to ``tanh(gamma / 2)`` (0.99991 for ``gamma = 10``) at ``p = 1``.

    Args:
        p: training progress in ``[0, 1]`` (optimizer steps done / steps in the run).
        gamma: steepness (> 0; 10 in the paper).

    Raises:
        ValueError: ``p`` outside ``[0, 1]`` or ``gamma`` not > 0.
    """
    p = _check_progress(p)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0 or math.isinf(gamma):
        raise ValueError(f"gamma must be a finite number > 0; got {gamma!r}")
    return 2.0 / (1.0 + math.exp(-float(gamma) * p)) - 1.0


def ganin_lr(p: float, mu0: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """Ganin et al.'s learning-rate annealing ``mu0 / (1 + alpha p) ** beta``.

    Args:
        p: training progress in ``[0, 1]``.
        mu0: initial learning rate (> 0; 0.01 in the paper).
        alpha, beta: decay constants (>= 0; 10 and 0.75 in the paper).

    Raises:
        ValueError: ``p`` outside ``[0, 1]``, ``mu0`` not > 0, ``alpha`` or ``beta`` < 0.
    """
    p = _check_progress(p)
    for name, v, lo in (("mu0", mu0, None), ("alpha", alpha, 0.0), ("beta", beta, 0.0)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number; got {v!r}")
        if lo is None and not v > 0:
            raise ValueError(f"{name} must be > 0; got {v!r}")
        if lo is not None and v < lo:
            raise ValueError(f"{name} must be >= 0; got {v!r}")
    return float(mu0) / (1.0 + float(alpha) * p) ** float(beta)
