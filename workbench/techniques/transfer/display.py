"""Notebook helpers of the transfer family: the pretraining perplexity curve, text
generation with the KV cache, the gradual-unfreezing schedule, and label-budget curves
(accuracy against labels, scratch vs pretrained) with the sentences that read them.
Every widget callback of ``notebooks/transfer.ipynb`` is a function here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from workbench.data.text import tokenize
from workbench.techniques.transfer.finetune import ulmfit_schedule
from workbench.techniques.transfer.lm import EOS, PretrainedLM
from workbench.validation import check_int, check_number

__all__ = [
    "generate_text",
    "label_budget_curves",
    "label_budget_figure",
    "label_budget_prose",
    "perplexity_figure",
    "unfreezing_figure",
    "unfreezing_table",
]


def perplexity_figure(history: Sequence[Mapping[str, float]], kneser_ney: float | None = None):
    """Held-out perplexity (log scale) against pretraining step, with the Kneser-Ney
    baseline's perplexity as a horizontal line when given. ``history``: the rows of
    :class:`~workbench.techniques.transfer.lm.PretrainedLM` (or ``on_eval``'s)."""
    import plotly.graph_objects as go

    steps = [r["step"] for r in history]
    fig = go.Figure(go.Scatter(x=steps, y=[r["val_perplexity"] for r in history], mode="lines+markers",
                               name="transformer LM"))
    if kneser_ney is not None and math.isfinite(kneser_ney):
        fig.add_hline(y=kneser_ney, line_dash="dash", annotation_text=f"Kneser-Ney trigram {kneser_ney:.0f}")
    fig.update_layout(title="Held-out perplexity during pretraining", xaxis_title="optimizer step",
                      yaxis_title="perplexity (log scale)", yaxis_type="log", height=360,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def generate_text(pretrained: PretrainedLM, prompt: str, max_new_tokens: int = 20, temperature: float = 0.8,
                  top_k: int | None = 40, seed: int = 0, use_cache: bool = True) -> str:
    """Continue ``prompt`` with the pretrained LM (KV cache by default): the prompt is
    tokenised as the corpus was, preceded by ``<eos>`` (a sentence start), words outside the
    vocabulary become ``<unk>``; generation stops early at ``<eos>``. ``temperature=0``:
    greedy. Returns the prompt's tokens and the new ones, space-joined.

    Raises:
        ValueError: invalid ``max_new_tokens`` / ``temperature`` / ``top_k``.
    """
    check_int("max_new_tokens", max_new_tokens, 1)
    check_number("temperature", temperature, 0.0)
    vocab, model = pretrained.vocab, pretrained.model
    ids = [vocab.stoi[EOS]] + vocab.encode(tokenize(prompt))
    ids = ids[-(model.max_len - max_new_tokens):] if len(ids) + max_new_tokens > model.max_len else ids
    if len(ids) + max_new_tokens > model.max_len:
        raise ValueError(f"max_new_tokens must be at most {model.max_len - 1}; got {max_new_tokens}")
    out = model.generate(torch.tensor([ids]), max_new_tokens, temperature=float(temperature),
                         top_k=top_k if temperature > 0 else None, seed=seed, use_cache=use_cache,
                         banned=(vocab.pad_id,))
    words = vocab.decode(out[0, 1:].tolist())
    new = words[len(ids) - 1:]
    if EOS in new:
        new = new[:new.index(EOS) + 1]
    return " ".join(words[:len(ids) - 1] + new)


def unfreezing_table(group_names: Sequence[str], every: int = 1, epochs: int = 6) -> list[dict[str, Any]]:
    """Which layer groups train in each epoch under ULMFiT's gradual unfreezing (top group
    first, one more every ``every`` epochs): rows ``{"epoch", "group", "trains"}``."""
    check_int("every", every, 1)
    check_int("epochs", epochs, 1)
    sched = ulmfit_schedule(list(group_names), every=every)
    start = {g: e for e, gs in sched.items() for g in gs}
    return [{"epoch": e, "group": g, "trains": e >= start[g]} for e in range(epochs) for g in group_names]


def unfreezing_figure(group_names: Sequence[str], every: int = 1, epochs: int = 6):
    """Heat map of :func:`unfreezing_table`: groups (bottom to top) against epochs,
    trained cells dark."""
    import plotly.graph_objects as go

    rows = unfreezing_table(group_names, every, epochs)
    names = list(group_names)
    z = [[float(next(r["trains"] for r in rows if r["epoch"] == e and r["group"] == g)) for e in range(epochs)]
         for g in names]
    fig = go.Figure(go.Heatmap(z=z, x=[f"epoch {e}" for e in range(epochs)], y=names, zmin=0, zmax=1,
                               colorscale=[[0, "#eeeeee"], [1, "#1f77b4"]], showscale=False, xgap=2, ygap=2))
    fig.update_layout(title=f"Gradual unfreezing: one group every {every} epoch(s), top first",
                      height=80 + 40 * len(names), margin={"l": 90, "r": 20, "t": 50, "b": 40})
    return fig


def label_budget_curves(splits: Any, pretrained: PretrainedLM, budgets: Sequence[int | None] = (100, 500, None),
                        seeds: Sequence[int] = (0,), config: Mapping[str, Any] | None = None,
                        progress: bool = False) -> list[dict[str, Any]]:
    """Test accuracy of the transformer fine-tuned from ``pretrained`` (ULMFiT) and from
    scratch at each label budget (seeded subsets of the training split; None: all of it).

    Returns:
        rows ``{"labels", "variant" ("pretrained" | "scratch"), "seed", "test_accuracy",
        "seconds"}`` (fine-tuning seconds; pretraining is ``pretrained.pretrain_seconds``).
    """
    from workbench.config import TrainingConfig
    from workbench.data.splits import cap_splits
    from workbench.experiment import Experiment, Target
    from workbench.techniques.transfer.pipeline import (
        lm_splits,
        scratch_transformer_variant,
        ulmfit_variant,
    )

    rows = []
    data = lm_splits(splits, pretrained.vocab, pretrained.config.max_len)
    for budget in budgets:
        part = data if budget is None or budget >= len(data.train) else cap_splits(data, budget, None, None, seed=0)
        labels = len(part.train)
        exp = Experiment(part, lambda task: None, TrainingConfig(progress_bar=False),
                         [ulmfit_variant(pretrained, name="pretrained", config=config),
                          scratch_transformer_variant(pretrained, name="scratch", config=config)],
                         seeds=seeds, target=Target("val_accuracy", 1.01), progress=progress)
        for r in exp.run().records:
            rows.append({"labels": labels, "variant": r.variant, "seed": r.seed,
                         "test_accuracy": r.test_metrics.get("test_accuracy", math.nan), "seconds": r.wall_time})
    return rows


def _means(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        out.setdefault(r["variant"], {}).setdefault(int(r["labels"]), []).append(float(r["test_accuracy"]))
    return {v: {n: sum(xs) / len(xs) for n, xs in sorted(d.items())} for v, d in out.items()}


def label_budget_figure(rows: Sequence[Mapping[str, Any]]):
    """Mean test accuracy against the number of labelled training sentences (log x), one
    line per variant (:func:`label_budget_curves`' rows)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for variant, pts in _means(rows).items():
        fig.add_trace(go.Scatter(x=list(pts), y=list(pts.values()), mode="lines+markers", name=variant))
    fig.update_layout(title="Test accuracy against labelled examples", xaxis_title="labelled training sentences",
                      xaxis_type="log", yaxis_title="test accuracy", yaxis_tickformat=".0%", height=380,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def label_budget_prose(rows: Sequence[Mapping[str, Any]], pretrain_seconds: float | None = None) -> str:
    """Sentences that read :func:`label_budget_curves`' rows: the gap between pretrained
    and scratch at each budget, and the smallest budget at which the pretrained model
    reaches the scratch model's accuracy with the most labels."""
    m = _means(rows)
    if "pretrained" not in m or "scratch" not in m:
        return "Both the pretrained and the scratch variants are needed to compare them."
    pre, scr = m["pretrained"], m["scratch"]
    budgets = sorted(set(pre) & set(scr))
    parts = []
    for n in budgets:
        gap = (pre[n] - scr[n]) * 100
        word = "above" if gap > 0 else "below" if gap < 0 else "level with"
        parts.append(f"with {n:,} labels the pretrained transformer is at {pre[n]:.1%}, {abs(gap):.1f} points "
                     f"{word} the one trained from scratch ({scr[n]:.1%})")
    text = "; ".join(parts) + "."
    best = scr[budgets[-1]]
    reach = [n for n in budgets if pre[n] >= best]
    if reach and reach[0] < budgets[-1]:
        text += (f" The pretrained model reaches the scratch model's {budgets[-1]:,}-label accuracy with "
                 f"{reach[0]:,} labels ({budgets[-1] / reach[0]:.0f}x fewer).")
    else:
        text += f" It does not reach the scratch model's {budgets[-1]:,}-label accuracy with fewer labels here."
    if pretrain_seconds is not None:
        text += f" Pretraining cost {pretrain_seconds:.0f} s, paid once for every budget."
    return text[0].upper() + text[1:]
