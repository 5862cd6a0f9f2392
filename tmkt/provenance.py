"""Which of the package's source files a piece of code depends on, read from its import statements.

A training run is shaped by the modules ``tmkt.training.runs`` imports, directly or through others, and by nothing else
in the package: the run fingerprint (``tmkt.training.checkpoints.fingerprint``) hashes exactly those files, and ``dvc.yaml``'s
training stages depend on exactly the files their notebook's imports reach (a test checks it), so an edit of a
figure module re-runs the figures stage alone and keeps every checkpoint.

Imports are read as text (``ast``), nothing is imported: every ``import tmkt.x`` / ``from tmkt.x import y`` /
``from tmkt import x`` anywhere in a file counts, function-level imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tmkt import layout

PACKAGE = "tmkt"


def module_file(module: str) -> Path | None:
    """The source file of ``tmkt.x.y`` (``x/y.py`` or ``x/y/__init__.py``), or None if it is not a module."""
    base = layout.ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(tree: ast.AST) -> set[str]:
    """The ``tmkt`` modules named by the import statements of ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from tmkt import atomic`
    return {name for name in found if module_file(name) is not None}


def imports_of_source(source: str) -> set[str]:
    """The ``tmkt`` modules that a piece of Python source (a notebook cell, say) imports directly."""
    return _imported(ast.parse(source))


def closure(modules: set[str]) -> list[Path]:
    """Every source file that ``modules`` reach through imports, themselves and the packages' ``__init__`` included,
    sorted, relative to the repository root."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run their __init__
        todo += sorted(_imported(ast.parse(module_file(name).read_text())))
    return sorted(module_file(name).relative_to(layout.ROOT) for name in seen)
