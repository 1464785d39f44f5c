"""Training core: the Trainer, its events and State, checkpoints, metrics, loggers."""

from workbench.train.checkpoint import CheckpointError, CheckpointWriteError
from workbench.train.events import Event, Technique
from workbench.train.inference import eval_mode, inference_batches
from workbench.train.metrics import MetricsTracker
from workbench.train.state import State
from workbench.train.trainer import (
    NonFiniteGradientError,
    NonFiniteLossError,
    NonFiniteWeightsError,
    Trainer,
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
    "inference_batches",
    "seed_everything",
]
