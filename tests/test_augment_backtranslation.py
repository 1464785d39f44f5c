"""Back-translation: the translator interface with injected translators, and MarianMT's
clear errors when transformers or the weights are missing (never a download)."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from workbench.techniques.augment import (
    BackTranslation,
    MarianTranslator,
    Translator,
    TranslatorUnavailableError,
    back_translate,
    back_translation_splits,
    id_base_for,
    marian_pair,
)


class Recorder:
    """A fake translator: applies ``fn`` to each sentence and records the batches."""

    def __init__(self, fn):
        self.fn = fn
        self.batches: list[list[str]] = []

    def __call__(self, sentences: list[str]) -> list[str]:
        self.batches.append(list(sentences))
        return [self.fn(s) for s in sentences]


def test_back_translate_round_trip_in_batches():
    fwd = Recorder(lambda s: "DE:" + s.upper())
    back = Recorder(lambda s: s[3:].lower().replace("film", "movie"))
    sents = ["a good film", "a bad film", "plain", "the film , again", "last"]
    out = back_translate(sents, fwd, back, batch_size=2)
    assert out == ["a good movie", "a bad movie", "plain", "the movie , again", "last"]
    assert [len(b) for b in fwd.batches] == [2, 2, 1]
    assert back.batches[0] == ["DE:A GOOD FILM", "DE:A BAD FILM"]  # backward gets the pivot text
    assert isinstance(fwd, Translator)


def test_back_translate_never_empty_and_checks_translators():
    out = back_translate(["keep me", "and me"], lambda xs: xs, lambda xs: ["", "  "])
    assert out == ["keep me", "and me"]
    with pytest.raises(ValueError, match="returned 1 sentences for 2"):
        back_translate(["a", "b"], lambda xs: xs[:1], lambda xs: xs)
    with pytest.raises(ValueError, match="non-string"):
        back_translate(["a"], lambda xs: xs, lambda xs: [None])
    with pytest.raises(ValueError, match="list of strings"):
        back_translate(["a"], lambda xs: "a", lambda xs: xs)
    with pytest.raises(ValueError, match="batch_size"):
        back_translate(["a"], lambda xs: xs, lambda xs: xs, batch_size=0)
    with pytest.raises(TypeError):
        back_translate("a sentence", lambda xs: xs, lambda xs: xs)


def test_back_translation_augmenter_one_copy_per_pair():
    bt = BackTranslation([(Recorder(str.upper), Recorder(lambda s: s + " indeed")),
                          (Recorder(lambda s: s), Recorder(lambda s: s.replace("good", "fine")))])
    copies = bt.augment_texts(["A good film ."])
    assert copies == [[["a", "good", "film", ".", "indeed"], ["a", "fine", "film", "."]]]
    with pytest.raises(ValueError, match="pairs"):
        BackTranslation([])
    with pytest.raises(ValueError, match="pairs"):
        BackTranslation([(str.upper,)])


def test_back_translation_splits_on_real_data():
    from workbench.recipes import load_splits

    splits = load_splits("subj", smoke=True)
    paraphrase = Recorder(lambda s: s.replace("film", "movie").replace("good", "fine"))
    out = back_translation_splits(splits, BackTranslation((lambda xs: list(xs), paraphrase)))
    aug, n = out.train, len(splits.train)
    assert len(aug) == 2 * n and aug.stats["method"] == "back_translation" and aug.stats["copies"] == n
    assert int(aug.ids[n:].min()) >= id_base_for(splits)
    held_out = set(splits.val.ids.tolist()) | set(splits.test.ids.tolist())
    assert not (set(aug.ids.tolist()) | set(aug.source_ids.tolist())) & held_out
    changed = [p for p in range(n, 2 * n) if "movie" in aug.texts[p].split()]
    assert changed  # the injected paraphraser's output is what was encoded
    p = changed[0]
    assert aug.inputs[p].tolist() == splits.vocab.encode(aug.texts[p].split())
    assert out.val is splits.val and out.test is splits.test


def test_marian_without_transformers_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    with pytest.raises(TranslatorUnavailableError, match="pip install transformers"):
        MarianTranslator("Helsinki-NLP/opus-mt-en-de")
    with pytest.raises(TranslatorUnavailableError):
        marian_pair("en", "fr")


def _fake_transformers(calls: list, missing: bool = False) -> types.ModuleType:
    mod = types.ModuleType("transformers")

    class Tok:
        @classmethod
        def from_pretrained(cls, name, **kw):
            calls.append(("tokenizer", name, kw))
            if missing:
                raise OSError(f"We couldn't connect to 'https://huggingface.co' to load {name}")
            return cls()

        def __call__(self, batch, **kw):
            self.last = list(batch)
            return {"input_ids": torch.zeros(len(batch), 3, dtype=torch.long)}

        def batch_decode(self, gen, skip_special_tokens=True):
            return [f"translated {s}" for s in self.last]

    class Model:
        @classmethod
        def from_pretrained(cls, name, **kw):
            calls.append(("model", name, kw))
            return cls()

        def to(self, device):
            return self

        def eval(self):
            return self

        def generate(self, **kw):
            calls.append(("generate", kw["input_ids"].shape[0], kw["max_new_tokens"]))
            return torch.zeros(kw["input_ids"].shape[0], 4, dtype=torch.long)

    mod.MarianTokenizer, mod.MarianMTModel = Tok, Model
    return mod


def test_marian_loads_local_files_only_and_translates_in_batches(monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "transformers", _fake_transformers(calls))
    fwd, back = marian_pair("en", "de", batch_size=2)
    assert [c[1] for c in calls if c[0] in ("tokenizer", "model")] == [
        "Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en",
        "Helsinki-NLP/opus-mt-de-en"]
    assert all(c[2]["local_files_only"] is True for c in calls)  # never downloads
    out = fwd(["one", "two", "three"])
    assert out == ["translated one", "translated two", "translated three"]
    assert [c[1] for c in calls if c[0] == "generate"] == [2, 1]


def test_marian_missing_weights_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", _fake_transformers([], missing=True))
    with pytest.raises(TranslatorUnavailableError, match="huggingface-cli download Helsinki-NLP/opus-mt-en-de"):
        MarianTranslator("Helsinki-NLP/opus-mt-en-de")
