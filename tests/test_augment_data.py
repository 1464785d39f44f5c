"""The augmented data set: ids, source ids, disjointness from validation/test, re-encoding
with the training vocabulary, OOV figures, training subsets."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from workbench.data.datasets import ExampleDataset
from workbench.data.text import Vocabulary, tokenize
from workbench.techniques.augment import (
    EDA,
    AugmentedDataset,
    EDAConfig,
    augment_dataset,
    augment_splits,
    id_base_for,
    subsample_train,
)


@pytest.fixture(scope="module")
def splits():
    from workbench.recipes import load_splits

    return load_splits("subj", smoke=True)  # 600 real SUBJ sentences: 480 / 60 / 60


@pytest.fixture(scope="module")
def augmented(splits):
    return augment_splits(splits, EDAConfig.from_alpha(0.1, 3), seed=0)


def test_layout_ids_and_source_ids(splits, augmented):
    train, aug = splits.train, augmented.train
    assert isinstance(aug, AugmentedDataset) and len(aug) == 4 * len(train)
    n = len(train)
    # originals first, keeping their ids; then 3 copies each
    assert aug.ids[:n].tolist() == train.ids.tolist()
    assert aug.source_ids[:n].tolist() == train.ids.tolist() and aug.copy_index[:n].eq(0).all()
    assert Counter(aug.source_ids.tolist()) == {i: 4 for i in train.ids.tolist()}
    assert sorted(Counter(aug.copy_index.tolist()).items()) == [(0, n), (1, n), (2, n), (3, n)]
    assert len(set(aug.ids.tolist())) == len(aug)  # unique
    base = id_base_for(splits)
    copies = aug.ids[n:]
    assert int(copies.min()) >= base
    sid, k = aug.source_ids[n:], aug.copy_index[n:]
    assert torch.equal(copies, base + sid * 3 + (k - 1))  # the documented scheme
    # targets follow the source example
    tgt = dict(zip(train.ids.tolist(), train.targets.tolist()))
    assert all(tgt[s] == t for s, t in zip(aug.source_ids.tolist(), aug.targets.tolist()))
    item = aug[n + 5]
    assert set(item) == {"id", "input", "target", "source_id"} and item["source_id"] == int(aug.source_ids[n + 5])
    assert aug[-1]["source_id"] == int(aug.source_ids[-1])


def test_no_copy_of_validation_or_test_sentences(splits, augmented):
    aug = augmented.train
    held_out = set(splits.val.ids.tolist()) | set(splits.test.ids.tolist())
    assert not set(aug.source_ids.tolist()) & held_out  # copies come from training examples only
    assert not set(aug.ids.tolist()) & held_out  # and their new ids are not held-out ids either
    assert set(aug.source_ids.tolist()) == set(splits.train.ids.tolist())
    assert augmented.val is splits.val and augmented.test is splits.test  # never augmented
    assert augmented.vocab is splits.vocab and augmented.task == splits.task


def test_copies_reencoded_with_the_training_vocabulary(splits, augmented):
    aug, vocab = augmented.train, splits.vocab
    n = len(splits.train)
    unk = total = new = new_unk = 0
    for p in range(n, len(aug)):
        toks = tokenize(aug.texts[p])
        assert toks and aug.inputs[p].tolist() == vocab.encode(toks)  # the data contract holds
        unk += sum(t not in vocab.stoi for t in toks)
        total += len(toks)
        src = tokenize(splits.train.texts[splits.train.position_of(int(aug.source_ids[p]))])
        diff = Counter(toks) - Counter(src)
        new += sum(diff.values())
        new_unk += sum(c for t, c in diff.items() if t not in vocab.stoi)
    st = aug.stats
    assert st["copy_tokens"] == total and st["copy_oov_rate"] == pytest.approx(unk / total)
    assert st["new_tokens"] == new and st["new_token_oov_rate"] == pytest.approx(new_unk / new)
    assert 0 < st["new_token_oov_rate"] < 1  # some synonyms are unseen in training, some are not
    assert st["augmentations_per_s"] > 0 and st["copies"] == 3 * n
    assert augmented.info["augmentation"]["eda"]["n_aug"] == 3


def test_reproducible_and_order_independent(splits, augmented):
    train, vocab = splits.train, splits.vocab
    base = id_base_for(splits)
    again = augment_splits(splits, EDAConfig.from_alpha(0.1, 3), seed=0).train
    assert again.texts == augmented.train.texts and torch.equal(again.ids, augmented.train.ids)
    other = augment_splits(splits, EDAConfig.from_alpha(0.1, 3), seed=1).train
    assert other.texts != augmented.train.texts
    # a reversed subset gets the same copies (and ids) for the same source examples
    sub = train.subset(list(range(40))[::-1])
    small = augment_dataset(sub, vocab, EDAConfig.from_alpha(0.1, 3), seed=0, id_base=base)
    full = augmented.train
    for i in small.ids.tolist():
        assert small.texts[small.position_of(i)] == full.texts[full.position_of(i)]


def test_subset_keeps_source_ids_and_collator_passes_them(splits, augmented):
    aug = augmented.train
    sub = aug.subset([len(splits.train) + 3, 0, -1])
    assert isinstance(sub, AugmentedDataset)
    assert sub.source_ids.tolist() == [int(aug.source_ids[len(splits.train) + 3]), int(aug.source_ids[0]),
                                       int(aug.source_ids[-1])]
    sid = int(aug.source_ids[-1])
    fam = aug.copies_of(sid)
    assert fam.copy_index.tolist() == [0, 1, 2, 3] and fam.ids[0] == sid
    batch = splits.task.collator()([aug[i] for i in (0, len(splits.train), len(aug) - 1)])
    assert batch["source_id"].dtype == torch.long
    assert batch["source_id"].tolist() == [int(aug.source_ids[i]) for i in (0, len(splits.train), len(aug) - 1)]


def test_without_originals_and_bad_input(splits):
    eda = EDA(EDAConfig.from_alpha(0.1, 2))
    only = augment_dataset(splits.train.subset(range(10)), splits.vocab, eda, seed=0, include_original=False,
                           id_base=10_000)
    assert len(only) == 20 and (only.copy_index > 0).all()
    no_text = ExampleDataset(splits.train.inputs[:3], splits.train.targets[:3], splits.train.ids[:3])
    with pytest.raises(ValueError, match="sentences"):
        augment_dataset(no_text, splits.vocab, eda)
    with pytest.raises(ValueError, match="id_base"):
        augment_dataset(splits.train.subset(range(3)), splits.vocab, eda, id_base=0)
    with pytest.raises(ValueError, match="original"):
        AugmentedDataset([torch.tensor([2])], [0], [5], [4], [0])


def test_trainer_accepts_augmented_data(splits, augmented):
    from workbench.recipes import baseline_recipe, model_factory
    from workbench.train.trainer import Trainer

    recipe = baseline_recipe("subj", smoke=True, max_steps=3, progress_bar=False)
    model = model_factory(recipe.model)(splits.task)
    state = Trainer(model, recipe.config, augmented.train, splits.val, task=splits.task).fit()
    assert state.effective_step == 3 and state.examples_seen == 3 * recipe.config.batch_size


def test_subsample_train_rebuilds_vocabulary(splits):
    sub = subsample_train(splits, 100, seed=3)
    assert len(sub.train) == 100 and set(sub.train.ids.tolist()) <= set(splits.train.ids.tolist())
    counts = Counter(sub.train.targets.tolist())
    assert abs(counts[0] - counts[1]) <= 1  # stratified
    assert sub.val.ids.tolist() == splits.val.ids.tolist() and sub.test.ids.tolist() == splits.test.ids.tolist()
    expected = Vocabulary.build(tokenize(t) for t in sub.train.texts)
    assert sub.vocab == expected and sub.task.vocab_size == len(expected) < len(splits.vocab)
    for d in (sub.train, sub.val, sub.test):
        assert all(x.tolist() == sub.vocab.encode(tokenize(t)) for x, t in zip(d.inputs, d.texts))
    assert sub.info["oov_rate"]["train"] == 0 and sub.info["oov_rate"]["val"] > splits.info["oov_rate"]["val"]
    assert sub.info["train_subset"]["size"] == 100
    assert subsample_train(splits, 100, seed=3).train.ids.tolist() == sub.train.ids.tolist()
    assert subsample_train(splits, 100, seed=4).train.ids.tolist() != sub.train.ids.tolist()
    kept = subsample_train(splits, 100, seed=3, rebuild_vocab=False)
    assert kept.vocab is splits.vocab and kept.train.ids.tolist() == sub.train.ids.tolist()
    whole = subsample_train(splits, None)
    assert whole.train is splits.train and whole.vocab is splits.vocab
    with pytest.raises(ValueError, match="size"):
        subsample_train(splits, 1)
