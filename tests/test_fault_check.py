"""scripts/fault_check.py with small counts: SIGKILLs during training with frequent saves,
then a resume, and a config fuzz (issue 12, item 12). The full run is
``python scripts/fault_check.py`` (30 kills, 1,000 configs)."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fault_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("fault_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fault_check_small_counts(capsys):
    fc = _load()
    code = fc.main(["--kills", "3", "--configs", "40", "--seed", "0", "--examples", "200", "--quiet"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    kills, fuzz = out["kill_test"], out["config_fuzz"]
    assert kills["kills"] == 3
    assert kills["corrupt_or_nonfinite_checkpoints"] == 0 and kills["stray_tmp_after_resume"] == 0
    assert kills["resume_failed"] == 0 and kills["resumes_inexact"] == 0
    assert kills["resumes_exact"] == 3 + kills["finished_before_kill"]
    assert fuzz["configs"] == 40
    outcomes = ("rejected_naming_field", "rejected_by_trainer_naming_field", "rejected_at_first_evaluation",
                "rejected_without_field", "trained", "stopped_nonfinite_loss", "failed_after_accept")
    assert sum(fuzz[k] for k in outcomes) == 40
    assert fuzz["rejected_naming_field"] > 0 and fuzz["trained"] > 0
    assert fuzz["rejected_without_field"] == 0 and fuzz["failed_after_accept"] == 0, fuzz["failures"]
    assert out["ok"] is True and code == 0


def test_a_rejection_must_name_a_drawn_field():
    fc = _load()
    # a fuzzed dict's rejection must name one of its fields: another field's name does not count
    assert fc._names_a_field("TrainingConfig.lr must be a finite number in (0.0, 10.0]; got -1", ["lr"])
    assert not fc._names_a_field("TrainingConfig.lr must be ...", ["lr_scale", "seed"])
