"""Per-technique settings for the contract test (like Composer's
``tests/algorithms/algorithm_settings.py``): for each ``Technique`` class a family lists in
``TECHNIQUES``, the constructor arguments that must be rejected and the data set it runs on.

A technique added to a family's ``TECHNIQUES`` without an entry here fails the contract
test with a message saying what to add.
"""

from __future__ import annotations

from typing import Any

#: class name -> {"invalid": {argument: bad value, ...}, "modality": "vision" | "text",
#:                 "overrides": {argument: value} (optional: passed to default() for the runs,
#:                 so the technique acts within the contract's short run)}
SETTINGS: dict[str, dict[str, Any]] = {
    # curriculum (workbench.techniques.curriculum)
    "CurriculumScheduling": {"invalid": {"sampler": [0.0, 0.5], "scheduler": "competence"}, "modality": "vision"},
    # optimization: the contract's config has TrainingConfig's default schedule, "constant",
    # which DynamicLR needs (it sets the rate itself)
    "DynamicLR": {"invalid": {"monitor": "accuracy", "patience": 0, "decrease_factor": 1.5,
                              "check_every_steps": 5},
                  # checks on the training loss every 2 steps with patience 1, so the rate
                  # moves (and the moves must survive the resume) within the short run
                  "overrides": {"monitor": "train_loss", "check_every_steps": 2, "patience": 1},
                  "modality": "vision"},
}
