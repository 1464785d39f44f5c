"""Language-model pretraining (workbench.techniques.transfer.lm): the Kneser-Ney baseline
equals NLTK's, pretraining lowers held-out perplexity, its result is cached by corpus +
config, your own text file works, and configs are checked. Real data: a capped slice of the
built-in pretraining corpus."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.techniques.transfer.lm import (
    KneserNeyLM,
    LMConfig,
    as_sentences,
    build_lm_vocabulary,
    heldout_split,
    kneser_ney_baseline,
    pretrain_lm,
    sentence_perplexity,
)

TINY = LMConfig.smoke(d_model=32, n_heads=2, n_layers=1, seq_len=16, batch_size=8, steps=40, eval_every=20,
                      max_len=64, lr=5e-3, warmup_steps=5)


def _toy_corpus(n=300, seed=0):
    """Sentences of a tiny grammar: 'the <adj> <noun> <verb> the <noun> .'"""
    g = torch.Generator().manual_seed(seed)
    adj, noun, verb = ["big", "small", "red"], ["cat", "dog", "mat", "log"], ["sees", "likes"]

    def pick(xs):
        return xs[int(torch.randint(0, len(xs), (1,), generator=g))]
    return [f"the {pick(adj)} {pick(noun)} {pick(verb)} the {pick(noun)} ." for _ in range(n)]


def test_kneser_ney_equals_nltk():
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    sents = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat saw the dog",
                                 "the mat was red", "a dog was on the mat"]]
    ours = KneserNeyLM(3, 0.75).fit(sents)
    train, vocab = padded_everygram_pipeline(3, sents)
    ref = KneserNeyInterpolated(3, discount=0.75)
    ref.fit(train, vocab)
    for word, ctx in [("sat", ("the", "cat")), ("mat", ("on", "the")), ("dog", ("the",)), ("red", ("was",)),
                      ("cat", ("saw", "a")), ("log", ()), ("</s>", ("the", "log")), ("on", ("unseen", "was"))]:
        assert ours.score(word, ctx) == pytest.approx(ref.score(word, ctx), rel=1e-12), (word, ctx)
    # NLTK's lower-order gamma mixes raw and continuation counts, so a context's mass is
    # close to, not exactly, one; ours inherits that (and is never above one)
    words = sorted({w for s in sents for w in s} | {"</s>", "<s>"})
    assert 0.95 < sum(ours.score(w, ("on", "the")) for w in words) <= 1.0 + 1e-12


def test_kneser_ney_baseline_scores_words_and_sentence_end():
    sents = as_sentences(_toy_corpus(200))
    vocab = build_lm_vocabulary(sents, min_freq=1)
    res = kneser_ney_baseline(sents[:150], sents[150:], vocab, max_train_sentences=100)
    assert res["train_sentences"] == 100 and res["train_sentences_available"] == 150
    assert res["tokens"] == sum(len(s) + 1 for s in sents[150:])
    assert 1.0 < res["perplexity"] < 4.0  # a 9-word grammar with 3-4 choices per slot
    # a vocabulary word the n-gram model's sample lacks: <unk> for it, counted, finite
    rare = sents[:150] + [["the", "big", "zebra", "sees", "the", "cat", "."]] * 2
    capped = kneser_ney_baseline(sents[:150], sents[150:] + [["the", "zebra", "."]], build_lm_vocabulary(rare))
    assert capped["extra_unk_tokens"] == 1 and math.isfinite(capped["perplexity"])


def test_pretraining_lowers_perplexity_and_is_cached(tmp_path):
    corpus = _toy_corpus(400)
    rows = []
    res = pretrain_lm(corpus, TINY, cache_dir=tmp_path, on_eval=rows.append)
    assert not res.from_cache and len(rows) == 2 and res.pretrain_seconds > 0
    assert rows[-1]["val_perplexity"] < rows[0]["val_perplexity"] < len(res.vocab)
    assert res.heldout["perplexity"] == pytest.approx(rows[-1]["val_perplexity"])
    # the stored number is what sentence_perplexity gives for the returned model
    _, held = heldout_split(corpus, TINY)
    assert sentence_perplexity(res.model, held, res.vocab)["perplexity"] == pytest.approx(
        res.heldout["perplexity"], rel=1e-5)
    # second call: from the cache (same weights, same history replayed), no training
    replay = []
    again = pretrain_lm(corpus, TINY, cache_dir=tmp_path, on_eval=replay.append)
    assert again.from_cache and replay == rows and again.pretrain_seconds == res.pretrain_seconds
    for (k, a), (_, b) in zip(res.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), k
    # pretraining is seeded (initialisation, windows, dropout): a fresh run gives the same weights
    fresh = pretrain_lm(corpus, TINY, use_cache=False)
    assert all(torch.equal(a, b) for a, b in zip(res.model.state_dict().values(), fresh.model.state_dict().values()))
    # another config or corpus: another cache entry
    other = pretrain_lm(corpus, TINY.replace(steps=20), cache_dir=tmp_path)
    assert not other.from_cache and other.key != res.key
    assert len(list(tmp_path.glob("lm-*.pt"))) == 2
    # the pretrained network generates in-grammar text after "the"
    out = res.model.generate(torch.tensor([[res.vocab.stoi["<eos>"], res.vocab.stoi["the"]]]), 4)
    assert res.vocab.itos[int(out[0, 2])] in {"big", "small", "red"}


def test_classifier_model_carries_the_pretrained_weights(tmp_path):
    res = pretrain_lm(_toy_corpus(200), TINY.replace(steps=5), cache_dir=tmp_path)
    clf = res.classifier_model(3)
    assert clf(torch.tensor([[4, 5, 6]])).shape == (1, 3)
    assert torch.equal(clf.blocks[0].qkv.weight, res.model.blocks[0].qkv.weight)
    assert clf.blocks[0].qkv.weight.data_ptr() != res.model.blocks[0].qkv.weight.data_ptr()


def test_user_text_file_pretrains(tmp_path):
    path = tmp_path / "my_text.txt"
    path.write_text("\n".join(_toy_corpus(300)) + "\n\n")
    res = pretrain_lm(path, TINY.replace(steps=10, eval_every=5), cache_dir=tmp_path / "cache")
    assert res.corpus_stats["sentences"] == 300 and math.isfinite(res.heldout["perplexity"])
    with pytest.raises(FileNotFoundError):
        pretrain_lm(tmp_path / "missing.txt", TINY, cache_dir=tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(ValueError, match="no non-empty sentence"):
        pretrain_lm(empty, TINY, cache_dir=tmp_path)


@pytest.mark.parametrize("field, value, match", [
    ("steps", 0, "steps must be an integer >= 1"),
    ("lr", 0.0, "lr must be"),
    ("heldout_fraction", 0.9, "heldout_fraction"),
    ("seq_len", 300, "seq_len must be in"),
    ("n_heads", 3, "n_heads must divide"),
    ("activation", "tanh", "activation"),
])
def test_invalid_config(field, value, match):
    with pytest.raises(ValueError, match=match):
        LMConfig(**{field: value})


def test_real_corpus_slice_beats_unigram_and_reports_kneser_ney(tmp_path):
    """Real text: 1,500 sentences of the built-in pretraining corpus (held-out SUBJ/MR/pros_cons
    sentences removed). A short run beats a unigram-size perplexity; Kneser-Ney is reported
    on the same held-out sentences."""
    from workbench.techniques.transfer import build_pretraining_corpus

    corpus = build_pretraining_corpus(sources=["mr"], max_sentences=1500, verbose=False,
                                      cache_dir=tmp_path)
    cfg = TINY.replace(steps=60, eval_every=30, max_vocab=2000, heldout_fraction=0.05)
    res = pretrain_lm(corpus, cfg, cache_dir=tmp_path)
    assert res.corpus_key == corpus.key
    train, held = heldout_split(corpus, cfg)
    kn = kneser_ney_baseline(train, held, res.vocab)
    assert kn["tokens"] == res.heldout["tokens"]
    assert res.history[-1]["val_perplexity"] < res.history[0]["val_perplexity"]
    assert res.heldout["perplexity"] < 0.5 * len(res.vocab)
    assert 1.0 < kn["perplexity"] < len(res.vocab)
