"""The architecture follows the data: each package imports only packages to its left."""

from __future__ import annotations

import ast
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
