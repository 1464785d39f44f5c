"""benchmarks/transfer.py keeps finished jobs in OUT.partial.jsonl and reads them back
(--resume): the runs must come back equal, NaNs included, and a line cut short by a killed
run must not stop the others from loading."""

import dataclasses
import math

from benchmarks.transfer import _load_partial, _record_line, _variant_names
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
    path.write_text(_record_line("mr@500", a) + "\n" + _record_line("subj@100", b) + "\n"
                    + _record_line("mr@500", b)[:57] + "\n")
    got = _load_partial(path)
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
