"""Tests for workbench.models: shapes, documented parameter counts, padding invariance,
build_model, gradients, eval determinism, and DigitsCNN accuracy on real digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.config import TaskSpec
from workbench.models import (
    MLP,
    MODELS,
    BagOfEmbeddings,
    DigitsCNN,
    KimCNN,
    build_model,
    count_parameters,
)

VOCAB = 10_000

DIGITS = TaskSpec(modality="vision", num_classes=10, input_shape=(1, 8, 8), name="digits")
TABULAR = TaskSpec(modality="tabular", num_classes=3, input_shape=(20,))
TEXT = TaskSpec(modality="text", num_classes=2, vocab_size=VOCAB, pad_id=0, min_length=5)


def _tokens(lengths: list[int], pad_to: int, vocab: int = VOCAB, seed: int = 0) -> torch.Tensor:
    """Right-padded token ids [B, pad_to]; real tokens in [1, vocab)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), pad_to, dtype=torch.long)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.randint(1, vocab, (n,), generator=g)
    return x


# ----------------------------------------------------------------- shapes and counts


def test_mlp_shapes_and_documented_count():
    m = MLP(64, 10)
    assert count_parameters(m) == 17_226
    assert m(torch.randn(4, 64)).shape == (4, 10)
    assert m(torch.randn(4, 1, 8, 8)).shape == (4, 10)  # flattens
    assert m.encode(torch.randn(4, 64)).shape == (4, m.feature_dim) == (4, 64)
    assert m(torch.randn(4, 64)).dtype == torch.float32
    linear = MLP(64, 10, hidden=())
    assert count_parameters(linear) == 650
    with pytest.raises(ValueError, match="64 input features"):
        m(torch.randn(4, 63))


def test_digits_cnn_shapes_and_documented_count():
    m = DigitsCNN()
    assert count_parameters(m) == 65_834
    assert m(torch.randn(5, 1, 8, 8)).shape == (5, 10)
    assert m.encode(torch.randn(5, 1, 8, 8)).shape == (5, 64)
    with pytest.raises(ValueError, match=r"\[B, 1, 8, 8\]"):
        m(torch.randn(5, 8, 8))
    rgb = DigitsCNN(in_channels=3, num_classes=4, image_size=32, channels=(8, 16, 32))
    assert rgb(torch.randn(2, 3, 32, 32)).shape == (2, 4)


def test_boe_shapes_and_documented_count():
    m = BagOfEmbeddings(VOCAB, 2)
    assert count_parameters(m) == 1_280_258
    x = _tokens([3, 7, 1], 9)
    assert m(x).shape == (3, 2) and m(x).dtype == torch.float32
    h = BagOfEmbeddings(VOCAB, 2, hidden=64)
    assert count_parameters(h) == VOCAB * 128 + 128 * 64 + 64 + 64 * 2 + 2
    assert h(x).shape == (3, 2) and h.encode(x).shape == (3, 64)


def test_kim_cnn_shapes_and_documented_count():
    m = KimCNN(VOCAB, 2)
    assert count_parameters(m) == 1_434_502
    assert count_parameters(KimCNN(VOCAB, 2, embed_dim=300)) == 3_360_902
    x = _tokens([5, 12, 2], 12)
    assert m(x).shape == (3, 2) and m(x).dtype == torch.float32
    assert m.encode(x).shape == (3, 300) and m.feature_dim == 300


def test_kim_cnn_rejects_short_and_float_input():
    m = KimCNN(100, 2)
    with pytest.raises(ValueError, match="at least 5 tokens"):
        m(_tokens([3], 4, vocab=100))
    with pytest.raises(ValueError, match="integer token ids"):
        m(torch.randn(2, 8))
    with pytest.raises(ValueError, match=r"\[B, L\]"):
        m(torch.ones(8, dtype=torch.long))


# ----------------------------------------------------------------- padding invariance


