"""Scale-out: the strategy setting, the sharded resumable sampler, DDP and ZeRO-1 through the
Trainer in two processes (gloo on 127.0.0.1, a free port, started by the fork launcher),
no_sync accumulation counted with a DDP communication hook, equivalence with one process,
ZeRO-1 state bytes and checkpoints, stops and non-finite losses on one rank, rank-0 files,
and the launcher itself. Every launch has a process-group timeout and an overall timeout,
and the launcher destroys the group, so a failure cannot hang the suite."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from tiny import tiny_data, tiny_model
from torch import nn
from torch.utils.data import DataLoader

from workbench.config import TrainingConfig
from workbench.data.samplers import (
    DistributedResumableSampler,
    ResumableRandomSampler,
    ShardedSampler,
)
from workbench.train import Event, Technique, Trainer
from workbench.train import checkpoint as ckpt
from workbench.train.distributed import (
    AllReduceStats,
    counting_allreduce_hook,
    optimizer_state_bytes,
)
from workbench.train.launch import ThroughputMonitor, launch, publish

LAUNCH = {"timeout_s": 120, "pg_timeout_s": 30, "threads": 1}


def _config(**kw) -> TrainingConfig:
    base = {"progress_bar": False, "eval_every_epochs": None, "epochs": 5}
    return TrainingConfig(**(base | kw))


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _rel(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    num = sum(float((a[k] - b[k]).double().norm() ** 2) for k in a) ** 0.5
    den = sum(float(b[k].double().norm() ** 2) for k in b) ** 0.5
    return num / den


# --------------------------------------------------------------------------- config
def test_strategy_is_validated_with_the_valid_choices():
    with pytest.raises(ValueError, match=r"strategy must be one of \['single', 'ddp', 'zero1'\]"):
        TrainingConfig(strategy="fsdp")
    cfg = TrainingConfig()
    with pytest.raises(ValueError, match="strategy"):
        cfg.strategy = "zero3"
    assert cfg.strategy == "single"
    with pytest.raises(ValueError, match="accumulate_no_sync"):
        TrainingConfig(accumulate_no_sync=1)


def test_ddp_without_a_process_group_says_how_to_launch(monkeypatch):
    for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(v, raising=False)
    data, task = tiny_data(n=40)
    with pytest.raises(RuntimeError, match="torchrun"):
        Trainer(tiny_model(), _config(strategy="ddp"), data, task=task)


# --------------------------------------------------------------------------- samplers
def test_distributed_sampler_shards_are_disjoint_and_cover_the_epoch():
    data, task = tiny_data(n=12)
    shards = [DistributedResumableSampler(data, num_replicas=3, rank=r, seed=5) for r in range(3)]
    single = ResumableRandomSampler(data, seed=5)
    orders = [list(s) for s in shards]
    assert [len(o) for o in orders] == [4, 4, 4] == [len(s) for s in shards]
    assert sorted(sum(orders, [])) == list(range(12))
    # interleaved: batch k of every rank together is batch k of one process with 3x the batch
    full = list(single)
    for k in range(2):
        together = sorted(p for o in orders for p in o[2 * k:2 * k + 2])
        assert together == sorted(full[6 * k:6 * k + 6])
    # set_epoch changes the order, the same epoch repeats it; the ids travel with the items
    for s in shards:
        s.set_epoch(1)
    assert [list(s) for s in shards] != orders
    ids = [int(i) for s in shards for b in DataLoader(data, batch_size=2, sampler=s, collate_fn=task.collator())
           for i in b["ids"]]
    assert sorted(ids) == sorted(data.ids.tolist()) and min(ids) >= 1000  # ids, not positions


def test_distributed_sampler_pads_to_equal_lengths_and_state_moves_between_world_sizes():
    data, _ = tiny_data(n=10)
    shards = [DistributedResumableSampler(data, num_replicas=4, rank=r, seed=1) for r in range(4)]
    orders = [list(s) for s in shards]
    assert [len(o) for o in orders] == [3, 3, 3, 3]
    flat = sum(orders, [])
    assert set(flat) == set(range(10)) and len(flat) - len(set(flat)) == 2  # two repeated to pad
    shards[0].set_epoch(3)
    one = ResumableRandomSampler(data, seed=0)
    one.load_state_dict(shards[0].state_dict())  # a 4-process state resumes in one process
    assert (one.seed, one.epoch) == (1, 3)
    back = DistributedResumableSampler(data, num_replicas=2, rank=1)
    back.load_state_dict(one.state_dict())
    assert back.epoch == 3 and list(back) == one.order().tolist()[1::2]
    with pytest.raises(ValueError, match="rank must be"):
        DistributedResumableSampler(data, num_replicas=2, rank=2)


def test_sharded_sampler_wraps_batch_samplers():
    batches = [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    parts = [list(ShardedSampler(batches, num_replicas=2, rank=r)) for r in range(2)]
    assert parts == [[[0, 1], [4, 5], [8]], [[2, 3], [6, 7], [0, 1]]]


# --------------------------------------------------------------------------- two processes
def _fit(strategy: str, batch_size: int, n: int = 500, model_kw: dict | None = None, **cfg):
    data, task = tiny_data(n=n)
    model = tiny_model(seed=0, **(model_kw or {}))
    trainer = Trainer(model, _config(strategy=strategy, batch_size=batch_size, **cfg), data, task=task)
    trainer.fit()
    return trainer


def _equivalence_worker(strategy: str):
    trainer = _fit(strategy, 25)
    return _params(trainer.model), trainer.state.effective_step, type(trainer.optimizer).__name__


def test_two_processes_x_25_equal_one_process_x_50_ddp_and_zero1():
    ref = _fit("single", 50)  # 500 examples, 10 steps per epoch, 5 epochs: 50 optimizer steps
    assert ref.state.effective_step == 50
    for strategy, opt in (("ddp", "Adam"), ("zero1", "ZeroRedundancyOptimizer")):
        (p0, steps, name), (p1, _, _) = launch(_equivalence_worker, 2, args=(strategy,), **LAUNCH)
        assert steps == 50 and name == opt
        assert all(torch.equal(p0[k], p1[k]) for k in p0)  # the ranks agree exactly
        assert _rel(p0, _params(ref.model)) < 1e-5, strategy


def _count_worker():
    out = {}
    for no_sync in (True, False):
        data, task = tiny_data(n=200)  # 10 micro-batches of 10 per rank and epoch
        cfg = _config(strategy="ddp", batch_size=10, grad_accum_steps=4, epochs=2, accumulate_no_sync=no_sync)
        trainer = Trainer(tiny_model(), cfg, data, task=task)
        stats = AllReduceStats()
        trainer.ddp.register_comm_hook(stats, counting_allreduce_hook)
        trainer.fit()
        out[no_sync] = (stats.calls, trainer.state.effective_step, trainer.state.step, _params(trainer.model))
    return out


def test_accumulation_all_reduces_once_per_optimizer_step_under_no_sync():
    r0, r1 = launch(_count_worker, 2, **LAUNCH)
    calls, steps, micro, p = r0[True]
    assert (steps, micro) == (6, 20)  # 3 windows per epoch (4 + 4 + 2 micro-batches)
    assert calls == steps == r1[True][0]  # one bucket (a tiny model): one all-reduce per step
    calls_off, steps_off, micro_off, p_off = r0[False]
    assert calls_off == micro_off == 20  # without no_sync: one per micro-batch
    # same result either way: the sum of the local gradients is all-reduced once
    assert _rel(p, p_off) < 1e-5 and all(torch.equal(p[k], r1[True][3][k]) for k in p)


class _Deep(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(32, 32) for _ in range(4)], nn.Linear(32, 3))

    def forward(self, x):
        return self.layers(x)


def _zero_bytes_worker():
    data, task = tiny_data(n=100, features=32)
    torch.manual_seed(0)
    trainer = Trainer(_Deep(), _config(strategy="zero1", batch_size=10, max_steps=2), data, task=task)
    trainer.fit()
    torch.manual_seed(0)
    full = Trainer(_Deep(), _config(batch_size=10, max_steps=2), data, task=task, check_data=False)
    full.fit()
    return optimizer_state_bytes(trainer.optimizer), optimizer_state_bytes(full.optimizer)


def test_zero1_keeps_about_half_the_optimizer_state_per_rank():
    (b0, full), (b1, _) = launch(_zero_bytes_worker, 2, **LAUNCH)
    assert b0 + b1 == full  # the shards partition Adam's state
    assert 0.4 < b0 / full < 0.6 and 0.4 < b1 / full < 0.6


class _StopAt(Technique):
    name = "stop_at"
    events = frozenset({Event.BATCH_END})

    def __init__(self, step: int, rank: int | None = None):
        super().__init__()
        self.at, self.rank = step, rank

    def on_batch_end(self, state):
        if state.step == self.at and (self.rank is None or state.rank == self.rank):
            state.request_stop(f"stop at micro-step {self.at}")


def _resume_cfg(strategy: str, batch_size: int, folder: str, **kw) -> TrainingConfig:
    return _config(strategy=strategy, batch_size=batch_size, grad_accum_steps=2, epochs=2,
                   checkpoint_dir=folder, **kw)


def _resume_worker(folder: str, single_ckpt: str):
    data, task = tiny_data(n=240)  # 12 micro-batches of 10 per rank: 6 optimizer steps per epoch
    out = {}
    full = Trainer(tiny_model(), _resume_cfg("zero1", 10, folder), data, task=task)
    full.fit()
    out["full"] = _params(full.model)
    for at, name in ((7, "window"), (8, "boundary")):  # micro-step 7: inside a window
        t = Trainer(tiny_model(), _resume_cfg("zero1", 10, folder), data, task=task, techniques=[_StopAt(at)])
        t.fit()
        path = t.save_checkpoint(f"{folder}/{name}.pt")
        resumed = Trainer(tiny_model(seed=9), _resume_cfg("zero1", 10, folder), data, task=task,
                          techniques=[_StopAt(at)])
        resumed.load_checkpoint(path)
        resumed.fit()
        out[name] = _params(resumed.model)
    # a one-process checkpoint resumes in two (Adam's state sharded by ZeRO on load)
    t = Trainer(tiny_model(seed=3), _resume_cfg("zero1", 10, folder), data, task=task, techniques=[_StopAt(-1)])
    t.load_checkpoint(single_ckpt)
    t.fit()
    out["from_single"] = _params(t.model)
    return out


def test_zero1_checkpoints_resume_bit_exact_in_two_processes_and_in_one(tmp_path):
    data, task = tiny_data(n=240)
    one = Trainer(tiny_model(), _resume_cfg("single", 20, str(tmp_path / "one")), data, task=task,
                  techniques=[_StopAt(4)])
    one.fit()
    single_ckpt = one.save_checkpoint(tmp_path / "single.pt")
    one_full = Trainer(tiny_model(), _resume_cfg("single", 20, str(tmp_path / "one")), data, task=task)
    one_full.fit()
    r0, r1 = launch(_resume_worker, 2, args=(str(tmp_path), str(single_ckpt)), **LAUNCH)
    for name in ("window", "boundary"):
        for k in r0["full"]:
            assert torch.equal(r0[name][k], r0["full"][k]), (name, k)  # bit-exact on CPU
            assert torch.equal(r1[name][k], r0["full"][k]), (name, k)
    assert _rel(r0["from_single"], _params(one_full.model)) < 1e-5
    # the consolidated checkpoint of two processes resumes in one: the whole optimizer state
    saved = ckpt.load_checkpoint_file(tmp_path / "boundary.pt")
    assert saved["world_size"] == 2 and len(saved["optimizer"]["state"]) == 4
    t = Trainer(tiny_model(seed=5), _resume_cfg("single", 20, str(tmp_path / "one")), data, task=task,
                techniques=[_StopAt(-1)])
    t.load_checkpoint(tmp_path / "boundary.pt")
    loaded = t.optimizer.state_dict()["state"]
    assert all(torch.equal(loaded[i][k], saved["optimizer"]["state"][i][k]) for i in loaded for k in loaded[i])
    assert t.state.effective_step == 4 and t.state.batch_in_epoch == 8
    t.fit()
    assert _rel(_params(t.model), r0["full"]) < 1e-5
    # inside a window the partial gradients are per process: refused in another world size
    with pytest.raises(ckpt.CheckpointError, match="accumulation window"):
        Trainer(tiny_model(), _resume_cfg("single", 20, None), data, task=task).load_checkpoint(
            tmp_path / "window.pt")


class _NaNOn(Technique):
    name = "nan_on"
    events = frozenset({Event.BATCH_START})

    def __init__(self, rank: int, step: int):
        super().__init__()
        self.rank, self.at = rank, step

    def on_batch_start(self, state):
        if state.rank == self.rank and state.step == self.at:
            state.batch["inputs"] = state.batch["inputs"] * float("nan")


def _stop_worker():
    data, task = tiny_data(n=200)
    out = {}
    t = Trainer(tiny_model(), _config(strategy="ddp", batch_size=10), data, task=task, techniques=[_StopAt(7, rank=1)])
    t.fit()
    out["technique"] = (t.state.step, t.state.stop_reason)
    for mode in ("raise", "stop", "skip"):
        t = Trainer(tiny_model(), _config(strategy="ddp", batch_size=10, grad_accum_steps=2, on_nonfinite=mode,
                                          epochs=2), data, task=task, techniques=[_NaNOn(rank=1, step=4)])
        try:
            t.fit()
            out[mode] = (t.state.step, t.state.counters.get("steps_skipped_nonfinite", 0), t.state.stop_reason,
                         _params(t.model))
        except Exception as exc:  # noqa: BLE001 - the test compares what each rank raised
            out[mode] = (type(exc).__name__, str(exc))
    return out


def test_a_stop_or_a_nonfinite_loss_on_one_rank_stops_every_rank():
    r0, r1 = launch(_stop_worker, 2, **LAUNCH)
    # a technique on rank 1 asks to stop after micro-step 7: both ranks stop there
    assert r0["technique"][0] == r1["technique"][0] == 7
    assert "rank 1: stop at micro-step 7" in r0["technique"][1]
    # a NaN loss on rank 1 (micro-step 5, inside a window): every rank raises it
    assert r0["raise"][0] == r1["raise"][0] == "NonFiniteLossError"
    assert "rank 1" in r0["raise"][1] and "non-finite training loss" in r0["raise"][1]
    # on_nonfinite="stop": both stop after that micro-batch, with identical weights; rank 1
    # does not count the failed micro-batch (as one process would not), rank 0 does
    assert (r0["stop"][0], r1["stop"][0]) == (5, 4) and "non-finite training loss on rank 1" in r0["stop"][2]
    assert all(torch.equal(r0["stop"][3][k], r1["stop"][3][k]) for k in r0["stop"][3])
    # "skip": the window's step is dropped on both ranks, which stay identical and go on
    k0, k1 = r0["skip"], r1["skip"]
    assert k0[1] == k1[1] == 1 and k0[0] == k1[0] == 20
    assert all(torch.equal(k0[3][k], k1[3][k]) for k in k0[3])


def _files_worker(folder: str):
    data, task = tiny_data(n=200)
    val, _ = tiny_data(n=51, seed=1)  # odd: the ranks evaluate 26 and 25 examples
    cfg = _config(strategy="ddp", batch_size=10, epochs=2, eval_every_epochs=1, metrics_dir=f"{folder}/metrics",
                  checkpoint_dir=f"{folder}/ckpt", checkpoint_every_steps=5, log_every_steps=5)
    monitor = ThroughputMonitor(every_steps=5)
    trainer = Trainer(tiny_model(), cfg, data, val_data=val, task=task, techniques=[monitor])
    trainer.fit()
    return {"folder": trainer.tracker.folder, "metrics": dict(trainer.state.metrics), "rows": monitor.rows,
            "params": _params(trainer.model), "seen": trainer.state.examples_seen,
            "history": list(trainer.state.history)}


def test_files_logs_and_checkpoints_come_from_rank_0_and_metrics_cover_every_rank(tmp_path):
    messages = []
    r0, r1 = launch(_files_worker, 2, args=(str(tmp_path),), on_message=lambda r, m: messages.append((r, m)),
                    **LAUNCH)
    assert r0["folder"] is not None and r1["folder"] is None  # metric files: rank 0 only
    rows = [json.loads(line) for line in (tmp_path / "metrics" / "metrics.jsonl").read_text().splitlines()]
    with open(tmp_path / "metrics" / "metrics.csv") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    # rows count the examples of both ranks (100 per epoch each); state counts this rank's
    assert rows[-1]["examples_seen"] == 400 and r0["seen"] == r1["seen"] == 200
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step-00000015.pt", "step-00000020.pt"]
    # the sharded evaluation, all-reduced, equals one process evaluating all 51 examples
    val, task = tiny_data(n=51, seed=1)
    model = tiny_model()
    model.load_state_dict(r0["params"])
    one = Trainer(model, _config(), tiny_data(n=200)[0], task=task).evaluate(val, prefix="val_")
    assert r0["metrics"]["val_loss"] == pytest.approx(one["val_loss"], rel=1e-6)
    assert r0["metrics"]["val_accuracy"] == r1["metrics"]["val_accuracy"] == one["val_accuracy"]
    # the throughput monitor published from both ranks to the parent while they trained
    assert {r for r, _ in messages} == {0, 1} and len(messages) == 8
    assert all(m["examples"] == 50 and m["examples_per_s"] > 0 for _, m in messages)


def _raises_worker():
    if torch.distributed.get_rank() == 1:
        raise ValueError("worker 1 failed on purpose")
    return "ok"


def test_launch_reports_a_worker_error_and_checks_its_arguments():
    with pytest.raises(Exception, match="worker 1 failed on purpose"):
        launch(_raises_worker, 2, **LAUNCH)
    with pytest.raises(ValueError, match="nprocs"):
        launch(_raises_worker, 0)
    publish({"outside": "a worker"})  # does nothing outside a launched worker
    with pytest.raises(ValueError, match="every_steps"):
        ThroughputMonitor(every_steps=0)


def _digits_worker():
    from workbench.data.datasets import load_dataset
    from workbench.models import build_model

    splits = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("cnn", splits.task)
    cfg = _config(strategy="ddp", batch_size=32, epochs=2, lr=3e-3, eval_every_epochs=2)
    trainer = Trainer(model, cfg, splits.train, splits.val, task=splits.task)
    trainer.fit()
    return trainer.state.metrics["val_accuracy"], _params(trainer.model), trainer.state.effective_step, len(splits.train)


def test_ddp_trains_the_digits_cnn_on_real_data():
    (acc0, p0, steps, n), (acc1, p1, _, _) = launch(_digits_worker, 2, **LAUNCH)
    per_rank = math.ceil(n / 2)  # the shard of each rank, padded to equal lengths
    assert steps == 2 * math.ceil(per_rank / 32)
    assert acc0 == acc1 and acc0 > 0.85
    assert all(torch.equal(p0[k], p1[k]) for k in p0)
