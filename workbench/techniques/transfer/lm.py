"""Language-model pretraining of :class:`~workbench.models.transformer.TransformerLM` on
unlabelled text, held-out perplexity, and an interpolated Kneser-Ney n-gram baseline
fitted on the same text.

- :class:`LMConfig`: the network's sizes and the pretraining budget (validated).
- :func:`pretrain_lm`: vocabulary from the pretraining sentences, a seeded held-out
  split of sentences, next-token training on random windows of the concatenated token
  stream (sentences separated by ``<eos>``; GPT-2's recipe, Radford et al. 2019), AdamW
  with linear warm-up and cosine decay; result cached on disk keyed by the corpus and
  the configuration (:class:`PretrainedLM`), so tests, notebooks and benchmarks train
  it once (issue 13, trap 9).
- :func:`sentence_perplexity`: per-sentence held-out perplexity (each sentence starts
  after ``<eos>`` and ends with a predicted ``<eos>``; no context crosses sentences).
- :class:`KneserNeyLM` / :func:`kneser_ney_baseline`: interpolated Kneser-Ney (Kneser &
  Ney 1995; Chen & Goodman 1999, section 3) with the formulas of NLTK's
  ``nltk.lm.KneserNeyInterpolated`` (equal scores; tested), precomputed counts instead of
  NLTK's per-query scans, which took 60-180 ms per n-gram here (hours for a held-out
  set). Both models are scored on the same tokens: the words of each held-out sentence
  and its end, with the LM's vocabulary (words outside it are ``<unk>`` for both).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from workbench.data.text import Vocabulary, tokenize
from workbench.models.transformer import TransformerLM
from workbench.techniques.transfer.cache import atomic_write, cache_key, resolve_cache_dir
from workbench.validation import check_choice, check_int, check_number

__all__ = [
    "EOS",
    "LM_VERSION",
    "SPECIALS",
    "KneserNeyLM",
    "LMConfig",
    "PretrainedLM",
    "as_sentences",
    "build_lm_vocabulary",
    "corpus_fingerprint",
    "heldout_split",
    "kneser_ney_baseline",
    "pretrain_lm",
    "sentence_perplexity",
    "split_heldout",
]

#: Bumped whenever pretraining's output changes for the same inputs (invalidates caches).
LM_VERSION = 1
EOS = "<eos>"
#: specials of the LM vocabulary: padding (id 0), unknown (1), end of sentence (2)
SPECIALS = ("<pad>", "<unk>", EOS)


@dataclass(frozen=True)
class LMConfig:
    """Sizes of the :class:`~workbench.models.transformer.TransformerLM` and the pretraining
    budget. Every field is checked at construction (``ValueError`` naming the field and
    its valid range).

    Attributes:
        d_model, n_heads, n_layers, d_ff, dropout, activation: the network (see
            :class:`~workbench.models.transformer.TransformerLM`; ``d_ff=0``: ``4*d_model``).
        max_len: positions of the network (fine-tuning sentences up to this length).
        seq_len: pretraining window, tokens (``<= max_len - 1``); positions beyond it are
            trained only during fine-tuning.
        batch_size: windows per step.
        steps: optimizer steps.
        lr: AdamW peak learning rate; ``weight_decay`` on matrices only.
        warmup_steps: linear warm-up, then cosine decay to 10% of ``lr``.
        min_freq, max_vocab: the LM vocabulary (tokens seen ``>= min_freq`` times in the
            pretraining split, at most ``max_vocab`` entries with the specials).
        heldout_fraction: share of sentences held out for perplexity (seeded).
        max_heldout: at most this many held-out sentences are scored.
        eval_every: held-out evaluation interval, steps (also the progress callback's).
        seed: seeds the initialisation, the held-out split and the windows.
    """

    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 0
    dropout: float = 0.1
    activation: str = "gelu"
    max_len: int = 256
    seq_len: int = 64
    batch_size: int = 32
    steps: int = 3000
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_freq: int = 2
    max_vocab: int = 30_000
    heldout_fraction: float = 0.02
    max_heldout: int = 2000
    eval_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        p = "LMConfig: "
        for name in ("d_model", "n_heads", "n_layers", "max_len", "seq_len", "batch_size", "steps",
                     "min_freq", "max_heldout", "eval_every"):
            check_int(name, getattr(self, name), 1, prefix=p)
        check_int("d_ff", self.d_ff, 0, prefix=p)
        check_int("warmup_steps", self.warmup_steps, 0, prefix=p)
        check_int("max_vocab", self.max_vocab, len(SPECIALS) + 1, prefix=p)
        check_int("seed", self.seed, 0, prefix=p)
        check_number("dropout", self.dropout, 0.0, 1.0, hi_open=True, prefix=p)
        check_number("lr", self.lr, 0.0, lo_open=True, prefix=p)
        check_number("weight_decay", self.weight_decay, 0.0, prefix=p)
        check_number("heldout_fraction", self.heldout_fraction, 0.0, 0.5, lo_open=True, prefix=p)
        check_choice("activation", self.activation, ("gelu", "relu"), prefix=p)
        if self.d_model % self.n_heads:
            raise ValueError(f"{p}n_heads must divide d_model; got d_model={self.d_model}, n_heads={self.n_heads}")
        if self.seq_len > self.max_len - 1:
            raise ValueError(f"{p}seq_len must be in [1, max_len - 1 = {self.max_len - 1}]; got {self.seq_len}")

    @classmethod
    def smoke(cls, **changes: Any) -> LMConfig:
        """A tiny budget for tests and smoke-mode notebooks (seconds on one CPU thread)."""
        base = {"d_model": 64, "n_heads": 2, "n_layers": 2, "seq_len": 32, "batch_size": 16, "steps": 150,
                "lr": 3e-3, "warmup_steps": 10, "max_vocab": 5000, "max_heldout": 200, "eval_every": 25}
        return cls(**(base | changes))

    def model_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of :class:`~workbench.models.transformer.TransformerLM`."""
        return {"d_model": self.d_model, "n_heads": self.n_heads, "n_layers": self.n_layers,
                "d_ff": self.d_ff or None, "max_len": self.max_len, "dropout": self.dropout,
                "activation": self.activation}

    def replace(self, **changes: Any) -> LMConfig:
        return LMConfig(**(asdict(self) | changes))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LMConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# ---------------------------------------------------------------------- corpus helpers
def as_sentences(corpus: Any, lowercase: bool = True) -> list[list[str]]:
    """Token lists from ``corpus``: a
    :class:`~workbench.techniques.transfer.corpus.PretrainingCorpus` (its ``sentences``),
    a path to a text file (one sentence per line; blank lines skipped), or a sequence of
    strings (tokenised with :func:`~workbench.data.text.tokenize`) or of token lists.

    Raises:
        ValueError: an empty corpus, or items that are neither strings nor token lists.
        FileNotFoundError: a path that does not exist.
    """
    if hasattr(corpus, "sentences") and not isinstance(corpus, (str, os.PathLike)):
        corpus = corpus.sentences
    if isinstance(corpus, (str, os.PathLike)):
        path = Path(corpus)
        if not path.is_file():
            raise FileNotFoundError(f"pretraining text file {str(path)!r} does not exist")
        with open(path, encoding="utf-8") as f:
            corpus = [line for line in f if line.strip()]
    out: list[list[str]] = []
    for i, s in enumerate(corpus):
        if isinstance(s, str):
            toks = tokenize(s, lowercase=lowercase)
        elif isinstance(s, (list, tuple)) and all(isinstance(t, str) for t in s):
            toks = list(s)
        else:
            raise ValueError(f"corpus item {i} must be a string or a list of token strings; got {s!r:.80}")
        if toks:
            out.append(toks)
    if not out:
        raise ValueError("the pretraining corpus holds no non-empty sentence")
    return out


def corpus_fingerprint(corpus: Any, sentences: Sequence[Sequence[str]]) -> str:
    """The corpus part of the cache key: the corpus's own ``key`` when it has one (a
    :class:`~workbench.techniques.transfer.corpus.PretrainingCorpus`), else the SHA-256
    of its token lists."""
    key = getattr(corpus, "key", None)
    if isinstance(key, str) and key:
        return key
    h = hashlib.sha256()
    for s in sentences:
        h.update(("\x1f".join(s) + "\x1e").encode("utf-8"))
    return h.hexdigest()[:16]


def split_heldout(sentences: Sequence[Sequence[str]], fraction: float, seed: int = 0
                  ) -> tuple[list[list[str]], list[list[str]]]:
    """``(train, heldout)``: a seeded random ``fraction`` of the sentences (at least one,
    and at least one left for training) held out. Raises ``ValueError`` with fewer than
    two sentences."""
    if len(sentences) < 2:
        raise ValueError(f"the pretraining corpus needs at least 2 sentences (one held out); got {len(sentences)}")
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_held = min(max(1, round(fraction * len(sentences))), len(sentences) - 1)
    held = set(order[:n_held])
    train = [list(s) for i, s in enumerate(sentences) if i not in held]
    heldout = [list(sentences[i]) for i in sorted(held)]
    return train, heldout


def build_lm_vocabulary(sentences: Iterable[Sequence[str]], min_freq: int = 2, max_size: int | None = None
                        ) -> Vocabulary:
    """The LM vocabulary (specials :data:`SPECIALS`) over the pretraining split's tokens."""
    return Vocabulary.build(sentences, min_freq=min_freq, max_size=max_size, specials=SPECIALS)


def _stream(sentences: Sequence[Sequence[str]], vocab: Vocabulary) -> torch.Tensor:
    eos = vocab.stoi[EOS]
    ids: list[int] = [eos]
    for s in sentences:
        ids.extend(vocab.encode(s))
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


# ---------------------------------------------------------------------- perplexity
@torch.no_grad()
def sentence_perplexity(model: TransformerLM, sentences: Sequence[Sequence[str]], vocab: Vocabulary,
                        batch_size: int = 64) -> dict[str, float]:
    """Held-out perplexity of ``model`` over ``sentences`` (token lists), one sentence at a
    time: the input is ``<eos> w_1 .. w_n`` and the predictions are ``w_1 .. w_n <eos>``
    (``n + 1`` per sentence; words outside ``vocab`` are ``<unk>``); sentences longer than
    ``max_len - 1`` tokens are truncated.

    Returns:
        ``{"perplexity", "nll" (nats per token), "tokens", "sentences"}``.
    """
    eos = vocab.stoi[EOS]
    seqs = [[eos] + vocab.encode(s)[: model.max_len - 1] + [eos] for s in sentences]
    was = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        device = model.embedding.weight.device
        for i in range(0, len(seqs), batch_size):
            chunk = seqs[i:i + batch_size]
            width = max(len(s) for s in chunk)
            x = torch.full((len(chunk), width), model.pad_id, dtype=torch.long)
            for j, s in enumerate(chunk):
                x[j, :len(s)] = torch.tensor(s)
            x = x.to(device)
            logits = model.forward_lm(x[:, :-1]).float()
            tgt = x[:, 1:]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                                     ignore_index=model.pad_id, reduction="sum")
            total += float(loss)
            count += int((tgt != model.pad_id).sum())
    finally:
        model.train(was)
    nll = total / max(count, 1)
    return {"perplexity": math.exp(nll), "nll": nll, "tokens": count, "sentences": len(seqs)}


