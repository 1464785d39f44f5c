"""Back-translation behind a pluggable translator interface (Sennrich et al. 2016, ACL,
section 3.2; used for text classification by Xie et al. 2020, UDA, section 3.2).

A sentence is translated into a pivot language and back; the round trip paraphrases it.
A :class:`Translator` is any callable ``list[str] -> list[str]`` (same length, same
order). :class:`MarianTranslator` is the real one: a MarianMT model (Junczys-Dowmunt et al.
2018; the Helsinki-NLP OPUS-MT pairs) run through Hugging Face ``transformers``, an
optional dependency, from weights already on disk only: it never downloads, and raises
:class:`TranslatorUnavailableError` with what to install or fetch when it cannot run.
Tests and users without the weights inject any callable instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from workbench.data.datasets import DataSplits, ExampleDataset
from workbench.data.text import Vocabulary, tokenize
from workbench.techniques.augment.dataset import (
    AugmentedDataset,
    build_augmented_dataset,
    id_base_for,
)
from workbench.validation import check_int

__all__ = [
    "BackTranslation",
    "MarianTranslator",
    "Translator",
    "TranslatorUnavailableError",
    "back_translate",
    "back_translation_dataset",
    "back_translation_splits",
    "marian_pair",
]


@runtime_checkable
class Translator(Protocol):
    """Translates a batch of sentences: ``translator(["a sentence", ...]) -> ["une phrase", ...]``.

    Must return a ``list[str]`` of the same length, in the same order.
    """

    def __call__(self, sentences: list[str]) -> list[str]: ...


class TranslatorUnavailableError(RuntimeError):
    """A translator cannot run here (optional dependency or model weights missing)."""


def _run(translator: Callable[[list[str]], Sequence[str]], sentences: list[str], what: str) -> list[str]:
    out = translator(list(sentences))
    if isinstance(out, str) or not isinstance(out, Sequence):
        raise ValueError(f"{what} translator must return a list of strings; got {type(out).__name__}")
    out = list(out)
    if len(out) != len(sentences):
        raise ValueError(f"{what} translator returned {len(out)} sentences for {len(sentences)} inputs")
    bad = [i for i, s in enumerate(out) if not isinstance(s, str)]
    if bad:
        raise ValueError(f"{what} translator returned a non-string at position {bad[0]}: {out[bad[0]]!r}")
    return out


def back_translate(sentences: Sequence[str], forward: Callable[[list[str]], Sequence[str]],
                   backward: Callable[[list[str]], Sequence[str]], batch_size: int = 64) -> list[str]:
    """Round-trip ``sentences`` through a pivot language: ``backward(forward(batch))``.

    A round trip that comes back blank is replaced by its source sentence (never an empty
    sentence).

    Args:
        sentences: source-language sentences.
        forward: source -> pivot :class:`Translator`.
        backward: pivot -> source :class:`Translator`.
        batch_size: sentences per translator call (>= 1).

    Returns:
        ``list[str]``, one paraphrase per sentence, in order.

    Raises:
        ValueError: ``batch_size < 1``, or a translator that returns the wrong number of
            sentences or a non-string.
    """
    check_int("batch_size", batch_size, 1)
    if isinstance(sentences, str):
        raise TypeError("back_translate takes a list of sentences, not a str")
    sentences = list(sentences)
    out: list[str] = []
    for i in range(0, len(sentences), batch_size):
        batch = sentences[i:i + batch_size]
        pivot = _run(forward, batch, "forward")
        back = _run(backward, pivot, "backward")
        out.extend(b if b.strip() else s for s, b in zip(batch, back))
    return out


class BackTranslation:
    """Back-translation augmenter: one copy per (forward, backward) translator pair.

    Args:
        pairs: ``[(forward, backward), ...]`` translator pairs (one pivot language each),
            or a single pair.
        batch_size: sentences per translator call.
        lowercase: tokenize the results lower-cased (match the data set).

    Raises:
        ValueError: no pair, or a pair that is not two callables.
    """

    def __init__(self, pairs: Sequence[tuple[Callable, Callable]] | tuple[Callable, Callable],
                 batch_size: int = 64, lowercase: bool = True) -> None:
        if isinstance(pairs, tuple) and len(pairs) == 2 and all(callable(p) for p in pairs):
            pairs = [pairs]
        pairs = list(pairs)
        if not pairs or not all(isinstance(p, (tuple, list)) and len(p) == 2 and all(callable(t) for t in p)
                                for p in pairs):
            raise ValueError("pairs must be one or more (forward, backward) pairs of translators (callables)")
        self.pairs = [tuple(p) for p in pairs]
        self.batch_size = batch_size
        self.lowercase = lowercase

    def augment_texts(self, texts: Sequence[str]) -> list[list[list[str]]]:
        """``result[i]`` is the list of back-translated token lists of ``texts[i]`` (one per
        pair); a result without tokens falls back to the source sentence's tokens."""
        per_pair = [back_translate(texts, f, b, self.batch_size) for f, b in self.pairs]
        out = []
        for i, text in enumerate(texts):
            copies = []
            for translations in per_pair:
                toks = tokenize(translations[i], lowercase=self.lowercase)
                copies.append(toks or tokenize(text, lowercase=self.lowercase))
            out.append(copies)
        return out


