import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.train import CheckpointError, Technique, Trainer
from workbench.train import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh process: "straight" trains N steps; "part" trains k steps and saves;
# "resume" loads that checkpoint in a new process and trains to N. Parameters are saved.
SCRIPT = r"""
import sys, torch
sys.path.insert(0, {root!r})
from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.train import Technique, Trainer

class StopAt(Technique):
    name = "stop_at"
    def __init__(self, k):
        super().__init__(); self.k = k; self.seen = 0
    def on_step_end(self, state):
        self.seen += 1
        if self.k is not None and state.effective_step == self.k:
            state.request_stop("test stop")
    def state_dict(self): return {{"seen": self.seen}}
    def load_state_dict(self, d): self.seen = d["seen"]

mode, k, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data, task = tiny_data(n=100)
config = TrainingConfig(epochs=4, max_steps=22, batch_size=8, grad_accum_steps=2, optimizer="adam",
                        lr=0.01, schedule="one_cycle", progress_bar=False, eval_every_epochs=1,
                        log_every_steps=1, seed=3)
model = tiny_model(seed=7, dropout=0.3)
stop = StopAt(k if mode == "part" else None)
trainer = Trainer(model, config, data, data, task=task, techniques=[stop])
if mode == "resume":
    trainer.load_checkpoint(folder + "/ckpt.pt")
state = trainer.fit()
if mode == "part":
    trainer.save_checkpoint(folder + "/ckpt.pt")
torch.save({{"params": [p.detach().clone() for p in model.parameters()],
             "step": state.effective_step, "seen": stop.seen,
             "rows": [r["val_loss"] for r in state.history]}}, folder + "/" + mode + ".pt")
"""


def _run(mode: str, k: int, folder: Path) -> dict:
    script = folder / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT)))
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, str(script), mode, str(k), str(folder)], check=True, env=env,
                   cwd=str(ROOT), timeout=300)
    return torch.load(folder / f"{mode}.pt", weights_only=True)


@pytest.mark.parametrize("k", [5, 7])  # 13 batches per epoch, 7 optimizer steps: 5 is mid-epoch
def test_resume_in_new_process_is_bit_identical(tmp_path, k):
    straight = _run("straight", 0, tmp_path)
    _run("part", k, tmp_path)
    resumed = _run("resume", 0, tmp_path)
    assert straight["step"] == resumed["step"] == 22
    assert resumed["seen"] == 22  # technique state travelled in the checkpoint
    for a, b in zip(straight["params"], resumed["params"]):
        assert torch.equal(a, b)
    # the validation losses logged after the resume point agree too (NaN where not evaluated)
    a, b = torch.tensor(straight["rows"][-3:]), torch.tensor(resumed["rows"][-3:])
    assert torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


def test_checkpoint_holds_everything(tmp_path):
    data, task = tiny_data(n=32)
    t = Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False, schedule="cosine"),
                data, task=task)
    t.fit()
    path = t.save_checkpoint(tmp_path / "c.pt")
    d = torch.load(path, weights_only=True)
    for key in ("model", "optimizer", "scheduler", "sampler", "techniques", "rng", "state", "metrics", "config"):
        assert key in d
    assert set(d["rng"]) >= {"python", "numpy", "torch"}
    assert d["state"]["effective_step"] == 4 and d["sampler"]["epoch"] == 0


def test_pickled_object_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    torch.save({"format": ckpt.FORMAT, "version": 1, "model": Evil()}, path, pickle_protocol=2)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        ckpt.load_checkpoint_file(path)
    assert not (tmp_path / "pwned").exists()


def test_not_a_checkpoint_and_corrupt_files(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"weights": torch.ones(2)}, p)
    with pytest.raises(CheckpointError, match="not a workbench checkpoint"):
        ckpt.load_checkpoint_file(p)
    p.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match="truncated or corrupt|pickled"):
        ckpt.load_checkpoint_file(p)
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        ckpt.load_checkpoint_file(tmp_path / "missing.pt")


def test_failed_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    data, task = tiny_data(n=32)
    t = Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False), data, task=task)
    t.fit()
    path = t.save_checkpoint(tmp_path / "c.pt")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    real_save = torch.save

    def crash(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt("power cut during save")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        t.save_checkpoint(tmp_path / "c.pt")
    monkeypatch.setattr(torch, "save", real_save)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind
    t2 = Trainer(tiny_model(seed=5), TrainingConfig(epochs=1, batch_size=8, progress_bar=False), data, task=task)
    t2.load_checkpoint(path)
    for a, b in zip(t.model.parameters(), t2.model.parameters()):
        assert torch.equal(a, b)


def test_periodic_checkpoints_are_pruned(tmp_path):
    data, task = tiny_data(n=64)
    Trainer(tiny_model(), TrainingConfig(epochs=2, batch_size=8, progress_bar=False, checkpoint_dir=str(tmp_path),
                                         checkpoint_every_steps=3, keep_checkpoints=2), data, task=task).fit()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-00000012.pt", "step-00000015.pt"]


def test_technique_mismatch_is_reported(tmp_path):
    data, task = tiny_data(n=16)
    t = Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False), data, task=task)
    t.fit()
    t.save_checkpoint(tmp_path / "c.pt")

    class Extra(Technique):
        pass

    t2 = Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False), data, task=task,
                 techniques=[Extra()])
    with pytest.raises(CheckpointError, match="techniques"):
        t2.load_checkpoint(tmp_path / "c.pt")


def test_rng_state_roundtrip_through_weights_only_load():
    import io
    import random

    import numpy as np

    buf = io.BytesIO()
    torch.save(ckpt.capture_rng_state(), buf)
    first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    buf.seek(0)
    ckpt.restore_rng_state(torch.load(buf, weights_only=True))
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == first
