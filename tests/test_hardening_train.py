"""Hardening of the training loop and checkpoints (issue 12, items 1-4 and 11): non-finite
gradients and weights, resume inside an accumulation window, stale temporary files, file
system errors while writing, and the metric row seen during eval_end / epoch_end."""

import errno
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.train import (
    CheckpointError,
    CheckpointWriteError,
    Event,
    NonFiniteGradientError,
    NonFiniteLossError,
    NonFiniteWeightsError,
    Technique,
    Trainer,
)
from workbench.train import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]


def cfg(**kw):
    base = dict(epochs=2, batch_size=8, lr=0.05, optimizer="adam", progress_bar=False,
                eval_every_epochs=None, log_every_steps=1, seed=1)
    base.update(kw)
    return TrainingConfig(**base)


def finite(model_or_sd) -> bool:
    sd = model_or_sd.state_dict() if isinstance(model_or_sd, torch.nn.Module) else model_or_sd
    return all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())


class InfGrad(Technique):
    """Sets one gradient entry to +inf in the window of optimizer step ``at`` (the loss stays finite)."""

    name = "inf_grad"

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_after_backward(self, state) -> None:
        if state.effective_step + 1 == self.at:
            state.model.net[0].weight.grad[0, 0] = math.inf


# ---------------------------------------------------------------- item 1: non-finite values
@pytest.mark.parametrize("max_grad_norm", [None, 1.0])
def test_nonfinite_gradient_raises_before_the_step_and_no_bad_checkpoint(tmp_path, max_grad_norm):
    data, task = tiny_data(n=40)
    t = Trainer(tiny_model(), cfg(epochs=5, max_grad_norm=max_grad_norm, checkpoint_dir=str(tmp_path),
                                  checkpoint_every_steps=1, keep_checkpoints=20),
                data, task=task, techniques=[InfGrad(at=4)])
    with pytest.raises(NonFiniteGradientError) as err:
        t.fit()
    assert isinstance(err.value, NonFiniteLossError)  # one except clause catches every kind
    msg = str(err.value)
    assert "non-finite gradient at effective step 4" in msg and "'net.0.weight'" in msg
    assert f"last checkpoint with finite weights: {tmp_path / 'step-00000003.pt'}" in msg
    assert finite(t.model)  # optimizer.step() never saw the inf
    files = ckpt.list_checkpoints(tmp_path)
    assert files[-1].name == "step-00000003.pt"
    assert all(finite(ckpt.load_checkpoint_file(p)["model"]) for p in files)


def test_nonfinite_gradient_stop_names_the_last_finite_checkpoint(tmp_path):
    data, task = tiny_data(n=40)
    t = Trainer(tiny_model(), cfg(epochs=5, on_nonfinite="stop", checkpoint_dir=str(tmp_path),
                                  checkpoint_every_steps=2, keep_checkpoints=20),
                data, task=task, techniques=[InfGrad(at=5)])
    s = t.fit()
    assert s.stop and "non-finite gradient at effective step 5" in s.stop_reason
    assert f"last checkpoint with finite weights: {tmp_path / 'step-00000004.pt'}" in s.stop_reason
    assert finite(t.model) and [p.name for p in ckpt.list_checkpoints(tmp_path)][-1] == "step-00000004.pt"
    t2 = Trainer(tiny_model(seed=3), cfg(epochs=5), data, task=task, techniques=[InfGrad(at=-1)])
    t2.load_checkpoint(tmp_path)
    assert t2.state.effective_step == 4 and finite(t2.model)


