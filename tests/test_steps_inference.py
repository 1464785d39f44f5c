"""The one place for step arithmetic (workbench.data.steps) and the one inference loop
(workbench.train.inference)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.data.collate import TabularCollator
from workbench.data.steps import (
    batches_per_epoch,
    epochs_for_steps,
    micro_batches_per_run,
    optimizer_steps_per_epoch,
    optimizer_steps_per_run,
)
from workbench.train import Trainer
from workbench.train.inference import inference_batches


def test_batches_and_steps_match_the_dataloader_and_the_trainer():
    data, task = tiny_data(n=100)
    for bs in (1, 7, 8, 100, 128):
        for drop_last in (False, True):
            loader = torch.utils.data.DataLoader(range(100), batch_size=bs, drop_last=drop_last)
            assert batches_per_epoch(100, bs, drop_last) == len(loader)
    assert optimizer_steps_per_epoch(13, 2) == 7 and optimizer_steps_per_epoch(12, 3) == 4
    cfg = TrainingConfig(epochs=3, batch_size=8, grad_accum_steps=2, progress_bar=False)
    trainer = Trainer(tiny_model(), cfg, data, task=task)
    assert optimizer_steps_per_run(cfg, 100) == trainer.total_steps == 21
    assert trainer.fit().effective_step == 21
    capped = cfg.replace(max_steps=10)
    assert optimizer_steps_per_run(capped, 100) == 10
    assert micro_batches_per_run(cfg, 100) == 39 and micro_batches_per_run(capped, 100) == 20
    assert epochs_for_steps(cfg, 100, 15) == 3 and epochs_for_steps(cfg, 100, 1) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_step_arithmetic_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="batch_size"):
        batches_per_epoch(10, bad)
    with pytest.raises(ValueError, match="grad_accum_steps"):
        optimizer_steps_per_epoch(10, bad)


def test_inference_batches_in_order_without_grad_and_restores_modes():
    data, task = tiny_data(n=50)
    model = tiny_model(dropout=0.5)
    model.train()
    model.net[2].eval()  # a submodule a technique keeps in eval mode
    rng_before = torch.get_rng_state()
    seen = []
    for batch, out in inference_batches(model, data, TabularCollator(), batch_size=16):
        assert not model.training and not out.requires_grad
        seen.append(batch["ids"])
    assert torch.equal(torch.cat(seen), data.ids)
    assert model.training and not model.net[2].training  # each submodule's own mode back
    assert torch.equal(torch.get_rng_state(), rng_before)  # scoring never consumes the RNG
    # stopping early restores the modes too
    gen = inference_batches(model, data, TabularCollator(), batch_size=16)
    next(gen)
    gen.close()
    assert model.training and not model.net[2].training
    # deterministic: dropout is off
    a = torch.cat([o for _, o in inference_batches(model, data, TabularCollator(), 16)])
    b = torch.cat([o for _, o in inference_batches(model, data, TabularCollator(), 50)])
    torch.testing.assert_close(a, b)


def test_inference_batches_needs_a_collator_for_a_dataset():
    data, _ = tiny_data(n=10)
    with pytest.raises(ValueError, match="collate_fn"):
        next(inference_batches(nn.Linear(6, 3), data))
