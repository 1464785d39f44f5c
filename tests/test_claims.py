"""The claims table (workbench.claims, issue 21): the registry, the verdict rule on hand-made
numbers, the progress line and its time-left arithmetic, and a smoke run on real digits."""

from __future__ import annotations

import math
import re

import pytest
import torch

from workbench import claims
from workbench.experiment import effect_verdict

ISSUE_CLAIMS = {  # issue 21, acceptance item 1, in its order
    "curriculum": "1.4x", "active_learning": "2x", "augmentation": "2x", "transfer": "5x",
    "gradient_caching": "1.25x", "difficulty_prediction": "1.2x", "torch_compile": "10-20%",
    "vision_collator": "2-5%", "wandb_log_reduction": "75%",
}


def test_registry_lists_exactly_the_issue_claims():
    assert [(c.key, c.stated) for c in claims.CLAIMS] == list(ISSUE_CLAIMS.items())
    for c in claims.CLAIMS:
        assert c.family and c.unit and c.variant
        assert c.kind in ("train", "active", "measure", "reference")
    assert {c.kind for c in claims.FAMILY_ROWS} == {"train", "domain", "multitask"}
    assert claims.STACK_PARTS == ("curriculum", "active_learning", "gradient_caching", "transfer")
    assert abs(claims.STACK_CLAIM - 17.5) < 1e-9


def test_every_skip_carries_a_reason():
    for c in claims.CLAIMS + claims.FAMILY_ROWS:
        for dataset, why in c.skipped.items():
            assert len(why) > 20, (c.key, dataset)
        # a claim is either measured on a data set or says why not
        assert c.datasets or c.skipped


@pytest.mark.parametrize("ratio,std,expected", [
    (0.70, 0.05, "helps"),                 # 1.43x cheaper, far beyond the spread
    (1.30, 0.05, "hurts"),
    (0.95, 0.10, "no measurable effect"),  # inside the seed-to-seed spread
    (1.04, 0.02, "hurts"),
])
def test_verdict_on_hand_made_numbers(ratio, std, expected):
    assert effect_verdict(3, ratio, std) == expected


def test_verdict_needs_three_seeds_and_a_ratio():
    assert effect_verdict(1, 0.5, 0.0).startswith("no verdict")
    assert effect_verdict(2, 0.5, 0.01).startswith("no verdict")
    assert effect_verdict(3, math.nan, math.nan).startswith("no ratio")
    # the same work as the baseline and a time difference inside its run-to-run spread: noise
    assert effect_verdict(3, 0.8, 0.05, examples_ratio=1.0, examples_ratio_std=0.0, curves_differ=False,
                          time_diff_s=-0.5, run_spread_s=1.0) == "no measurable effect"


def test_eta_arithmetic():
    # nothing finished: the prior estimates, less the current run's elapsed time
    assert claims.eta_seconds([10, 10, 10], []) == 30
    assert claims.eta_seconds([10, 10, 10], [], current_elapsed=4) == 26
    # one run took twice its estimate: the rest is scaled by 2
    assert claims.eta_seconds([10, 10, 10], [20]) == 40
    assert claims.eta_seconds([10, 10, 10], [20], current_elapsed=25) == 20  # never below zero for the current
    assert claims.eta_seconds([10, 30], [10, 30]) == 0
    with pytest.raises(ValueError, match="finished runs"):
        claims.eta_seconds([1], [1, 1])


def test_progress_line_format_file_and_status(tmp_path):
    class Status:
        def __init__(self):
            self.texts = []

        def update(self, text):
            self.texts.append(text)

    status, path = Status(), tmp_path / "progress.log"
    p = claims.Progress([10, 10], path=path, status=status, stream=None)
    first = p.start("subj / seed 1 / curriculum")
    assert re.fullmatch(r"\[claims\] run 1 of 2: subj / seed 1 / curriculum \| \d+s elapsed, about \d+s left",
                        first), first
    p.done()
    p.start("subj / seed 1 / eda")
    p.done()
    last = p.finish()
    assert last.startswith("[claims] done: 2 runs")
    assert path.read_text().splitlines() == p.lines == status.texts
    assert "run 2 of 2: subj / seed 1 / eda" in p.lines[1]


