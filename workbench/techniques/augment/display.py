"""Notebook helpers of augmentation: augmented sentences with their changes highlighted
(HTML), the slider panel, the with / without EDA figure (:func:`plot_gains`) and the
button callback that runs the comparison live (:func:`eda_comparison_callback`).
Callbacks are plain functions, tested on their own."""

from __future__ import annotations

import difflib
import html
import random
from collections.abc import Sequence
from typing import Any

from workbench.data.text import tokenize
from workbench.techniques.augment.comparison import EDAComparison, eda_comparison
from workbench.techniques.augment.eda import EDA, EDAConfig
from workbench.validation import check_int

__all__ = [
    "OPERATION_NAMES",
    "eda_comparison_callback",
    "eda_preview_html",
    "eda_preview_panel",
    "highlight_changes",
    "plot_gains",
    "sample_sentences",
    "show_eda_preview",
]

OPERATION_NAMES = {"sr": "synonym replacement", "ri": "random insertion", "rs": "random swap",
                   "rd": "random deletion"}

_ADDED = "background:#fde68a;border-radius:3px;padding:0 2px"
_DELETED = "color:#b91c1c;text-decoration:line-through;opacity:0.7"


def highlight_changes(original: Sequence[str], augmented: Sequence[str]) -> str:
    """HTML of ``augmented`` with its changes against ``original`` marked.

    Token-level ``difflib.SequenceMatcher`` alignment: tokens the augmented sentence adds
    (inserted, replacing or moved) are in ``<mark class="eda-new">`` (yellow), tokens it
    drops are shown struck through in ``<del class="eda-del">`` (red); unchanged tokens are
    plain. Every token is HTML-escaped.
    """
    sm = difflib.SequenceMatcher(a=list(original), b=list(augmented), autojunk=False)
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            parts.extend(html.escape(t) for t in augmented[j1:j2])
            continue
        if tag in ("delete", "replace"):
            parts.extend(f'<del class="eda-del" style="{_DELETED}">{html.escape(t)}</del>' for t in original[i1:i2])
        if tag in ("insert", "replace"):
            parts.extend(f'<mark class="eda-new" style="{_ADDED}">{html.escape(t)}</mark>' for t in augmented[j1:j2])
    return " ".join(parts)


def eda_preview_html(texts: Sequence[str], alpha_sr: float = 0.1, alpha_ri: float = 0.1, alpha_rs: float = 0.1,
                     p_rd: float = 0.1, n_aug: int = 4, seed: int = 0, eda: EDA | None = None) -> str:
    """An HTML block: each sentence of ``texts`` and its ``n_aug`` EDA copies at the given
    rates, each copy labelled with its operation and its changes highlighted
    (:func:`highlight_changes`). Copies are seeded (``random.Random(seed)``, one stream
    per sentence), so the same settings always show the same copies.

    Raises:
        ValueError: invalid rates or ``n_aug`` (from :class:`EDAConfig`).
    """
    config = EDAConfig(alpha_sr, alpha_ri, alpha_rs, p_rd, n_aug)
    aug = EDA(config) if eda is None else EDA(config, synonyms=eda.synonyms, stop_words=eda.stop_words)
    blocks = []
    for i, text in enumerate(texts):
        toks = tokenize(text)
        if not toks:
            continue
        rng = random.Random(f"preview:{seed}:{i}")
        rows = [f'<div style="margin:2px 0 2px 1.5em"><span style="display:inline-block;width:11em;color:#555">'
                f'{html.escape(OPERATION_NAMES[op])}</span>{highlight_changes(toks, new)}</div>'
                for op, new in aug.augment_with_ops(toks, rng)]
        blocks.append(f'<div style="margin-bottom:0.8em"><b>{html.escape(" ".join(toks))}</b>{"".join(rows)}</div>')
    legend = (f'<div style="color:#555;margin-bottom:0.5em">alpha_sr={config.alpha_sr:g}, '
              f'alpha_ri={config.alpha_ri:g}, alpha_rs={config.alpha_rs:g}, p_rd={config.p_rd:g}, '
              f'n_aug={config.n_aug}. <mark style="{_ADDED}">new or moved</mark> '
              f'<del style="{_DELETED}">removed</del></div>')
    return f'<div class="eda-preview" style="font-family:sans-serif;line-height:1.6">{legend}{"".join(blocks)}</div>'


def show_eda_preview(texts: Sequence[str], alpha_sr: float = 0.1, alpha_ri: float = 0.1, alpha_rs: float = 0.1,
                     p_rd: float = 0.1, n_aug: int = 4, seed: int = 0, output: Any = None) -> str:
    """Slider callback: build :func:`eda_preview_html` and show it (in ``output``, an
    ``ipywidgets.Output``, or the current cell when running in a kernel). Invalid settings
    (every rate 0) show the error message instead of raising. Returns the HTML."""
    from workbench import ui

    try:
        content = eda_preview_html(texts, alpha_sr, alpha_ri, alpha_rs, p_rd, n_aug, seed)
    except ValueError as exc:
        content = f'<div class="eda-preview" style="color:#b00020">{html.escape(str(exc))}</div>'
    if output is not None or ui.in_kernel():
        from IPython.display import HTML, display

        if output is not None:
            ui.set_output(output, HTML(content))
        else:
            display(HTML(content))
    return content


