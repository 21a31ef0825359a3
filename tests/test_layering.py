"""Imports point one way: the models know nothing of tuning, the evidence nothing of the verdict
or of tuning. Read from the source (every import statement, module level or not)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nnvsml

PACKAGE = Path(nnvsml.__file__).parent


def _imports() -> list[tuple[str, str]]:
    """(importing module, imported module or name) for every import in the package."""
    edges = []
    for path in PACKAGE.rglob("*.py"):
        parts = ["nnvsml", *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        me = parts[:-1] if is_package else parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges += [(".".join(me), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = me if is_package else me[:-1]
                if node.level:
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                edges.append((".".join(me), module))
                edges += [(".".join(me), f"{module}.{a.name}") for a in node.names]
    return edges


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("source, target", [
    ("nnvsml.models", "nnvsml.tuning"),
    ("nnvsml.evidence", "nnvsml.verdict"),
    ("nnvsml.evidence", "nnvsml.tuning"),
])
def test_no_backward_import(source, target):
    wrong = sorted({(a, b) for a, b in _imports() if _under(a, source) and _under(b, target)})
    assert not wrong, wrong


def test_the_scan_sees_imports():
    assert ("nnvsml.tuning.tuner", "nnvsml.models") in _imports()
