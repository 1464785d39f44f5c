"""Pretrain-then-fine-tune pipeline (workbench.techniques.transfer.pipeline): costs kept
apart, vocabulary mapping and coverage, ULMFiT's gradual unfreezing and discriminative
rates reaching the run, the experiment runner's variants, your own CSV, and a capped real
data set."""

from __future__ import annotations

import pytest
import torch

from workbench.config import TrainingConfig
from workbench.data.user_data import load_text_file
from workbench.experiment import Experiment, Target
from workbench.techniques.transfer.lm import LMConfig, pretrain_lm
from workbench.techniques.transfer.pipeline import (
    finetune_config,
    lm_splits,
    pretrain_and_finetune,
    scratch_transformer_variant,
    ulmfit_variant,
)

TINY = LMConfig.smoke(d_model=32, n_heads=2, n_layers=2, seq_len=16, batch_size=8, steps=30, eval_every=15,
                      max_len=48, lr=5e-3, warmup_steps=3)
POS = ["great", "fine", "lovely", "superb"]
NEG = ["awful", "bad", "dull", "poor"]


def _sentences(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        words = POS if i % 2 else NEG
        w = words[int(torch.randint(0, 4, (1,), generator=g))]
        out.append((f"the film was {w} and the cast was {w} .", i % 2))
    return out


@pytest.fixture(scope="module")
def user_splits(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    rows = _sentences(160)
    path.write_text("text,label\n" + "\n".join(f'"{t}",{"pos" if y else "neg"}' for t, y in rows) + "\n")
    return load_text_file(path)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    corpus = [t for t, _ in _sentences(300, seed=1)] + ["the cast was here ."] * 20
    return pretrain_lm(corpus, TINY, cache_dir=tmp_path_factory.mktemp("cache"))


def test_pipeline_on_your_csv_keeps_costs_apart(user_splits, pretrained):
    res = pretrain_and_finetune(user_splits, pretrained=pretrained, config={"lr": 5e-3}, seed=0)
    assert res.pretrain_seconds == pretrained.pretrain_seconds > 0
    assert res.finetune_seconds > 0 and res.total_seconds == pytest.approx(res.pretrain_seconds + res.finetune_seconds)
    assert sorted(res.load_report.missing) == ["classifier.bias", "classifier.weight"]
    assert not res.load_report.unexpected and not res.load_report.shape_mismatched
    assert res.coverage["type_coverage"] == 1.0  # every word of the CSV is in the LM's vocabulary
    assert res.splits.task.vocab_size == len(pretrained.vocab)
    assert res.test_metrics["test_accuracy"] >= 0.7  # chance 0.5 (16 test sentences)
    # at least 150 steps (4 per epoch here); gradual unfreezing: one more group per epoch
    assert res.config.epochs == 38
    unfrozen = [r["unfrozen_groups"] for r in res.history if "val_accuracy" in r]
    assert unfrozen[:5] == [1.0, 2.0, 3.0, 4.0, 4.0] and set(unfrozen[4:]) == {4.0}


def test_gradual_unfreezing_keeps_lower_groups_at_pretrained_weights(user_splits, pretrained):
    res = pretrain_and_finetune(user_splits, pretrained=pretrained, config={"epochs": 1}, seed=0)
    # epoch 0 trains only the top group (final norm + head): everything below is untouched
    for name, p in res.model.named_parameters():
        if name.startswith(("embedding.", "position.", "blocks.")):
            assert torch.equal(p, pretrained.model.state_dict()[name]), name
    assert not torch.equal(res.model.norm.weight, pretrained.model.norm.weight)


def test_discriminative_rates_decay_by_2_6(user_splits, pretrained):
    data = lm_splits(user_splits, pretrained.vocab, TINY.max_len)
    v = ulmfit_variant(pretrained)
    model = v.model_factory(data.task)
    cfg = finetune_config(None, len(data.train))
    rates = {}
    for g in v.param_groups(model, cfg):
        rates.setdefault(g["name"].split(" ")[2], g["lr"])
    assert list(rates) == ["embedding", "block0", "block1", "head"]
    assert rates["head"] == pytest.approx(cfg.lr)
    assert rates["block1"] == pytest.approx(cfg.lr / 2.6)
    assert rates["embedding"] == pytest.approx(cfg.lr / 2.6 ** 3)
    assert cfg.schedule == "slanted_triangular" and cfg.early_stopping_patience is None


def test_variants_run_in_the_experiment_runner(user_splits, pretrained):
    data = lm_splits(user_splits, pretrained.vocab, TINY.max_len)
    base = TrainingConfig(epochs=2, batch_size=16, progress_bar=False)
    exp = Experiment(data, lambda task: None, base,
                     [scratch_transformer_variant(pretrained, config={"epochs": 2}),
                      ulmfit_variant(pretrained, config={"epochs": 2})],
                     seeds=(0,), target=Target("val_accuracy", 0.6), progress=False)
    result = exp.run()
    assert [r.variant for r in result.records] == ["transformer (scratch)", "transformer (LM-pretrained, ULMFiT)"]
    assert all(r.effective_steps > 0 for r in result.records)
    # the wrong vocabulary is refused with the fix in the message
    with pytest.raises(ValueError, match="lm_splits"):
        ulmfit_variant(pretrained).model_factory(user_splits.task)


def test_pipeline_needs_text_to_pretrain_on(user_splits):
    with pytest.raises(ValueError, match="corpus"):
        pretrain_and_finetune(user_splits)
    with pytest.raises(ValueError, match="layer_decay"):
        ulmfit_variant(None, layer_decay=0.5)
    with pytest.raises(ValueError, match="PretrainedLM or an LMConfig"):
        scratch_transformer_variant("tiny")


def test_real_subj_capped(tmp_path):
    """SUBJ (200 / 100 / 100 sentences) fine-tuned from an LM pretrained for 20 steps on
    1,000 sentences of the built-in corpus (SUBJ's training text; held-out sentences removed)."""
    from workbench.data.datasets import load_dataset
    from workbench.data.splits import cap_splits
    from workbench.techniques.transfer import build_pretraining_corpus

    splits = cap_splits(load_dataset("subj"), 200, 100, 100)
    corpus = build_pretraining_corpus(sources=["subj"], heldout=["subj"], max_sentences=1000, verbose=False,
                                      cache_dir=tmp_path)
    res = pretrain_and_finetune(splits, corpus, TINY.replace(steps=20, max_len=128, max_vocab=3000),
                                config={"epochs": 2}, cache_dir=tmp_path)
    assert 0.5 < res.coverage["token_coverage"] < 1.0  # a capped corpus misses some words
    assert len(res.splits.test) == 100 and 0.0 <= res.test_metrics["test_accuracy"] <= 1.0
    assert res.pretrain_seconds > 0 and not res.pretrain_from_cache
    again = pretrain_and_finetune(splits, corpus, TINY.replace(steps=20, max_len=128, max_vocab=3000),
                                  config={"epochs": 1}, cache_dir=tmp_path)
    assert again.pretrain_from_cache and again.pretrain_seconds == res.pretrain_seconds