@pytest.mark.parametrize("max_grad_norm", [None, 1.0])
def test_skip_drops_the_step_counts_it_and_trains_on(tmp_path, max_grad_norm):
    data, task = tiny_data(n=40)
    t = Trainer(tiny_model(), cfg(epochs=3, on_nonfinite="skip", max_grad_norm=max_grad_norm,
                                  checkpoint_dir=str(tmp_path), checkpoint_every_steps=1, keep_checkpoints=50),
                data, task=task, techniques=[InfGrad(at=4)])
    s = t.fit()
    assert s.effective_step == 15 and not s.stop_reason.startswith("non-finite")  # the whole budget ran
    assert s.counters["steps_skipped_nonfinite"] == 1
    assert finite(t.model)
    # Adam took 14 steps: the skipped one changed neither the weights nor the moments
    assert all(int(st["step"]) == 14 for st in t.optimizer.state.values())
    assert all(finite(ckpt.load_checkpoint_file(p)["model"]) for p in ckpt.list_checkpoints(tmp_path))
    assert all(math.isfinite(r["train_loss"]) for r in s.history)


def test_skip_on_a_nonfinite_loss_drops_its_whole_accumulation_window():
    data, task = tiny_data(n=48)

    class NaNInput(Technique):
        name = "nan_input"

        def on_batch_start(self, state):
            if state.step == 5:  # the second micro-batch of optimizer step 3's window
                state.batch = dict(state.batch, inputs=state.batch["inputs"] * math.nan)

    t = Trainer(tiny_model(), cfg(epochs=1, grad_accum_steps=2, on_nonfinite="skip"), data, task=task,
                techniques=[NaNInput()])
    s = t.fit()
    assert s.effective_step == 3 and s.counters["steps_skipped_nonfinite"] == 1
    assert all(int(st["step"]) == 2 for st in t.optimizer.state.values())
    assert finite(t.model) and all(math.isfinite(r["train_loss"]) for r in s.history)


@pytest.mark.parametrize("big", [False, True])
def test_gradient_finiteness_check_finds_every_nonfinite_value_and_leaves_gradients_alone(monkeypatch, big):
    """Both paths of the pre-step check (the fused kernel for small models, per-tensor sums
    above ``_FUSED_CHECK_MAX_NUMEL``): NaN, +inf or -inf anywhere is found; finite gradients,
    including -0.0 and values whose squares overflow float32, pass and stay bit-identical."""
    import workbench.train.trainer as trainer_mod

    if big:
        monkeypatch.setattr(trainer_mod, "_FUSED_CHECK_MAX_NUMEL", 0)
    data, task = tiny_data(n=16)
    t = Trainer(tiny_model(), cfg(), data, task=task)
    params = [p for g in t.optimizer.param_groups for p in g["params"]]
    torch.manual_seed(0)
    for p in params:
        p.grad = torch.randn_like(p)
    params[0].grad.view(-1)[0] = -0.0
    params[-1].grad.view(-1)[-1] = 1e30  # its square (a 2-norm's term) is inf in float32
    before = [p.grad.clone() for p in params]
    assert t._grads_finite()
    for p, b in zip(params, before):
        assert torch.equal(p.grad, b) and torch.equal(torch.signbit(p.grad), torch.signbit(b))
    for bad in (math.nan, math.inf, -math.inf):
        for k in (0, len(params) - 1):
            params[k].grad.view(-1)[1] = bad
            assert not t._grads_finite(), (bad, k)
            params[k].grad.copy_(before[k])
    assert t._grads_finite()
    params[1].grad = None  # parameters without a gradient are not checked
    assert t._grads_finite()


def test_skip_stops_when_the_weights_themselves_are_nonfinite():
    data, task = tiny_data(n=40)

    class Corrupt(Technique):
        name = "corrupt"

        def on_step_end(self, state):
            if state.effective_step == 2:
                with torch.no_grad():
                    state.model.net[0].weight[0, 0] = math.nan

    s = Trainer(tiny_model(), cfg(epochs=5, on_nonfinite="skip"), data, task=task, techniques=[Corrupt()]).fit()
    assert s.stop and "weights hold NaN/Inf in 'net.0.weight'" in s.stop_reason and s.effective_step == 2


