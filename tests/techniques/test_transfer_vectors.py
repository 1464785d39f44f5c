"""Word vectors (issue 13, item 2): gensim skip-gram, cached and deterministic; a model's
embedding initialised from them for its own vocabulary with the coverage reported; Kim's
rand / static / non-static CNN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.config import TaskSpec, TrainingConfig
from workbench.data.datasets import load_dataset
from workbench.data.splits import cap_splits
from workbench.data.text import Vocabulary
from workbench.data.user_data import load_text_file
from workbench.models import KimCNN, build_model
from workbench.techniques.transfer import (
    Word2VecSettings,
    build_pretraining_corpus,
    embedding_matrix,
    init_embedding,
    kim_cnn,
    kim_cnn_factory,
    remap_embedding,
    train_word_vectors,
)
from workbench.train import Trainer

SENTS = [s.split() for s in (
    "the film is a great film", "the plot is dull and slow", "a great cast and a great plot",
    "the actors are dull", "slow and dull film", "great acting and a fine plot")] * 40
FAST = dict(vector_size=16, epochs=2, min_count=1)


def test_vectors_deterministic_and_cached(tmp_path, capsys):
    a = train_word_vectors(SENTS, use_cache=False, verbose=False, **FAST)
    b = train_word_vectors(SENTS, use_cache=False, verbose=False, **FAST)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.vectors.shape == (len(a.words), 16) and a.vectors.dtype == np.float32
    assert a.settings.sg == 1 and a.settings.workers == 1  # skip-gram, one thread
    assert dict(zip(a.words, a.counts.tolist()))["great"] == 4 * 40
    first = train_word_vectors(SENTS, cache_dir=tmp_path, **FAST)
    assert "trained" in capsys.readouterr().out and not first.from_cache
    again = train_word_vectors(SENTS, cache_dir=tmp_path, verbose=False, **FAST)
    assert again.from_cache and again.key == first.key and again.words == first.words
    np.testing.assert_array_equal(again.vectors, first.vectors)
    assert again.train_seconds == pytest.approx(first.train_seconds)  # the cost travels with the cache
    # other settings or another corpus: a new key, trained afresh
    other = train_word_vectors(SENTS, cache_dir=tmp_path, verbose=False, **{**FAST, "window": 2})
    assert not other.from_cache and other.key != first.key
    other_corpus = train_word_vectors(SENTS[:-1], cache_dir=tmp_path, verbose=False, **FAST)
    assert not other_corpus.from_cache and other_corpus.key != first.key


def test_settings_rejected_with_range():
    with pytest.raises(ValueError, match=r"Word2VecSettings.window must be an integer in \[1, 100\]"):
        Word2VecSettings(window=0)
    with pytest.raises(ValueError, match="sg"):
        Word2VecSettings(sg=2)
    with pytest.raises(ValueError, match="overrides"):
        train_word_vectors(SENTS, use_cache=False, dimension=10)


def test_embedding_rows_equal_vectors_and_coverage():
    wv = train_word_vectors(SENTS, use_cache=False, verbose=False, **FAST)
    # a fine-tuning vocabulary: some words the vectors know (one only in upper case), some not
    vocab = Vocabulary.build([["great", "great", "great", "film", "Plot", "zebra", "zebra", "quokka"]])
    weight, rep = embedding_matrix(vocab, wv, seed=1)
    assert weight.shape == (len(vocab), 16) and weight.dtype == torch.float32
    for w in ("great", "film"):
        torch.testing.assert_close(weight[vocab.stoi[w]], torch.from_numpy(wv[w]))
    torch.testing.assert_close(weight[vocab.stoi["Plot"]], torch.from_numpy(wv["plot"]))
    assert rep.lowercase_matches == 1
    assert torch.all(weight[0] == 0)  # padding
    a = math.sqrt(3 * float(np.var(wv.vectors)))  # Kim: the random rows get the vectors' variance
    assert rep.init_range == pytest.approx(a)
    for w in ("zebra", "quokka"):
        row = weight[vocab.stoi[w]]
        assert row.abs().max() <= a and row.abs().max() > 0
    # by type: 3 of 5 words; by token: 5 of 8 training tokens
    assert (rep.vocab_types, rep.covered_types) == (5, 3)
    assert rep.type_coverage == pytest.approx(3 / 5) and rep.token_coverage == pytest.approx(5 / 8)
    assert rep.missing[0] == ("zebra", 2)
    assert "60.0%" in str(rep)


def test_kim_modes_static_frozen_non_static_trained():
    wv = train_word_vectors(SENTS, use_cache=False, verbose=False, **FAST)
    vocab = Vocabulary.build(SENTS)
    task = TaskSpec(modality="text", num_classes=2, vocab_size=len(vocab), min_length=5)
    x = torch.tensor([[vocab.stoi[w] for w in ["the", "film", "is", "a", "great", "film"]]] * 4)
    y = torch.tensor([0, 1, 0, 1])
    changed = {}
    for mode in ("static", "non-static", "multichannel"):
        torch.manual_seed(0)
        model, rep = kim_cnn(task, vocab, wv, mode=mode)
        assert model.mode == mode and rep.type_coverage == 1.0
        torch.testing.assert_close(model.embedding.weight[vocab.stoi["great"]], torch.from_numpy(wv["great"]))
        before = model.embedding.weight.detach().clone()
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        changed[mode] = not torch.equal(model.embedding.weight, before)
    assert changed == {"static": False, "non-static": True, "multichannel": True}
    rand, rep = kim_cnn(task, vocab, mode="rand")
    assert rep is None and rand.mode == "rand"
    with pytest.raises(ValueError, match="needs word vectors"):
        kim_cnn(task, vocab, None, mode="static")
    with pytest.raises(ValueError, match="mode must be one of"):
        KimCNN(10, 2, mode="dynamic")
    with pytest.raises(ValueError, match="mode='rand' takes no"):
        KimCNN(10, 2, embed_dim=4, mode="rand", pretrained_embeddings=torch.zeros(10, 4))
    with pytest.raises(ValueError, match="mode='static' needs pretrained_embeddings"):
        build_model("kim_cnn", task, mode="static")
    # the modes inferred from the arguments (for models built the old way)
    assert KimCNN(10, 2, embed_dim=4, pretrained_embeddings=torch.zeros(10, 4), freeze_embeddings=True).mode == "static"
    # init_embedding on any model with an embedding, and a shape mismatch named
    boe = build_model("boe", task, embed_dim=16)
    rep = init_embedding(boe, vocab, wv, freeze=True)
    assert not boe.embedding.weight.requires_grad and rep.covered_types == rep.vocab_types
    with pytest.raises(ValueError, match="embed_dim=16"):
        init_embedding(build_model("boe", task, embed_dim=8), vocab, wv)


def test_real_mr_word2vec_initialises_kim_cnn(tmp_path):
    """Skip-gram vectors from 4,000 sentences of MR's own training text (held-out sentences
    removed) initialise a non-static Kim CNN on capped MR, which then trains."""
    corpus = build_pretraining_corpus(sources=["mr"], heldout=["mr"], max_sentences=4000,
                                      cache_dir=tmp_path, verbose=False)
    wv = train_word_vectors(corpus, cache_dir=tmp_path, verbose=False, vector_size=32, epochs=3)
    splits = cap_splits(load_dataset("mr"), train=400, val=100, test=100)
    factory = kim_cnn_factory(splits.vocab, wv, mode="non-static", num_filters=16)
    torch.manual_seed(0)
    model = factory(splits.task)
    rep = factory.coverage
    # the vectors come from a tenth of the training text: most tokens, far fewer types
    assert rep.token_coverage > 0.75 and rep.type_coverage < rep.token_coverage
    covered = [w for w in splits.vocab.itos[2:] if w in wv][:50]
    rows = model.embedding.weight.detach()[[splits.vocab.stoi[w] for w in covered]]
    torch.testing.assert_close(rows, torch.from_numpy(np.stack([wv[w] for w in covered])))
    before = model.embedding.weight.detach().clone()
    cfg = TrainingConfig(epochs=1, batch_size=50, lr=1e-3, progress_bar=False, seed=0)
    state = Trainer(model, cfg, splits.train, splits.val, task=splits.task).fit()
    assert state.effective_step == 8 and math.isfinite(state.history[-1]["val_loss"])
    assert not torch.equal(model.embedding.weight, before)


def test_remap_embedding_from_a_pretraining_vocabulary():
    """A pretrained table over the pretraining vocabulary moved to the fine-tuning one:
    shared words keep their rows, the others are drawn, the coverage is reported."""
    src_vocab = Vocabulary.build([["the", "film", "is", "great", "the"]])
    torch.manual_seed(0)
    table = torch.randn(len(src_vocab), 6)
    tgt_vocab = Vocabulary.build([["great", "film", "film", "quokka"]])
    weight, rep = remap_embedding(table, src_vocab, tgt_vocab)
    for w in ("great", "film"):
        torch.testing.assert_close(weight[tgt_vocab.stoi[w]], table[src_vocab.stoi[w]])
    assert (rep.covered_types, rep.vocab_types, rep.covered_tokens, rep.vocab_tokens) == (2, 3, 3, 4)
    assert rep.pretrained_words == len(src_vocab) - 2  # specials are not vectors
    with pytest.raises(ValueError, match="weight"):
        remap_embedding(table[:-1], src_vocab, tgt_vocab)


def test_user_text_file_pretrains_vectors_for_user_labelled_data(tmp_path):
    """Your own data end to end: a text file as the pretraining corpus (your labelled
    file's held-out sentences removed from it), vectors, and a non-static Kim CNN on your
    labelled CSV."""
    words = ["good", "bad", "great", "awful", "film", "plot", "acting", "fine", "dull", "story"]
    rng = np.random.default_rng(0)
    rows = ["text,label"] + [f"{' '.join(rng.choice(words, 6))},{i % 2}" for i in range(80)]
    (tmp_path / "labelled.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    splits = load_text_file(tmp_path / "labelled.csv")
    unlabelled = [" ".join(rng.choice(words, 8)) for _ in range(500)] + [splits.test.texts[0]]
    (tmp_path / "unlabelled.txt").write_text("\n".join(unlabelled) + "\n", encoding="utf-8")
    corpus = build_pretraining_corpus(files=[tmp_path / "unlabelled.txt"], heldout=[splits],
                                      cache_dir=tmp_path / "cache", verbose=False)
    assert corpus.report.removed_overlaps >= 1 and corpus.report.sources[0].name == "unlabelled.txt"
    wv = train_word_vectors(corpus, cache_dir=tmp_path / "cache", verbose=False, **FAST)
    model, rep = kim_cnn(splits.task, splits.vocab, wv, mode="static", num_filters=4)
    assert rep.type_coverage == 1.0 and not model.embedding.weight.requires_grad
    state = Trainer(model, TrainingConfig(epochs=1, batch_size=16, progress_bar=False), splits.train,
                    splits.val, task=splits.task).fit()
    assert state.effective_step == len(range(0, len(splits.train), 16))