@pytest.mark.parametrize("model_cls", [KimCNN, BagOfEmbeddings])
def test_text_models_invariant_to_extra_padding(model_cls):
    torch.manual_seed(0)
    m = model_cls(VOCAB, 3).eval()
    lengths = [10, 6, 1, 8]  # one sequence fills the short batch; one is shorter than a filter
    short = _tokens(lengths, 10)
    long = torch.zeros(len(lengths), 30, dtype=torch.long)
    long[:, :10] = short
    with torch.no_grad():
        torch.testing.assert_close(m(short), m(long), rtol=1e-5, atol=1e-6)
        # each sequence alone (padded only to the minimum) gives the same logits too
        for i, n in enumerate(lengths):
            alone = short[i : i + 1, : max(n, 5)]
            torch.testing.assert_close(m(alone)[0], m(short)[i], rtol=1e-5, atol=1e-6)


def test_kim_cnn_padding_ignored_even_with_nonzero_pad_vectors():
    torch.manual_seed(0)
    table = torch.randn(VOCAB, 16)  # row 0 (the pad id) is not zero
    m = KimCNN(VOCAB, 2, embed_dim=16, pretrained_embeddings=table).eval()
    short = _tokens([4, 9], 9)
    long = torch.cat([short, torch.zeros(2, 21, dtype=torch.long)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(m(short), m(long), rtol=1e-5, atol=1e-6)


def test_all_padding_sequence_gives_finite_logits():
    for m in (KimCNN(50, 2).eval(), BagOfEmbeddings(50, 2).eval()):
        x = torch.zeros(2, 6, dtype=torch.long)
        x[1, :3] = torch.tensor([4, 5, 6])
        out = m(x)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out[0], m.classifier.bias.detach())


# ----------------------------------------------------------------- Kim variants


def test_kim_cnn_variants_and_max_norm():
    torch.manual_seed(0)
    table = torch.randn(200, 32)
    static = KimCNN(200, 2, embed_dim=32, pretrained_embeddings=table, freeze_embeddings=True)
    torch.testing.assert_close(static.embedding.weight, table)
    assert not static.embedding.weight.requires_grad
    trainable_rest = count_parameters(static)
    assert trainable_rest == 32 * 100 * 12 + 300 + 300 * 2 + 2
    assert count_parameters(static, trainable_only=False) == trainable_rest + 200 * 32

    multi = KimCNN(200, 2, embed_dim=32, static_embeddings=table)
    assert multi.static_embedding is not None and not multi.static_embedding.weight.requires_grad
    torch.testing.assert_close(multi.embedding.weight, table)  # non-static channel starts equal
    assert count_parameters(multi) == 200 * 32 + 2 * 32 * 100 * 12 + 300 + 602
    assert multi(_tokens([5, 7], 7, vocab=200)).shape == (2, 2)

    with pytest.raises(ValueError, match="embed_dim=300"):
        KimCNN(200, 2, pretrained_embeddings=torch.randn(200, 300))

    m = KimCNN(200, 3, max_norm=3.0)
    with torch.no_grad():
        m.classifier.weight.mul_(100.0)
    assert m.apply_max_norm() == 3
    norms = m.classifier.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.full((3,), 3.0))
    assert m.apply_max_norm() == 0
    assert KimCNN(200, 3).apply_max_norm() == 0  # off by default


def test_kim_cnn_rand_embedding_init_range():
    torch.manual_seed(0)
    w = KimCNN(2000, 2, embed_dim=64).embedding.weight.detach()  # Kim: U[-0.25, 0.25]
    assert float(w[1:].abs().max()) <= 0.25 and float(w[1:].abs().max()) > 0.24
    assert float(w[1:].std()) == pytest.approx(0.5 / 12 ** 0.5, rel=0.02)
    assert torch.count_nonzero(w[0]) == 0  # padding row stays zero
    w = KimCNN(2000, 2, embed_dim=64, pad_id=3, init_range=0.1).embedding.weight.detach()
    assert float(w.abs().max()) <= 0.1 and torch.count_nonzero(w[3]) == 0
    w = KimCNN(2000, 2, embed_dim=64, init_range=None).embedding.weight.detach()
    assert float(w[1:].std()) == pytest.approx(1.0, rel=0.02)  # PyTorch's N(0, 1)
    table = torch.randn(50, 8)
    m = KimCNN(50, 2, embed_dim=8, pretrained_embeddings=table)  # a given table is kept
    torch.testing.assert_close(m.embedding.weight[1:], table[1:])
    for bad in (0, -0.1, True, "0.25", float("inf")):
        with pytest.raises(ValueError, match="init_range"):
            KimCNN(50, 2, init_range=bad)


