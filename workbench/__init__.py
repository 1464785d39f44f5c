"""workbench: measure which training-efficiency techniques make PyTorch training cheaper.

See README.md for the quick start and docs/architecture.md for the contracts between parts.
"""

__version__ = "0.1.0"

from workbench.config import TaskSpec, TrainingConfig  # noqa: E402

__all__ = ["TaskSpec", "TrainingConfig", "__version__"]
