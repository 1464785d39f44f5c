"""Curriculum learning: pacing functions, difficulty scores, schedulers, controls."""

from __future__ import annotations

import math
import pickle
import warnings

import pytest
import torch

from tests.tiny import tiny_data
from workbench.data.datasets import ExampleDataset
from workbench.data.text import Vocabulary
from workbench.techniques import curriculum as cl
from workbench.techniques.curriculum import difficulty

# ----------------------------------------------------------------------------- pacing


def test_hacohen_fixed_exponential_defaults():
    f = cl.fixed_exponential
    assert f(0) == pytest.approx(0.04)
    assert f(99) == pytest.approx(0.04)
    assert f(100) == pytest.approx(0.04 * 1.9)
    assert f(500) == pytest.approx(0.04 * 1.9 ** 5)  # 0.99
    assert f(600) == 1.0 and f(10_000) == 1.0


def test_varied_exponential_jumps_after_each_step_length():
    f = lambda i: cl.varied_exponential(i, 0.1, 2.0, step_lengths=(10, 30), rest_step_length=5)  # noqa: E731
    assert f(10) == pytest.approx(0.1)  # jump strictly after step 10
    assert f(11) == pytest.approx(0.2)
    assert f(40) == pytest.approx(0.2) and f(41) == pytest.approx(0.4)
    assert f(45) == pytest.approx(0.4) and f(46) == pytest.approx(0.8)
    assert f(51) == 1.0  # ceil(log2(10)) = 4 jumps: 10, 40, 45, 50


def test_single_step_and_competence_formulas():
    assert cl.single_step(0, 0.04, 100) == 0.04 and cl.single_step(99, 0.04, 100) == 0.04
    assert cl.single_step(100, 0.04, 100) == 1.0
    assert cl.competence_linear(0, 1000) == pytest.approx(0.01)
    assert cl.competence_linear(500, 1000) == pytest.approx(0.5 * 0.99 + 0.01)
    assert cl.competence_sqrt(0, 1000) == pytest.approx(0.01)
    assert cl.competence_sqrt(250, 1000) == pytest.approx(math.sqrt(0.25 * (1 - 1e-4) + 1e-4))
    assert cl.competence_sqrt(1000, 1000) == pytest.approx(1.0)
    assert cl.exponential(500, 1000, start=0.04) == pytest.approx(0.2)  # geometric mean of 0.04 and 1
    assert cl.root(1000, 1000) == pytest.approx(1.0) and cl.linear(1000, 1000) == 1.0


@pytest.mark.parametrize("name", sorted(cl.PACING_FUNCTIONS))
def test_every_pacing_starts_at_start_is_monotone_and_reaches_one(name):
    f = cl.make_pacing(name, total_steps=400, start=0.05, increase_amount=2.0)
    values = [f(s) for s in range(0, 1201)]
    assert values[0] == pytest.approx(0.05)
    assert all(0 < v <= 1 for v in values)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[-1] == 1.0
    assert values[100] < 1.0  # still growing a quarter of the way in (none is a constant 1)


def test_pacing_rejects_bad_arguments():
    with pytest.raises(ValueError, match="step"):
        cl.linear(-1, 10)
    with pytest.raises(ValueError, match="total_steps"):
        cl.competence_sqrt(1, 0)
    with pytest.raises(ValueError, match="starting fraction"):
        cl.fixed_exponential(0, starting_percent=0.0)
    with pytest.raises(ValueError, match="increase_amount"):
        cl.fixed_exponential(0, increase_amount=1.0)
    with pytest.raises(ValueError, match="unknown pacing"):
        cl.make_pacing("cubic")
    steps, fr = cl.pacing_curve(cl.make_pacing("linear", 100), 100, points=11)
    assert steps[0] == 0 and steps[-1] == 100 and fr[-1] == 1.0


# ----------------------------------------------------------------------------- difficulty


def _text_data():
    texts = ["a a", "a a a a a a", "zebra quokka", "a b"]
    vocab = Vocabulary(["<pad>", "<unk>", "a", "b", "zebra", "quokka"],
                       freq={"a": 50, "b": 5, "zebra": 1, "quokka": 1})
    enc = {"a": 2, "b": 3, "zebra": 4, "quokka": 5}
    inputs = [torch.tensor([enc[w] for w in t.split()]) for t in texts]
    return ExampleDataset(inputs, [0, 1, 0, 1], [10, 11, 12, 13], texts=texts, name="toy"), vocab


