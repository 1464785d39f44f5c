"""benchmarks/transfer.py keeps finished jobs in OUT.partial.jsonl and reads them back
(--resume): the runs must come back equal, NaNs included, and a line cut short by a killed
run must not stop the others from loading."""

import dataclasses
import math

from benchmarks.transfer import (
    _complete,
    _context_line,
    _load_partial,
    _record_line,
    _variant_names,
)
from workbench.experiment import RunRecord


def _record(variant, seed, reached=True):
    return RunRecord(dataset="mr@500", variant=variant, seed=seed,
                     rows=[{"step": 10, "val_accuracy": 0.74, "wall_time": 1.5},
                           {"step": 20, "val_accuracy": math.nan, "wall_time": 3.0}],
                     test_metrics={"test_accuracy": 0.75}, wall_time=3.5, examples_seen=1000, effective_steps=20,
                     stop_reason="epochs", counters={"skipped": 0},
                     time_to_target_s=1.5 if reached else math.nan,
                     examples_to_target=500.0 if reached else math.nan,
                     steps_to_target=10.0 if reached else math.nan, final_metric=0.75,
                     per_target={"val_accuracy": {"time_to_target_s": 1.5 if reached else math.nan}})


def test_partial_runs_round_trip_and_skip_a_truncated_line(tmp_path):
    a, b = _record("kim-cnn-rand", 0), _record("transformer-ulmfit", 1, reached=False)
    path = tmp_path / "out.json.partial.jsonl"
    path.write_text(_context_line({"pretrain_cost": {"kim-non-static-w2v": 1.0}}) + "\n"
                    + _record_line("mr@500", a) + "\n" + _record_line("subj@100", b) + "\n"
                    + _context_line({"pretrain_cost": {"kim-non-static-w2v": 2.0}}) + "\n"
                    + _record_line("mr@500", b)[:57] + "\n")
    got, context = _load_partial(path)
    assert context == {"pretrain_cost": {"kim-non-static-w2v": 2.0}}  # the last one (a resumed run's)
    assert set(got) == {"mr@500", "subj@100"}
    assert len(got["mr@500"]) == 1
    first = got["mr@500"][0]
    for f in dataclasses.fields(RunRecord):  # rows hold a NaN (never equal to itself): checked below
        if f.name != "rows":
            x, y = getattr(first, f.name), getattr(a, f.name)
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), f.name
    assert first.rows[0] == a.rows[0] and math.isnan(first.rows[1]["val_accuracy"])
    back = got["subj@100"][0]
    assert back.variant == "transformer-ulmfit" and back.seed == 1
    assert math.isnan(back.time_to_target_s) and math.isnan(back.per_target["val_accuracy"]["time_to_target_s"])
    assert math.isnan(back.rows[1]["val_accuracy"]) and back.rows[0] == b.rows[0]


def test_variants_per_dataset():
    assert _variant_names("mr") == ["kim-cnn-rand", "kim-non-static-w2v", "kim-pros-cons", "transformer-ulmfit",
                                    "transformer-scratch"]
    assert "kim-pros-cons" not in _variant_names("subj")


def test_a_job_is_complete_only_with_every_variant_and_seed():
    runs = [_record(v, sd) for v in _variant_names("subj") for sd in (0, 1)]
    done = {"subj@500": runs + [_record("kim-cnn-rand", 5)]}
    kept = _complete(done, "subj@500", "subj", [0, 1])
    assert kept is not None and len(kept) == 8 and all(r.seed in (0, 1) for r in kept)
    assert _complete(done, "subj@500", "subj", [0, 1, 2]) is None  # seed 2 missing
    assert _complete(done, "mr@500", "mr", [0]) is None
    assert _complete({"mr@500": [_record(v, 0) for v in _variant_names("subj")]}, "mr@500", "mr", [0]) is None
