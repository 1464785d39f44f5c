"""The package's import graph points down only and has no circles (DESIGN.md, issue 11):
data, config and validation import nothing from train, techniques, experiment or recipes;
train imports nothing from techniques, experiment or recipes; no technique family imports
another; no two modules import each other, directly or through others. Lazy imports inside
functions count too: they are the same dependency, only later."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "workbench"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        mods[".".join(p for p in parts if p != "__init__")] = f
    return mods


def _edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, f in mods.items():
        deps: set[str] = set()
        pkg_parts = name.split(".") if f.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg_parts[: len(pkg_parts) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                subs = [f"{module}.{a.name}" for a in node.names]
                deps.update(s for s in subs if s in mods)
                if not all(s in mods for s in subs):
                    deps.add(module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        edges[name] = {d for d in deps if d in mods and d != name}
    return edges


def _layer(module: str) -> tuple[str, str | None]:
    p = module.split(".")
    if len(p) > 2 and p[1] == "techniques":
        return "techniques", p[2]
    return (p[1] if len(p) > 1 else ""), None


LOWER = {"data", "config", "validation", "models"}
UPPER_OF_TRAIN = {"techniques", "experiment", "recipes", "plots", "ui", "report", "export"}


def _violations(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for a, deps in edges.items():
        la = _layer(a)
        for b in deps:
            lb = _layer(b)
            if la[0] in LOWER and lb[0] in {"train"} | UPPER_OF_TRAIN:
                bad.append(f"upward import {a} -> {b}")
            if la[0] == "train" and lb[0] in UPPER_OF_TRAIN:
                bad.append(f"upward import {a} -> {b}")
            if la[0] == lb[0] == "techniques" and la[1] and lb[1] and la[1] != lb[1]:
                bad.append(f"family imports another family {a} -> {b}")
    return bad


def _circles(edges: dict[str, set[str]]) -> list[str]:
    """Every strongly connected component with more than one module (Tarjan), skipping
    package ``__init__`` re-exports of their own submodules."""
    def real(a: str, b: str) -> bool:  # a package importing its own submodule is not a cycle edge
        return not b.startswith(a + ".")

    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if not real(v, w):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(" <-> ".join(sorted(comp)))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_upward_imports():
    bad = _violations(_edges(_modules()))
    assert not bad, "\n".join(sorted(bad))


def test_no_import_circles():
    circles = _circles(_edges(_modules()))
    assert not circles, "import circles: " + "; ".join(circles)


def test_the_checker_finds_what_it_should():
    edges = {"workbench.data.x": {"workbench.train.y"}, "workbench.train.y": {"workbench.data.x"},
             "workbench.techniques.a.m": {"workbench.techniques.b.n"}, "workbench.techniques.b.n": set()}
    bad = set(_violations(edges))
    assert "upward import workbench.data.x -> workbench.train.y" in bad
    assert "family imports another family workbench.techniques.a.m -> workbench.techniques.b.n" in bad
    assert _circles(edges) == ["workbench.data.x <-> workbench.train.y"]