def test_a_checkpoint_is_never_written_with_nonfinite_weights(tmp_path):
    data, task = tiny_data(n=40)

    class Corrupt(Technique):
        name = "corrupt"

        def on_step_end(self, state):
            if state.effective_step == 3:
                with torch.no_grad():
                    state.model.net[3].bias[1] = math.inf

    t = Trainer(tiny_model(), cfg(epochs=5, checkpoint_dir=str(tmp_path), checkpoint_every_steps=1,
                                  keep_checkpoints=20), data, task=task, techniques=[Corrupt()])
    with pytest.raises(NonFiniteWeightsError) as err:
        t.fit()
    assert "'net.3.bias'" in str(err.value)
    assert f"last checkpoint with finite weights: {tmp_path / 'step-00000002.pt'}" in str(err.value)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)][-1] == "step-00000002.pt"
    with pytest.raises(NonFiniteWeightsError, match="refusing to write checkpoint"):
        t.save_checkpoint(tmp_path / "explicit.pt")
    assert not (tmp_path / "explicit.pt").exists()


def test_resume_from_a_folder_skips_a_checkpoint_with_nonfinite_weights(tmp_path, caplog):
    data, task = tiny_data(n=40)
    t = Trainer(tiny_model(), cfg(epochs=1, checkpoint_dir=str(tmp_path), checkpoint_every_steps=2), data, task=task)
    t.fit()
    good = ckpt.latest_checkpoint(tmp_path)
    d = ckpt.load_checkpoint_file(good)
    d["model"]["net.0.weight"][0, 0] = math.nan  # a bad file, as an older version could write
    d["state"]["effective_step"] = 99
    torch.save(d, tmp_path / "step-00000099.pt")
    t2 = Trainer(tiny_model(seed=4), cfg(epochs=1), data, task=task)
    with caplog.at_level(logging.WARNING, logger="workbench"):
        t2.load_checkpoint(tmp_path)
    assert t2.last_checkpoint == good and t2.state.effective_step == 4 and finite(t2.model)
    assert "skipping checkpoint" in caplog.text and "step-00000099.pt" in caplog.text
    with pytest.raises(CheckpointError, match="NaN/Inf"):
        Trainer(tiny_model(), cfg(epochs=1), data, task=task).load_checkpoint(tmp_path / "step-00000099.pt")


# ---------------------------------------------------------------- item 2: resume inside a window
class StopAtMicroStep(Technique):
    name = "stop_at_micro_step"

    def __init__(self, k: int | None) -> None:
        super().__init__()
        self.k = k

    def on_batch_end(self, state):
        if state.step == self.k:
            state.request_stop("test stop")


def _window_cfg(**kw):
    # 13 micro-batches an epoch, accumulation 3: windows end at micro-batches 3, 6, 9, 12, 13
    return cfg(epochs=3, grad_accum_steps=3, lr=0.02, **kw)


def _straight(data, task):
    model = tiny_model(seed=7, dropout=0.3)
    s = Trainer(model, _window_cfg(), data, task=task, techniques=[StopAtMicroStep(None)]).fit()
    return model, s


def test_explicit_save_inside_an_accumulation_window_resumes_exactly(tmp_path):
    data, task = tiny_data(n=100)
    ref, ref_state = _straight(data, task)
    t = Trainer(tiny_model(seed=7, dropout=0.3), _window_cfg(), data, task=task, techniques=[StopAtMicroStep(20)])
    s = t.fit()
    assert s.step == 20 and s.batch_in_epoch % 3 != 0  # micro-step 20 is inside a window
    t.save_checkpoint(tmp_path / "mid.pt")
    model = tiny_model(seed=1, dropout=0.3)
    t2 = Trainer(model, _window_cfg(), data, task=task, techniques=[StopAtMicroStep(None)])
    t2.load_checkpoint(tmp_path / "mid.pt")
    s2 = t2.fit()
    assert s2.effective_step == ref_state.effective_step
    for a, b in zip(ref.parameters(), model.parameters()):
        assert torch.equal(a, b)
    # the training loss rows after the resume point agree too (the running sums travelled)
    assert [r["train_loss"] for r in s2.history] == [r["train_loss"] for r in ref_state.history]