def test_progress_note_is_shown_but_not_counted(tmp_path):
    path = tmp_path / "progress.log"
    p = claims.Progress([5.0], path=path, stream=None)
    line = p.note("preparing: word vectors")
    assert re.fullmatch(r"\[claims\] preparing: word vectors \| \d+s elapsed", line), line
    assert p.finished == [] and path.read_text().splitlines() == [line]
    assert "run 1 of 1" in p.start("digits / seed 0 / baseline")


def test_smoke_run_on_real_digits_gives_a_row_per_claim(tmp_path):
    torch.set_num_threads(1)
    result = claims.run_claims(smoke=True, stream=None)
    keys = {claims._key_of(r["claim"]) for r in result.rows}
    assert {c.key for c in claims.CLAIMS + claims.FAMILY_ROWS} <= keys
    # the baseline is trained once per data set and seed, shared by every variant
    assert result.baseline_runs == {"digits": 1}
    variants = {r.variant for r in result.experiments["digits"].records}
    assert {"curriculum", "gradient-caching", "difficulty-prediction", "one_cycle"} <= variants
    by = {(claims._key_of(r["claim"]), r["dataset"]): r for r in result.rows}
    # not applicable, or not in the quick protocol: a reason, never a figure
    for key in ("augmentation", "transfer"):
        row = by[(key, "digits")]
        assert row["status"] == "not measured" and "text" in row["note"] and math.isnan(row["measured"])
    # torch.compile: measured on digits (eager vs compiled, compiling charged), the steady
    # state and compiling's cost in the note; SUBJ is skipped with the thorough figure
    comp = by[("torch_compile", "digits")]
    assert comp["status"] == "measured" and comp["measured"] > 0 and "x" in claims._figure(comp)
    assert re.search(r"steady state [+-]\d+\.\d ± \d+\.\d% per step", comp["note"]), comp["note"]
    assert "compiling costs" in comp["note"] and "pays off" in comp["note"] and "once per machine" in comp["note"]
    # compiling is charged: the compiled run includes it, so it cannot beat eager by more
    # than its steady-state saving
    assert comp["per_seed"][0] < 1.0, comp
    # measured rows: a figure, one seed, and no verdict from one seed
    for key in ("curriculum", "gradient_caching", "vision_collator", "wandb_log_reduction", "torch_compile"):
        row = by[(key, "digits")]
        assert row["status"] in ("measured", "target missed"), row
        assert row["seeds"] == 1
        assert row["verdict"].startswith("no verdict") or row["status"] == "target missed"
    table = result.table()
    assert list(table.columns[:4]) == ["claim", "family", "data set", "measured"]
    assert "SMOKE MODE" in result.caption()
    paths = result.save(tmp_path)
    assert paths["claims_json"].is_file() and paths["claims_csv"].is_file() and paths["json"].is_file()
    fig = claims.plot_claims(result)
    assert fig.layout.xaxis.title.text.startswith("speedup")
    assert fig.layout.xaxis2.title.text.startswith("training time saved")


def test_bad_arguments_rejected_before_any_run():
    with pytest.raises(ValueError, match="digits"):
        claims.run_claims(datasets=["mnist"], smoke=True, stream=None)
    with pytest.raises(ValueError, match="seed"):
        claims.run_claims(seeds=[], smoke=True, stream=None)


def test_full_benchmark_figures_name_file_command_and_commit():
    figures = claims.full_benchmark_figures()
    assert "curriculum" in figures
    src = figures["curriculum"]["source"]
    assert src.startswith("docs/results/curriculum-full") and "python benchmarks/curriculum.py" in src
    assert "commit" in src
    # the other thorough files parse into a figure (not "see the file")
    assert figures["active_learning"]["figure"].startswith("label saving vs random: digits: entropy")
    assert "DANN" in figures["domain_adaptation"]["figure"] and "gap closed" in figures["domain_adaptation"]["figure"]
    mt = figures["multitask"]["figure"]
    assert mt.startswith("time to all targets") and "dwa/round_robin 0.78x" in mt and "(3 seeds)" in mt
    gc = figures["gradient_caching"]["figure"]
    # SUBJ clean: 1.257x the baseline's time (a 0.80x speedup); noisy SUBJ: no seed reached the target
    assert "subj clean: 0.80x (ratio 1.26 ± 0.20)" in gc and "subj noisy: target missed" in gc and "(3 seeds)" in gc
    assert "subj clean: 0.96x (ratio 1.05 ± 0.39)" in figures["difficulty_prediction"]["figure"]
    assert figures["gradient_caching"]["source"].startswith("docs/results/skipping-digits-subj-2026-12-03.txt")
    tr = figures["transfer"]["figure"]
    assert tr.startswith("time to target against Kim CNN-rand: mr full labels word2vec non-static: ") and "(3 seeds)" in tr
    assert figures["transfer"]["source"].startswith("docs/results/transfer-full-2026-12-03.txt")
    # the thorough compile figure: the main job's model (digits CNN, default mode) from the
    # full run, with the range over every model and mode
    comp = figures["torch_compile"]["figure"]
    assert comp.startswith("cnn training step, compile-default: 1.11x eager after 14 s of compiling"), comp
    assert "every model and mode 0.71-1.12x" in comp and "full run, quiet machine" in comp
    assert figures["torch_compile"]["source"].startswith("docs/results/compile-full-2026-12-03.json")
    vc = figures["vision_collator"]["figure"]
    assert vc.startswith("saving of a digits epoch against per-image normalisation: collator ")
    assert "with the batched fetch" in vc and "(3 seeds x 5 rounds)" in vc


