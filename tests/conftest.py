"""Shared test setup: point NLTK at the project's shared corpora and keep torch single-threaded."""

from __future__ import annotations

import os
from pathlib import Path

import torch

_SHARED_NLTK = (Path(__file__).resolve().parents[1].parent / "shared" / "nltk_data").resolve()

if _SHARED_NLTK.is_dir() and not os.environ.get("NLTK_DATA"):
    os.environ["NLTK_DATA"] = str(_SHARED_NLTK)

torch.set_num_threads(1)
