"""AdaptiveLayerNorm (per-domain affine over shared statistics) and the domain field end to end."""

from __future__ import annotations

import pytest
import torch

from tests.techniques.settings import domain_splits
from workbench.config import TrainingConfig
from workbench.techniques.domain import AdaptiveLayerNorm, DomainDataset, domain_model
from workbench.train import Trainer


def test_equals_layer_norm_with_equal_affines_and_applies_each_domains_own():
    torch.manual_seed(0)
    x = torch.randn(6, 5, 8)
    aln = AdaptiveLayerNorm(8, num_domains=3)
    ln = torch.nn.LayerNorm(8)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 2)
        ln.bias.normal_()
        aln.weight.copy_(ln.weight.expand(3, 8))
        aln.bias.copy_(ln.bias.expand(3, 8))
    d = torch.tensor([0, 1, 2, 2, 1, 0])
    torch.testing.assert_close(aln(x, d), ln(x))
    with torch.no_grad():
        aln.weight[1].mul_(3.0)
        aln.bias[2].add_(1.0)
    y = aln(x, d)
    torch.testing.assert_close(y[d == 0], ln(x)[d == 0])
    norm = torch.nn.functional.layer_norm(x, (8,))
    torch.testing.assert_close(y[d == 1], norm[d == 1] * aln.weight[1] + aln.bias[1])
    torch.testing.assert_close(aln(x, 2), norm * aln.weight[2] + aln.bias[2])  # an int: every example
    # gradients reach only the domains present
    aln(x, torch.tensor([1] * 6)).sum().backward()
    assert aln.weight.grad[1].abs().sum() > 0 and not aln.weight.grad[[0, 2]].any()


@pytest.mark.parametrize("call, arg", [
    (lambda m, x: m(x, 3), "domain_id"),
    (lambda m, x: m(x, torch.tensor([0, 1, 5, 0])), "domain_id"),
    (lambda m, x: m(x, torch.tensor([0, 1])), "domain_id"),
    (lambda m, x: m(x[:, :3], 0), "normalized_shape"),
])
def test_forward_errors(call, arg):
    m = AdaptiveLayerNorm(4, 2)
    with pytest.raises(ValueError, match=arg):
        call(m, torch.randn(4, 4))


@pytest.mark.parametrize("kw, arg", [({"normalized_shape": 0}, "normalized_shape"), ({"num_domains": 0}, "num_domains"),
                                     ({"eps": 0.0}, "eps")])
def test_constructor_errors(kw, arg):
    with pytest.raises(ValueError, match=arg):
        AdaptiveLayerNorm(**{"normalized_shape": 4, "num_domains": 2, **kw})


def test_domain_field_end_to_end_with_adaptive_norm():
    splits = domain_splits()
    # the same label meaning: 0 negative, 1 positive in both corpora
    assert splits.source.task.class_names == ("con", "pro") and splits.target.task.class_names[0].startswith("neg")
    joint = splits.dataset("train", ("source", "target"))
    assert isinstance(joint, DomainDataset) and joint.domain_ids.unique().tolist() == [0, 1]
    batch = splits.task.collator()([joint[0], joint[len(joint) - 1]])
    assert batch["domain"].tolist() == [0, 1] and batch["domain"].dtype == torch.long
    torch.manual_seed(0)
    model = domain_model("boe", splits.task, norm="adaptive")
    seen = []
    orig = model.norm.forward
    model.norm.forward = lambda x, d: (seen.append(d.clone()), orig(x, d))[1]
    cfg = TrainingConfig(epochs=1, batch_size=32, optimizer="adam", lr=1e-2, progress_bar=False, seed=0)
    t = Trainer(model, cfg, joint, splits.dataset("val", ("source", "target")), task=splits.task)
    t.fit()
    assert torch.cat(seen).unique().tolist() == [0, 1]  # training and evaluation passed the domains
    m = t.evaluate(splits.dataset("test", ("source", "target")))
    assert {"accuracy/pros_cons", "accuracy/mr"} <= set(m)  # per-domain metrics (group_key "domain")
    assert {"val_accuracy/pros_cons", "val_accuracy/mr"} <= set(t.state.history[-1])
    # each domain's own affine was trained
    assert not torch.equal(model.norm.weight[0], model.norm.weight[1])
    with pytest.raises(ValueError, match="domain"):
        model(batch["inputs"])
