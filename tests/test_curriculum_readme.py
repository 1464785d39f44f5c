"""The curriculum family's README examples run as written (the documented public API:
PacingSampler, CurriculumScheduling, curriculum_dataloader, ImportanceSampler,
ClassBalancedBatchSampler, StagedLoader) on real data (digits)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "workbench" / "techniques" / "curriculum" / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_examples():
    text = "\n".join(_blocks())
    for name in ("PacingSampler", "CurriculumScheduling", "curriculum_dataloader", "ImportanceSampler",
                 "ClassBalancedBatchSampler", "StagedLoader"):
        assert f"{name}(" in text, f"README.md has no example calling {name}"


def test_readme_examples_run():
    namespace: dict = {"__name__": "readme"}
    for k, code in enumerate(_blocks()):
        try:
            exec(compile(code, f"{README}:block{k}", "exec"), namespace)  # noqa: S102 (our own README)
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"README block {k} failed: {exc!r}\n{code}") from exc