def test_nothing_in_the_package_imports_claims():
    """One-way imports: workbench.claims sits on top (it imports techniques and recipes);
    only the notebooks and the command line use it."""
    import ast
    from pathlib import Path

    pkg = Path(claims.__file__).resolve().parent
    importers = []
    for f in pkg.rglob("*.py"):
        if f.name in ("claims.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "workbench.claims" for n in names):
                importers.append(str(f.relative_to(pkg)))
    assert importers == []


def test_main_job_echoes_progress_lines_and_prints_the_claims_table(tmp_path, capsys):
    """papermill runs the kernel in another process: the main job tails the progress file
    the kernel appends to (WORKBENCH_PROGRESS_FILE) and echoes whole lines to stderr."""
    import time

    from workbench.__main__ import _print_claims, _Tail

    path = tmp_path / "progress.log"
    path.write_text("")
    tail = _Tail(path, every_s=0.05)
    tail.start()
    p = claims.Progress([5, 5], path=path, stream=None)
    p.start("digits / seed 0 / baseline")
    with open(path, "a", encoding="utf-8") as f:
        f.write("[claims] a partial line")  # not echoed until it is whole
    time.sleep(0.3)
    tail.stop()
    err = capsys.readouterr().err
    assert "[claims] run 1 of 2: digits / seed 0 / baseline" in err
    assert "partial" not in err
    rows = [claims._row(claims.CLAIMS[0], "digits", "measured", 1.25, 0.1, 3, "helps"),
            claims._row(claims.CLAIMS[2], "digits", "not measured", verdict="—", note="a text technique")]
    _print_claims({"caption": "quick protocol", "rows": rows, "stack": [], "stack_claim": 17.5})
    out = capsys.readouterr().out
    assert "curriculum 1.4x" in out and "1.25x ± 0.10" in out and "helps" in out
    assert "a text technique" in out


def test_stop_at_target_ends_the_run_at_its_first_evaluation_reaching_the_target():
    from workbench import recipes
    from workbench.experiment import Experiment, Variant

    torch.set_num_threads(1)
    r = recipes.baseline_recipe("digits", smoke=True, progress_bar=False)
    splits = recipes.load_splits("digits", smoke=True)
    exp = Experiment(splits, recipes.model_factory(r.model), r.config, [Variant("baseline")], seeds=[0],
                     target=r.target, progress=False, warmup=False, stop_at_target=True)
    rec = exp.run().records[0]
    assert rec.stop_reason == "target reached"
    evals = [row for row in rec.rows if not math.isnan(row.get("val_accuracy", math.nan))]
    assert evals[-1]["effective_step"] == rec.steps_to_target  # nothing trained after the target


def _note_percent(note: str, label: str) -> float:
    m = re.search(re.escape(label) + r" (\d+(?:\.\d+)?)%", note)
    assert m, (label, note)
    return float(m.group(1))


def test_domain_row_on_real_pros_cons_to_mr():
    """DANN against source-only on small real subsets: the figure is the ratio of the two
    MR test errors the note reports, and the row never claims a verdict from one seed."""
    torch.set_num_threads(1)
    proto = claims.SMOKE_PROTOCOL
    claim = next(c for c in claims.FAMILY_ROWS if c.key == "domain_adaptation")
    progress = claims.Progress([1.0, 1.0], stream=None)
    row = claims._domain_row(claim, [0], proto, progress)
    assert row["dataset"] == "pros_cons → mr" and row["status"] == "measured" and row["seeds"] == 1
    assert row["verdict"].startswith("no verdict") and len(row["per_seed"]) == 1
    assert "MR labels never read" in row["note"] and f"MR test {proto['text_cap'][2]:,}" in row["note"]
    so, dann = _note_percent(row["note"], "source-only"), _note_percent(row["note"], "DANN")
    assert 0 < so < 100 and 0 < dann < 100
    assert row["measured"] == pytest.approx((100 - so) / (100 - dann), rel=0.01)
    assert len(progress.finished) == 2  # source-only and DANN, one seed


@pytest.mark.parametrize("relax,status", [(0.45, "measured"), (0.0, "target missed")])
def test_multitask_row_on_real_subj_and_mr(relax, status):
    """One shared model against two single-task models on small real subsets: three runs
    per seed, the targets relaxed as stated, per-task accuracies in the note; with the
    full-data targets (no relaxation) one epoch of 200 sentences misses them, and the row
    gives no ratio."""
    torch.set_num_threads(1)
    proto = claims.SMOKE_PROTOCOL | {"text_relax": relax}
    claim = next(c for c in claims.FAMILY_ROWS if c.key == "multitask")
    progress = claims.Progress([1.0] * 3, stream=None)
    row = claims._multitask_row(claim, [0], proto, progress)
    assert row["dataset"] == "subj + mr" and row["seeds"] == 1 and row["status"] == status
    assert len(progress.finished) == 3
    assert f"the recipes' less {relax:g}" in row["note"]
    for t in ("subj", "mr"):
        assert f"{t} test accuracy single" in row["note"]
    if status == "measured":
        assert row["measured"] > 0 and row["per_seed"] == [row["measured"]]
        assert row["verdict"].startswith("no verdict")
    else:
        assert math.isnan(row["measured"]) and row["verdict"].startswith("no ratio")
        assert "every target reached on 0 of 1 seeds" in row["note"]


def test_full_transfer_reads_fine_tuning_and_pretraining_speedups():
    def row(ds, variant, labels, ft, total, reached="3/3"):
        return {"dataset": ds, "variant": variant, "labels": labels, "finetune_time_ratio": ft,
                "total_time_ratio": total, "reached": reached}

    d = {"benchmark": "transfer", "seeds": 3, "quick": False, "results": [
        row("mr", "kim-cnn-rand", "full", 1.0, 1.0), row("mr", "kim-non-static-w2v", 500, None, None, "0/3"),
        row("mr", "kim-non-static-w2v", "full", 0.5, 2.0), row("mr", "transformer-ulmfit", "full", None, None, "1/3")]}
    text = claims._full_transfer(d)
    # the full-data budget only; a ratio of 0.5 is a 2x speedup, 2.0 a 0.5x one
    assert text == ("time to target against Kim CNN-rand: mr full labels word2vec non-static: 2.00x fine-tuning, "
                    "0.50x with pretraining; mr full labels ULMFiT transformer: target missed (1/3 seeds reached "
                    "it) (3 seeds)")
    quick = {"seeds": 1, "quick": True, "results": [row("mr", "kim-non-static-w2v", 100, None, None, "0/1")]}
    assert claims._full_transfer(quick).endswith("target missed (0/1 seeds reached it) (1 seed, quick)")
    with pytest.raises(KeyError):
        claims._full_transfer({"results": [row("mr", "kim-cnn-rand", "full", 1.0, 1.0)]})
