"""Lower layers never import upper ones: the tree reads as the architecture."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "src" / "crawlkit"

# package -> the crawlkit modules/packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "http": {"engine", "fetchers", "frontiers", "lab", "crawler", "api", "cli", "process",
             "spiders", "sinks"},
    "frontiers": {"engine", "fetchers", "http", "lab", "crawler", "api", "cli", "process",
                  "spiders", "sinks"},
    "fetchers": {"engine", "frontiers", "lab", "crawler", "api", "cli"},
}
CORE_NEVER = {"lab"}  # the core never imports the tools built around it


def _imports(path: Path) -> set[str]:
    """Top-level crawlkit names a module imports (relative imports resolved)."""
    rel = path.relative_to(PKG).with_suffix("").parts
    package = list(rel[:-1]) if rel[-1] != "__init__" else list(rel[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = [*base, *(node.module.split(".") if node.module else [])]
                if parts:
                    found.add(parts[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("crawlkit."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("crawlkit."):
                    found.add(alias.name.split(".")[1])
    return found


def _modules(package: str) -> list[Path]:
    return sorted((PKG / package).glob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_lower_layer_never_imports_an_upper_one(package: str) -> None:
    bad = {p.name: sorted(_imports(p) & FORBIDDEN[package]) for p in _modules(package)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_core_never_imports_lab() -> None:
    core = [p for p in PKG.glob("*.py") if p.name != "cli.py"]
    bad = {p.name: sorted(_imports(p) & CORE_NEVER) for p in core}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_check_sees_imports() -> None:
    # a guard against a check that cannot fail: known imports are found
    assert "engine" in _imports(PKG / "crawler.py")
    assert "models" in _imports(PKG / "http" / "sync.py")
    assert "lab" in _imports(PKG / "cli.py")
