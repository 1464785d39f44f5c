"""Tests for workbench.plots: figures from hand-made history / summary frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench import plots

DATASETS = ("digits", "subj")
VARIANTS = ("baseline", "curriculum")
SEEDS = (0, 1, 2)


def make_history(n_evals: int = 6) -> pd.DataFrame:
    """3 seeds x 2 variants x 2 data sets; wall times differ per seed (needs interpolation)."""
    rows = []
    for d_i, ds in enumerate(DATASETS):
        for v_i, var in enumerate(VARIANTS):
            for seed in SEEDS:
                for k in range(n_evals):
                    t = k * 1.0 + 0.1 * seed + 0.05 * v_i  # seed-specific eval times
                    acc = 0.5 + 0.05 * k + 0.01 * seed + 0.02 * v_i + 0.1 * d_i
                    rows.append({
                        "dataset": ds, "variant": var, "seed": seed, "step": 10 * k,
                        "effective_step": 10 * k, "epoch": k, "examples_seen": 320 * k,
                        "wall_time": t, "lr": 1e-3, "train_loss": 1 - acc,
                        "train_accuracy": acc, "val_loss": 1 - acc, "val_accuracy": acc,
                    })
    return pd.DataFrame(rows)


def traces(fig: go.Figure, role: str, facet=None, group=None) -> list:
    out = []
    for t in fig.data:
        meta = t.meta or {}
        if meta.get("role") != role:
            continue
        if facet is not None and meta.get("facet") != facet:
            continue
        if group is not None and meta.get("group") != group:
            continue
        out.append(t)
    return out


def expected_band(df: pd.DataFrame, x: str, y: str):
    curves = []
    for _, s in df.groupby("seed"):
        s = s.dropna(subset=[x, y]).sort_values(x)
        curves.append((s[x].to_numpy(float), s[y].to_numpy(float)))
    lo = max(c[0][0] for c in curves)
    hi = min(c[0][-1] for c in curves)
    allx = np.unique(np.concatenate([c[0] for c in curves]))
    grid = allx[(allx >= lo) & (allx <= hi)]
    ys = np.array([np.interp(grid, cx, cy) for cx, cy in curves])
    return grid, ys.mean(0), ys.std(0, ddof=1)


def test_band_is_mean_pm_std_on_common_grid():
    h = make_history()
    fig = plots.plot_curves(h, x="wall_time", y="val_accuracy")
    for ds in DATASETS:
        for var in VARIANTS:
            sub = h[(h.dataset == ds) & (h.variant == var)]
            grid, mean, std = expected_band(sub, "wall_time", "val_accuracy")
            # grid: only where every seed has data -> starts at seed 2's first eval
            assert grid[0] == pytest.approx(0.2 + 0.05 * VARIANTS.index(var))
            (line,) = traces(fig, "mean", ds, var)
            np.testing.assert_allclose(np.asarray(line.x, float), grid)
            np.testing.assert_allclose(np.asarray(line.y, float), mean)
            (band,) = traces(fig, "band", ds, var)
            np.testing.assert_allclose(np.asarray(band.x, float),
                                       np.concatenate([grid, grid[::-1]]))
            np.testing.assert_allclose(np.asarray(band.y, float),
                                       np.concatenate([mean + std, (mean - std)[::-1]]))
            assert band.fill == "toself"
            assert std.max() > 0  # seeds really differ


def test_mean_std_band_identical_x_and_no_overlap():
    x = np.arange(4.0)
    grid, mean, std = plots.mean_std_band([(x, x), (x, x + 2)])
    np.testing.assert_allclose(grid, x)
    np.testing.assert_allclose(mean, x + 1)
    np.testing.assert_allclose(std, np.full(4, math.sqrt(2)))
    # disjoint ranges: union grid, seeds held constant beyond their ends
    grid, mean, _ = plots.mean_std_band([(np.array([0.0, 1.0]), np.array([0.0, 1.0])),
                                         (np.array([2.0, 3.0]), np.array([2.0, 3.0]))])
    np.testing.assert_allclose(grid, [0, 1, 2, 3])
    np.testing.assert_allclose(mean, [1, 1.5, 1.5, 2])
    with pytest.raises(ValueError):
        plots.mean_std_band([])


def test_nan_rows_are_ignored():
    h = make_history()
    holed = h.copy()
    holed.loc[(holed.seed == 1) & (holed.epoch == 3), "val_accuracy"] = np.nan
    holed.loc[holed.epoch == 5, "val_loss"] = np.nan  # y measured only sometimes
    fig = plots.plot_curves(holed, y="val_accuracy")
    for t in fig.data:
        assert np.isfinite(np.asarray(t.y, float)).all()
    sub = holed[(holed.dataset == "digits") & (holed.variant == "baseline")]
    grid, mean, _ = expected_band(sub, "wall_time", "val_accuracy")
    (line,) = traces(fig, "mean", "digits", "baseline")
    np.testing.assert_allclose(np.asarray(line.y, float), mean)
    assert 3.1 not in set(np.asarray(line.x, float))  # seed 1's missing eval time is gone

    # a variant with no measured y in one data set draws nothing there
    holed.loc[(holed.dataset == "subj") & (holed.variant == "curriculum"),
              "val_accuracy"] = np.nan
    fig = plots.plot_curves(holed)
    assert traces(fig, "mean", "subj", "curriculum") == []
    assert len(traces(fig, "mean", "digits", "curriculum")) == 1


def test_facets_colors_legend_and_axis_titles():
    fig = plots.plot_curves(make_history(), x="examples_seen", target={"digits": 0.9})
    assert {a.title.text for a in fig.select_xaxes()} == {"examples seen"}
    assert fig.layout.yaxis.title.text == "validation accuracy"
    assert fig.layout.xaxis2.domain[0] > fig.layout.xaxis.domain[1]  # side by side
    for var in VARIANTS:
        lines = traces(fig, "mean", group=var)
        assert len(lines) == 2
        assert len({t.line.color for t in lines}) == 1  # same color in both facets
        assert sum(bool(t.showlegend) for t in lines) == 1  # legend once per variant
    colors = {traces(fig, "mean", group=v)[0].line.color for v in VARIANTS}
    assert len(colors) == 2
    hlines = [s for s in fig.layout.shapes if s.y0 == s.y1 == 0.9]
    assert len(hlines) == 1  # target only for digits

    fig = plots.plot_curves(make_history(), x="effective_step", target=0.8)
    assert fig.layout.xaxis.title.text == "optimizer steps"
    assert len([s for s in fig.layout.shapes if s.y0 == 0.8]) == 2


def test_single_seed_and_single_dataset():
    h = make_history()
    h = h[(h.seed == 0) & (h.dataset == "digits")]
    fig = plots.plot_curves(h, x="wall_time")
    assert traces(fig, "band") == []
    (line,) = traces(fig, "mean", group="baseline")
    sub = h[h.variant == "baseline"]
    np.testing.assert_allclose(np.asarray(line.x, float), sub.wall_time.to_numpy())
    np.testing.assert_allclose(np.asarray(line.y, float), sub.val_accuracy.to_numpy())
    assert "digits" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "wall time (s)"


def test_missing_columns_and_empty():
    h = make_history().drop(columns=["wall_time", "seed"])
    with pytest.raises(ValueError, match="wall_time"):
        plots.plot_curves(h)
    with pytest.raises(ValueError, match="seed"):
        plots.plot_curves(h, x="examples_seen")
    fig = plots.plot_curves(pd.DataFrame())
    assert fig.layout.annotations[0].text == "no data yet"
    fig = plots.plot_curves(make_history().assign(val_accuracy=np.nan))
    assert fig.layout.annotations[0].text == "no data yet"


def make_summary() -> pd.DataFrame:
    return pd.DataFrame({
        "dataset": ["digits", "digits", "subj", "subj"],
        "variant": ["baseline", "curriculum", "baseline", "curriculum"],
        "seeds": [3, 3, 3, 3],
        "target_metric": "val_accuracy",
        "target_value": [0.9, 0.9, 0.8, 0.8],
        "reached": [3, 3, 3, 0],
        "time_to_target_s_mean": [10.0, 7.0, 20.0, np.nan],
        "time_to_target_s_std": [1.0, 0.5, 2.0, np.nan],
        "examples_to_target_mean": [6400.0, 3200.0, 12800.0, np.nan],
        "examples_to_target_std": [320.0, 0.0, 640.0, np.nan],
        "final_metric_mean": [0.95, 0.96, 0.85, 0.78],
        "final_metric_std": [0.01, 0.01, 0.02, 0.03],
        "test_accuracy_mean": [0.94, 0.95, 0.84, 0.77],
        "test_accuracy_std": [0.01, 0.02, 0.02, 0.02],
        "time_to_target_ratio": [1.0, 0.7, 1.0, np.nan],
        "time_to_target_ratio_std": [0.1, 0.08, 0.12, np.nan],
        "examples_to_target_ratio": [1.0, 0.5, 1.0, np.nan],
        "examples_to_target_ratio_std": [0.05, 0.03, 0.05, np.nan],
    })


def test_plot_ratios_bars_errors_baseline_and_not_reached():
    fig = plots.plot_ratios(make_summary())
    bars = {t.name: t for t in fig.data}
    assert set(bars) == set(VARIANTS)
    assert all(t.type == "bar" for t in fig.data)
    assert fig.layout.barmode == "group"
    base, cur = bars["baseline"], bars["curriculum"]
    assert list(base.x) == ["digits", "subj"]
    assert list(base.y) == [1.0, 1.0]
    assert list(base.error_y.array) == [0.1, 0.12]
    assert cur.y[0] == 0.7 and cur.error_y.array[0] == 0.08
    # target not reached in subj: no visible bar, a text instead
    assert cur.y[1] == 0.0 and cur.text[1] == "not reached" and cur.error_y.array[1] is None
    assert base.marker.color != cur.marker.color
    (line,) = [s for s in fig.layout.shapes if s.y0 == s.y1 == 1.0]
    assert line.line.dash == "dash"
    assert any("< 1: cheaper than baseline" in a.text for a in fig.layout.annotations)
    assert fig.layout.yaxis.title.text == "time to target / baseline"

    fig = plots.plot_ratios(make_summary(), metric="examples_to_target_ratio", error=None)
    assert fig.data[1].y[0] == 0.5
    with pytest.raises(ValueError, match="time_to_target_ratio_std"):
        plots.plot_ratios(make_summary().drop(columns=["time_to_target_ratio_std"]))


def test_results_table_strings_and_claims():
    table = plots.results_table(make_summary(), claims={"curriculum": "1.5× (paper)"})
    assert list(table.columns[:4]) == ["dataset", "variant", "seeds", "reached"]
    cols = list(table.columns)
    assert cols.index("claimed") == cols.index("time ratio") + 1
    row = table.iloc[1]
    assert row["time to target (s)"] == "7.00 ± 0.50"
    assert row["examples to target"] == "3,200 ± 0"
    assert row["final metric"] == "0.960 ± 0.010"
    assert row["time ratio"] == "0.70 ± 0.08"
    assert row["claimed"] == "1.5× (paper)"
    assert row["reached"] == "3/3"
    last = table.iloc[3]
    assert last["time to target (s)"] == "not reached"
    assert last["time ratio"] == "not reached"
    assert last["reached"] == "0/3"
    assert table.iloc[0]["claimed"] == ""
    assert "claimed" not in plots.results_table(make_summary()).columns
    # the runner's summary carries a "claim" column: used when no claims are passed
    with_claim = make_summary().assign(claim=["", "2× (paper)", "", "2× (paper)"])
    assert list(plots.results_table(with_claim)["claimed"]) == ["", "2× (paper)", "",
                                                                "2× (paper)"]
    assert "claimed" not in plots.results_table(make_summary().assign(claim="")).columns
    with pytest.raises(ValueError, match="variant"):
        plots.results_table(make_summary().drop(columns=["variant"]))


def test_results_table_one_seed_has_no_spread_and_shows_the_verdict():
    one = make_summary().assign(seeds=1, verdict=["baseline", "one seed: no verdict", "baseline", ""])
    row = plots.results_table(one).iloc[1]
    assert row["time to target (s)"] == "7.00" and row["time ratio"] == "0.70"
    assert row["examples to target"] == "3,200" and row["verdict"] == "one seed: no verdict"


def test_lr_schedule_and_learning_curve():
    fig = plots.plot_lr_schedule([0, 1, 2], [0.1, 0.05, 0.0])
    assert list(fig.data[0].y) == [0.1, 0.05, 0.0]
    assert fig.layout.xaxis.title.text == "optimizer steps"
    with pytest.raises(ValueError):
        plots.plot_lr_schedule([0, 1], [0.1])
    rows = make_history().query("dataset == 'digits' and variant == 'baseline' and seed == 0")
    fig = plots.plot_learning_curve(rows.to_dict("records"))
    assert {t.name for t in fig.data} == {"training loss", "validation loss",
                                          "training accuracy", "validation accuracy"}
    assert plots.plot_learning_curve([]).layout.annotations[0].text == "no data yet"


def test_lr_finder_axis_holds_the_whole_smoothed_curve():
    lrs = [10 ** (-6 + 6 * i / 99) for i in range(100)]
    smoothed = [2.3 - 1.5 * i / 70 if i < 70 else 0.8 + (i - 70) * 0.25 for i in range(100)]  # falls, then diverges
    losses = [v + (0.6 if i % 10 == 0 else -0.1) + (5.0 if i == 98 else 0.0) for i, v in enumerate(smoothed)]
    fig = plots.plot_lr_finder(lrs, losses, smoothed)
    lo, hi = fig.layout.yaxis.range
    assert lo <= min(losses) and hi >= max(smoothed)  # nothing of the smoothed curve off the axis
    cut = sum(v > hi for v in losses)
    assert cut >= 1 and any(f"{cut:,} batch losses above" in a.text for a in fig.layout.annotations)