def back_translation_dataset(data: ExampleDataset, vocab: Vocabulary, augmenter: BackTranslation, *,
                             id_base: int | None = None, include_original: bool = True,
                             max_length: int | None = None, lowercase: bool = True) -> AugmentedDataset:
    """Back-translated copies of every example of ``data`` (originals included by default),
    with the same id scheme and statistics as EDA's (:func:`build_augmented_dataset`);
    ``stats`` also holds ``augment_s`` and ``augmentations_per_s``.

    Raises:
        ValueError: ``data`` has no ``texts``; a translator misbehaves (see :func:`back_translate`).
    """
    if data.texts is None:
        raise ValueError(f"{data.name or 'the data set'}: back-translation needs the original sentences")
    t0 = time.perf_counter()
    copies = augmenter.augment_texts(data.texts)
    seconds = time.perf_counter() - t0
    n = sum(len(c) for c in copies)
    return build_augmented_dataset(data, vocab, copies, id_base=id_base, include_original=include_original,
                                   max_length=max_length, lowercase=lowercase, name=f"{data.name}+bt",
                                   stats={"method": "back_translation", "pairs": len(augmenter.pairs),
                                          "augment_s": seconds,
                                          "augmentations_per_s": n / seconds if seconds > 0 else float("inf")})


def back_translation_splits(splits: DataSplits, augmenter: BackTranslation) -> DataSplits:
    """``splits`` with the training split replaced by a back-translated one (validation
    and test untouched; copy ids disjoint from every split's ids)."""
    aug = back_translation_dataset(splits.train, splits.vocab, augmenter, id_base=id_base_for(splits),
                                   max_length=splits.info.get("max_length"),
                                   lowercase=bool(splits.info.get("lowercase", True)))
    info = dict(splits.info) | {"augmentation": dict(aug.stats)}
    info["sizes"] = dict(info.get("sizes", {})) | {"train": len(aug)}
    return DataSplits(splits.name, aug, splits.val, splits.test, splits.task, splits.vocab, info)


# ------------------------------------------------------------------------- MarianMT
class MarianTranslator:
    """A MarianMT translation model through ``transformers``, from local weights only.

    Args:
        model: a Hugging Face model id (``"Helsinki-NLP/opus-mt-en-de"``) already in the
            local cache, or a folder holding the model and tokenizer files.
        device: torch device for generation.
        batch_size: sentences per ``generate`` call.
        max_new_tokens: longest translation, in tokens.
        num_beams: beam width (1: greedy).
        cache_dir: Hugging Face cache folder (default: ``transformers``' own).

    Loading uses ``local_files_only=True``: nothing is downloaded.

    Raises:
        TranslatorUnavailableError: ``transformers`` (with ``sentencepiece``) is not
            installed, or the weights are not on disk; the message says what to install
            or fetch (on a machine with internet).
    """

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 16, max_new_tokens: int = 256,
                 num_beams: int = 1, cache_dir: str | None = None) -> None:
        try:
            import transformers
        except ImportError as exc:
            raise TranslatorUnavailableError(
                f"MarianTranslator needs the optional dependency 'transformers' (and 'sentencepiece'): "
                f"pip install transformers sentencepiece ({type(exc).__name__}: {exc}). "
                "Or pass any callable list[str] -> list[str] as the translator.") from exc
        self.model_name = model
        self.device = device
        self.batch_size = int(batch_size)
        self.max_new_tokens = int(max_new_tokens)
        self.num_beams = int(num_beams)
        kwargs: dict[str, Any] = {"local_files_only": True}
        if cache_dir is not None:
            kwargs["cache_dir"] = cache_dir
        try:
            self.tokenizer = transformers.MarianTokenizer.from_pretrained(model, **kwargs)
            self.model = transformers.MarianMTModel.from_pretrained(model, **kwargs).to(device).eval()
        except (OSError, ValueError, ImportError) as exc:
            raise TranslatorUnavailableError(
                f"MarianMT weights for {model!r} are not available locally (workbench never downloads "
                f"them). On a machine with internet, fetch them once, e.g.\n"
                f"    huggingface-cli download {model}\n"
                f"or MarianMTModel.from_pretrained({model!r}) and MarianTokenizer.from_pretrained({model!r}); "
                f"or pass a local folder. ({type(exc).__name__}: {exc})") from exc

    def __repr__(self) -> str:
        return f"MarianTranslator({self.model_name!r}, device={self.device!r})"

    def __call__(self, sentences: list[str]) -> list[str]:
        import torch

        out: list[str] = []
        for i in range(0, len(sentences), self.batch_size):
            batch = list(sentences[i:i + self.batch_size])
            enc = self.tokenizer(batch, return_tensors="pt", padding=True, truncation=True)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                gen = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams)
            out.extend(self.tokenizer.batch_decode(gen, skip_special_tokens=True))
        return out


def marian_pair(source: str = "en", pivot: str = "de", **kwargs: Any) -> tuple[MarianTranslator, MarianTranslator]:
    """``(forward, backward)`` MarianMT translators ``Helsinki-NLP/opus-mt-{source}-{pivot}``
    and ``...-{pivot}-{source}`` (local weights only; see :class:`MarianTranslator`)."""
    return (MarianTranslator(f"Helsinki-NLP/opus-mt-{source}-{pivot}", **kwargs),
            MarianTranslator(f"Helsinki-NLP/opus-mt-{pivot}-{source}", **kwargs))