def test_a_technique_saving_mid_window_and_periodic_saves_resume_exactly(tmp_path):
    data, task = tiny_data(n=100)
    ref, _ = _straight(data, task)

    class SaveAt(Technique):
        name = "save_at"

        def on_batch_end(self, state):
            if state.step == 20:
                trainer.save_checkpoint(tmp_path / "mid.pt")

    trainer = Trainer(tiny_model(seed=7, dropout=0.3), _window_cfg(checkpoint_dir=str(tmp_path / "periodic"),
                                                                   checkpoint_every_steps=2,
                                                                   keep_checkpoints=20),
                      data, task=task, techniques=[SaveAt()])
    trainer.fit()
    for source in (tmp_path / "mid.pt", tmp_path / "periodic" / "step-00000006.pt"):
        model = tiny_model(seed=1, dropout=0.3)
        t2 = Trainer(model, _window_cfg(), data, task=task, techniques=[SaveAt()])
        t2.load_checkpoint(source)
        trainer = t2  # SaveAt writes through the trainer in use; overwriting mid.pt is harmless
        t2.fit()
        for a, b in zip(ref.parameters(), model.parameters()):
            assert torch.equal(a, b), source


def test_save_inside_a_micro_batch_is_refused(tmp_path):
    data, task = tiny_data(n=32)

    class SaveEarly(Technique):
        name = "save_early"

        def on_after_backward(self, state):
            trainer.save_checkpoint(tmp_path / "x.pt")

    trainer = Trainer(tiny_model(), cfg(epochs=1), data, task=task, techniques=[SaveEarly()])
    with pytest.raises(RuntimeError, match="inside a micro-batch.*batch_end, step_end"):
        trainer.fit()
    assert not (tmp_path / "x.pt").exists()


# ---------------------------------------------------------------- item 3: stale temporary files
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_files_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    host = ckpt._host_tag()
    dead, live, me = _dead_pid(), os.getppid(), os.getpid()
    stale = [tmp_path / f".step-00000004.pt.{host}.{dead}.0123abcd.tmp",
             tmp_path / f".step-00000005.pt.{host}.{me}.89abcdef.tmp"]  # ours, not being written
    kept = [tmp_path / f".step-00000006.pt.{host}.{live}.00000000.tmp",  # a live writer's
            tmp_path / f".step-00000006.pt.otherhost.{dead}.00000000.tmp",  # another host's
            tmp_path / "notes.tmp"]
    for p in stale + kept:
        p.write_bytes(b"x" * 1000)
    ckpt.atomic_save({"format": ckpt.FORMAT, "version": 1}, tmp_path / "step-00000007.pt")
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    # the temporary name encodes host and pid
    m = ckpt._TMP_FILE.match(ckpt.temp_file_path(tmp_path / "a.pt").name)
    assert m and m.group("host") == host and int(m.group("pid")) == me


def test_pruning_leaves_only_the_kept_checkpoints_and_no_temporary_file(tmp_path):
    stray = tmp_path / f".step-00000003.pt.{ckpt._host_tag()}.{_dead_pid()}.deadbeef.tmp"
    stray.write_bytes(b"\0" * 50_000)  # a full-size leftover of a writer killed mid-save
    data, task = tiny_data(n=64)
    Trainer(tiny_model(), TrainingConfig(epochs=2, batch_size=8, progress_bar=False, checkpoint_dir=str(tmp_path),
                                         checkpoint_every_steps=3, keep_checkpoints=2), data, task=task).fit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000012.pt", "step-00000015.pt"]


KILL_SCRIPT = r"""
import os, signal, sys, torch
sys.path.insert(0, {root!r})
from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.train import Trainer
real_save = torch.save
def killed_mid_save(obj, f, *a, **k):
    f.write(b"\0" * 4096); f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = killed_mid_save
data, task = tiny_data(n=32)
Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False, checkpoint_dir={folder!r},
                                     checkpoint_every_steps=2), data, task=task).fit()
"""


