"""Every test the README's Guarantees table names exists, so the table cannot drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _guarantees() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Guarantees")
    return text[start:text.index("\n## ", start + 1)]


def test_every_named_test_exists() -> None:
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", _guarantees())
    assert len(named) >= 20  # the table is there and read
    missing = []
    for filename, test in named:
        path = ROOT / "tests" / filename
        functions = {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                     if isinstance(node, ast.FunctionDef)} if path.exists() else set()
        if test not in functions:
            missing.append(f"{filename}::{test}")
    assert missing == []