def test_length_and_rarity_components_on_text():
    data, vocab = _text_data()
    s = cl.difficulty_scores(data, vocab, weights=(0.5, 0.5, 0.0), use_cache=False)
    length, rarity = s.components["length"], s.components["rarity"]
    assert length.tolist() == [2, 6, 2, 2]
    assert rarity[2] > rarity[3] > rarity[0]  # rare words > one rarer word > frequent only
    assert rarity[0] == pytest.approx(rarity[1])  # mean, not sum: length does not leak in
    for k in ("length", "rarity"):  # normalised with the data set's statistics
        z = s.normalized[k]
        assert float(z.mean()) == pytest.approx(0, abs=1e-6) and float(z.std()) == pytest.approx(1, abs=1e-5)
    assert torch.allclose(s.total, 0.5 * s.normalized["length"] + 0.5 * s.normalized["rarity"])
    assert torch.equal(s.for_dataset(data.subset([3, 0])), s.total[[3, 0]])


def test_scores_are_cached_in_memory_and_on_disk(tmp_path):
    data, _ = tiny_data(n=60)
    a = cl.difficulty_scores(data, cache_dir=tmp_path)
    assert cl.difficulty_scores(data, cache_dir=tmp_path) is a  # memory cache
    files = list(tmp_path.glob("difficulty-*.pt"))
    assert len(files) == 1
    difficulty._CACHE.clear()
    b = cl.difficulty_scores(data, cache_dir=tmp_path)  # disk cache, weights_only load
    assert b is not a and torch.equal(a.total, b.total)
    c = cl.difficulty_scores(data, weights=(0, 0, 1), cache_dir=tmp_path)  # other settings: new key
    assert not torch.equal(c.total, a.total) and len(list(tmp_path.glob("difficulty-*.pt"))) == 2


_RAN: list[str] = []


def _record(what: str) -> str:
    _RAN.append(what)
    return what