# ---------------------------------------------------------------------- Kneser-Ney
class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram model (Kneser & Ney 1995; Chen & Goodman 1999,
    section 3), the formulas of ``nltk.lm.KneserNeyInterpolated`` (NLTK 3.8+):

    - highest order: ``alpha = max(c(ctx, w) - d, 0) / c(ctx)``, ``gamma = d * N1+(ctx .) / c(ctx)``;
    - lower orders: continuation counts ``N1+(. ctx w) / N1+(. ctx .)`` with the same
      ``gamma`` numerator ``d * N1+(ctx .)`` (raw counts, as NLTK);
    - unigrams: ``N1+(. w) / N1+(. .)``;
    - an unseen context defers wholly to the next lower order.

    Sentences are padded with ``order - 1`` ``<s>`` and ``</s>`` and every n-gram of
    orders 1..order is counted (``nltk.lm.preprocessing.padded_everygram_pipeline``).

    Args:
        order: n-gram order (>= 2). Default 3.
        discount: ``d`` in ``(0, 1)``. Default 0.75 (NLTK's default is 0.1).
    """

    BOS, END = "<s>", "</s>"

    def __init__(self, order: int = 3, discount: float = 0.75) -> None:
        self.order = check_int("order", order, 2)
        self.discount = check_number("discount", discount, 0.0, 1.0, lo_open=True, hi_open=True)
        self.counts: list[dict[tuple[str, ...], Counter]] = []

    def _pad(self, s: Sequence[str]) -> list[str]:
        return [self.BOS] * (self.order - 1) + list(s) + [self.END] * (self.order - 1)

    def fit(self, sentences: Iterable[Sequence[str]]) -> KneserNeyLM:
        """Count the n-grams of ``sentences`` (token lists); returns ``self``."""
        n = self.order
        # counts[k][ctx][w]: raw counts of k+1-grams (ctx of length k)
        counts: list[dict[tuple[str, ...], Counter]] = [defaultdict(Counter) for _ in range(n)]
        for s in sentences:
            p = self._pad(s)
            for i in range(len(p)):
                for k in range(n):
                    if i - k < 0:
                        break
                    counts[k][tuple(p[i - k:i])][p[i]] += 1
        self.counts = counts
        self._ctx_total = [{c: sum(v.values()) for c, v in ck.items()} for ck in counts]
        self._ctx_types = [{c: len(v) for c, v in ck.items()} for ck in counts]
        # continuation counts for orders 1..n-1: cont[k][ctx][w] = #distinct u with c(u ctx w) > 0
        cont: list[dict[tuple[str, ...], Counter]] = [defaultdict(Counter) for _ in range(n - 1)]
        for k in range(1, n):
            for ctx, ws in counts[k].items():
                for w in ws:
                    cont[k - 1][ctx[1:]][w] += 1
        self._cont = cont
        self._cont_total = [{c: sum(v.values()) for c, v in ck.items()} for ck in cont]
        return self

    def score(self, word: str, context: Sequence[str] = ()) -> float:
        """``P(word | context)`` (the last ``order - 1`` context tokens are used)."""
        if not self.counts:
            raise RuntimeError("KneserNeyLM.score before fit()")
        ctx = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        return self._score(word, ctx)

    def _score(self, word: str, ctx: tuple[str, ...]) -> float:
        d = self.discount
        if not ctx:
            total = self._cont_total[0].get((), 0)
            return self._cont[0][()][word] / total if total else 0.0
        k = len(ctx)
        c_ctx = self._ctx_total[k].get(ctx, 0)
        if not c_ctx:
            return self._score(word, ctx[1:])
        if k + 1 == self.order:
            num, total = self.counts[k][ctx][word], c_ctx
        else:
            num, total = self._cont[k][ctx][word], self._cont_total[k].get(ctx, 0)
        if not total:
            return self._score(word, ctx[1:])
        alpha = max(num - d, 0.0) / total
        gamma = d * self._ctx_types[k][ctx] / total
        return alpha + gamma * self._score(word, ctx[1:])

    def sentence_logprob(self, sentence: Sequence[str]) -> tuple[float, int]:
        """``(sum of ln P, predictions)`` over ``w_1 .. w_n </s>`` (``n + 1`` predictions)."""
        p = [self.BOS] * (self.order - 1) + list(sentence) + [self.END]
        lp = 0.0
        for i in range(self.order - 1, len(p)):
            s = self._score(p[i], tuple(p[i - self.order + 1:i]))
            lp += math.log(s) if s > 0 else float("-inf")
        return lp, len(p) - (self.order - 1)

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> dict[str, float]:
        """``{"perplexity", "nll", "tokens", "sentences"}`` over ``sentences`` (the same
        predictions as :func:`sentence_perplexity`: each sentence's words and its end)."""
        total, count, n = 0.0, 0, 0
        for s in sentences:
            lp, c = self.sentence_logprob(s)
            total -= lp
            count += c
            n += 1
        nll = total / max(count, 1)
        return {"perplexity": math.exp(nll) if math.isfinite(nll) else math.inf, "nll": nll,
                "tokens": count, "sentences": n}


def _unk(sentences: Iterable[Sequence[str]], vocab: Vocabulary) -> list[list[str]]:
    unk = vocab.unk_token
    return [[t if t in vocab.stoi else unk for t in s] for s in sentences]


def kneser_ney_baseline(train: Sequence[Sequence[str]], heldout: Sequence[Sequence[str]], vocab: Vocabulary,
                        order: int = 3, discount: float = 0.75, max_train_sentences: int | None = None,
                        seed: int = 0) -> dict[str, Any]:
    """Fit :class:`KneserNeyLM` on ``train`` and score ``heldout`` (token lists), both
    with ``vocab``'s words (others become ``<unk>``, as for the transformer).

    With a capped sample, a word of ``vocab`` that the sample never contains would get
    probability zero (NLTK's formulas have no uniform floor; the perplexity would be
    infinite): such words are ``<unk>`` for the n-gram model too, and counted in
    ``"extra_unk_tokens"`` (held-out tokens that the transformer had to predict exactly).

    Args:
        max_train_sentences: fit on a seeded random sample of at most this many training
            sentences (None: all); the result says how many were used.

    Returns:
        ``{"perplexity", "nll", "tokens", "sentences", "order", "discount",
        "train_sentences", "train_sentences_available", "fit_seconds", "extra_unk_tokens"}``.
    """
    sample = list(train)
    if max_train_sentences is not None and len(sample) > max_train_sentences:
        idx = sorted(random.Random(seed).sample(range(len(sample)), max_train_sentences))
        sample = [sample[i] for i in idx]
    t0 = time.perf_counter()
    fit_sents = _unk(sample, vocab)
    seen = {t for s in fit_sents for t in s}
    unk = vocab.unk_token
    held = _unk(heldout, vocab)
    extra = sum(t not in seen and t != unk for s in held for t in s)
    held = [[t if t in seen else unk for t in s] for s in held]
    if extra and unk not in seen:  # <unk> must be predictable: one count, as a pseudo-sentence
        fit_sents.append([unk])
    lm = KneserNeyLM(order, discount).fit(fit_sents)
    fit_s = time.perf_counter() - t0
    out = lm.perplexity(held)
    return out | {"order": order, "discount": discount, "train_sentences": len(sample),
                  "train_sentences_available": len(train), "fit_seconds": fit_s, "extra_unk_tokens": extra}


# ---------------------------------------------------------------------- pretraining
@dataclass
class PretrainedLM:
    """A pretrained language model and what it took.

    Attributes:
        model: the :class:`~workbench.models.transformer.TransformerLM` (no classifier head,
            CPU, eval mode).
        vocab: its :class:`~workbench.data.text.Vocabulary` (specials :data:`SPECIALS`).
        config: the :class:`LMConfig`.
        history: rows ``{"step", "train_loss", "val_loss", "val_perplexity", "seconds",
            "tokens_seen"}`` (one per evaluation; ``seconds`` of training so far).
        pretrain_seconds: wall seconds of the pretraining run (vocabulary, batches,
            optimisation and evaluations), measured when it ran, also when loaded from cache.
        heldout: :func:`sentence_perplexity` of the final model on the held-out sentences.
        corpus_key: the corpus fingerprint; ``key``: the cache key; ``path``: the cache file.
        corpus_stats: ``{"sentences", "tokens", "train_sentences", "heldout_sentences",
            "vocab_size", "oov_rate"}``.
        from_cache: loaded from disk rather than trained now.
    """

    model: TransformerLM
    vocab: Vocabulary
    config: LMConfig
    history: list[dict[str, float]] = field(default_factory=list)
    pretrain_seconds: float = 0.0
    heldout: dict[str, float] = field(default_factory=dict)
    corpus_key: str = ""
    key: str = ""
    path: str = ""
    corpus_stats: dict[str, Any] = field(default_factory=dict)
    from_cache: bool = False

    def classifier_model(self, num_classes: int, pooling: str = "mean", dropout: float | None = None
                         ) -> TransformerLM:
        """A fresh copy of the pretrained network with a new classification head."""
        kw = self.config.model_kwargs()
        if dropout is not None:
            kw["dropout"] = dropout
        m = TransformerLM(len(self.vocab), num_classes=num_classes, pooling=pooling, pad_id=self.vocab.pad_id, **kw)
        missing, unexpected = m.load_state_dict(self.model.state_dict(), strict=False)
        assert not unexpected and all(k.startswith("classifier.") for k in missing), (missing, unexpected)
        return m


def _lm_cache_spec(corpus_key: str, config: LMConfig) -> dict[str, Any]:
    return {"kind": "transformer_lm", "version": LM_VERSION, "corpus": corpus_key, "config": asdict(config),
            "torch": torch.__version__.split("+")[0]}


def _lr_lambda(config: LMConfig) -> Callable[[int], float]:
    def f(step: int) -> float:
        if config.warmup_steps and step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(1, config.steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
    return f


def _load_cached(path: Path) -> PretrainedLM | None:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError):  # unreadable / half-written: train again
        return None
    config = LMConfig.from_dict(blob["config"])
    vocab = Vocabulary.from_state_dict(blob["vocab"])
    model = TransformerLM(len(vocab), pad_id=vocab.pad_id, **config.model_kwargs())
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return PretrainedLM(model, vocab, config, history=list(blob["history"]),
                        pretrain_seconds=float(blob["pretrain_seconds"]), heldout=dict(blob["heldout"]),
                        corpus_key=blob["corpus_key"], key=blob["key"], path=str(path),
                        corpus_stats=dict(blob["corpus_stats"]), from_cache=True)


def _train_lm(config: LMConfig, vocab: Vocabulary, stream: torch.Tensor, scored: list[list[str]],
              dev: torch.device, t0: float, on_eval: Callable[[dict[str, float]], Any] | None,
              progress: bool) -> tuple[TransformerLM, list[dict[str, float]]]:
    gen = torch.Generator().manual_seed(config.seed)
    model = TransformerLM(len(vocab), pad_id=vocab.pad_id, **config.model_kwargs())
    model.to(dev).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("position")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.startswith("position")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(config))
    history: list[dict[str, float]] = []
    offsets = torch.arange(config.seq_len + 1)
    running, n_running = 0.0, 0

    def evaluate(step: int) -> None:
        nonlocal running, n_running
        ppl = sentence_perplexity(model, scored, vocab)
        row = {"step": step, "train_loss": running / n_running if n_running else math.nan,
               "val_loss": ppl["nll"], "val_perplexity": ppl["perplexity"],
               "seconds": time.perf_counter() - t0, "tokens_seen": step * config.batch_size * config.seq_len}
        running, n_running = 0.0, 0
        history.append(row)
        if on_eval is not None:
            on_eval(dict(row))

    from tqdm.auto import tqdm

    bar = tqdm(range(config.steps), desc="pretraining", disable=not progress)
    for step in bar:
        starts = torch.randint(0, len(stream) - config.seq_len - 1, (config.batch_size,), generator=gen)
        x = stream[starts[:, None] + offsets].to(dev)
        loss = model.lm_loss(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running += float(loss.detach())
        n_running += 1
        if (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            evaluate(step + 1)
            bar.set_postfix(val_ppl=f"{history[-1]['val_perplexity']:.1f}")
    evaluate(config.steps)
    bar.close()
    return model, history


def pretrain_lm(corpus: Any, config: LMConfig | None = None, *, cache_dir: str | os.PathLike | None = None,
                use_cache: bool = True, on_eval: Callable[[dict[str, float]], Any] | None = None,
                device: str | torch.device | None = None, progress: bool = False) -> PretrainedLM:
    """Pretrain a :class:`~workbench.models.transformer.TransformerLM` on ``corpus`` as a
    next-token language model, or load the cached result.

    Protocol: the sentences are split into pretraining and held-out sentences
    (:func:`split_heldout`, ``config.heldout_fraction``, seeded); the vocabulary is built
    on the pretraining sentences (:func:`build_lm_vocabulary`); every step draws
    ``batch_size`` random windows of ``seq_len + 1`` tokens from the pretraining
    sentences joined by ``<eos>`` and minimises the mean next-token cross-entropy with
    AdamW (``betas=(0.9, 0.98)``, weight decay on matrices only, gradients clipped to norm
    1), linear warm-up then cosine decay to 10% of ``lr``. Every ``eval_every`` steps and at
    the end, :func:`sentence_perplexity` on (at most ``max_heldout``) held-out sentences.

    Cache: ``<cache_dir>/lm-<key>.pt`` (``cache_dir`` default:
    :func:`~workbench.techniques.transfer.cache.default_cache_dir`), key = SHA-256 of the
    corpus fingerprint (:func:`corpus_fingerprint`), every :class:`LMConfig` field,
    :data:`LM_VERSION` and the torch version; written atomically, loaded with
    ``weights_only=True``. A cached result is returned without training (``on_eval`` is
    then called once per stored history row, so a live curve still draws).

    Args:
        corpus: see :func:`as_sentences` (a
            :class:`~workbench.techniques.transfer.corpus.PretrainingCorpus`, your own text
            file with one sentence per line, or a list of sentences).
        config: :class:`LMConfig` (default ``LMConfig()``).
        cache_dir: cache folder; ``use_cache=False`` neither reads nor writes it.
        on_eval: ``callback(row)`` after each evaluation (live perplexity curves).
        device: where to train (default CPU); the returned model is on the CPU.
        progress: show a tqdm bar.

    Returns:
        :class:`PretrainedLM`.

    Raises:
        ValueError: an empty corpus or one with fewer than two sentences; an invalid config.
    """
    config = LMConfig() if config is None else config
    if not isinstance(config, LMConfig):
        raise ValueError(f"config must be an LMConfig; got {type(config).__name__}")
    sentences = as_sentences(corpus)
    corpus_key = corpus_fingerprint(corpus, sentences)
    key = cache_key(_lm_cache_spec(corpus_key, config))
    path = resolve_cache_dir(cache_dir) / f"lm-{key}.pt"
    if use_cache and path.is_file():
        cached = _load_cached(path)
        if cached is not None:
            if on_eval is not None:
                for row in cached.history:
                    on_eval(dict(row))
            return cached

    t0 = time.perf_counter()
    train, heldout = split_heldout(sentences, config.heldout_fraction, config.seed)
    vocab = build_lm_vocabulary(train, config.min_freq, config.max_vocab)
    stream = _stream(train, vocab)
    if len(stream) < config.seq_len + 2:
        raise ValueError(f"the pretraining split has {len(stream)} tokens; seq_len={config.seq_len} needs at "
                         f"least {config.seq_len + 2} (lower seq_len or give more text)")
    scored = heldout[: config.max_heldout]
    n_tokens = sum(len(s) for s in sentences)
    oov = sum(t not in vocab.stoi for s in scored for t in s) / max(1, sum(len(s) for s in scored))
    stats = {"sentences": len(sentences), "tokens": n_tokens, "train_sentences": len(train),
             "train_tokens": int(len(stream)), "heldout_sentences": len(heldout),
             "scored_heldout_sentences": len(scored), "vocab_size": len(vocab), "heldout_oov_rate": oov}

    dev = torch.device(device) if device is not None else torch.device("cpu")
    # the global RNG (initialisation, dropout) is seeded inside and restored afterwards
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(config.seed)
        model, history = _train_lm(config, vocab, stream, scored, dev, t0, on_eval, progress)
    seconds = time.perf_counter() - t0
    model.to("cpu").eval()
    heldout_ppl = {k: history[-1][k] for k in ("val_perplexity", "val_loss")}
    heldout_ppl = {"perplexity": heldout_ppl["val_perplexity"], "nll": heldout_ppl["val_loss"],
                   "sentences": len(scored), "tokens": sum(len(s) + 1 for s in scored)}
    result = PretrainedLM(model, vocab, config, history=history, pretrain_seconds=seconds, heldout=heldout_ppl,
                          corpus_key=corpus_key, key=key, path=str(path), corpus_stats=stats, from_cache=False)
    if use_cache:
        blob = {"state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
                "vocab": vocab.state_dict(), "config": asdict(config), "history": history,
                "pretrain_seconds": seconds, "heldout": heldout_ppl, "corpus_key": corpus_key, "key": key,
                "corpus_stats": stats, "spec": json.dumps(_lm_cache_spec(corpus_key, config), sort_keys=True)}
        atomic_write(path, lambda tmp: torch.save(blob, tmp))
    return result


def heldout_split(corpus: Any, config: LMConfig) -> tuple[list[list[str]], list[list[str]]]:
    """The pretraining and scored held-out sentences :func:`pretrain_lm` uses for
    ``corpus`` and ``config`` (for baselines fitted on the same text)."""
    train, heldout = split_heldout(as_sentences(corpus), config.heldout_fraction, config.seed)
    return train, heldout[: config.max_heldout]
