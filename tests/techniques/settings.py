"""Per-technique settings for the contract test (like Composer's
``tests/algorithms/algorithm_settings.py``): for each ``Technique`` class a family lists in
``TECHNIQUES``, the constructor arguments that must be rejected and the data set it runs on.

A technique added to a family's ``TECHNIQUES`` without an entry here fails the contract
test with a message saying what to add.
"""

from __future__ import annotations

from typing import Any

#: class name -> {"invalid": {argument: bad value, ...}, "modality": "vision" | "text"}
SETTINGS: dict[str, dict[str, Any]] = {
    # optimization: the contract's config has TrainingConfig's default schedule, "constant",
    # which DynamicLR needs (it sets the rate itself)
    "DynamicLR": {"invalid": {"monitor": "accuracy", "patience": 0, "decrease_factor": 1.5,
                              "check_every_steps": 5},
                  "modality": "vision"},
}
