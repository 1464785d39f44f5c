"""``python -m workbench compare --data FILE`` (issue 21 item 5): your labelled file, the
default recipe of its modality after a stated LR search, the target from the baseline, and
every applicable technique within a budget.

Real data: 400 sentences of the NLTK subjectivity corpus in a CSV, 200 others in a JSON
lines file, and scikit-learn's digits as an ``.npz`` of images; smoke budgets (numbers are
not measurements). The budget logic (estimates, skips) is unit-tested on its own.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from workbench import compare_cli as cc
from workbench.__main__ import main
from workbench.data import DataValidationError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _sentences(start: int, per_class: int) -> list[tuple[str, str]]:
    nltk = pytest.importorskip("nltk")
    try:
        from workbench.data.nltk_data import ensure_corpus

        ensure_corpus("subjectivity")
    except LookupError:
        pytest.skip("NLTK subjectivity corpus not available (set NLTK_DATA)")
    rows = []
    for cat, label in (("subj", "subjective"), ("obj", "objective")):
        rows += [(" ".join(s), label) for s in nltk.corpus.subjectivity.sents(categories=cat)[start:start + per_class]]
    return rows


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence", "kind"])
        w.writerows(_sentences(0, 200))
    return path


@pytest.fixture(scope="module")
def user_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "notes.jsonl"
    path.write_text("".join(json.dumps({"body": t, "tag": lab}) + "\n" for t, lab in _sentences(1000, 100)))
    return path


@pytest.fixture(scope="module", params=["vision", "tabular"])
def user_npz(request, tmp_path_factory) -> tuple[Path, str]:
    """Digits as images ``[N, 8, 8]`` (key ``X``) or as feature vectors ``[N, 64]`` (keys
    ``features`` / ``labels``, found by the loader's aliases)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    path = tmp_path_factory.mktemp("data") / f"digits-{request.param}.npz"
    if request.param == "vision":
        np.savez(path, X=(X[:400].reshape(-1, 8, 8) / 16.0).astype(np.float32), y=y[:400])
    else:
        np.savez(path, features=X[:400], labels=y[:400])
    return path, request.param


def _check_rows(report: cc.CompareReport, modality: str) -> dict[str, dict]:
    rows = {r["family"]: r for r in report.rows}
    assert rows["baseline"]["status"] == "baseline" and rows["baseline"]["seeds"] >= 1
    assert math.isfinite(rows["baseline"]["test_accuracy"])
    yes, no = cc.applicable_families(modality)
    assert set(rows) == {"baseline", *yes, *no}
    for fam in no:
        assert rows[fam]["status"] == "not applicable" and rows[fam]["reason"]
    for fam in yes:
        assert rows[fam]["status"] in ("ran", "skipped", "not requested"), rows[fam]
        if rows[fam]["status"] == "skipped":
            assert "left of the" in rows[fam]["reason"] and rows[fam]["estimate_s"] > 0
    return rows


def _check_saved(folder: Path) -> dict:
    data = json.loads((folder / "results.json").read_text())
    assert {"data", "lr_search", "target", "budget", "techniques", "summary"} <= set(data)
    assert data["techniques"][0]["family"] == "baseline"
    assert len(data["techniques"]) == 1 + len(cc.FAMILIES)
    with open(folder / "results.csv", newline="") as fh:
        assert [r["family"] for r in csv.DictReader(fh)] == [r["family"] for r in data["techniques"]]
    return data


# ------------------------------------------------------------------ end to end, each file type


def test_csv_text_end_to_end_with_a_technique(user_csv, tmp_path):
    report = cc.compare_file(user_csv, text_column="sentence", label_column="kind", budget_minutes=2,
                             smoke=True, out_dir=tmp_path, families=["lr_schedule"], progress=False, log=None)
    rows = _check_rows(report, "text")
    assert report.data["modality"] == "text" and report.data["rows"] == 400
    # the stated LR search ran and its rate is within the rule's range of the recipe's
    lr = report.lr_search
    assert lr["iterations"] >= 2 and lr["seconds"] > 0
    assert lr["recipe_lr"] / 10 <= lr["lr"] <= lr["recipe_lr"] * 10
    assert lr["lr"] == cc.choose_lr(lr["suggestion"], lr["recipe_lr"])
    # the target: 98% of the baseline's best validation accuracy, below it, reached by the baseline
    t = report.target
    assert t["value"] == cc.target_from_baseline(t["baseline_best"]).value <= t["baseline_best"]
    base = report.result.summary.set_index("variant").loc["baseline"]
    assert base["reached"] == 1 and math.isfinite(base["time_to_target_s_mean"])
    assert rows["lr_schedule"]["status"] == "ran" and rows["lr_schedule"]["spent_s"] > 0
    assert rows["curriculum"]["status"] == "not requested"  # families=
    assert "one-cycle schedule" in set(report.result.summary["variant"])
    data = _check_saved(tmp_path)
    assert data["target"]["value"] == t["value"] and data["budget"]["spent_s"] > 0
    assert any("Learning-rate search" in line for line in report.describe())


def test_jsonl_text_tiny_budget_skips_with_reasons(user_jsonl, tmp_path):
    report = cc.compare_file(user_jsonl, text_column="body", label_column="tag", budget_minutes=0.01,
                             smoke=True, out_dir=tmp_path, progress=False, log=None)
    rows = _check_rows(report, "text")
    assert all(rows[f]["status"] == "skipped" for f in cc.applicable_families("text")[0])
    _check_saved(tmp_path)


def test_npz_arrays_end_to_end(user_npz, tmp_path):
    path, modality = user_npz
    report = cc.compare_file(path, budget_minutes=0.01, smoke=True, out_dir=tmp_path, progress=False,
                             log=None)
    rows = _check_rows(report, modality)
    assert report.recipe["model"] == {"vision": "cnn", "tabular": "mlp"}[modality]
    # EDA and word vectors are text-only: not applicable, with the reason
    assert rows["augmentation"]["status"] == rows["transfer"]["status"] == "not applicable"
    assert "sentences" in rows["augmentation"]["reason"]
    _check_saved(tmp_path)


# ------------------------------------------------------------------ bad files


@pytest.mark.parametrize("case", ["missing", "suffix", "column", "one_class", "few_rows", "npz_keys", "not_npz"])
def test_bad_files_get_the_loaders_errors(case, user_csv, tmp_path, capsys):
    kw: dict = {"text_column": "sentence", "label_column": "kind"}
    with open(user_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    path = tmp_path / "bad.csv"
    if case == "missing":
        path, err, words = tmp_path / "nope.csv", FileNotFoundError, "not found"
    elif case == "suffix":
        path = tmp_path / "data.xlsx"
        path.write_text("x")
        err, words = ValueError, "unknown file type '.xlsx'"
    elif case == "column":
        kw["label_column"] = "sentiment"
        path, err, words = user_csv, DataValidationError, "missing column(s) ['sentiment']"
    elif case == "one_class":
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerows([rows[0]] + [[t, "subjective"] for t, _ in rows[1:]])
        err, words = DataValidationError, "at least two classes"
    elif case == "few_rows":
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerows(rows[:21] + rows[-20:])
        err, words = DataValidationError, "too few rows"
    elif case == "npz_keys":
        path = tmp_path / "arrays.npz"
        np.savez(path, pixels=np.zeros((150, 3)), y=np.arange(150) % 2)
        err, words = DataValidationError, "arrays present: ['pixels', 'y']"
    else:
        path = tmp_path / "arrays.npz"
        path.write_text("not an archive")
        err, words = DataValidationError, "not a NumPy .npz archive"
    with pytest.raises(err, match=None) as info:
        cc.compare_file(path, budget_minutes=1, smoke=True, progress=False, log=None, **kw)
    assert words in str(info.value)
    # the command: the same message on stderr, exit status 2, nothing under runs/
    runs = tmp_path / "runs"
    args = ["compare", "--data", str(path), "--text-column", kw["text_column"], "--label-column",
            kw["label_column"], "--smoke", "--runs-dir", str(runs)]
    assert main(args) == 2
    assert words in capsys.readouterr().err
    assert not runs.exists() or not any(runs.iterdir())


def test_invalid_settings_are_rejected_before_training(user_csv):
    with pytest.raises(ValueError, match="budget_minutes must be"):
        cc.compare_file(user_csv, budget_minutes=0, log=None)
    with pytest.raises(ValueError, match="families must be among"):
        cc.compare_file(user_csv, families=["telepathy"], log=None)


# ------------------------------------------------------------------ the budget logic


def test_estimates_follow_the_measured_baseline():
    assert cc.estimate_seconds("lr_schedule", 10.0, seeds=3) == pytest.approx(30.0)
    f, (full, smoke) = cc.COST_FACTORS["transfer"]
    assert cc.estimate_seconds("transfer", 10.0, 2) == pytest.approx(f * 20 + full)
    assert cc.estimate_seconds("transfer", 10.0, 2, smoke=True) == pytest.approx(f * 20 + smoke)
    f, (one_off, _) = cc.COST_FACTORS["augmentation"]
    assert cc.estimate_seconds("augmentation", 4.0, 1, augmented=5000) == pytest.approx(
        f * 4 + one_off + 5000 / cc.EDA_PER_SECOND)
    # active learning: 2 strategies x steps over all rounds x seconds per step x seeds
    f = cc.COST_FACTORS["active_learning"][0]
    assert cc.estimate_seconds("active_learning", 10.0, 3, step_s=0.01, active_steps=500) == pytest.approx(f * 30.0)
    # a larger baseline or more seeds never estimates less
    assert cc.estimate_seconds("curriculum", 20.0, 1) > cc.estimate_seconds("curriculum", 10.0, 1)
    with pytest.raises(ValueError, match="family must be one of"):
        cc.estimate_seconds("magic", 1.0, 1)
    with pytest.raises(ValueError, match="baseline_run_s must be"):
        cc.estimate_seconds("lr_schedule", 0.0, 1)
    with pytest.raises(ValueError, match="step_s must be"):
        cc.estimate_seconds("active_learning", 1.0, 1)


def test_fits_budget_skips_what_would_not_fit():
    assert cc.fits_budget(30.0, elapsed_s=60.0, budget_s=120.0) == (True, "")
    ok, why = cc.fits_budget(61.0, elapsed_s=60.0, budget_s=120.0)
    assert not ok and "61.0 s" in why and "60.0 s left" in why and "120 s budget" in why
    ok, why = cc.fits_budget(1.0, elapsed_s=130.0, budget_s=120.0)
    assert not ok and "0 s left" in why


def test_rules_target_lr_and_applicability():
    assert cc.target_from_baseline(0.9).value == pytest.approx(0.882)
    assert cc.target_from_baseline(0.7).value == pytest.approx(0.686)
    assert cc.choose_lr(1e-2, 1e-3) == pytest.approx(1e-2)
    assert cc.choose_lr(1.0, 1e-3) == pytest.approx(1e-2)  # kept within 10x
    assert cc.choose_lr(1e-7, 1e-3) == pytest.approx(1e-4)
    assert cc.choose_lr(float("nan"), 1e-3) == 1e-3
    text, _ = cc.applicable_families("text")
    vision, why = cc.applicable_families("vision")
    assert set(text) == set(cc.FAMILIES) and set(why) == {"augmentation", "transfer"}
    assert cc.applicable_families("tabular")[0] == vision
    with pytest.raises(ValueError, match="modality must be"):
        cc.applicable_families("audio")


# ------------------------------------------------------------------ the command's run folder


def _args(data: Path, runs: Path) -> list[str]:
    return ["compare", "--data", str(data), "--text-column", "sentence", "--label-column", "kind", "--smoke",
            "--budget-minutes", "0.2", "--runs-dir", str(runs)]


def test_command_moves_a_finished_run_and_marks_a_failed_one(user_csv, tmp_path, monkeypatch, capsys):
    import argparse

    from workbench.report import new_run_dir

    runs = tmp_path / "runs"
    seen = {}

    def fake_run(name, smoke, runs_dir, params):
        out = new_run_dir(runs_dir)
        seen.update(name=name, params=params, staging=Path(runs_dir))
        assert Path(runs_dir).parent == runs and Path(runs_dir).name.startswith(".compare-incomplete-")
        (out / "compare.ipynb").write_text("{}")
        if params["BUDGET_MINUTES"] == 0.5:
            raise RuntimeError("cell 6 failed")
        (out / "results.json").write_text(json.dumps({"techniques": []}))
        return out

    ns = argparse.Namespace(data=str(user_csv), text_column="sentence", label_column="kind", x_key=None,
                            y_key=None, budget_minutes=0.2, seeds=None, smoke=True, runs_dir=str(runs))
    assert cc.command(ns, fake_run) == 0
    assert seen["name"] == "compare" and seen["params"]["DATA"] == str(user_csv.resolve())
    done = [p for p in runs.iterdir()]
    assert len(done) == 1 and not done[0].name.startswith(".") and (done[0] / "compare.ipynb").is_file()
    ns.budget_minutes = 0.5
    assert cc.command(ns, fake_run) == 1
    failed = [p for p in runs.iterdir() if p.name.endswith("-failed")]
    assert len(failed) == 1 and "cell 6 failed" in (failed[0] / "FAILED.txt").read_text()
    assert not seen["staging"].exists()
    assert "cell 6 failed" in capsys.readouterr().err


@pytest.mark.notebook
def test_command_executes_the_notebook_into_runs(user_csv, tmp_path):
    runs = tmp_path / "runs"
    assert main(_args(user_csv, runs)) == 0
    (folder,) = list(runs.iterdir())
    assert {"compare.ipynb", "compare.html", "results.csv", "results.json", "history.csv"} <= \
        {p.name for p in folder.iterdir()}
    data = _check_saved(folder)
    assert data["data"]["path"] == str(user_csv.resolve()) and data["data"]["smoke"] is True
    assert "Plotly.newPlot" in (folder / "compare.html").read_text()


# ------------------------------------------------------------------ the .npz loader


def test_load_npz_keys_shapes_and_errors(tmp_path):
    from sklearn.datasets import load_digits

    from workbench.data import load_file, load_npz

    X, y = load_digits(return_X_y=True)
    p = tmp_path / "d.npz"
    np.savez_compressed(p, inputs=X[:300].reshape(-1, 1, 8, 8).astype(np.float32) / 16, labels=y[:300] + 1)
    s = load_npz(p)
    assert s.task.modality == "vision" and s.task.input_shape == (1, 8, 8) and s.name == "d"
    assert s.info["x_key"] == "inputs" and s.info["y_key"] == "labels" and s.task.num_classes == 10
    assert s.task.class_names[0] == "1"  # labels 1..10 mapped in numeric order
    assert load_file(p, max_examples=100).info["sizes"]["train"] == 80
    q = tmp_path / "named.npz"
    np.savez(q, a=X[:200], b=y[:200])
    assert load_npz(q, x_key="a", y_key="b").task.modality == "tabular"
    with pytest.raises(DataValidationError, match=r"no array 'c' \(labels\); arrays present: \['a', 'b'\]"):
        load_npz(q, x_key="a", y_key="c")
    bad = tmp_path / "nan.npz"
    Xn = X[:200].copy()
    Xn[7, 3] = np.nan
    np.savez(bad, X=Xn, y=y[:200])
    with pytest.raises(DataValidationError, match=r"nan.npz: X has 1 NaN/infinite value\(s\); first at X\[7, 3\]") as e:
        load_npz(bad)
    assert e.value.row == 7 and e.value.source == str(bad)
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([[1, "a"]], dtype=object), y=np.array([0]))
    with pytest.raises(DataValidationError, match="without unpickling Python objects"):
        load_npz(obj)
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as fh:
        np.save(fh, X[:10])
    with pytest.raises(DataValidationError, match=r"not a NumPy .npz archive \(a single .npy array\)"):
        load_npz(npy)
    with pytest.raises(FileNotFoundError, match="array data file not found"):
        load_npz(tmp_path / "absent.npz")


def test_reduce_seeds_keeps_the_baseline_and_the_cheapest_technique_in_budget():
    def cheapest(k):
        return 10.0 * k  # the cheapest technique: 10 s per seed

    assert cc.reduce_seeds(3, baseline_run_s=10.0, left_s=100.0, cheapest_s=cheapest) == 3  # 20 + 30 fit
    assert cc.reduce_seeds(3, baseline_run_s=10.0, left_s=45.0, cheapest_s=cheapest) == 2  # 10 + 20 fit
    assert cc.reduce_seeds(3, baseline_run_s=10.0, left_s=5.0, cheapest_s=cheapest) == 1  # never below 1
    assert cc.reduce_seeds(1, baseline_run_s=10.0, left_s=0.0, cheapest_s=cheapest) == 1


def test_three_seeds_give_ratios_with_spread_and_verdicts(tmp_path):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    path = tmp_path / "features.npz"
    np.savez(path, X=X[:300], y=y[:300])
    report = cc.compare_file(path, budget_minutes=3, seeds=3, smoke=True, families=["lr_schedule"],
                             progress=False, log=None)
    rows = {r["family"]: r for r in report.rows}
    assert report.budget["seeds"] == [0, 1, 2] and not report.budget["seeds_note"]
    summary = report.result.summary.set_index("variant")
    assert summary.loc["baseline", "seeds"] == 3
    for fam in ("lr_schedule",):
        r = rows[fam]
        assert r["status"] == "ran" and r["seeds"] == 3
        if math.isnan(r["ratio"]):
            assert "reached the target on" in r["reason"]
        else:
            assert r["ratio"] == pytest.approx(summary.loc[r["variant"], "time_to_target_ratio"])
            assert r["ratio_std"] >= 0
            assert r["verdict"].split(" (")[0] in ("helps", "hurts", "no measurable effect")
    assert rows["curriculum"]["status"] == "not requested" and rows["curriculum"]["claim"] == "1.4x"


@pytest.mark.slow
def test_every_text_family_runs_on_a_real_csv(user_csv, tmp_path):
    """Every family applicable to text runs end to end (smoke budgets; about two minutes here)."""
    report = cc.compare_file(user_csv, text_column="sentence", label_column="kind", budget_minutes=30,
                             smoke=True, out_dir=tmp_path, progress=False, log=None)
    rows = {r["family"]: r for r in report.rows}
    for fam in cc.applicable_families("text")[0]:
        assert rows[fam]["status"] == "ran", rows[fam]
    assert rows["active_learning"]["unit"] == "labels-to-target ratio" and report.active
    assert "EDA copies per sentence" in rows["augmentation"]["reason"]
    assert "Brown sentences" in rows["transfer"]["reason"]
    variants = set(report.result.summary["variant"])
    assert {FAM["variant"] for f, FAM in cc.FAMILIES.items() if f != "active_learning"} <= variants
