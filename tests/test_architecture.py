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