def eda_preview_panel(texts: Sequence[str], seed: int = 0, alpha: float = 0.1, n_aug: int = 4) -> tuple[Any, Any]:
    """Sliders for ``alpha_sr``, ``alpha_ri``, ``alpha_rs``, ``p_rd`` (0-0.5) and ``n_aug``
    (1-16) that redraw :func:`show_eda_preview` into an ``ipywidgets.Output`` whenever one
    moves (``observe(..., names="value")``; ipywidgets 7.7 and 8.1).

    Returns ``(box, output)``; ``box.sliders`` maps names to sliders and ``box.last_html``
    holds the last HTML drawn.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    layout = w.Layout(width="420px")
    sliders = {name: w.FloatSlider(value=alpha, min=0.0, max=0.5, step=0.01, description=name,
                                   continuous_update=False, style=style, layout=layout, readout_format=".2f")
               for name in ("alpha_sr", "alpha_ri", "alpha_rs", "p_rd")}
    sliders["n_aug"] = w.IntSlider(value=n_aug, min=1, max=16, step=1, description="n_aug",
                                   continuous_update=False, style=style, layout=layout)
    out = w.Output()
    box = w.VBox([*sliders.values(), out])
    box.sliders = sliders
    box.last_html = ""

    def redraw(_change: Any = None) -> None:
        box.last_html = show_eda_preview(texts, seed=seed, output=out,
                                         **{k: s.value for k, s in sliders.items()})

    for s in sliders.values():
        s.observe(redraw, names="value")
    box.redraw = redraw
    redraw()
    return box, out


def sample_sentences(dataset: str = "subj", k: int = 4, seed: int = 0, max_tokens: int = 22,
                     smoke: bool = False) -> list[str]:
    """``k`` training sentences of a built-in text data set with at most ``max_tokens``
    tokens, alternating between the classes, chosen with ``random.Random(seed)``.

    Raises:
        ValueError: ``k < 1``, or not enough short sentences.
    """
    from workbench.recipes import load_splits

    check_int("k", k, 1)
    train = load_splits(dataset, smoke=smoke).train
    rng = random.Random(seed)
    by_class: dict[int, list[str]] = {}
    for text, y in zip(train.texts, train.targets.tolist()):
        if 5 <= len(tokenize(text)) <= max_tokens:
            by_class.setdefault(int(y), []).append(text)
    pools = [rng.sample(v, min(len(v), k)) for _, v in sorted(by_class.items())]
    out = [p[i] for i in range(k) for p in pools if i < len(p)][:k]
    if len(out) < k:
        raise ValueError(f"only {len(out)} training sentences of {dataset!r} have 5..{max_tokens} tokens; asked for {k}")
    return out


def plot_gains(comparison: EDAComparison, title: str | None = None):
    """Bar chart of the measured gain (test accuracy with EDA minus without, points) per
    training size, one bar group per data set, error bars one sample std over seeds, and
    the paper's five-data-set average gain as black diamonds. Returns a plotly figure."""
    import plotly.graph_objects as go

    from workbench.plots import variant_colors

    rows = comparison.rows()
    fig = go.Figure()
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    colors = variant_colors(datasets)
    labels = list(dict.fromkeys((f"{r['train_size']:,}" + (" (full)" if r["size_label"] == "full" else ""))
                                for r in rows))
    for d in datasets:
        mine = [r for r in rows if r["dataset"] == d]
        fig.add_bar(x=[f"{r['train_size']:,}" + (" (full)" if r["size_label"] == "full" else "") for r in mine],
                    y=[r["gain_mean"] * 100 for r in mine], name=d, marker_color=colors[d],
                    error_y={"type": "data", "array": [0 if r["gain_std"] != r["gain_std"] else r["gain_std"] * 100
                                                       for r in mine], "visible": True})
    paper_x, paper_y = [], []
    for r in rows:
        lab = f"{r['train_size']:,}" + (" (full)" if r["size_label"] == "full" else "")
        if r["paper_gain"] == r["paper_gain"] and lab not in paper_x:
            paper_x.append(lab)
            paper_y.append(r["paper_gain"] * 100)
    if paper_x:
        fig.add_scatter(x=paper_x, y=paper_y, mode="markers", name="paper (5-set avg.)",
                        marker={"symbol": "diamond", "size": 11, "color": "black"})
    fig.add_hline(y=0, line_color="grey", line_width=1)
    fig.update_layout(barmode="group", title=title or "EDA: test-accuracy gain by training size",
                      xaxis_title="training sentences", yaxis_title="gain (accuracy points)", height=400,
                      xaxis={"categoryorder": "array", "categoryarray": labels}, template="plotly_white")
    return fig


def eda_comparison_callback(dataset: str = "subj", train_size: int = 500, seed: int = 0, smoke: bool = False,
                            output: Any = None, max_passes: int = 30):
    """The augmentation notebook's button: train without and with EDA (the paper's
    recommended setting for ``train_size``) on a ``train_size`` subset, drawing validation
    accuracy against examples seen live (into ``output``, an ``ipywidgets.Output``, or the
    current cell), and return the results table (``pandas.DataFrame``, see
    :meth:`~workbench.techniques.augment.comparison.EDAComparison.table`).

    Raises:
        ValueError: unknown data set or a training size < 2.
    """
    from workbench import ui
    from workbench.recipes import baseline_recipe

    target = baseline_recipe(dataset, smoke=smoke).target.value
    live = ui.LivePlot.for_history(x="examples_seen", y="val_accuracy", target=target, output=output, every_s=1.0)
    lines: list[str] = []
    with live:
        comp = eda_comparison(dataset, [train_size], [seed], smoke=smoke, max_passes=max_passes,
                              on_eval=live.callback(), log=lines.append)
    table = comp.table()
    table.attrs["comparison"] = comp
    table.attrs["verdicts"] = comp.verdicts()
    return table
