"""The active-learning loop resumes exactly in a new process: rounds 0-1 in one process
(checkpoint written after round 2's acquisition), the rest in another, against the
whole loop in a third; labelled sets, acquisitions, learning curve and final parameters
must be identical (bit for bit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import sys, torch
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from tiny import TinyNet, tiny_data
from workbench.config import TrainingConfig
from workbench.data.datasets import DataSplits
from workbench.techniques.active import ActiveLearner, ActiveLearningConfig

strategy, retrain, mode, folder = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
data, task = tiny_data(n=150, seed=1)
splits = DataSplits("tiny", data.subset(range(100)), data.subset(range(100, 125)),
                    data.subset(range(125, 150)), task)
train = TrainingConfig(lr=1e-2, batch_size=16, max_steps=15, progress_bar=False, eval_every_epochs=None)
cfg = ActiveLearningConfig(strategy=strategy, retrain=retrain, initial_size=10, acquisition_size=7,
                           rounds=4, mc_samples=4)
learner = ActiveLearner(splits, lambda task: TinyNet(dropout=0.3), train, cfg)
if mode == "part":
    learner.checkpoint_path = folder + "/al.pt"
    learner.run(max_rounds=2)
    assert not learner.done
    sys.exit(0)
if mode == "resume":
    torch.manual_seed(12345)  # a different process state: nothing may depend on it
    learner.load_checkpoint(folder + "/al.pt")
learner.run()
assert learner.done
torch.save({{"labeled": torch.tensor(sorted(learner.labeled_ids)),
             "acquired": [torch.tensor(a["ids"]) for a in learner.record().acquired],
             "scores": [torch.tensor(a["scores"], dtype=torch.float64) for a in learner.record().acquired],
             "curve": torch.tensor([r["test_accuracy"] for r in learner.curve], dtype=torch.float64),
             "params": [p.detach().clone() for p in learner.model.parameters()]}},
           folder + "/" + mode + ".pt")
"""


def _run(tmp_path: Path, *args: str) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(script), *args, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("strategy, retrain", [("bald", "continue"), ("margin", "scratch")])
def test_resume_in_a_new_process_is_exact(tmp_path, strategy, retrain):
    _run(tmp_path, strategy, retrain, "straight")
    _run(tmp_path, strategy, retrain, "part")
    _run(tmp_path, strategy, retrain, "resume")
    a = torch.load(tmp_path / "straight.pt", weights_only=True)
    b = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert torch.equal(a["labeled"], b["labeled"])
    assert len(a["acquired"]) == len(b["acquired"]) >= 3
    assert all(torch.equal(x, y) for x, y in zip(a["acquired"], b["acquired"]))
    assert all(torch.equal(x, y) for x, y in zip(a["scores"], b["scores"]))
    assert torch.equal(a["curve"], b["curve"])
    assert all(torch.equal(p, q) for p, q in zip(a["params"], b["params"]))
