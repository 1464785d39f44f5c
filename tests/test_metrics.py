import csv
import json
import math
import time

import pytest

from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.train import MetricsTracker, Trainer
from workbench.train.metrics import COLUMNS


def test_tracker_merges_rows_per_effective_step_and_writes_csv_jsonl(tmp_path):
    tr = MetricsTracker(tmp_path)
    tr.log({"effective_step": 1, "step": 2, "train_loss": 1.0})
    tr.log({"effective_step": 1, "val_accuracy": 0.5})
    tr.log({"effective_step": 2, "step": 4, "train_loss": 0.5, "examples_skipped": 3})
    tr.flush()
    assert len(tr.rows) == 2 and tr.rows[0]["val_accuracy"] == 0.5 and tr.rows[0]["train_loss"] == 1.0
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(COLUMNS) + ["examples_skipped"]
    assert rows[1]["examples_skipped"] == "3" and rows[0]["examples_skipped"] == ""
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["val_accuracy"] == 0.5 and lines[0]["val_loss"] is None
    table = tr.table()
    assert list(table["effective_step"]) == [1, 2]


def test_trainer_metrics_files_have_all_columns(tmp_path):
    data, task = tiny_data(n=48)
    cfg = TrainingConfig(epochs=2, batch_size=8, grad_accum_steps=2, progress_bar=False, metrics_dir=str(tmp_path),
                         log_every_steps=1)
    t = Trainer(tiny_model(), cfg, data, data, task=task)
    t.fit()
    table = t.tracker.table()
    for col in COLUMNS:
        assert col in table.columns
    assert list(table["effective_step"]) == list(range(1, 7))
    assert table["examples_seen"].iloc[-1] == 96
    assert table["wall_time"].is_monotonic_increasing
    val = table.dropna(subset=["val_accuracy"])
    assert list(val["effective_step"]) == [3, 6]  # evaluated at each epoch end
    assert not math.isnan(val["train_loss"].iloc[0])  # merged into the same row
    with open(tmp_path / "metrics.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == 6 and len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 6


def _micro_steps_run(logger):
    data, task = tiny_data(n=1000)
    cfg = TrainingConfig(epochs=1, batch_size=1, grad_accum_steps=4, progress_bar=False, log_every_steps=1,
                         eval_every_epochs=None, optimizer="sgd", lr=0.01)
    return Trainer(tiny_model(), cfg, data, task=task, loggers=[logger]).fit()


def test_wandb_offline_commits_only_at_accumulation_boundaries(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from workbench.train.loggers import WandbLogger

    monkeypatch.setenv("WANDB_SILENT", "true")
    run = wandb.init(mode="offline", dir=str(tmp_path), project="workbench-test")
    commits, steps = [], []
    real_log = run.log

    def counting_log(data, step=None, commit=None):
        commits.append(commit)
        steps.append(step)
        return real_log(data, step=step, commit=commit)

    run.log = counting_log
    logger = WandbLogger(run=run, finish=True)
    state = _micro_steps_run(logger)
    logger.close()
    assert state.step == 1000
    assert len(commits) == 250 and all(c is True for c in commits)
    assert steps == list(range(1, 251))


def test_tensorboard_logs_at_accumulation_boundaries(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from workbench.train.loggers import TensorBoardLogger

    logger = TensorBoardLogger(str(tmp_path))
    _micro_steps_run(logger)
    logger.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("train_loss")]
    assert steps == list(range(1, 251))


def test_tracker_keeps_files_open_between_rows_and_releases_them(tmp_path):
    tr = MetricsTracker(tmp_path)
    for es in (1, 2, 3):
        tr.log({"effective_step": es, "train_loss": 1.0 / es})
    tr.log({"effective_step": 4, "examples_skipped": 2})  # a new column: CSV rewritten
    tr.flush()
    assert set(tr._files) == {"metrics.jsonl"}  # the CSV handle was closed for the rewrite
    tr.log({"effective_step": 5, "train_loss": 0.1})
    tr.flush()
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["effective_step"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[-1]["examples_skipped"] == "" and rows[3]["examples_skipped"] == "2"
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 5
    tr.release_files()
    assert tr._files == {}
    # a file removed behind the tracker's back is recreated with its header
    (tmp_path / "metrics.csv").unlink()
    tr.log({"effective_step": 6, "train_loss": 0.05})
    tr.flush()
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[-1]["effective_step"] == "6"


def test_trainer_releases_metric_files_after_fit(tmp_path):
    data, task = tiny_data(n=32)
    tr = Trainer(tiny_model(), TrainingConfig(batch_size=8, epochs=1, progress_bar=False, log_every_steps=1,
                                              metrics_dir=str(tmp_path)), data, task=task)
    tr.fit()
    assert tr.tracker._files == {}
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_rows_reach_the_files_in_batches_and_all_at_flush(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    tr = MetricsTracker(tmp_path, write_interval_s=1.0)
    tr.log({"effective_step": 1, "train_loss": 1.0})
    tr.log({"effective_step": 2, "train_loss": 0.9})  # row 1 complete: the first write is at once
    assert len(_lines(tmp_path / "metrics.jsonl")) == 1
    clock[0] += 0.5
    tr.log({"effective_step": 3, "train_loss": 0.8})  # row 2 complete, 0.5 s after the last write
    tr.log({"effective_step": 4, "train_loss": 0.7})  # row 3 complete
    assert len(_lines(tmp_path / "metrics.jsonl")) == 1 and len(tr.rows) == 3  # in memory at once
    clock[0] += 0.6  # 1.1 s since the last write: rows 2-4 (4 completes now) are written together
    tr.log({"effective_step": 5, "train_loss": 0.6})
    assert [json.loads(x)["effective_step"] for x in _lines(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]
    with open(tmp_path / "metrics.csv") as f:
        assert [r["effective_step"] for r in csv.DictReader(f)] == ["1", "2", "3", "4"]
    tr.flush()  # the pending row too, whatever the clock says
    assert len(_lines(tmp_path / "metrics.jsonl")) == 5
    with open(tmp_path / "metrics.csv") as f:
        assert [r["train_loss"] for r in csv.DictReader(f)] == ["1.0", "0.9", "0.8", "0.7", "0.6"]


def test_write_interval_zero_writes_each_row_and_bad_values_are_refused(tmp_path):
    tr = MetricsTracker(tmp_path, write_interval_s=0)
    for es in (1, 2, 3):
        tr.log({"effective_step": es, "train_loss": 1.0})
        assert len(_lines(tmp_path / "metrics.jsonl")) == es - 1  # every complete row is on disk
    for bad in (-1.0, float("nan"), "1", True):
        with pytest.raises(ValueError, match="write_interval_s must be a number >= 0"):
            MetricsTracker(tmp_path, write_interval_s=bad)


def test_a_checkpoint_writes_the_complete_rows(tmp_path):
    data, task = tiny_data(n=64)
    cfg = TrainingConfig(batch_size=8, epochs=1, progress_bar=False, log_every_steps=1,
                         metrics_dir=str(tmp_path / "m"))
    t = Trainer(tiny_model(), cfg, data, task=task)
    t.fit()
    t.tracker.log({"effective_step": 99, "train_loss": 0.1})
    t.save_checkpoint(tmp_path / "c.pt")  # the tracker's state is flushed into the checkpoint
    rows = [json.loads(x) for x in _lines(tmp_path / "m" / "metrics.jsonl")]
    assert [r["effective_step"] for r in rows] == list(range(1, 9)) + [99]