class _Payload:
    """A pickle that would call ``_record`` when unpickled without ``weights_only``."""

    def __reduce__(self):
        return (_record, ("unpickled code ran",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("content", ["garbage", "pickle", "torch_pickle", "foreign_dict", "other_data"])
def test_unreadable_or_foreign_cache_file_is_recomputed_with_a_warning(tmp_path, content):
    data, _ = tiny_data(n=40)
    a = cl.difficulty_scores(data, cache_dir=tmp_path, use_cache=False)
    (path,) = tmp_path.glob("difficulty-*.pt")
    if content == "garbage":
        path.write_bytes(b"\x00\xffnot a torch file" * 20)
    elif content == "pickle":
        path.write_bytes(pickle.dumps(_Payload()))
    elif content == "torch_pickle":
        torch.save(_Payload(), path)
    elif content == "foreign_dict":  # loads weights-only, but is not a score file
        torch.save({"ids": torch.arange(3), "total": torch.zeros(3)}, path)
    else:  # a real score file of other data, under this data's name
        other, _ = tiny_data(n=50, seed=1)
        other_dir = tmp_path / "other"
        cl.difficulty_scores(other, cache_dir=other_dir, use_cache=False)
        (other_file,) = other_dir.glob("difficulty-*.pt")
        path.write_bytes(other_file.read_bytes())
    difficulty._CACHE.clear()
    with pytest.warns(RuntimeWarning, match="ignoring the cache file"):
        b = cl.difficulty_scores(data, cache_dir=tmp_path)
    assert _RAN == []  # nothing was unpickled beyond tensors and plain values
    assert torch.equal(a.total, b.total) and torch.equal(b.ids, data.ids)
    difficulty._CACHE.clear()
    with warnings.catch_warnings():  # the bad file was replaced: it now loads quietly
        warnings.simplefilter("error")
        c = cl.difficulty_scores(data, cache_dir=tmp_path)
    assert torch.equal(c.total, a.total)


def test_difficulty_rejects_bad_settings():
    data, _ = tiny_data(n=30)
    with pytest.raises(ValueError, match="weights"):
        cl.difficulty_scores(data, weights=(1, 1))
    with pytest.raises(ValueError, match="reference"):
        cl.difficulty_scores(data, reference="margin")
    with pytest.raises(ValueError, match="folds"):
        cl.difficulty_scores(data, folds=1)
    text, _ = _text_data()
    with pytest.raises(ValueError, match="vocabulary"):
        cl.difficulty_scores(text, None, use_cache=False)


def test_cross_fitted_reference_model_finds_flipped_labels_on_digits():
    from workbench.recipes import load_splits

    splits = load_splits("digits")
    noisy, flipped = cl.flip_labels(splits.train, 0.1, 10, seed=0)
    assert len(flipped) == round(0.1 * len(splits.train))
    changed = (noisy.targets != splits.train.targets).nonzero().flatten()
    assert set(noisy.ids[changed].tolist()) == set(flipped.tolist())  # every flipped label changed
    s = cl.difficulty_scores(noisy, weights=(0.3, 0.3, 0.4), use_cache=False)
    is_flipped = torch.isin(s.ids, flipped)
    model = s.components["model"]
    # a model trained on an example would fit its wrong label; cross-fitted, it does not
    assert float(model[is_flipped].median()) > 3 * float(model[~is_flipped].median())
    hardest = torch.tensor(s.hardest(len(flipped), which="model"))
    assert float(torch.isin(hardest, flipped).float().mean()) > 0.6
    # images have no length: ink and atypicality are finite, non-constant proxies
    assert float(s.components["length"].std()) > 0 and float(s.components["rarity"].std()) > 0


def test_curriculum_order_controls():
    scores = torch.tensor([0.5, -1.0, 2.0, 0.0])
    assert cl.curriculum_order(scores, "curriculum").tolist() == [1, 3, 0, 2]
    assert cl.curriculum_order(scores, "anti").tolist() == [2, 0, 3, 1]
    r = cl.curriculum_order(scores, "random", seed=3)
    assert sorted(r.tolist()) == [0, 1, 2, 3] and torch.equal(r, cl.curriculum_order(scores, "random", seed=3))
    with pytest.raises(ValueError, match="order"):
        cl.curriculum_order(scores, "hardest")


# ----------------------------------------------------------------------------- schedulers


def test_progressive_difficulty_warmup_then_linear():
    p = cl.ProgressiveDifficulty(initial=0.2, final=1.0, steps=100, warmup_steps=50)
    assert p.at(0) == 0.2 and p.at(50) == 0.2
    assert p.at(100) == pytest.approx(0.6) and p.at(150) == 1.0 and p.at(999) == 1.0
    assert p.update(step=100) == (0.0, pytest.approx(0.6))
    with pytest.raises(ValueError, match="initial"):
        cl.ProgressiveDifficulty(initial=0.0)


def test_competence_pacing_raises_and_lowers_with_patience():
    c = cl.CompetencePacing(target=0.7, initial=0.5, increase=0.1, decrease=0.2, patience=2)
    assert c.update(accuracy=0.85)[1] == 0.5  # above 0.8 once: patience 2 not yet met
    assert c.update(accuracy=0.85)[1] == pytest.approx(0.6)
    assert c.update(accuracy=0.75)[1] == pytest.approx(0.6)  # between the margins: hold
    c.update(accuracy=0.4)
    assert c.update(accuracy=0.4)[1] == pytest.approx(0.4)  # below 0.5 twice: lower
    state = c.state_dict()
    d = cl.CompetencePacing(target=0.7, initial=0.5, patience=2)
    d.load_state_dict(state)
    assert d.competence == pytest.approx(0.4)


def test_multi_stage_advances_when_goal_met():
    m = cl.MultiStageCurriculum([cl.CurriculumStage(0, 0.3, 0.9, lr=0.01), cl.CurriculumStage(0, 0.7, 0.8, lr=0.005, max_updates=2),
                                 cl.CurriculumStage(0, 1.0, 1.0, lr=0.001)])
    assert m.update(accuracy=0.5) == (0, 0.3) and m.lr == 0.01
    assert m.update(accuracy=0.95) == (0, 0.7) and m.lr == 0.005
    assert m.update(accuracy=0.1) == (0, 0.7)
    assert m.update(accuracy=0.1) == (0, 1.0)  # max_updates reached
    assert m.update(accuracy=1.0) == (0, 1.0)  # last stage stays
    with pytest.raises(ValueError, match="range"):
        cl.MultiStageCurriculum([cl.CurriculumStage(0.5, 0.2, 0.9)])


def test_dynamic_difficulty_follows_validation_loss():
    d = cl.DynamicDifficulty(initial=0.3, step_up=0.1, step_down=0.05, tolerance=0.02, patience=2)
    assert d.update(val_loss=1.0)[1] == 0.3  # first value: reference only
    assert d.update(val_loss=0.8)[1] == pytest.approx(0.4)  # improved
    assert d.update(val_loss=0.9)[1] == pytest.approx(0.35)  # worse beyond tolerance
    d.update(val_loss=0.9)
    assert d.update(val_loss=0.9)[1] == pytest.approx(0.45)  # plateau for 2 updates: harder


def test_flip_labels_rejects_bad_fraction():
    data, _ = tiny_data(n=20)
    with pytest.raises(ValueError, match="fraction"):
        cl.flip_labels(data, 1.5, 3)


# ----------------------------------------------------------------------------- notebook functions


def test_plot_pacing_redraws_the_chosen_curve():
    fig = cl.plot_pacing("fixed_exponential", start=0.1, increase_amount=2.0, step_length=50, total_steps=400,
                         compare=["linear", "fixed_exponential"])
    assert [t.name for t in fig.data] == ["linear", "fixed_exponential"]
    ys = list(fig.data[-1].y)
    assert ys[0] == pytest.approx(0.1) and ys[-1] == 1.0
    with pytest.raises(ValueError, match="unknown pacing"):
        cl.plot_pacing("cubic")


def test_histograms_and_examples_for_text_and_images():
    data, vocab = _text_data()
    s = cl.difficulty_scores(data, vocab, weights=(0.5, 0.5, 0.0), use_cache=False)
    fig = cl.plot_difficulty_histograms(s)
    assert len(fig.data) == 4

    class Splits:
        train = data
        task = None

    df = cl.hardest_and_easiest(Splits, s, k=1)
    assert list(df["which"]) == ["easiest", "hardest"]
    assert df["id"].iloc[1] == s.hardest(1)[0] and df["id"].iloc[0] == s.easiest(1)[0]
    from workbench.config import TaskSpec

    images = ExampleDataset(torch.rand(30, 1, 4, 4), torch.arange(30) % 3, torch.arange(30))

    class ImageSplits:
        train = images
        task = TaskSpec(modality="vision", num_classes=3, input_shape=(1, 4, 4))

    si = cl.difficulty_scores(images, use_cache=False)
    fig = cl.hardest_and_easiest(ImageSplits, si, k=2)
    assert len(fig.data) == 4


def test_curriculum_panel_callback_on_digits_smoke():
    table = cl.curriculum_panel_callback("digits", pacing="competence_sqrt", ramp_fraction=0.5, start=0.01,
                                         smoke=True, epochs=1)
    assert len(table) == 2  # baseline and curriculum rows


# ----------------------------------------------------------------------------- package layout


def test_family_modules_import_one_way_and_names_are_unique():
    import ast
    from pathlib import Path

    folder = Path(cl.__file__).parent
    layers = ["pacing", "difficulty", "samplers", "scheduling", "compare", "display"]
    for k, name in enumerate(layers):
        tree = ast.parse((folder / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        family = {m.rsplit(".", 1)[-1] for m in imported if m.startswith("workbench.techniques.curriculum.")}
        assert family <= set(layers[:k]), f"{name}.py imports {family - set(layers[:k])} (a later layer)"
        assert not any(m.startswith("workbench.techniques.") and not m.startswith("workbench.techniques.curriculum")
                       for m in imported), f"{name}.py imports another family"
    for old in ("Stage", "SamplerVariant", "CurriculumExperiment"):
        assert not hasattr(cl, old), f"old name {old} is still exported"
    assert all(hasattr(cl, n) for n in cl.__all__)
    assert [cl.CurriculumScheduling] == cl.TECHNIQUES


def test_settings_are_checked_when_the_objects_are_made():
    from workbench.config import TrainingConfig
    from workbench.data.steps import micro_batches_per_run

    with pytest.raises(ValueError, match="orders"):
        cl.curriculum_variants(orders=("curriculum", "hardest"))  # was a KeyError
    with pytest.raises(ValueError, match="ramp_fraction"):
        cl.paced_sampler_factory("curriculum", "linear", ramp_fraction=0.0)  # before any run
    with pytest.raises(ValueError, match="unknown pacing"):
        cl.paced_sampler_factory("curriculum", "cubic")
    with pytest.raises(ValueError, match="target_accuracy"):
        cl.CurriculumStage(0.0, 0.5, 1.5)
    with pytest.raises(ValueError, match="minimum"):
        cl.CompetencePacing(initial=0.2, minimum=0.3)
    with pytest.raises(ValueError, match="patience"):
        cl.DynamicDifficulty(patience=0)
    with pytest.raises(ValueError, match="num_batches"):
        cl.ClassBalancedBatchSampler([0, 1, 0, 1], batch_size=2, num_batches=0)
    with pytest.raises(ValueError, match="replacement"):
        cl.ImportanceSampler([1.0, 2.0], replacement="no")
    with pytest.raises(ValueError, match="LoaderStage.batch_size"):
        cl.LoaderStage(tiny_data(n=10)[0], 0)
    # the pacing horizon is the run's mini-batches (workbench.data.steps), capped by max_steps
    data, task = tiny_data(n=100)

    class Splits:
        train, vocab = data, None

    config = TrainingConfig(epochs=10, batch_size=8, max_steps=5, grad_accum_steps=3, progress_bar=False)
    assert micro_batches_per_run(config, 100) == 15  # min(13 x 10, 5 x 3)
    sampler, batch_sampler, techniques = cl.paced_sampler_factory("curriculum", "linear", 0.5)(Splits, 0, config)
    assert sampler.pacing.keywords["total_steps"] == 8 and batch_sampler is None and techniques == []
    assert sampler.batches_per_epoch == 13
