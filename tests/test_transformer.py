"""TransformerLM: KV-cached generation equals uncached generation, causality, padding
invariance of the classifier, argument checks, and training as a classifier through the
Trainer (tiny tensors and a capped real data set). The cached-vs-uncached speed is measured
in benchmarks/transfer.py (``--kv-cache``), not here."""

from __future__ import annotations

import pytest
import torch

from workbench.config import TrainingConfig
from workbench.models.transformer import TransformerLM
from workbench.train import Trainer


def _model(**kw):
    torch.manual_seed(0)
    return TransformerLM(300, **({"d_model": 32, "n_heads": 4, "n_layers": 2, "max_len": 96} | kw))


def test_cached_and_uncached_greedy_generation_agree():
    m = _model()
    prompt = torch.randint(3, 300, (2, 5), generator=torch.Generator().manual_seed(1))
    a, la = m.generate(prompt, 60, return_logits=True)
    b, lb = m.generate(prompt, 60, use_cache=False, return_logits=True)
    assert a.shape == (2, 65) and torch.equal(a[:, :5], prompt)
    assert torch.equal(a, b)
    assert la.shape == (2, 60, 300)
    assert (la - lb).abs().max().item() < 1e-5


def test_cached_sampling_is_seeded_and_matches_uncached():
    m = _model()
    prompt = torch.tensor([[5, 6, 7]])
    s1 = m.generate(prompt, 30, temperature=1.0, top_k=20, seed=3)
    s2 = m.generate(prompt, 30, temperature=1.0, top_k=20, seed=3, use_cache=False)
    s3 = m.generate(prompt, 30, temperature=1.0, top_k=20, seed=4)
    assert torch.equal(s1, s2)
    assert not torch.equal(s1, s3)
    # top_k=1 is greedy
    assert torch.equal(m.generate(prompt, 10, temperature=0.7, top_k=1, seed=9), m.generate(prompt, 10))
    # the pad token is never generated; the global RNG is untouched
    state = torch.get_rng_state()
    out = m.generate(prompt, 40, temperature=5.0, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert not (out[:, 3:] == m.pad_id).any()


def test_generate_restores_training_mode_and_checks_arguments():
    m = _model()
    m.train()
    m.generate(torch.tensor([[3]]), 2)
    assert m.training
    with pytest.raises(ValueError, match="max_len"):
        m.generate(torch.ones(1, 90, dtype=torch.long), 10)
    with pytest.raises(ValueError, match="temperature"):
        m.generate(torch.tensor([[3]]), 2, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        m.generate(torch.tensor([[3]]), 2, temperature=1.0, top_k=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        m.generate(torch.tensor([[3]]), 0)


def test_language_model_is_causal():
    m = _model(dropout=0.0).eval()
    x = torch.randint(3, 300, (1, 12), generator=torch.Generator().manual_seed(2))
    y = x.clone()
    y[0, 8:] = torch.randint(3, 300, (4,), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        lx, ly = m.forward_lm(x), m.forward_lm(y)
    assert torch.allclose(lx[:, :8], ly[:, :8], atol=1e-6)
    assert not torch.allclose(lx[:, 8:], ly[:, 8:], atol=1e-3)


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_classifier_ignores_right_padding(pooling):
    m = _model(num_classes=3, dropout=0.0, pooling=pooling).eval()
    x = torch.randint(3, 300, (4, 7), generator=torch.Generator().manual_seed(4))
    x[1, 5:] = 0  # a shorter sentence in the batch
    padded = torch.cat([x, torch.zeros(4, 9, dtype=torch.long)], dim=1)
    with torch.no_grad():
        assert m(x).shape == (4, 3) and m.encode(x).shape == (4, m.feature_dim)
        assert torch.allclose(m(x), m(padded), atol=1e-5)
        # the short sentence alone gives the same features as inside the batch
        assert torch.allclose(m.encode(x[1:2, :5]), m.encode(x)[1:2], atol=1e-5)
        assert torch.equal(m.encode(torch.zeros(1, 4, dtype=torch.long)), torch.zeros(1, m.feature_dim))


def test_mean_and_last_pooling_differ_and_head_is_replaceable():
    m = _model(num_classes=2, dropout=0.0).eval()
    x = torch.randint(3, 300, (2, 6), generator=torch.Generator().manual_seed(5))
    mean = m.encode(x)
    m.pooling = "last"
    assert not torch.allclose(mean, m.encode(x))
    # "last" is the last position's final hidden state
    assert torch.allclose(m.encode(x), m.hidden_states(x)[:, -1], atol=1e-6)
    m.add_classifier(5)
    assert m(x).shape == (2, 5) and m.num_classes == 5


def test_without_head_forward_is_the_language_model():
    m = _model(dropout=0.0).eval()
    x = torch.randint(3, 300, (2, 6))
    assert m(x).shape == (2, 6, 300)
    assert m.lm_head.weight is m.embedding.weight
    assert list(m.layer_groups()) == ["embedding", "block0", "block1", "head"]
    import re
    names = [n for n, _ in m.named_parameters()]
    covered = [n for n in names if any(re.match(p, n) for ps in m.layer_groups().values() for p in ps)]
    assert covered == names


@pytest.mark.parametrize("kw, match", [
    ({"d_model": 30, "n_heads": 4}, "n_heads must divide"),
    ({"activation": "tanh"}, "activation"),
    ({"pooling": "max"}, "pooling"),
    ({"dropout": 1.0}, "dropout"),
    ({"max_len": 0}, "max_len"),
    ({"pad_id": 300}, "pad_id"),
])
def test_invalid_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        _model(**kw)


def test_input_checks():
    m = _model(num_classes=2)
    with pytest.raises(ValueError, match="max_len"):
        m(torch.ones(1, 97, dtype=torch.long))
    with pytest.raises(ValueError, match="integer token ids"):
        m(torch.ones(1, 5))


def test_trains_as_a_classifier_in_the_trainer():
    """A token-presence task: the Trainer learns it well above chance."""
    from workbench.config import TaskSpec
    from workbench.data.datasets import ExampleDataset

    g = torch.Generator().manual_seed(0)
    inputs, targets = [], []
    for i in range(240):
        n = int(torch.randint(4, 10, (1,), generator=g))
        seq = torch.randint(3, 50, (n,), generator=g)
        y = i % 2
        if y:
            seq[int(torch.randint(0, n, (1,), generator=g))] = 2  # the marker token
        inputs.append(seq)
        targets.append(y)
    data = ExampleDataset(inputs, torch.tensor(targets), torch.arange(240))
    task = TaskSpec(modality="text", num_classes=2, vocab_size=50)
    torch.manual_seed(0)
    model = TransformerLM(50, num_classes=2, d_model=32, n_heads=2, n_layers=1, max_len=16, dropout=0.0)
    cfg = TrainingConfig(optimizer="adamw", lr=3e-3, batch_size=16, epochs=6, seed=0, progress_bar=False)
    trainer = Trainer(model, cfg, data.subset(range(200)), data.subset(range(200, 240)), task=task)
    trainer.fit()
    metrics = trainer.evaluate(data.subset(range(200, 240)))
    assert metrics[next(k for k in metrics if k.endswith("accuracy"))] >= 0.75, metrics  # chance: 0.5
