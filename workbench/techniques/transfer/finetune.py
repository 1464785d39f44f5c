"""Fine-tuning tools: layer groups, freezing, gradual unfreezing, discriminative learning
rates, and loading pretrained weights.

- Layer groups (:func:`layer_groups`): a model's parameters split into groups ordered from
  the bottom (input) to the top (output): by default the model's top-level children
  (:func:`workbench.train.param_groups.model_layers`: ``["embedding", "convs",
  "classifier"]`` for :class:`~workbench.models.KimCNN`), or your own named regular
  expressions (``{"embedding": "^embedding\\.", "block0": "^blocks\\.0\\.", ...}``) -- the
  same rule as :func:`workbench.train.param_groups.param_groups`' ``layers``.
- :func:`freeze` / :func:`unfreeze` / :func:`freeze_to` (fastai's ``freeze_to(n)``: the
  first ``n`` groups frozen, the rest trainable; ``n < 0``: only the top ``-n`` trainable)
  set ``requires_grad`` by group.
- :class:`GradualUnfreezing` (ULMFiT; Howard & Ruder 2018, section 3.2): every group starts
  frozen and is unfrozen at the start of the epoch the schedule ``{epoch: [groups]}`` gives
  it; the default unfreezes one group per epoch, top group first.
- :func:`discriminative_param_groups`: optimizer groups with ULMFiT's layer-wise rates
  (``eta^{l-1} = eta^l / 2.6``, section 3.2), every parameter included (frozen ones too,
  so that unfreezing them later trains them).
- :func:`load_pretrained_weights`: a state dict from a file (``torch.load(weights_only=True)``),
  a module or a mapping, matched to the model's keys across ``module.`` / ``model.`` /
  ``encoder.`` prefixes and a ``key_map``, with a :class:`LoadReport`.

How unfreezing reaches the optimizer: the Trainer builds its optimizer from every
parameter (``model.parameters()`` or :func:`discriminative_param_groups`), frozen ones
included; ``torch.optim`` skips a parameter whose ``grad`` is None, so a frozen parameter is
not updated (no momentum, no weight decay), and once ``requires_grad`` is set again it gets
gradients and the optimizer updates it from the next step, with its group's learning rate
and schedule. :class:`GradualUnfreezing` checks at ``fit_start`` that every parameter it
will unfreeze is in the optimizer, and raises ``ValueError`` otherwise (for example with
``param_groups(..., trainable_only=True)``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.train.events import Event, Technique
from workbench.train.param_groups import (
    ULMFIT_LAYER_DECAY,
    layer_patterns,
    model_layers,
    param_groups,
)
from workbench.validation import check_bool, fail

__all__ = [
    "DEFAULT_PREFIXES",
    "GradualUnfreezing",
    "LoadReport",
    "PretrainedWeightsError",
    "discriminative_param_groups",
    "freeze",
    "freeze_to",
    "layer_groups",
    "load_pretrained_weights",
    "trainable_groups",
    "ulmfit_schedule",
    "unfreeze",
]

Layers = Mapping[str, "str | Sequence[str]"] | Sequence["str | Sequence[str]"] | None


# ---------------------------------------------------------------------------- groups
def _named_patterns(model: nn.Module, layers: Layers) -> list[tuple[str, list[str]]]:
    if isinstance(layers, Mapping):
        if not layers:
            raise fail("layers", "a non-empty mapping {name: pattern(s)}", dict(layers))
        names = [str(k) for k in layers]
        pats = layer_patterns(model, list(layers.values()))
        return list(zip(names, pats))
    if layers is None:  # top-level children; parameters the model holds itself have no dot
        tops = model_layers(model)
        return [(n or "(model)", [r"^[^.]+$"] if n == "" else [f"^{re.escape(n)}\\."]) for n in tops]
    pats = layer_patterns(model, layers)
    names = [p if isinstance(p, str) else "|".join(p) for p in layers]
    return list(zip(names, pats))


def layer_groups(model: nn.Module, layers: Layers = None) -> dict[str, list[str]]:
    """The model's parameter names by layer group, bottom (input) to top (output).

    Args:
        model: the model.
        layers: None: the top-level children that hold parameters (parameters the model
            holds itself form a group ``"(model)"`` at the bottom); a mapping ``{name:
            regex or [regexes]}`` bottom to top; or a list of regexes (each its own name).
            A parameter belongs to the last group whose pattern ``re.search``-matches its name.

    Returns:
        ``{group name: [parameter names]}`` in order bottom to top (an empty list for a
        group no parameter falls in).

    Raises:
        ValueError: an invalid pattern, or a parameter no group matches (the message names it).
    """
    named = _named_patterns(model, layers)
    out: dict[str, list[str]] = {n: [] for n, _ in named}
    if len(out) != len(named):
        raise fail("layers", "distinct group names", [n for n, _ in named])
    for pname, _ in model.named_parameters():
        owner = None
        for gname, pats in named:
            if any(re.search(p, pname) for p in pats):
                owner = gname
        if owner is None:
            raise ValueError(f"parameter {pname!r} matches none of the layer groups {list(out)}; add a "
                             "pattern for it")
        out[owner].append(pname)
    return out


def _set(model: nn.Module, groups: Mapping[str, list[str]], names: Sequence[str], value: bool) -> int:
    unknown = [n for n in names if n not in groups]
    if unknown:
        raise fail("groups", f"names from {list(groups)}", unknown)
    params = dict(model.named_parameters())
    changed = 0
    for n in names:
        for pname in groups[n]:
            p = params[pname]
            changed += int(p.requires_grad != value)
            p.requires_grad_(value)
    return changed


def _as_names(groups: str | Sequence[str] | None, all_groups: Mapping[str, list[str]]) -> list[str]:
    if groups is None:
        return list(all_groups)
    return [groups] if isinstance(groups, str) else list(groups)


def freeze(model: nn.Module, groups: str | Sequence[str] | None = None, layers: Layers = None) -> int:
    """Set ``requires_grad=False`` on the parameters of ``groups`` (names from
    :func:`layer_groups`; None: every group). Returns the number of tensors changed.
    Raises ``ValueError`` for an unknown group (listing the valid ones)."""
    g = layer_groups(model, layers)
    return _set(model, g, _as_names(groups, g), False)


def unfreeze(model: nn.Module, groups: str | Sequence[str] | None = None, layers: Layers = None) -> int:
    """Set ``requires_grad=True`` on the parameters of ``groups`` (None: every group).
    Returns the number of tensors changed. Raises ``ValueError`` for an unknown group."""
    g = layer_groups(model, layers)
    return _set(model, g, _as_names(groups, g), True)


def freeze_to(model: nn.Module, n: int, layers: Layers = None) -> list[str]:
    """fastai's ``freeze_to(n)``: the groups ``[:n]`` frozen, ``[n:]`` trainable (``n = -1``:
    only the top group trains; ``n = 0``: everything trains).

    Returns:
        the trainable group names, bottom to top.

    Raises:
        ValueError: ``n`` not an integer in ``[-G, G]`` (``G`` groups).
    """
    g = layer_groups(model, layers)
    names = list(g)
    if isinstance(n, bool) or not isinstance(n, int) or not -len(names) <= n <= len(names):
        raise fail("n", f"an integer in [{-len(names)}, {len(names)}]", n)
    _set(model, g, names[:n] if n else [], False)
    _set(model, g, names[n:] if n else names, True)
    return names[n:] if n else names


def trainable_groups(model: nn.Module, layers: Layers = None) -> dict[str, bool | None]:
    """``{group: True (all trainable) | False (all frozen) | None (mixed or empty)}``."""
    params = dict(model.named_parameters())
    out: dict[str, bool | None] = {}
    for name, pnames in layer_groups(model, layers).items():
        flags = {params[p].requires_grad for p in pnames}
        out[name] = flags.pop() if len(flags) == 1 else None
    return out


def discriminative_param_groups(model: nn.Module, lr: float, layer_decay: float = ULMFIT_LAYER_DECAY,
                                layers: Layers = None, weight_decay: float = 0.0) -> list[dict[str, Any]]:
    """Optimizer groups with discriminative learning rates (ULMFiT; Howard & Ruder 2018,
    section 3.2): the top group trains at ``lr``, each group below at the rate of the one
    above divided by ``layer_decay`` (default 2.6, the paper's). Built by
    :func:`workbench.train.param_groups.param_groups` over :func:`layer_groups`'s groups,
    with every parameter included (frozen ones too; see the module docstring). Pass the
    result as ``Trainer(param_groups=...)``; every schedule scales each group's rate in
    proportion, so the ratios hold.

    Raises:
        ValueError: ``lr`` or ``layer_decay`` out of range (``layer_decay`` in ``[1, 100]``).
    """
    named = _named_patterns(model, layers)
    groups = param_groups(model, lr, weight_decay, layer_decay=layer_decay, layers=[p for _, p in named])
    for g in groups:  # name each group by its layer group: "layer 2/3 convs · decay"
        m = re.match(r"layer (\d+)/(\d+) .*?( · .*)$", g["name"])
        if m:
            g["name"] = f"layer {m.group(1)}/{m.group(2)} {named[int(m.group(1)) - 1][0]}{m.group(3)}"
    return groups


# ---------------------------------------------------------------------------- gradual unfreezing
def ulmfit_schedule(group_names: Sequence[str], every: int = 1) -> dict[int, list[str]]:
    """ULMFiT's gradual unfreezing (Howard & Ruder 2018, section 3.2): the top group at
    epoch 0, the next one down at epoch ``every``, ... , the bottom group at epoch
    ``every * (G - 1)``. ``group_names`` bottom to top. Returns ``{epoch: [group]}``."""
    names = list(group_names)
    return {every * k: [name] for k, name in enumerate(reversed(names))}


class GradualUnfreezing(Technique):
    """Gradual unfreezing on an epoch schedule (ULMFiT; Howard & Ruder 2018, section 3.2;
    fastai's ``freeze_to``).

    The groups named in the schedule are frozen at ``fit_start`` and each is unfrozen at the
    start of its epoch (0-based: ``{0: ["classifier"], 1: ["convs"], 2: ["embedding"]}``
    trains only the classifier in the first epoch). Groups the schedule does not name are
    left as they are (for example a static embedding stays frozen). The unfrozen set is a
    function of the epoch, so a resumed run re-applies it at ``fit_start``.

    Args:
        schedule: ``{epoch: group name or [names]}``, epochs ``>= 0``; None (default):
            :func:`ulmfit_schedule` over all groups (top first, one per epoch).
        layers: the layer groups (:func:`layer_groups`'s ``layers``).

    Events: ``fit_start`` (check, freeze, apply the current epoch), ``epoch_start`` (unfreeze
    the epoch's groups). ``row_metrics()`` reports ``unfrozen_groups`` (how many of the
    schedule's groups train) in every metric row.

    Raises:
        ValueError: a schedule that is not a mapping of epochs ``>= 0`` to group names, names
            a group twice, or (at ``fit_start``) names a group the model does not have, or a
            parameter it would unfreeze is not in the optimizer.
    """

    name = "gradual_unfreezing"
    events = frozenset({Event.FIT_START, Event.EPOCH_START})

    def __init__(self, schedule: Mapping[int, str | Sequence[str]] | None = None,
                 layers: Layers = None) -> None:
        super().__init__()
        self.schedule: dict[int, list[str]] | None = None
        if schedule is not None:
            if not isinstance(schedule, Mapping) or not schedule:
                raise fail("schedule", "a non-empty mapping {epoch: group names} or None", schedule)
            out: dict[int, list[str]] = {}
            seen: set[str] = set()
            for e, names in schedule.items():
                if isinstance(e, bool) or not isinstance(e, int) or e < 0:
                    raise fail("schedule", "a mapping with integer epochs >= 0", schedule)
                names = [names] if isinstance(names, str) else list(names)
                if not names or not all(isinstance(n, str) for n in names):
                    raise fail("schedule", "group names (strings) for every epoch", schedule)
                dup = seen & set(names)
                if dup:
                    raise fail("schedule", "each group named once", sorted(dup))
                seen |= set(names)
                out[int(e)] = names
            self.schedule = dict(sorted(out.items()))
        if layers is not None and not isinstance(layers, (Mapping, list, tuple)):
            raise fail("layers", "None, a mapping {name: pattern(s)} or a list of patterns", layers)
        self.layers = layers
        self._groups: dict[str, list[str]] = {}
        self._unfrozen: list[str] = []
        self._n_unfrozen = 0

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> GradualUnfreezing:
        """ULMFiT's schedule over the model's top-level layers (any data set)."""
        return cls(**overrides)

    def resolved_schedule(self, model: nn.Module) -> dict[int, list[str]]:
        """The schedule for ``model`` (the default one built from its groups)."""
        groups = layer_groups(model, self.layers)
        sched = self.schedule if self.schedule is not None else ulmfit_schedule(
            [g for g, ps in groups.items() if ps])
        unknown = sorted({n for names in sched.values() for n in names} - set(groups))
        if unknown:
            raise fail("schedule", f"group names from {list(groups)}", unknown)
        return sched

    def unfrozen_at(self, epoch: int, model: nn.Module) -> list[str]:
        """The schedule's groups that train in ``epoch`` (0-based)."""
        return [n for e, names in self.resolved_schedule(model).items() if e <= epoch for n in names]

    def _apply(self, state: Any) -> None:
        sched = self.resolved_schedule(state.model)
        scheduled = [n for names in sched.values() for n in names]
        train = set(self.unfrozen_at(state.epoch, state.model))
        _set(state.model, self._groups, [n for n in scheduled if n not in train], False)
        _set(state.model, self._groups, [n for n in scheduled if n in train], True)
        self._unfrozen = [n for n in scheduled if n in train]
        self._n_unfrozen = len(self._unfrozen)

    def on_fit_start(self, state: Any) -> None:
        self._groups = layer_groups(state.model, self.layers)
        sched = self.resolved_schedule(state.model)
        in_opt = {id(p) for g in state.optimizer.param_groups for p in g["params"]}
        params = dict(state.model.named_parameters())
        missing = [p for names in sched.values() for n in names for p in self._groups[n]
                   if id(params[p]) not in in_opt]
        if missing:
            raise ValueError(f"GradualUnfreezing: parameters {missing[:5]} (of {len(missing)}) are not in "
                             "the optimizer, so unfreezing them would not train them; build the optimizer "
                             "from every parameter (model.parameters() or discriminative_param_groups)")
        self._apply(state)

    def on_epoch_start(self, state: Any) -> None:
        self._apply(state)

    @property
    def unfrozen(self) -> list[str]:
        """The schedule's groups training now (bottom to top in the schedule's order)."""
        return list(self._unfrozen)

    def row_metrics(self) -> dict[str, float]:
        return {"unfrozen_groups": float(self._n_unfrozen)}

    def state_dict(self) -> dict[str, Any]:
        # the frozen set is a function of the epoch (re-applied at fit_start on resume);
        # the count is kept for the metric rows
        return {"unfrozen_groups": int(self._n_unfrozen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._n_unfrozen = int(state.get("unfrozen_groups", 0))


# ---------------------------------------------------------------------------- loading weights
#: prefixes that wrappers add to state-dict keys: ``DataParallel`` / DDP (``module.``), a
#: Lightning-style ``self.model`` (``model.``), an encoder saved inside a bigger model
#: (``encoder.``)
DEFAULT_PREFIXES: tuple[str, ...] = ("module.", "model.", "encoder.")


class PretrainedWeightsError(ValueError):
    """``load_pretrained_weights(strict=True)`` found keys that do not match; ``.report``
    holds the :class:`LoadReport` (nothing was loaded)."""

    def __init__(self, report: LoadReport) -> None:
        super().__init__(f"pretrained weights do not match the model (strict=True; nothing loaded):\n{report}")
        self.report = report


@dataclass
class LoadReport:
    """What :func:`load_pretrained_weights` did.

    Attributes:
        matched: ``[(source key, model key)]`` loaded.
        missing: model keys that got no value (they keep their initialisation).
        unexpected: source keys that match no model key.
        shape_mismatched: ``[(source key, model key, source shape, model shape)]`` not loaded.
        renamed: how many matched keys needed a prefix change or the ``key_map``.
    """

    matched: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatched: list[tuple[str, str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    renamed: int = 0

    @property
    def ok(self) -> bool:
        """True when every model key was loaded and every source key was used."""
        return not (self.missing or self.unexpected or self.shape_mismatched)

    def __str__(self) -> str:
        def few(xs: Sequence[Any]) -> str:
            return ", ".join(map(str, xs[:6])) + (f", ... (+{len(xs) - 6})" if len(xs) > 6 else "")
        lines = [f"matched {len(self.matched)} tensors ({self.renamed} renamed), missing {len(self.missing)}, "
                 f"unexpected {len(self.unexpected)}, shape-mismatched {len(self.shape_mismatched)}"]
        if self.missing:
            lines.append(f"  missing (kept as initialised): {few(self.missing)}")
        if self.unexpected:
            lines.append(f"  unexpected (not used): {few(self.unexpected)}")
        for s, t, ss, ts in self.shape_mismatched[:6]:
            lines.append(f"  shape mismatch: {s} {tuple(ss)} -> {t} {tuple(ts)}")
        return "\n".join(lines)


def _read_state_dict(source: Any) -> dict[str, torch.Tensor]:
    if isinstance(source, nn.Module):
        return dict(source.state_dict())
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.is_file():
            raise FileNotFoundError(f"pretrained weights not found: {p}")
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(p), device="cpu"))
        source = torch.load(p, map_location="cpu", weights_only=True)
    if not isinstance(source, Mapping):
        raise fail("source", "a path, an nn.Module or a state dict (a mapping of names to tensors)",
                   type(source).__name__)
    # a workbench checkpoint (or a similar bundle): the model's state dict is under "model"
    for key in ("model", "state_dict", "model_state_dict"):
        inner = source.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return dict(inner)
    tensors = {k: v for k, v in source.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise fail("source", "a state dict holding tensors", sorted(source)[:10])
    return tensors


def _strip(key: str, prefixes: Sequence[str]) -> str:
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def load_pretrained_weights(model: nn.Module, source: Any, strict: bool = False,
                            key_map: Mapping[str, str] | Callable[[str], str | None] | None = None,
                            prefixes: Sequence[str] = DEFAULT_PREFIXES, verbose: bool = False) -> LoadReport:
    """Load pretrained weights into ``model`` (in place), matching keys across wrapper
    prefixes, and report what matched.

    Matching, per source key ``k``: first ``key_map`` (a mapping ``{old prefix: new
    prefix}``, longest prefix first, or a function ``k -> new key or None`` to drop it); then
    ``k`` itself if the model has it; else ``k`` and the model's keys with every leading
    prefix of ``prefixes`` removed (``module.encoder.embedding.weight`` and
    ``embedding.weight`` both become ``embedding.weight``), when that identifies one model
    key. A matched pair whose shapes differ is not loaded (``shape_mismatched``).

    Args:
        model: the model to load into.
        source: a file path (``torch.load(..., weights_only=True)``, or a ``.safetensors``
            file), an ``nn.Module``, or a state dict; a checkpoint dict holding the state
            dict under ``"model"`` / ``"state_dict"`` / ``"model_state_dict"`` (the Trainer's
            checkpoints) is unpacked.
        strict: raise :class:`PretrainedWeightsError` (a ``ValueError`` carrying the report)
            when anything is missing, unexpected or shape-mismatched, before loading anything.
        key_map: renames applied first (see above).
        prefixes: the wrapper prefixes to see through (default :data:`DEFAULT_PREFIXES`).
        verbose: print the report.

    Returns:
        the :class:`LoadReport`.

    Raises:
        PretrainedWeightsError: ``strict=True`` and the keys do not match exactly.
        FileNotFoundError: a missing file.
        ValueError: a source that holds no tensors; an invalid ``key_map``.
        pickle.UnpicklingError: a file that needs more than ``weights_only=True`` allows.
    """
    check_bool("strict", strict)
    src = _read_state_dict(source)
    if key_map is not None and not (callable(key_map) or isinstance(key_map, Mapping)):
        raise fail("key_map", "a mapping {old prefix: new prefix}, a function or None", key_map)
    target = model.state_dict()
    canon: dict[str, list[str]] = {}
    for t in target:
        canon.setdefault(_strip(t, prefixes), []).append(t)
    report = LoadReport()
    used_targets: set[str] = set()
    load: dict[str, torch.Tensor] = {}
    for k, v in src.items():
        new = k
        if callable(key_map):
            new = key_map(k)
            if new is None:
                continue
        elif key_map:
            for old in sorted(key_map, key=len, reverse=True):
                if k.startswith(old):
                    new = key_map[old] + k[len(old):]
                    break
        tk = new if new in target else None
        if tk is None:
            cands = canon.get(_strip(new, prefixes), [])
            tk = cands[0] if len(cands) == 1 else None
        if tk is None or tk in used_targets:
            report.unexpected.append(k)
            continue
        used_targets.add(tk)
        if tuple(v.shape) != tuple(target[tk].shape):
            report.shape_mismatched.append((k, tk, tuple(v.shape), tuple(target[tk].shape)))
            continue
        report.matched.append((k, tk))
        report.renamed += int(tk != k)
        load[tk] = v
    report.missing = [t for t in target if t not in load and t not in {m[1] for m in report.shape_mismatched}]
    if strict and not report.ok:
        raise PretrainedWeightsError(report)
    if load:
        model.load_state_dict(load, strict=False)
    if verbose:
        print(report)
    return report
