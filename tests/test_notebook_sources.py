"""The notebooks are narrative and calls: their logic lives in the package, where it is tested.

Every notebook under ``notebooks/`` is read as JSON (no kernel): its code cells define nothing (no ``def`` or
``class``), none holds more than :data:`MAX_LINES` lines of statements (imports, comments and blank lines not
counted: they declare, they do not compute), and its markdown states no value of a parameter its stage reads
(a value restated in prose goes stale when ``params.yaml`` changes; the notebook prints it from the parameters
instead).
"""

from __future__ import annotations

import ast
import json
import re

import pytest
import yaml

from tmkt import config, layout

#: The most statement lines a code cell may hold.
MAX_LINES = 12
#: The stage whose parameters each notebook reads (its ``params:`` in dvc.yaml, ``config.declared``).
STAGES = {"01_convert": "convert", "02_train": "train", "03_figures": "figures"}
#: Notebooks that do not comply yet (the test of each is expected to fail until it does).
PENDING: set[str] = set()

NOTEBOOKS = sorted(path.stem for path in layout.NOTEBOOKS.glob("*.ipynb"))


def cells(name: str, kind: str) -> list[str]:
    notebook = json.loads((layout.NOTEBOOKS / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == kind]


def statement_lines(source: str) -> int:
    """Lines of ``source`` holding statements: not blank, not a comment, not part of an import."""
    imports = {line for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
               for line in range(node.lineno, node.end_lineno + 1)}
    return sum(1 for number, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and number not in imports)


def definitions(source: str) -> list[str]:
    """Names of the functions and classes ``source`` defines, at any depth."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    return [getattr(node, "name", "lambda") for node in ast.walk(ast.parse(source)) if isinstance(node, kinds)]


#: Whole-number parameters prose tends to restate (``34×34``, ``T = 7``, ``k = 3``); other whole numbers are too
#: common in prose (counts, sizes of other datasets) to be told apart from a parameter.
WHOLE_KEYS = {"simulator.canvas", "data.time_bins", "data.height", "data.width", "mixup.power_k", "train.epochs"}


def stated_parameters(stage: str) -> dict[str, float]:
    """The parameters of the stage that prose must not restate, by dotted key: every value with a fractional part
    (``0.03``, not ``2.0``; list items keyed ``key[i]``) and the values of :data:`WHOLE_KEYS`."""
    raw = yaml.safe_load((layout.ROOT / "params.yaml").read_text())
    out: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(f"{prefix}[{i}]", inner)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and (
                prefix in WHOLE_KEYS or isinstance(value, float) and not value.is_integer()):
            out[prefix] = value

    for section in config.declared(stage):
        head, _, key = section.partition(".")
        walk(section, raw[head][key] if key else raw[head])
    return out


def stated_values(text: str, values: dict[str, float]) -> list[str]:
    """The keys of ``values`` whose value ``text`` states. A value with a fractional part is stated wherever it
    stands as a number (``0.5`` in ``V_th = 0.5``, not in ``0.55`` or ``10.5``); a whole number only as a value or a
    size (``k = 3``, ``34×34``), not as a list item or a section number (``3.``, ``## 3 ·``, ``§3``)."""
    def stated(value: float) -> bool:
        number = re.escape(f"{value:g}")
        if not float(value).is_integer():
            return re.search(rf"(?<![\d.]){number}(?!\d|\.\d)", text) is not None
        return re.search(rf"=\s*\$?\s*{number}(?![\d.])|(?<![\d.]){number}\s*[×x]\s*\d|\d\s*[×x]\s*{number}(?![\d.])",
                         text) is not None

    return [key for key, value in values.items() if stated(value)]


def check(name: str) -> None:
    code, prose = cells(name, "code"), cells(name, "markdown")
    assert [d for source in code for d in definitions(source)] == []
    assert [n for n in map(statement_lines, code) if n > MAX_LINES] == []
    assert stated_values("\n".join(prose), stated_parameters(STAGES[name])) == []


@pytest.mark.parametrize("name", [n if n not in PENDING else pytest.param(n, marks=pytest.mark.xfail(strict=True))
                                  for n in NOTEBOOKS])
def test_notebook_is_narrative_and_calls(name):
    check(name)


def test_every_notebook_has_a_stage():
    assert set(NOTEBOOKS) == set(STAGES)


def test_statement_lines_skip_imports_comments_and_blanks():
    source = "import numpy as np\nfrom tmkt import (\n    atomic,\n    layout,\n)\n\n# a comment\nx = 1\ny = [\n  2]\n"
    assert statement_lines(source) == 3


def test_definitions_are_found_at_any_depth():
    assert definitions("def f():\n    class C:\n        pass\ng = lambda: 1\n") == ["f", "C", "lambda"]
    assert definitions("x = [i for i in range(3)]\n") == []


def test_a_restated_value_is_found_and_a_longer_number_is_not():
    values = {"model.v_th": 0.5, "scarcity.event_fraction": 0.03}
    assert stated_values(r"threshold $V_\text{th}=0.5$", values) == ["model.v_th"]
    assert stated_values("0.55 and 10.5 and 0.031 and 0.5.1", values) == []
    assert stated_values("§3 and $k = 3$", {"mixup.power_k": 3.0}) == ["mixup.power_k"]
    assert stated_values("§3, ## 3 · Training, 3. the result, 13 seeds", {"mixup.power_k": 3.0}) == []
    assert stated_values("a 34×34 sensor", {"simulator.canvas": 34}) == ["simulator.canvas"]


def test_the_values_of_a_stage_are_those_of_its_sections():
    assert "scarcity.event_fraction" in stated_parameters("train")
    assert not any(key.startswith("scarcity") for key in stated_parameters("convert"))
    assert "base.confidence" not in stated_parameters("convert")
    assert "figures.ratios[0]" in stated_parameters("figures") and "simulator.canvas" in stated_parameters("convert")
    assert "train.batch_size" not in stated_parameters("train")  # a whole number outside WHOLE_KEYS
