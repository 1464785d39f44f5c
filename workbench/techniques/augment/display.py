"""Showing EDA: augmented sentences with their changes highlighted (HTML), and the slider
panel the augmentation notebook uses. Callbacks are plain functions, tested on their own."""

from __future__ import annotations

import difflib
import html
import random
from collections.abc import Sequence
from typing import Any

from workbench.data.text import tokenize
from workbench.techniques.augment.eda import EDA, EDAConfig

__all__ = [
    "OPERATION_NAMES",
    "eda_preview_html",
    "eda_preview_panel",
    "highlight_changes",
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

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
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
