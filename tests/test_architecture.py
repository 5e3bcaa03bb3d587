"""The architecture follows the data: each package imports only packages to its left, and no module imports
itself back (no import cycle between ``jikimi`` modules, imports inside functions included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jikimi"

# Left to right. A package may import itself and anything earlier in this list.
LAYERS: list[set[str]] = [
    {"config", "errors"},
    {"media"},
    {"signals"},
    {"index"},
    {"sources"},
    {"scan"},
    {"store"},
    {"exchange", "cases"},
    {"takedown"},
    {"api", "web"},
    {"cli"},
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
# Packages on the same rank that may not import each other (siblings, not a chain).
SIBLINGS_INDEPENDENT = {frozenset({"exchange", "cases"})}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jikimi."):
                    found.add(alias.name.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("jikimi."):
                found.add(node.module.split(".")[1])
            elif node.module == "jikimi":
                found.update(a.name for a in node.names)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if len(p.relative_to(SRC).parts) > 0)


def test_every_package_is_placed() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    unplaced = (packages | modules) - set(RANK)
    assert not unplaced, f"add these packages to LAYERS in {__file__}: {sorted(unplaced)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_only_leftwards(path: Path) -> None:
    own = _package_of(path)
    if own == "__init__" or own not in RANK:
        return
    bad = []
    for target in _imports(path):
        if target == own or target == "__version__" or target not in RANK:
            continue
        if RANK[target] > RANK[own] or (
            RANK[target] == RANK[own] and frozenset({own, target}) in SIBLINGS_INDEPENDENT
        ):
            bad.append(target)
    assert not bad, f"{path.relative_to(SRC)} ({own}) imports {sorted(bad)}, which are not to its left"


def test_torch_is_not_a_runtime_import() -> None:
    offenders = []
    for path in _modules():
        if path.name.endswith("_train.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"torch", "torchvision", "imwatermark"} for n in names):
                offenders.append(str(path.relative_to(SRC)))
    assert not offenders, f"torch/imwatermark imported at runtime in {offenders}"


# -- no import cycles ----------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in SRC.rglob("*.py")}


def _nearest_module(name: str) -> str | None:
    """``name`` or its nearest enclosing module that exists (``jikimi.x.y.Thing`` → ``jikimi.x.y``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _module_imports(name: str) -> set[str]:
    """The ``jikimi`` modules that module ``name`` imports, anywhere in it (functions and ``TYPE_CHECKING``
    blocks included). ``from pkg import sub`` is the submodule ``pkg.sub`` when there is one, else ``pkg``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(_nearest_module(a.name) for a in node.names if a.name.split(".")[0] == "jikimi")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "jikimi":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else _nearest_module(base))
    return {m for m in found if m is not None and m != name}


def _cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def test_the_cycle_check_sees_a_cycle() -> None:
    assert list(_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})) == [["a", "b", "c"]]
    assert list(_cycles({"a": {"b"}, "b": set()})) == []


def test_the_import_graph_sees_imports_inside_functions() -> None:
    assert "jikimi.cases.priority" in _module_imports("jikimi.cases.review")  # imported in ``_change``


def test_no_import_cycles() -> None:
    graph = {name: _module_imports(name) for name in MODULES}
    cycles = list(_cycles(graph))
    assert not cycles, "import cycles between modules (imports inside functions count too): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )
