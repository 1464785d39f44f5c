"""The dependency lists agree with each other."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _reqs(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower()
        out[name] = line.replace(" ", "")
    return out


def _env_pip() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    out = {}
    for line in text.split("- pip:")[1].splitlines():
        m = re.match(r"\s+-\s+(.+)$", line)
        if m and not m.group(1).startswith("-"):
            spec = m.group(1).strip()
            out[re.split(r"[<>=!~\[ ]", spec, maxsplit=1)[0].lower()] = spec.replace(" ", "")
    return out


def test_environment_yml_lists_the_same_packages_as_requirements():
    reqs = _reqs(ROOT / "requirements.txt") | _reqs(ROOT / "requirements-dev.txt")
    assert _env_pip() == reqs


def test_pyproject_dependencies_match_requirements_txt():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower(): d.replace(" ", "") for d in meta["dependencies"]}
    assert deps == _reqs(ROOT / "requirements.txt")


def test_torch_is_a_lower_bound_and_pinned_for_ci():
    assert _reqs(ROOT / "requirements.txt")["torch"].startswith("torch>=")
    pins = _reqs(ROOT / "constraints.txt")
    assert pins["torch"] == "torch==2.13.0"
    assert _reqs(ROOT / "requirements.txt")["ipywidgets"] == "ipywidgets>=7.7,<9"
