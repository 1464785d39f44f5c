"""The transfer notebook's package functions: perplexity figure, text generation with the
KV cache, the unfreezing schedule, and the label-budget curves with their prose."""

from __future__ import annotations

import pytest
import torch

from workbench.techniques.transfer.display import (
    generate_text,
    label_budget_curves,
    label_budget_figure,
    label_budget_prose,
    perplexity_figure,
    unfreezing_figure,
    unfreezing_table,
)
from workbench.techniques.transfer.lm import LMConfig, pretrain_lm

TINY = LMConfig.smoke(d_model=32, n_heads=2, n_layers=1, seq_len=12, batch_size=8, steps=30, eval_every=10,
                      max_len=40, lr=5e-3, warmup_steps=3)


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    corpus = ["the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog ."] * 40
    return pretrain_lm(corpus, TINY, cache_dir=tmp_path_factory.mktemp("cache"))


def test_perplexity_figure_has_the_curve_and_the_baseline(lm):
    fig = perplexity_figure(lm.history, kneser_ney=3.5)
    assert list(fig.data[0].y) == [r["val_perplexity"] for r in lm.history]
    assert fig.layout.yaxis.type == "log"
    assert any("Kneser-Ney" in (a.text or "") for a in fig.layout.annotations)


def test_generate_text_uses_the_cache_and_stops_at_sentence_end(lm):
    a = generate_text(lm, "the cat", max_new_tokens=8, temperature=0.0)
    b = generate_text(lm, "the cat", max_new_tokens=8, temperature=0.0, use_cache=False)
    assert a == b and a.startswith("the cat ")
    assert a.count("<eos>") <= 1 and (a.endswith("<eos>") or len(a.split()) == 10)
    s1 = generate_text(lm, "the", temperature=1.0, top_k=5, seed=1)
    assert s1 == generate_text(lm, "the", temperature=1.0, top_k=5, seed=1)
    assert generate_text(lm, "zebra", max_new_tokens=2, temperature=0.0).startswith("<unk>")
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_text(lm, "the", max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        generate_text(lm, "the", temperature=-1.0)


def test_unfreezing_table_follows_ulmfit():
    rows = unfreezing_table(["embedding", "block0", "head"], every=2, epochs=5)
    trains = {(r["epoch"], r["group"]): r["trains"] for r in rows}
    assert [g for g in ("embedding", "block0", "head") if trains[(0, g)]] == ["head"]
    assert trains[(2, "block0")] and not trains[(3, "embedding")] and trains[(4, "embedding")]
    fig = unfreezing_figure(["embedding", "block0", "head"], every=1, epochs=3)
    assert [list(r) for r in fig.data[0].z] == [[0, 0, 1], [0, 1, 1], [1, 1, 1]]
    with pytest.raises(ValueError, match="every"):
        unfreezing_table(["head"], every=0)


def test_label_budget_prose_reads_the_numbers():
    rows = [{"labels": 100, "variant": "pretrained", "seed": 0, "test_accuracy": 0.70},
            {"labels": 100, "variant": "scratch", "seed": 0, "test_accuracy": 0.60},
            {"labels": 1000, "variant": "pretrained", "seed": 0, "test_accuracy": 0.80},
            {"labels": 1000, "variant": "scratch", "seed": 0, "test_accuracy": 0.70}]
    text = label_budget_prose(rows, pretrain_seconds=12.0)
    assert "With 100 labels the pretrained transformer is at 70.0%, 10.0 points above" in text
    assert "reaches the scratch model's 1,000-label accuracy with 100 labels (10x fewer)" in text
    assert "12 s" in text
    rows[0]["test_accuracy"] = 0.5
    assert "does not reach" in label_budget_prose(rows)
    fig = label_budget_figure(rows)
    assert {t.name for t in fig.data} == {"pretrained", "scratch"} and list(fig.data[0].x) == [100, 1000]


def test_label_budget_curves_runs_both_variants(lm):
    from workbench.config import TaskSpec
    from workbench.data.splits import DataSplits, ExampleDataset
    from workbench.data.text import Vocabulary

    texts = [("the cat sat on the mat .", 1), ("a dog saw a log .", 0)] * 30
    vocab = Vocabulary.build([t.split() for t, _ in texts])

    def part(lo, hi):
        sub = texts[lo:hi]
        return ExampleDataset([torch.tensor(vocab.encode(t.split())) for t, _ in sub],
                              torch.tensor([y for _, y in sub]), torch.arange(lo, hi), texts=[t for t, _ in sub])
    splits = DataSplits("toy", part(0, 40), part(40, 50), part(50, 60),
                        TaskSpec(modality="text", num_classes=2, vocab_size=len(vocab)), vocab, {})
    rows = label_budget_curves(splits, lm, budgets=(10, None), config={"min_steps": 4, "max_epochs": 2})
    assert sorted({(r["labels"], r["variant"]) for r in rows}) == [
        (10, "pretrained"), (10, "scratch"), (40, "pretrained"), (40, "scratch")]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["seconds"] > 0 for r in rows)
