"""Exact mid-epoch resume with a curriculum sampler active (new process, bit-identical
parameters), and the curriculum variants on a real data set through the experiment runner."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import sys, torch
sys.path.insert(0, {root!r})
from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.techniques.curriculum import DifficultySampler, PacingSampler
from workbench.techniques import curriculum as cl
from workbench.train import Technique, Trainer

class StopAt(Technique):
    name = "stop_at"
    def __init__(self, k):
        super().__init__(); self.k = k
    def on_step_end(self, state):
        if self.k is not None and state.effective_step == self.k:
            state.request_stop("test stop")

kind, mode, k, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data, task = tiny_data(n=100)
config = TrainingConfig(epochs=10, max_steps=30, batch_size=8, optimizer="adam", lr=0.01, progress_bar=False,
                        eval_every_steps=3, eval_every_epochs=None, log_every_steps=1, seed=3)
model = tiny_model(seed=7, dropout=0.3)
scores = cl.difficulty_scores(data, weights=(0.5, 0.0, 0.5))
techniques = [StopAt(k if mode == "part" else None)]
if kind == "pacing":
    order = cl.curriculum_order(scores.for_dataset(data), "curriculum")
    sampler = PacingSampler(order, cl.make_pacing("fixed_exponential", start=0.2, increase_amount=2.0,
                                                  step_length=4), batch_size=8, seed=3)
else:
    sampler = DifficultySampler(scores.for_dataset(data), 0.0, 0.3, seed=3)
    techniques.append(cl.CurriculumScheduling(sampler, cl.CompetencePacing(target=0.5, initial=0.3,
                                                                          increase=0.2, patience=1)))
trainer = Trainer(model, config, data, data, task=task, techniques=techniques, sampler=sampler)
if mode == "resume":
    trainer.load_checkpoint(folder + "/ckpt.pt")
state = trainer.fit()
if mode == "part":
    trainer.save_checkpoint(folder + "/ckpt.pt")
hist = techniques[-1].history if kind == "scheduled" else []
torch.save({{"params": [p.detach().clone() for p in model.parameters()], "step": state.effective_step,
             "epoch": state.epoch, "hist": torch.tensor(hist, dtype=torch.float64).reshape(-1, 3),
             "range": torch.tensor(list(getattr(sampler, "range", (0.0, 1.0))))}}, folder + "/" + mode + ".pt")
"""


def _run(kind: str, mode: str, k: int, folder: Path) -> dict:
    script = folder / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT)))
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, str(script), kind, mode, str(k), str(folder)], check=True, env=env,
                   cwd=str(ROOT), timeout=300)
    return torch.load(folder / f"{mode}.pt", weights_only=True)


@pytest.mark.parametrize("kind,k", [("pacing", 6), ("scheduled", 7)])
def test_curriculum_resume_mid_epoch_is_bit_identical(tmp_path, kind, k):
    # pacing: 13 batches per epoch, stop at step 6 (mid-epoch, while the pacing grows);
    # scheduled: the range starts at 30 examples (4 batches), grows from evaluations every
    # 3 steps (mid-epoch: pending until the next epoch), stop at step 7 (mid-epoch)
    straight = _run(kind, "straight", 0, tmp_path)
    part = _run(kind, "part", k, tmp_path)
    assert part["step"] == k
    resumed = _run(kind, "resume", 0, tmp_path)
    assert straight["step"] == resumed["step"] == 30
    for a, b in zip(straight["params"], resumed["params"]):
        assert torch.equal(a, b)
    if kind == "scheduled":
        assert torch.equal(straight["hist"], resumed["hist"]) and torch.equal(straight["range"], resumed["range"])
        assert float(straight["range"][1]) > 0.3  # the curriculum did widen the range
        assert straight["epoch"] > 3  # several (short, then longer) epochs ran


def test_curriculum_variants_run_on_digits_through_the_experiment_runner():
    from workbench.experiment import Experiment
    from workbench.recipes import baseline_recipe, load_splits, model_factory
    from workbench.techniques.curriculum import curriculum_variants

    splits = load_splits("digits")
    recipe = baseline_recipe("digits", epochs=2, progress_bar=False)
    variants = curriculum_variants("fixed_exponential", ramp_fraction=0.5)
    exp = Experiment(splits, model_factory(recipe.model), recipe.config, variants, seeds=[0],
                     target=recipe.target, progress=False, evaluate_test=False)
    result = exp.run()
    s = result.summary.set_index("variant")
    assert list(s.index) == ["baseline", "curriculum", "anti-curriculum", "random-curriculum"]
    examples = {r.variant: r.examples_seen for r in exp.records}
    assert len(set(examples.values())) == 1  # every variant sees as many examples as the baseline
    for v in s.index:
        assert 0.3 < s.loc[v, "final_metric_mean"] <= 1.0 and not math.isnan(s.loc[v, "final_metric_mean"])
    # the runs differ: the order changed training
    finals = {r.variant: r.final_metric for r in exp.records}
    assert len(set(finals.values())) > 1
