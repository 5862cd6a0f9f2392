"""The package's structure: imports point one way, and docs/architecture.md lists every module."""

from __future__ import annotations

import pytest

from tmkt import layout, provenance

#: Layers from the bottom; a module may import its own package, a lower layer or the foundation (""), and the
#: two packages of layer 1 not each other. docs/architecture.md draws the same order.
LAYERS = {"": 0, "data": 1, "method": 1, "training": 2, "results": 3, "plots": 4}


def modules() -> dict[str, str]:
    """Every module of the package, by name, with its path relative to the repository root."""
    package = layout.ROOT / "tmkt"
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(layout.ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.relative_to(layout.ROOT).as_posix()
    return out


def package_of(module: str) -> str:
    """``tmkt.data.frames`` (or ``tmkt.data``) -> ``data``; a foundation module (``tmkt.config``) or ``tmkt`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def upward_imports(module: str, source: str) -> list[str]:
    """The package modules ``source`` (the text of ``module``) imports from a layer above or beside its own."""
    own, known = package_of(module), modules()
    return sorted(
        imported for imported in provenance.imports_of_source(source)
        if imported in known and not (package_of(imported) in ("", own) or LAYERS[package_of(imported)] < LAYERS[own])
    )


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_point_down(module):
    assert upward_imports(module, (layout.ROOT / modules()[module]).read_text()) == []


def test_an_upward_or_sideways_import_is_caught():
    assert upward_imports("tmkt.training.loop", "from tmkt.plots import style\nfrom tmkt.method import mixup") == [
        "tmkt.plots", "tmkt.plots.style"]
    assert upward_imports("tmkt.method.models", "from tmkt.data.processed import ProcessedData") == ["tmkt.data.processed"]
    assert upward_imports("tmkt.config", "import tmkt.data.datasets") == ["tmkt.data.datasets"]
    assert upward_imports("tmkt.results.tables", "from tmkt import grid, stats") == []


def test_architecture_page_lists_every_module():
    page = (layout.ROOT / "docs/architecture.md").read_text()
    for name, path in modules().items():
        if path.endswith("__init__.py") and name != "tmkt.data.datasets":
            continue
        shown = path.removeprefix("tmkt/")
        assert shown in page or shown.removeprefix("data/datasets/") in page, f"docs/architecture.md does not mention {path}"


def import_graph() -> dict[str, set[str]]:
    """Every package module -> the package modules its source imports (``from tmkt import x`` names ``tmkt`` too)."""
    known = modules()
    return {
        name: provenance.imports_of_source((layout.ROOT / path).read_text()) & set(known) - {name}
        for name, path in known.items()
    }


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``[]`` if it has none (depth-first search, three colours)."""
    state: dict[str, str] = {}  # absent: unvisited; "open": on the current path; "done": no cycle through it
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_package_import_graph_has_no_cycle():
    assert import_cycle(import_graph()) == []


def test_an_import_cycle_is_found():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
