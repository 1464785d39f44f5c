"""DomainAdversarial on the loop: target labels never read, discriminator trained by the
Trainer's optimizer, lambda schedule, row metrics, resumable target iterator."""

from __future__ import annotations

import math

import pytest
import torch

from tests.techniques.settings import domain_model, domain_splits
from workbench.config import TrainingConfig
from workbench.techniques.domain import DomainAdversarial
from workbench.train import Trainer


class _NoLabelItem(dict):
    def __getitem__(self, key):
        if key == "target":
            raise AssertionError("a target label was read")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key == "target":
            raise AssertionError("a target label was read")
        return super().get(key, default)

    def values(self):
        raise AssertionError("values() would read the target label")

    def items(self):
        raise AssertionError("items() would read the target label")


class _Unlabelled(torch.utils.data.Dataset):
    """Target data whose labels are -1 and may not be read (items raise on "target")."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        it = self.data[i]
        return _NoLabelItem({"id": it["id"], "input": it["input"], "target": -1, "domain": 1})

    @property
    def targets(self):
        raise AssertionError("the target data's labels were read")


def _cfg(**kw):
    base = dict(epochs=2, batch_size=16, optimizer="adam", lr=1e-2, progress_bar=False, eval_every_epochs=1,
                log_every_steps=2, seed=0)
    base.update(kw)
    return TrainingConfig(**base)


def _run(splits, tech=None, **cfg):
    torch.manual_seed(0)
    model = domain_model(splits)
    t = Trainer(model, _cfg(**cfg), splits.train, splits.val, task=splits.task,
                techniques=[tech] if tech is not None else [])
    t.fit()
    return model, t


def test_target_labels_are_never_read_and_rows_carry_domain_metrics():
    splits = domain_splits()
    tech = DomainAdversarial(_Unlabelled(splits.dataset("train", ("target",))), 128, splits.task.collator(),
                             num_examples=len(splits.train))
    d0 = [p.detach().clone() for p in tech.discriminator.parameters()]
    model, trainer = _run(splits, tech)
    rows = trainer.state.history
    assert rows and all("domain_loss" in r and "domain_accuracy" in r for r in rows)
    for r in rows:
        assert math.isfinite(r["domain_loss"]) and 0.0 <= r["domain_accuracy"] <= 1.0
    # the discriminator is in the Trainer's optimizer and was stepped
    opt_params = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in opt_params for p in tech.discriminator.parameters())
    assert any(not torch.equal(a, b.detach()) for a, b in zip(d0, tech.discriminator.parameters()))
    # Ganin's lambda rises over the run (p = step / 16 steps)
    lams = [r["domain_lambda"] for r in rows]
    assert lams == sorted(lams) and 0.0 < lams[0] < lams[-1] < 1.0
    assert len(tech.trace) == 2  # one per evaluation


def test_lambda_zero_leaves_the_classifier_training_unchanged():
    # lambda = 0: the reversal passes no gradient into the encoder, so the model trains as
    # without the technique (the discriminator has no dropout: no global RNG is consumed)
    splits = domain_splits()
    plain, _ = _run(splits)
    zero, _ = _run(splits, DomainAdversarial(splits.dataset("train", ("target",)), 128, splits.task.collator(), lambda_=0.0,
                                             dropout=0.0))
    for (n, a), b in zip(plain.named_parameters(), zero.parameters()):
        assert torch.equal(a, b), n
    one, _ = _run(splits, DomainAdversarial(splits.dataset("train", ("target",)), 128, splits.task.collator(), lambda_=1.0,
                                            dropout=0.0))
    assert not torch.equal(plain.embedding.weight, one.embedding.weight)


def test_target_iterator_covers_each_example_once_per_pass_and_resumes():
    splits = domain_splits()
    n = len(splits.target.train)
    a = DomainAdversarial(splits.dataset("train", ("target",)), 128, splits.task.collator(), seed=4)
    first = a.next_target_positions(n)
    assert sorted(first) == list(range(n))
    a.next_target_positions(7)
    b = DomainAdversarial(splits.dataset("train", ("target",)), 128, splits.task.collator(), seed=4)
    b.load_state_dict(a.state_dict())
    assert a.next_target_positions(2 * n) == b.next_target_positions(2 * n)
    batch = a.target_batch(5)
    assert "targets" not in batch and batch["inputs"].shape[0] == 5 and batch["domain"].tolist() == [1] * 5


@pytest.mark.parametrize("arg, bad", [("lambda_", "linear"), ("lambda_", float("inf")), ("num_examples", 0),
                                      ("collate_fn", None)])
def test_invalid_arguments(arg, bad):
    splits = domain_splits()
    with pytest.raises(ValueError, match=arg):
        DomainAdversarial.default(splits, **{arg: bad})
