"""Curriculum learning and data scheduling (moved here from ``techniques/curriculum.py`` and
``data/curriculum_samplers.py``)."""

from workbench.techniques.curriculum.difficulty import *  # noqa: F403
from workbench.techniques.curriculum.difficulty import __all__  # noqa: F401
