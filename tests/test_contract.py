"""The parameter flow agrees end to end: params.yaml <-> tmkt.config <-> dvc.yaml <-> notebooks <-> README/CI."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tmkt import config, paths

DVC = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())
STAGE_NOTEBOOK = {"convert": "01_convert", "train": "02_train"}


def parameters_cell(name: str) -> dict[str, object]:
    nb = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{name} must have exactly one cell tagged 'parameters'"
    names: dict[str, object] = {}
    exec("".join(cells[0]["source"]), {}, names)
    return names


def test_every_params_section_is_read_by_a_stage_and_declared_in_dvc():
    raw = yaml.safe_load(paths.PARAMS.read_text())
    read = {s for sections in config.STAGE_SECTIONS.values() for s in sections}
    later = {"ablate", "figures"}  # sections of stages that read them directly
    assert set(raw) - later <= read, f"sections no stage reads: {set(raw) - later - read}"
    for stage, sections in config.STAGE_SECTIONS.items():
        assert DVC["stages"][stage]["params"] == list(sections), stage


def test_dvc_commands_pass_exactly_the_notebook_parameters():
    for stage, notebook in STAGE_NOTEBOOK.items():
        cmd = DVC["stages"][stage]["cmd"]
        assert f"notebooks/{notebook}.ipynb" in cmd and f"reports/notebooks/{notebook}.ipynb" in cmd
        passed = set(re.findall(r"-p (\w+) ", cmd + " "))
        declared = set(parameters_cell(notebook))
        assert passed <= declared, f"{stage}: dvc.yaml passes unknown notebook parameters {passed - declared}"
        assert f"notebooks/{notebook}.ipynb" in DVC["stages"][stage]["deps"]


def test_notebook_defaults_reproduce_the_pipeline():
    for stage, notebook in STAGE_NOTEBOOK.items():
        cmd = DVC["stages"][stage]["cmd"]
        for name, value in parameters_cell(notebook).items():
            passed = re.search(rf"-p {name} (\S+)", cmd)
            if passed:
                assert str(value) == passed.group(1), f"{notebook}.{name}: default {value!r} != dvc.yaml {passed.group(1)}"


def test_source_notebooks_carry_no_outputs():
    for path in paths.NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name


def test_ci_runs_the_readme_test_command():
    readme = (paths.ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert block, "README has no test command block"
    extracted = subprocess.run(
        ["bash", ".ci/run", "--print-command"],
        cwd=paths.ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert extracted == block.group(1).strip()
    assert "torch==2.13.0" in (paths.ROOT / "requirements.txt").read_text().splitlines()


def test_config_defaults_are_the_repository_params():
    """tmkt.config's defaults document params.yaml; they must not drift apart."""
    from_file = config.load().model_dump(exclude={"ablate", "figures"})
    assert config.Params().model_dump(exclude={"ablate", "figures"}) == from_file
