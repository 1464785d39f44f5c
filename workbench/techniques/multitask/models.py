"""Hard parameter sharing (Caruana 1997; LibMTL's ``HPS`` architecture): one shared encoder,
one small head per task.

- :class:`SharedEncoder` wraps any workbench reference model through its
  ``encode(x) -> [B, feature_dim]`` (every model in :mod:`workbench.models` has it); the
  wrapped model's own classifier is dropped.
- :class:`TaskHead`: dropout, an optional hidden layer (ReLU), a linear layer to the task's
  classes.
- :class:`MultiTaskModel`: ``forward(x, task)``. ``task`` a name or index gives that task's
  logits; ``task`` a ``LongTensor [B]`` (what the Trainer passes: the batch's ``"task"``
  field, named in :attr:`MultiTaskModel.forward_keys`) gives every example its own task's
  logits; ``task=None`` gives ``{name: logits}`` for every task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


class TaskHead(nn.Module):
    """A task's classifier on shared features.

    ``dropout -> [Linear(in_features, hidden) -> ReLU -> dropout] -> Linear(., num_classes)``
    (the bracket only with ``hidden``).

    Args:
        in_features: feature size (the encoder's ``feature_dim``), >= 1.
        num_classes: >= 1.
        hidden: size of the optional hidden layer (None: a linear head, as LibMTL's default
            decoders and Kim's CNN), >= 1.
        dropout: probability in [0, 1).

    Shapes: ``[B, in_features]`` float -> ``[B, num_classes]`` logits.

    Raises:
        ValueError: an argument outside its range (named in the message).
    """

    def __init__(self, in_features: int, num_classes: int, hidden: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        for arg, v in (("in_features", in_features), ("num_classes", num_classes)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TaskHead.{arg} must be an integer >= 1; got {v!r}")
        if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1):
            raise ValueError(f"TaskHead.hidden must be None or an integer >= 1; got {hidden!r}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"TaskHead.dropout must be in [0, 1); got {dropout!r}")
        self.in_features, self.num_classes, self.hidden = in_features, num_classes, hidden
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden is not None:
            layers += [nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(hidden or in_features, num_classes))
        self.net = nn.Sequential(*layers)

    @property
    def classifier(self) -> nn.Linear:
        """The final linear layer."""
        return self.net[-1]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class SharedEncoder(nn.Module):
    """The shared part: a reference model's ``encode`` (its classifier is removed).

    Args:
        model: a module with ``encode(x) -> [B, feature_dim]`` and ``feature_dim`` (every
            :mod:`workbench.models` model: MLP, DigitsCNN, BagOfEmbeddings, KimCNN).

    Attributes:
        model: the wrapped module; ``feature_dim``: its feature size.

    Raises:
        ValueError: ``model`` has no ``encode`` method or no ``feature_dim``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not callable(getattr(model, "encode", None)) or not isinstance(getattr(model, "feature_dim", None), int):
            raise ValueError(f"SharedEncoder.model must have encode(x) and an integer feature_dim "
                             f"(a workbench.models model); got {type(model).__name__}")
        if isinstance(getattr(model, "classifier", None), nn.Module):
            model.classifier = nn.Identity()  # unused: every task has its own head
        self.model = model
        self.feature_dim = int(model.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``[B, feature_dim]`` of inputs ``x`` (whatever the wrapped model takes)."""
        return self.model.encode(x)

    def last_shared_layer(self) -> list[nn.Parameter]:
        """Parameters of the last shared layer: the last direct child of the wrapped model
        (in registration order) that has trainable parameters, e.g. Kim CNN's convolutions.
        GradNorm (Chen et al. 2018) measures the task gradients there."""
        last = None
        for child in self.model.children():
            ps = [p for p in child.parameters() if p.requires_grad]
            if ps:
                last = ps
        if last is None:
            raise ValueError(f"SharedEncoder: {type(self.model).__name__} has no trainable layer")
        return last


class MultiTaskModel(nn.Module):
    """One shared encoder and one :class:`TaskHead` per task (hard parameter sharing).

    Args:
        encoder: a :class:`SharedEncoder` or a model with ``encode`` / ``feature_dim``
            (wrapped in one).
        num_classes: ``{task name: number of classes}`` (order = task index order, the order
            of :class:`~workbench.techniques.multitask.data.MultiTaskDataset`'s tasks).
        hidden: hidden size of every head (None: linear heads).
        dropout: every head's dropout probability.

    ``forward(x, task=None)``:

    - ``task`` a name (str) or index (int): that task's logits ``[B, C_task]``;
    - ``task`` a ``LongTensor [B]`` of task indices: ``[B, C_max]``, each row its own
      task's logits; classes beyond a task's ``C`` are ``-inf`` (so cross-entropy and
      argmax ignore them). Every head runs on the whole batch and rows are gathered: no
      host synchronisation and fixed shapes;
    - ``task=None``: ``{name: [B, C_task]}`` for every task.

    :attr:`forward_keys` = ``("task",)``: the Trainer and the inference loop call
    ``model(batch["inputs"], task=batch["task"])``
    (:func:`workbench.train.inference.forward_batch`).

    Also ``encode(x)`` (shared features), ``freeze_encoder()`` / ``unfreeze_encoder()``
    (``requires_grad`` off / on for the encoder's parameters), ``task_names``.

    Raises:
        ValueError: no task, a non-positive class count, or (in ``forward``) an unknown task.
    """

    forward_keys = ("task",)

    def __init__(self, encoder: nn.Module, num_classes: Mapping[str, int], hidden: int | None = None,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if not num_classes:
            raise ValueError("MultiTaskModel.num_classes must name at least one task; got none")
        self.encoder = encoder if isinstance(encoder, SharedEncoder) else SharedEncoder(encoder)
        self.task_names = [str(n) for n in num_classes]
        self.heads = nn.ModuleDict({n: TaskHead(self.encoder.feature_dim, int(c), hidden, dropout)
                                    for n, c in num_classes.items()})
        self.num_classes = max(h.num_classes for h in self.heads.values())
        self.feature_dim = self.encoder.feature_dim

    def _index(self, task: int | str) -> int:
        if isinstance(task, str):
            if task not in self.heads:
                raise ValueError(f"MultiTaskModel: unknown task {task!r}; tasks: {self.task_names}")
            return self.task_names.index(task)
        if not 0 <= int(task) < len(self.task_names):
            raise ValueError(f"MultiTaskModel: task index {task} outside [0, {len(self.task_names)})")
        return int(task)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Shared features ``[B, feature_dim]``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor, task: torch.Tensor | int | str | None = None
                ) -> torch.Tensor | dict[str, torch.Tensor]:
        features = self.encoder(x)
        if task is None:
            return {n: h(features) for n, h in self.heads.items()}
        if isinstance(task, (str, int)):
            return self.heads[self.task_names[self._index(task)]](features)
        outs = []
        for h in self.heads.values():
            o = h(features)
            if o.shape[1] < self.num_classes:
                o = torch.cat([o, o.new_full((o.shape[0], self.num_classes - o.shape[1]), float("-inf"))], dim=1)
            outs.append(o)
        if len(outs) == 1:
            return outs[0]
        stacked = torch.stack(outs)  # [T, B, C]
        return stacked[task.to(stacked.device), torch.arange(features.shape[0], device=stacked.device)]

    def last_shared_layer(self) -> list[nn.Parameter]:
        """The encoder's last shared layer (see :meth:`SharedEncoder.last_shared_layer`)."""
        return self.encoder.last_shared_layer()

    def freeze_encoder(self) -> None:
        """Stop training the shared encoder (``requires_grad=False`` on its parameters)."""
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def unfreeze_encoder(self) -> None:
        """Train the shared encoder again."""
        for p in self.encoder.parameters():
            p.requires_grad_(True)


def multitask_model(encoder_name: str, splits, hidden: int | None = None, dropout: float = 0.5,
                    **encoder_kwargs) -> MultiTaskModel:
    """A :class:`MultiTaskModel` for :class:`~workbench.techniques.multitask.data.MultiTaskSplits`:
    the encoder is :func:`workbench.models.build_model` ``(encoder_name, splits.task,
    **encoder_kwargs)`` (e.g. ``"kim_cnn"``) on the shared vocabulary, one head per task.

    Raises:
        ValueError: as :func:`~workbench.models.build_model` and :class:`MultiTaskModel`.
    """
    from workbench.models import build_model

    return MultiTaskModel(build_model(encoder_name, splits.task, **encoder_kwargs), splits.num_classes,
                          hidden=hidden, dropout=dropout)


def task_names_of(model_or_names: nn.Module | Sequence[str]) -> list[str]:
    """Task names of a :class:`MultiTaskModel` or a list of names."""
    return list(getattr(model_or_names, "task_names", model_or_names))