# ----------------------------------------------------------------- build_model


def test_build_model_infers_sizes_from_task():
    mlp = build_model("mlp", DIGITS)
    assert isinstance(mlp, MLP) and mlp.in_features == 64 and count_parameters(mlp) == 17_226
    cnn = build_model("cnn", DIGITS)
    assert isinstance(cnn, DigitsCNN) and count_parameters(cnn) == 65_834
    tab = build_model("mlp", TABULAR, hidden=(32,))
    assert tab(torch.randn(3, 20)).shape == (3, 3)
    boe = build_model("boe", TEXT)
    assert isinstance(boe, BagOfEmbeddings) and boe.vocab_size == VOCAB
    kim = build_model("kim_cnn", TEXT, embed_dim=64, dropout=0.3)
    assert isinstance(kim, KimCNN) and kim.embed_dim == 64 and kim.pad_id == 0
    assert set(MODELS) == {"mlp", "cnn", "boe", "kim_cnn", "transformer"}
    tr = build_model("transformer", TEXT, d_model=32, n_heads=2, n_layers=1)
    assert tr.vocab_size == VOCAB and tr.num_classes == 2 and tr.feature_dim == 32


def test_build_model_errors():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*'mlp', 'cnn', 'boe', 'kim_cnn'"):
        build_model("resnet", DIGITS)
    for name in ("mlp", "cnn"):
        with pytest.raises(ValueError, match="models for 'text'"):
            build_model(name, TEXT)
    for name in ("boe", "kim_cnn"):
        with pytest.raises(ValueError, match="modalities"):
            build_model(name, DIGITS)
    with pytest.raises(ValueError, match="modalities"):
        build_model("cnn", TABULAR)
    with pytest.raises(ValueError, match="infers"):
        build_model("mlp", DIGITS, num_classes=5)
    with pytest.raises(ValueError, match="dropout"):
        build_model("cnn", DIGITS, dropout=1.5)
    with pytest.raises(ValueError, match="square"):
        build_model("cnn", TaskSpec(modality="vision", num_classes=2, input_shape=(1, 8, 6)))


# ----------------------------------------------------------------- gradients, dropout


def _inputs(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    task = TEXT if name in ("boe", "kim_cnn", "transformer") else DIGITS
    model = build_model(name, task, **({"d_model": 32, "n_heads": 2} if name == "transformer" else {}))
    x = _tokens([6, 9, 3, 9], 9) if task is TEXT else torch.randn(4, 1, 8, 8)
    return model, x


@pytest.mark.parametrize("name", list(MODELS))
def test_gradients_reach_every_trainable_parameter(name):
    torch.manual_seed(0)
    model, x = _inputs(name)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    for pname, p in model.named_parameters():
        if pname == "lm_head.bias":  # the language-model head's bias: unused by the classifier
            continue
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", list(MODELS))
def test_eval_mode_is_deterministic_and_train_mode_uses_dropout(name):
    torch.manual_seed(0)
    model, x = _inputs(name)
    if name == "boe":
        model = BagOfEmbeddings(VOCAB, 2, dropout=0.5, hidden=32)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))


# ----------------------------------------------------------------- real data


def test_digits_cnn_reaches_97_percent_on_sklearn_digits():
    """DigitsCNN on the real scikit-learn digits, 80/10/10 split, Adam, 4 epochs (~3 s)."""
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(x))
    n_train, n_val = int(0.8 * len(x)), int(0.1 * len(x))
    train, test = perm[:n_train], perm[n_train + n_val :]
    mean, std = x[train].mean(), x[train].std()
    inputs = torch.from_numpy((x - mean) / std).unsqueeze(1)
    targets = torch.from_numpy(digits.target).long()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(4):
        model.train()
        order = torch.from_numpy(train)[torch.randperm(len(train))]
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            loss = torch.nn.functional.cross_entropy(model(inputs[idx]), targets[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(inputs[test]).argmax(1) == targets[test]).float().mean().item()
    assert acc >= 0.97, acc
