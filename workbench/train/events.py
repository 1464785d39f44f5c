"""Training events and the :class:`Technique` base class.

A technique is an object with ``on_<event>(state)`` handlers for the events it needs and
``state_dict()`` / ``load_state_dict()`` so a checkpoint carries it (the shape of MosaicML
Composer's algorithms and fastai's callbacks). It changes training only through
:class:`~workbench.train.state.State`.

Order between techniques (our own rule, a stricter form of Composer's): handlers of the
"opening" events (:data:`FORWARD_ORDER`: ``fit_start``, ``epoch_start``, ``batch_start``,
``before_backward``) run first-to-last in the order the techniques were given; handlers of
every other event ("after" and "end" events) run last-to-first. Composer reverses only its
``after_*`` events and runs ``*_end`` events first-to-last; we reverse the ``*_end`` events
too so that techniques nest like context managers: the first technique opens first and
closes last, so its ``step_end`` / ``eval_end`` / ``epoch_end`` / ``fit_end`` handler sees
what every inner technique did at that point (e.g. an outer stopper sees the learning rate
an inner schedule set).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar


class Event(str, Enum):
    """The named points of the training loop, in the order they fire within a fit.

    - ``fit_start``: once, after the model, optimizer, scheduler and data loader exist.
    - ``epoch_start``: before the first batch of each epoch (``state.epoch`` is set).
    - ``batch_start``: a batch is in ``state.batch``; a technique may replace it.
    - ``after_forward``: ``state.outputs`` and ``state.per_example_loss`` ([B]) are known;
      a technique may set ``state.loss_weights`` ([B]) or ``state.skip_backward``.
    - ``before_backward``: ``state.loss`` (the scalar to backpropagate) is known; it may be
      replaced.
    - ``after_backward``: gradients are in ``.grad``; a technique may edit them.
    - ``step_end``: after ``optimizer.step()`` at an accumulation boundary
      (``state.effective_step`` was just incremented).
    - ``batch_end``: after every micro-batch, boundary or not.
    - ``eval_end``: after a validation pass; ``state.metrics`` holds its results.
    - ``epoch_end``: after the last batch of an epoch (and its evaluation, if any).
    - ``fit_end``: once, when training stops for any reason except an exception.
    """

    FIT_START = "fit_start"
    EPOCH_START = "epoch_start"
    BATCH_START = "batch_start"
    AFTER_FORWARD = "after_forward"
    BEFORE_BACKWARD = "before_backward"
    AFTER_BACKWARD = "after_backward"
    STEP_END = "step_end"
    BATCH_END = "batch_end"
    EVAL_END = "eval_end"
    EPOCH_END = "epoch_end"
    FIT_END = "fit_end"


FORWARD_ORDER = frozenset(
    {Event.FIT_START, Event.EPOCH_START, Event.BATCH_START, Event.BEFORE_BACKWARD}
)


class Technique:
    """Base class for training techniques.

    Subclasses define any of ``on_fit_start(state)``, ``on_epoch_start(state)``,
    ``on_batch_start(state)``, ``on_after_forward(state)``, ``on_before_backward(state)``,
    ``on_after_backward(state)``, ``on_step_end(state)``, ``on_batch_end(state)``,
    ``on_eval_end(state)``, ``on_epoch_end(state)``, ``on_fit_end(state)``, and declare
    them in :attr:`events`: the loop calls a handler only for a declared event (like
    Composer's ``match(event, state)``), and the contract test
    (``tests/techniques/test_contract.py``) checks that the declared events and the
    defined handlers are the same set. ``state_dict()`` must return plain Python values
    and tensors only (checkpoints are loaded with ``weights_only=True``).

    A technique that drives a sampler exposes it as ``.sampler`` (pass it to the
    Trainer's ``sampler=``). Each family lists its techniques in ``TECHNIQUES``
    (``workbench/techniques/<family>/__init__.py``); :meth:`default` builds an instance
    with default settings for a data set, for the contract test and the docs.
    """

    #: name under which the technique's state is stored in a checkpoint
    name: str = ""
    #: the events this technique handles (None: every event it defines a handler for)
    events: ClassVar[frozenset[Event] | None] = None

    def __init__(self) -> None:
        if not self.name:
            self.name = type(self).__name__

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> Technique:
        """An instance with default settings for ``splits`` (a
        :class:`~workbench.data.datasets.DataSplits`: ``train``, ``val``, ``task``,
        ``vocab``); ``overrides`` replace constructor arguments (invalid ones raise the
        constructor's ``ValueError``).

        Raises:
            NotImplementedError: the technique has no default factory.
        """
        raise NotImplementedError(f"{cls.__name__}.default(splits) is not defined")

    def state_dict(self) -> dict[str, Any]:
        """Technique state for a checkpoint (plain values and tensors)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def defined_events(technique: Technique | type[Technique]) -> frozenset[Event]:
    """The events for which ``technique`` defines an ``on_<event>`` handler."""
    return frozenset(e for e in Event if callable(getattr(technique, "on_" + e.value, None)))


def handlers_for(techniques: list[Technique], event: Event) -> list:
    """Bound ``on_<event>`` handlers of ``techniques`` in the documented order, for the
    techniques that declare ``event`` (or declare nothing and define the handler)."""
    ordered = techniques if event in FORWARD_ORDER else list(reversed(techniques))
    attr = "on_" + event.value
    return [getattr(t, attr) for t in ordered
            if (t.events is None or event in t.events) and callable(getattr(t, attr, None))]