def test_a_writer_killed_during_a_save_leaves_a_temporary_file_the_next_one_removes(tmp_path):
    folder = tmp_path / "ckpt"
    script = tmp_path / "killed.py"
    script.write_text(KILL_SCRIPT.format(root=str(ROOT), folder=str(folder)))
    proc = subprocess.run([sys.executable, str(script)], cwd=str(ROOT), timeout=300)
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in folder.iterdir()]
    assert len(left) == 1 and left[0].endswith(".tmp")
    data, task = tiny_data(n=32)
    Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False, checkpoint_dir=str(folder),
                                         checkpoint_every_steps=2), data, task=task).fit()
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000002.pt", "step-00000004.pt"]


# ---------------------------------------------------------------- item 4: disk full, read-only
def _trained(n=32):
    data, task = tiny_data(n=n)
    t = Trainer(tiny_model(), TrainingConfig(epochs=1, batch_size=8, progress_bar=False), data, task=task)
    t.fit()
    return t


def test_disk_full_gives_one_clear_error_naming_the_path(tmp_path, monkeypatch):
    t = _trained()
    good = t.save_checkpoint(tmp_path / "c.pt")
    before = good.read_bytes()

    def full_disk(obj, f, *a, **k):  # what torch.save raises when a write hits ENOSPC
        f.write(b"\0" * 100)
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")  # noqa: B904

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointWriteError) as err:
        t.save_checkpoint(tmp_path / "c.pt")
    e = err.value
    assert isinstance(e, OSError) and e.errno == errno.ENOSPC and e.filename == str(tmp_path / "c.pt")
    assert f"no space left on device while writing checkpoint {tmp_path / 'c.pt'}" in str(e)
    assert "unexpected pos" not in str(e)
    assert good.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_an_error_at_fsync_is_reported_the_same_way(tmp_path, monkeypatch):
    t = _trained()

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt.os, "fsync", fsync)
    with pytest.raises(CheckpointWriteError, match="no space left on device while writing checkpoint"):
        t.save_checkpoint(tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []


def _mount_tmpfs(where: Path, options: str) -> str | None:
    """Mount a tmpfs at ``where``; returns why it cannot, or None."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting a tmpfs needs root"
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    return None if r.returncode == 0 else f"mount -t tmpfs failed here: {r.stderr.strip()}"


def test_a_full_tmpfs_gives_the_clear_error(tmp_path):
    mnt = tmp_path / "small"
    why = _mount_tmpfs(mnt, "size=64k")
    if why:
        pytest.skip(f"{why}; the injected ENOSPC tests above cover the error path")
    try:
        data, task = tiny_data(n=32)
        t = Trainer(tiny_model(hidden=2000), TrainingConfig(epochs=1, batch_size=8, progress_bar=False,
                                                             checkpoint_dir=str(mnt), checkpoint_every_steps=4),
                    data, task=task)
        with pytest.raises(CheckpointWriteError) as err:
            t.fit()
        assert err.value.errno == errno.ENOSPC
        assert str(err.value).startswith(f"[Errno {errno.ENOSPC}] no space left on device while writing checkpoint "
                                         f"{mnt / 'step-00000004.pt'}")
        assert list(mnt.iterdir()) == []  # the partial temporary file was removed
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_read_only_folder_gives_the_clear_error(tmp_path):
    t = _trained()
    ro = tmp_path / "ro"
    if os.geteuid() == 0:  # root writes through chmod: use a read-only tmpfs
        why = _mount_tmpfs(ro, "size=64k,ro")
        if why:
            pytest.skip(f"as root chmod does not stop writes and {why}")
        cause = "read-only file system"
    else:
        ro.mkdir()
        ro.chmod(0o555)
        cause = "permission denied"
    try:
        with pytest.raises(CheckpointWriteError) as err:
            t.save_checkpoint(ro / "c.pt")
        assert f"{cause} while writing checkpoint {ro / 'c.pt'}" in str(err.value)
        assert "not writable" in str(err.value)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], check=False)
        else:
            ro.chmod(0o755)


# ---------------------------------------------------------------- item 11: history during events
def test_history_last_row_is_the_evaluation_row_during_eval_end_and_epoch_end():
    data, task = tiny_data(n=48)
    seen = []

    class Probe(Technique):
        name = "probe"

        def on_eval_end(self, state):
            seen.append(("eval_end", state.effective_step, dict(state.history[-1]), dict(state.metrics)))

        def on_epoch_end(self, state):
            seen.append(("epoch_end", state.effective_step, dict(state.history[-1]), dict(state.metrics)))

    # evaluations every 5 steps and at each epoch end (6 steps an epoch); training rows every 4
    t = Trainer(tiny_model(), cfg(epochs=2, eval_every_epochs=1, eval_every_steps=5, log_every_steps=4),
                data, data, task=task, techniques=[Probe()])
    s = t.fit()
    assert [(e, es) for e, es, _, _ in seen] == [("eval_end", 5), ("eval_end", 6), ("epoch_end", 6),
                                                  ("eval_end", 10), ("eval_end", 12), ("epoch_end", 12)]
    final = {r["effective_step"]: r for r in s.history}
    for _, es, row, metrics in seen:
        assert row["effective_step"] == es
        assert row["val_loss"] == metrics["val_loss"] and row["val_accuracy"] == metrics["val_accuracy"]
        assert math.isfinite(row["train_loss"])  # the training statistics are merged in
        assert row == final[es]  # and the row does not change afterwards
    assert len(s.history) == len(final)  # one row per effective step


def test_a_step_that_ends_an_epoch_is_evaluated_once():
    """eval_every_steps=5 with 10 steps per epoch: steps 10 and 20 also end an epoch; each
    step is evaluated once (patience and ReduceLROnPlateau count each evaluation)."""
    data, task = tiny_data(n=100)
    seen = []

    class CountEvals(Technique):
        events = frozenset({Event.EVAL_END})

        def on_eval_end(self, state):
            seen.append(state.effective_step)

    cfg = TrainingConfig(epochs=2, batch_size=10, eval_every_steps=5, eval_every_epochs=1,
                         progress_bar=False, schedule="plateau", seed=0)
    state = Trainer(tiny_model(), cfg, data, data, task=task, techniques=[CountEvals()]).fit()
    assert seen == [5, 10, 15, 20]
    evaluated = [r["effective_step"] for r in state.history if not math.isnan(r.get("val_loss", math.nan))]
    assert evaluated == [5, 10, 15, 20]


def test_gradient_check_follows_a_changing_set_of_parameters_with_gradients():
    """The check's path is decided once per set of parameters with gradients: a parameter
    group added later, parameters that lose or regain their gradient, and a set that grows
    past the fused kernel's size limit are all checked."""
    import workbench.train.trainer as trainer_mod

    data, task = tiny_data(n=16)
    t = Trainer(tiny_model(), cfg(), data, task=task)
    params = [p for g in t.optimizer.param_groups for p in g["params"]]
    for p in params:
        p.grad = torch.ones_like(p)
    assert t._grads_finite() and t._check_fused
    params[0].grad = None
    params[-1].grad.view(-1)[0] = math.nan
    assert not t._grads_finite()
    params[-1].grad.fill_(1.0)
    extra = torch.nn.Parameter(torch.zeros(3))
    t.optimizer.add_param_group({"params": [extra]})
    extra.grad = torch.tensor([0.0, math.inf, 0.0])
    assert not t._grads_finite()
    extra.grad = torch.zeros(3)
    params[0].grad = torch.ones_like(params[0])
    assert t._grads_finite()
    big = torch.nn.Parameter(torch.zeros(trainer_mod._FUSED_CHECK_MAX_NUMEL + 1))
    t.optimizer.add_param_group({"params": [big]})
    big.grad = torch.zeros_like(big)
    assert t._grads_finite() and not t._check_fused  # per-tensor sums now
    big.grad[-1] = -math.inf
    assert not t._grads_finite()
