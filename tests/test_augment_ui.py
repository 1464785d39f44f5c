"""The augmentation notebook's package functions: highlighted previews, the slider panel,
the with/without comparison (button callback) and its tables."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench.experiment import ExperimentResult, RunRecord, Target
from workbench.techniques.augment import (
    WITH_EDA,
    WITHOUT_EDA,
    EDAComparison,
    comparison_config,
    eda_comparison_callback,
    eda_preview_html,
    eda_preview_panel,
    highlight_changes,
    plot_gains,
    sample_sentences,
    show_eda_preview,
)
from workbench.techniques.augment.display import OPERATION_NAMES

TEXTS = ["a charming , funny and thoughtful look at a family in crisis .",
         "the film follows a young <detective> through the city ."]


def test_highlight_changes_marks_new_and_removed_tokens():
    src = ["a", "good", "film", "."]
    assert highlight_changes(src, src) == "a good film ."
    out = highlight_changes(src, ["a", "fine", "film", "<b>"])
    assert out.count('class="eda-new"') == 2 and out.count('class="eda-del"') == 2
    assert ">fine</mark>" in out and ">good</del>" in out and "&lt;b&gt;" in out and "<b>" not in out
    ins = highlight_changes(src, ["a", "good", "nice", "film", "."])
    assert ins.count("eda-new") == 1 and "eda-del" not in ins
    dele = highlight_changes(src, ["a", "film", "."])
    assert dele.count("eda-del") == 1 and "eda-new" not in dele


def test_preview_html_shows_n_aug_copies_per_sentence():
    html = eda_preview_html(TEXTS, 0.2, 0.2, 0.2, 0.2, n_aug=5, seed=1)
    labels = sum(html.count(f">{name}</span>") for name in OPERATION_NAMES.values())
    assert labels == 2 * 5
    assert "&lt;" in html and "&gt;" in html and "<detective" not in html  # tokens are escaped
    assert "eda-new" in html  # something changed at these rates
    assert html == eda_preview_html(TEXTS, 0.2, 0.2, 0.2, 0.2, n_aug=5, seed=1)  # seeded
    only_rd = eda_preview_html(TEXTS, 0, 0, 0, 0.3, n_aug=3)
    assert only_rd.count(">random deletion</span>") == 6 and "random swap</span>" not in only_rd


def test_show_preview_reports_invalid_settings_instead_of_raising():
    html = show_eda_preview(TEXTS, 0, 0, 0, 0, n_aug=4)
    assert "at least one" in html and "color:#b00020" in html
    ok = show_eda_preview(TEXTS, 0.1, 0.1, 0.1, 0.1, n_aug=2)
    assert ok.count("</span>") >= 4


def test_preview_panel_redraws_when_a_slider_moves():
    box, out = eda_preview_panel(TEXTS, seed=0, alpha=0.1, n_aug=2)
    first = box.last_html
    assert sum(first.count(f">{n}</span>") for n in OPERATION_NAMES.values()) == 4
    box.sliders["n_aug"].value = 6
    assert sum(box.last_html.count(f">{n}</span>") for n in OPERATION_NAMES.values()) == 12
    box.sliders["alpha_sr"].value = 0.0
    box.sliders["alpha_ri"].value = 0.0
    box.sliders["alpha_rs"].value = 0.0
    assert ">synonym replacement</span>" not in box.last_html and ">random deletion</span>" in box.last_html
    assert set(box.sliders) == {"alpha_sr", "alpha_ri", "alpha_rs", "p_rd", "n_aug"}


def test_sample_sentences_are_short_real_and_balanced():
    s = sample_sentences("subj", k=4, seed=0, max_tokens=20, smoke=True)
    assert len(s) == 4 and len(set(s)) == 4
    from workbench.recipes import load_splits

    train = load_splits("subj", smoke=True).train
    labels = {t: y for t, y in zip(train.texts, train.targets.tolist())}
    assert sorted(labels[t] for t in s) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="k must"):
        sample_sentences("subj", k=0, smoke=True)


def test_comparison_config_same_early_stopping_per_pass():
    from workbench.recipes import baseline_recipe

    base = baseline_recipe("subj").config
    cfg = comparison_config(base, 500, patience=3, max_passes=30)
    assert cfg.eval_every_steps == 10 and cfg.eval_every_epochs is None and cfg.max_steps == 300
    assert cfg.early_stopping_patience == 3 and cfg.restore_best and cfg.monitor == "val_accuracy"
    assert (cfg.lr, cfg.batch_size, cfg.optimizer) == (base.lr, base.batch_size, base.optimizer)
    with pytest.raises(ValueError, match="patience"):
        comparison_config(base, 500, patience=0)


def _rec(key: str, variant: str, seed: int, acc: float, n: int) -> RunRecord:
    return RunRecord(dataset=key, variant=variant, seed=seed, rows=[], test_metrics={"test_accuracy": acc},
                     wall_time=1.0, examples_seen=5 * n, effective_steps=10, stop_reason="", counters={})


def test_comparison_rows_gains_and_fraction_matching_full():
    accs = {  # key: (without, with) per seed
        "subj/500": ([0.70, 0.72], [0.75, 0.75]),
        "subj/2000": ([0.80, 0.82], [0.86, 0.88]),
        "subj/full": ([0.87, 0.87], [0.88, 0.88]),
    }
    sizes = {"subj/500": 500, "subj/2000": 2000, "subj/full": 8000}
    recs = [_rec(k, v, s, a[i][s], sizes[k]) for k, a in accs.items() for s in (0, 1)
            for i, v in enumerate((WITHOUT_EDA, WITH_EDA))]
    aug = [{"key": k, "seed": s, "eda": {"alpha_sr": 0.05, "n_aug": 16}, "augmentations_per_s": 1000.0,
            "augment_s": 1.0, "copy_oov_rate": 0.01, "new_token_oov_rate": 0.5} for k in accs for s in (0, 1)]
    targets = {k: Target("val_accuracy", 0.9) for k in accs}
    comp = EDAComparison(ExperimentResult(recs, targets, WITHOUT_EDA), sizes, aug, {"subj": 8000})
    rows = {r["size_label"]: r for r in comp.rows()}
    assert rows["500"]["gain_mean"] == pytest.approx(0.04)
    assert rows["500"]["gain_std"] == pytest.approx(math.sqrt(2) * 0.01)  # gains 0.05, 0.03
    assert rows["500"]["paper_gain"] == pytest.approx(0.030) and rows["full"]["paper_gain"] == pytest.approx(0.008)
    assert rows["2000"]["accuracy_with_mean"] == pytest.approx(0.87) and rows["500"]["passes_with"] == 5
    # 2,000 sentences with EDA (0.87) reach the full set without it (0.87): fraction 0.25
    assert comp.fraction_matching_full() == {"subj": 0.25}
    table = comp.table()
    assert list(table["gain (points)"]) == ["+4.0 ± 1.4", "+6.0 ± 0.0", "+1.0 ± 0.0"]
    verdicts = comp.verdicts()
    assert "helps" in verdicts[0] and "+4.0 points" in verdicts[0]
    fig = plot_gains(comp)
    assert isinstance(fig, go.Figure) and [t.type for t in fig.data] == ["bar", "scatter"]
    assert list(fig.data[0].y) == pytest.approx([4.0, 6.0, 1.0])


def test_comparison_callback_runs_both_arms_on_real_data():
    table = eda_comparison_callback("subj", train_size=120, seed=0, smoke=True, max_passes=2)
    assert isinstance(table, pd.DataFrame) and len(table) == 1
    comp = table.attrs["comparison"]
    recs = comp.result.records
    assert sorted(r.variant for r in recs) == sorted([WITH_EDA, WITHOUT_EDA])
    without = next(r for r in recs if r.variant == WITHOUT_EDA)
    with_eda = next(r for r in recs if r.variant == WITH_EDA)
    # same early-stopping clock: evaluations at the same optimizer steps, one per 120-example pass
    evals = [r["effective_step"] for r in without.rows if r.get("val_accuracy") == r.get("val_accuracy")
             and "val_accuracy" in r]
    assert evals[:2] == [3, 6]
    assert with_eda.examples_seen <= 2 * 150 and without.examples_seen <= 2 * 120
    (aug,) = comp.augmentation
    assert aug["eda"] == {"alpha_sr": 0.05, "alpha_ri": 0.05, "alpha_rs": 0.05, "p_rd": 0.05, "n_aug": 16}
    assert aug["sources"] == 120 and aug["copies"] == 16 * 120
    row = comp.rows()[0]
    assert 0 <= row["accuracy_with_mean"] <= 1 and math.isnan(row["gain_std"])  # one seed: no spread
    assert table.attrs["verdicts"] and "one seed" in table.attrs["verdicts"][0]
