"""Training core: the Trainer, its events and State, checkpoints, metrics, loggers."""

from workbench.train.checkpoint import CheckpointError, CheckpointWriteError
from workbench.train.events import Event, Technique
from workbench.train.metrics import MetricsTracker
from workbench.train.state import State
from workbench.train.trainer import (
    NonFiniteGradientError,
    NonFiniteLossError,
    NonFiniteWeightsError,
    Trainer,
    eval_mode,
    seed_everything,
)

__all__ = [
    "CheckpointError",
    "CheckpointWriteError",
    "Event",
    "MetricsTracker",
    "NonFiniteGradientError",
    "NonFiniteLossError",
    "NonFiniteWeightsError",
    "State",
    "Technique",
    "Trainer",
    "eval_mode",
    "seed_everything",
]
