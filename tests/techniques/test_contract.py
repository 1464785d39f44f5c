"""One contract, every technique: each class in a family's ``TECHNIQUES`` is checked for
(1) a checkpointable ``state_dict`` (plain values and tensors, survives a ``weights_only``
load), (2) exact resume: stopped mid-epoch, checkpointed and resumed in a fresh Trainer, the
run ends with bit-identical parameters to the straight run, (3) it fires only on the events
it declares, and (4) invalid constructor arguments raise ``ValueError`` naming the argument.
Modelled on Composer's ``tests/algorithms/test_algorithm_resumption.py``; a technique added
to a family later is covered without a new test (it needs an entry in ``settings.py``).
"""

from __future__ import annotations

import importlib
import io
import pkgutil
from functools import cache

import pytest
import torch

import workbench.techniques as techniques_pkg
from tests.techniques.settings import SETTINGS
from workbench.config import TrainingConfig
from workbench.models import build_model
from workbench.train import Technique, Trainer
from workbench.train.events import Event, defined_events


def _families() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(techniques_pkg.__path__) if m.ispkg)


def _all_techniques() -> list[type[Technique]]:
    out = []
    for fam in _families():
        mod = importlib.import_module(f"workbench.techniques.{fam}")
        out.extend(getattr(mod, "TECHNIQUES", []))
    return out


TECHNIQUES = _all_techniques()
IDS = [t.__name__ for t in TECHNIQUES]


@pytest.mark.parametrize("family", _families())
def test_every_family_lists_its_techniques(family):
    mod = importlib.import_module(f"workbench.techniques.{family}")
    assert hasattr(mod, "TECHNIQUES"), f"workbench.techniques.{family} must define TECHNIQUES (a list)"
    for cls in mod.TECHNIQUES:
        assert isinstance(cls, type) and issubclass(cls, Technique), f"{cls!r} is not a Technique class"
        assert cls.__name__ in SETTINGS, (
            f"{cls.__name__} is in workbench.techniques.{family}.TECHNIQUES but has no entry in "
            f"tests/techniques/settings.py (its invalid constructor arguments and data modality)")


@cache
def _splits(modality: str):
    from workbench.data.datasets import load_dataset

    name = {"vision": "digits", "text": "subj"}[modality]
    splits = load_dataset(name)
    g = torch.Generator().manual_seed(0)
    train = splits.train.subset(torch.randperm(len(splits.train), generator=g)[:120].tolist())
    val = splits.val.subset(list(range(40)))
    return type(splits)(**{**splits.__dict__, "train": train, "val": val})


def _model(splits, seed=0, cls=None):
    torch.manual_seed(seed)
    build = SETTINGS.get(cls.__name__, {}).get("model") if cls is not None else None
    if build is not None:  # a technique that needs its own kind of model (multi-task)
        return build(splits)
    name = "mlp" if splits.task.modality != "text" else "boe"
    return build_model(name, splits.task)


def _splits_for(cls):
    """The technique's data: its settings' ``splits`` builder (e.g. multi-task data), else
    the tiny data set of its modality."""
    setting = _setting(cls)
    return setting["splits"]() if "splits" in setting else _splits(setting["modality"])


class _StopAt(Technique):
    name = "contract_stop_at"
    events = frozenset({Event.STEP_END})

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_step_end(self, state):
        if self.step is not None and state.effective_step == self.step:
            state.request_stop("contract test: stop mid-epoch")


def _config(**kw):
    base = dict(epochs=2, batch_size=16, optimizer="adam", lr=1e-2, progress_bar=False,
                eval_every_epochs=1, log_every_steps=1, seed=3)
    base.update(kw)
    return TrainingConfig(**base)


def _default(cls, splits):
    return cls.default(splits, **SETTINGS.get(cls.__name__, {}).get("overrides", {}))


def _fit(cls, splits, stop_at=None, resume_from=None, save_to=None, calls=None):
    tech = _default(cls, splits)
    if calls is not None:
        for e in Event:
            h = getattr(tech, "on_" + e.value, None)
            if callable(h):
                def wrapped(state, _h=h, _e=e):
                    calls.add(_e)
                    return _h(state)
                setattr(tech, "on_" + e.value, wrapped)
    model = _model(splits, cls=cls)
    trainer = Trainer(model, _config(), splits.train, splits.val, task=splits.task,
                      techniques=[tech, _StopAt(stop_at)], sampler=getattr(tech, "sampler", None))
    if resume_from is not None:
        trainer.load_checkpoint(resume_from)
    trainer.fit()
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return tech, model, trainer


def _setting(cls):
    if cls.__name__ not in SETTINGS:
        pytest.fail(f"add {cls.__name__} to tests/techniques/settings.py")
    return SETTINGS[cls.__name__]


@pytest.mark.parametrize("cls", TECHNIQUES, ids=IDS)
def test_state_dict_is_plain_and_loads_weights_only(cls):
    splits = _splits_for(cls)
    tech, _, _ = _fit(cls, splits, stop_at=3)
    sd = tech.state_dict()
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=True)
    fresh = _default(cls, splits)
    fresh.load_state_dict(back)
    torch.testing.assert_close(fresh.state_dict(), sd, rtol=0, atol=0)


@pytest.mark.parametrize("cls", TECHNIQUES, ids=IDS)
def test_resume_mid_epoch_is_bit_identical(cls, tmp_path):
    splits = _splits_for(cls)
    # 120 examples / 16 = 8 batches per epoch: step 5 is mid-epoch (fewer batches when a
    # technique's sampler draws a subset, e.g. a curriculum's easiest half: 4 per epoch)
    _, straight, t1 = _fit(cls, splits)
    _fit(cls, splits, stop_at=5, save_to=tmp_path / "c.pt")
    _, resumed, t2 = _fit(cls, splits, resume_from=tmp_path / "c.pt")
    assert t1.state.effective_step == t2.state.effective_step > 5  # the stop was mid-run
    assert [r.get("lr") for r in t1.state.history] == [r.get("lr") for r in t2.state.history]
    for (name, a), b in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(a, b), f"{cls.__name__}: parameter {name} differs after resume"


@pytest.mark.parametrize("cls", TECHNIQUES, ids=IDS)
def test_fires_only_on_declared_events(cls):
    assert cls.events is not None, f"{cls.__name__} must declare its events (class attribute `events`)"
    assert defined_events(cls) == cls.events, (
        f"{cls.__name__}: declared events {sorted(e.value for e in cls.events)} differ from its "
        f"handlers {sorted(e.value for e in defined_events(cls))}")
    splits = _splits_for(cls)
    calls: set[Event] = set()
    _fit(cls, splits, calls=calls)
    assert calls, f"{cls.__name__} never ran"
    assert calls <= cls.events


@pytest.mark.parametrize("cls", TECHNIQUES, ids=IDS)
def test_invalid_constructor_arguments_name_the_argument(cls):
    invalid = _setting(cls)["invalid"]
    assert invalid, f"{cls.__name__}: list at least one invalid constructor argument in settings.py"
    splits = _splits_for(cls)
    cls.default(splits)  # the defaults are valid
    for arg, bad in invalid.items():
        with pytest.raises(ValueError, match=arg):
            cls.default(splits, **{arg: bad})
