"""Gradient reversal against autograd, and Ganin et al.'s schedules."""

import math

import pytest
import torch

from workbench.techniques.domain import GradientReversal, ganin_lambda, ganin_lr, grad_reverse


def _graph(x, w, reverse=None):
    h = torch.tanh(x @ w)
    if reverse is not None:
        h = reverse(h)
    return (h.sin() * torch.arange(1.0, 4.0)).sum()


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 2.5])
def test_reversal_is_identity_forward_and_negated_scaled_gradient(lam):
    torch.manual_seed(0)
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    plain = _graph(x, w)
    gx, gw = torch.autograd.grad(plain, (x, w))
    layer = GradientReversal(lam)
    rev = _graph(x, w, layer)
    assert rev.item() == plain.item()  # identity forward
    rx, rw = torch.autograd.grad(rev, (x, w))
    torch.testing.assert_close(rx, -lam * gx, rtol=1e-12, atol=0)
    torch.testing.assert_close(rw, -lam * gw, rtol=1e-12, atol=0)
    if lam == 0.0:
        assert not rx.any() and not rw.any()


def test_reversal_only_below_the_layer():
    # parameters above the layer get the ordinary gradient; those below the reversed one
    torch.manual_seed(1)
    x = torch.randn(6, 3)
    enc = torch.nn.Linear(3, 4)
    head = torch.nn.Linear(4, 1)
    head(grad_reverse(enc(x), 0.5)).sum().backward()
    g_rev = (enc.weight.grad.clone(), head.weight.grad.clone())
    enc.zero_grad()
    head.zero_grad()
    head(enc(x)).sum().backward()
    torch.testing.assert_close(g_rev[0], -0.5 * enc.weight.grad)
    torch.testing.assert_close(g_rev[1], head.weight.grad)


def test_gradcheck():
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    # d/dx of sum(R(x) * c) is -lambda * c
    c = torch.randn(3, 2, dtype=torch.float64)
    (grad_reverse(x, 0.7) * c).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * c)


def test_ganin_schedules():
    assert ganin_lambda(0.0) == 0.0
    assert ganin_lambda(1.0) == pytest.approx(math.tanh(5.0))
    assert ganin_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    vals = [ganin_lambda(p / 10) for p in range(11)]
    assert vals == sorted(vals)
    assert ganin_lr(0.0, 0.01) == 0.01
    assert ganin_lr(1.0, 0.01) == pytest.approx(0.01 / 11 ** 0.75)


@pytest.mark.parametrize("call, arg", [
    (lambda: GradientReversal(float("nan")), "lambda_"),
    (lambda: ganin_lambda(1.5), "p"),
    (lambda: ganin_lambda(0.5, gamma=0), "gamma"),
    (lambda: ganin_lr(0.5, 0.0), "mu0"),
    (lambda: ganin_lr(0.5, 0.01, beta=-1), "beta"),
])
def test_invalid_arguments(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
