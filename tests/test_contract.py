"""The parameter flow agrees end to end: params.yaml <-> tmkt.config <-> dvc.yaml <-> notebooks <-> README/CI."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from dvc.repo import Repo

from tmkt import config, grid, layout, provenance

NOTEBOOK_OF_STAGE = {"convert": "01_convert", "train": "02_train", "ablate": "02_train", "figures": "03_figures"}


@pytest.fixture(scope="module")
def stages() -> dict[str, dict]:
    """Every stage as DVC resolves it (matrix/foreach expanded): cmd, deps and params keys."""
    with Repo(str(layout.ROOT)) as repo:
        out = {}
        for stage in repo.index.stages:
            params = [key for dep in stage.deps if hasattr(dep, "params") for key in (dep.params or [])]
            deps = [str(dep) for dep in stage.deps if not hasattr(dep, "params")]
            out[stage.name] = dict(cmd=stage.cmd, deps=deps, params=params, outs=[str(o) for o in stage.outs])
    return out


def family(stage: str) -> str:
    """``ablate-variant@tmkt_shared`` -> ``ablate``."""
    return stage.split("@")[0].split("-")[0]


def parameters_cell(name: str) -> dict[str, object]:
    nb = json.loads((layout.NOTEBOOKS / f"{name}.ipynb").read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{name} must have exactly one cell tagged 'parameters'"
    names: dict[str, object] = {}
    exec("".join(cells[0]["source"]), {}, names)
    return names


def test_every_params_section_is_read_by_a_stage_and_the_reader_agrees_with_dvc(stages):
    """tmkt.config reads each stage's declaration from dvc.yaml as DVC itself resolves it (matrix cells included)."""
    raw = yaml.safe_load(layout.PARAMS.read_text())
    read = {s.split(".")[0] for sections in config.stage_sections().values() for s in sections}
    assert set(raw) == read, f"sections no stage reads: {set(raw) - read}; read but absent: {read - set(raw)}"
    for name, stage in stages.items():
        assert list(config.declared(name)) == stage["params"], name


def test_dvc_commands_pass_exactly_the_notebook_parameters(stages):
    for name, stage in stages.items():
        notebook = NOTEBOOK_OF_STAGE[family(name)]
        cmd = stage["cmd"]
        assert f"papermill notebooks/{notebook}.ipynb " in cmd, name
        passed = set(re.findall(r"-p (\w+) ", cmd + " "))
        declared = set(parameters_cell(notebook))
        assert passed <= declared, f"{name}: dvc.yaml passes unknown notebook parameters {passed - declared}"
        assert f"notebooks/{notebook}.ipynb" in stage["deps"], name
        executed = re.search(rf"papermill notebooks/{notebook}.ipynb (\S+)", cmd).group(1)
        assert executed in stage["outs"], f"{name}: the executed notebook {executed} is not an output"


def test_notebook_defaults_reproduce_the_pipeline(stages):
    for name in ("convert", "train", "figures"):
        cmd, notebook = stages[name]["cmd"], NOTEBOOK_OF_STAGE[name]
        for param, value in parameters_cell(notebook).items():
            passed = re.search(rf"-p {param} (\S+)", cmd)
            if passed:
                assert str(value) == passed.group(1), f"{notebook}.{param}: default {value!r} != dvc.yaml {passed.group(1)}"


def test_dvc_expands_the_same_ablation_grid_as_tmkt(stages):
    """A stage ablate-<axis>@<cell> exists for every tmkt.grid cell, names that cell and writes to its folder."""
    cells = grid.cells(config.load())
    assert sorted(c.stage for c in cells) == sorted(n for n in stages if family(n) == "ablate")
    for cell in grid.with_reference(config.load()):
        cmd = stages[cell.stage]["cmd"]
        named = dict(re.findall(r"-p (axis|cell) (\S+)", cmd))
        assert named in ({"axis": cell.axis, "cell": cell.name}, {}), cell.stage  # the train stage: the defaults
        assert f"{cell.folder}/runs" in stages[cell.stage]["outs"] and cell.notebook in stages[cell.stage]["outs"]
        assert f"{cell.folder}/metrics.json" in stages[cell.stage]["outs"], cell.stage


def test_source_notebooks_carry_no_outputs():
    for path in layout.NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name


def test_ci_runs_the_readme_test_command():
    readme = (layout.ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert block, "README has no test command block"
    extracted = subprocess.run(
        ["bash", ".ci/run", "--print-command"],
        cwd=layout.ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert extracted == block.group(1).strip()
    assert "torch==2.13.0" in (layout.ROOT / "requirements.txt").read_text().splitlines()


def test_params_yaml_is_the_only_source_of_values():
    """The typed sections hold types, ranges and option sets; every value (and its comment) lives in params.yaml."""
    sections = [config.Params] + [getattr(config, name) for name in dir(config)
                                  if isinstance(getattr(config, name), type) and issubclass(getattr(config, name), config.Section)]
    for section in sections:
        with_default = [key for key, field in section.model_fields.items() if not field.is_required()]
        assert not with_default, f"{section.__name__} gives defaults to {with_default}; put the value in params.yaml"
        described = [key for key, field in section.model_fields.items() if field.description]
        assert not described, f"{section.__name__} documents {described}; the comments of params.yaml are the documentation"


def readme_block(marker: str) -> str:
    block = re.search(rf"<!-- {marker} -->\s*```\w*\n(.+?)\n```", (layout.ROOT / "README.md").read_text(), re.S)
    assert block, f"README has no {marker} block"
    return block.group(1)


def test_readme_paper_scale_commands_are_the_presets_with_the_paper_recipe():
    from tmkt import presets

    named = re.findall(r"^tmkt-preset (\S+)", readme_block("paper-scale"), re.M)
    assert sorted(named) == presets.names()
    for name in named:
        params = config.load(None, presets.overrides(name))
        assert params.data.dataset == name and params.scarcity.event_fraction == 1.0 and params.base.seeds == [42, 1024, 90210]


#: He et al.'s recipe per benchmark, read from their released code and run scripts (docs/method.md §9):
#: what each preset must set. The learning rate is their --lr scaled by batch / 1024.
HE2024 = {
    "ncaltech101": {"data.time_bins": 10, "data.height": 48, "data.frame_norm": "raw", "data.resize": "bilinear",
                    "model.arch": "vgg_snn", "model.surrogate": "qgate", "model.surrogate_alpha": 2.0,
                    "train.epochs": 300, "train.batch_size": 120, "train.lr": 5e-3 * 120 / 1024,
                    "train.weight_decay": 0.01, "train.weight_decay_1d": False, "train.warmup_epochs": 5,
                    "train.lr_schedule": "cosine", "train.lr_update": "epoch", "train.lr_min": 1e-5,
                    "train.sampler": "class_balanced", "train.classification_loss": "tet", "train.tet_mse_weight": 1e-3,
                    "train.step_weights_on_mse": True, "train.crop_padding": 4, "train.flip": False,
                    "train.rotation_deg": 0.0, "mixup.schedule": "power", "mixup.power_k": 3.0, "loss.lambda_da": 0.5,
                    "loss.da_step_weights": "learnable"},
    "cepdvs": {"data.time_bins": 6, "data.height": 48, "data.frame_norm": "raw", "data.resize": "bilinear",
               "model.arch": "resnet18_snn", "model.surrogate": "qgate", "model.surrogate_alpha": 2.0,
               "train.epochs": 200, "train.batch_size": 120, "train.lr": 5e-3 * 120 / 1024, "train.weight_decay_1d": False,
               "train.warmup_epochs": 5, "train.lr_schedule": "cosine", "train.lr_update": "epoch", "train.lr_min": 1e-5,
               "train.sampler": "uniform", "train.classification_loss": "tet", "train.crop_padding": 4,
               "train.flip": True, "train.rotation_deg": 15.0, "loss.lambda_da": 0.5, "loss.da_step_weights": "fixed"},
    "nomniglot": {"data.time_bins": 12, "data.height": 28, "data.frame_norm": "frame_max", "model.arch": "scnn",
                  "model.surrogate": "rectangle", "model.surrogate_alpha": 1.0, "train.epochs": 50,
                  "train.batch_size": 16, "train.lr": 1.2 * 16 / 1024, "train.weight_decay_1d": False,
                  "train.warmup_epochs": 5, "train.lr_schedule": "step", "train.lr_update": "epoch",
                  "train.lr_step_epochs": 40, "train.lr_step_factor": 0.1, "train.classification_loss": "mean_ce",
                  "train.crop_padding": 0, "train.flip": False, "loss.lambda_da": 0.5, "loss.da_step_weights": "fixed",
                  "model.heads@he2024": "shared"},
}


#: timm's warm-up, the test-selected number reported beside ours, and the GPU fast path: every preset.
for _recipe in HE2024.values():
    _recipe.update({"train.warmup_lr_init": 1e-6, "train.report_test_selected": True, "train.precision": "auto",
                    "train.compile": "auto"})
    _recipe.setdefault("train.cosine_counts_warmup", _recipe["train.lr_schedule"] == "cosine")


@pytest.mark.parametrize("name", sorted(HE2024))
def test_each_preset_applies_he_et_al_s_recipe_switch_for_switch(name):
    from tmkt import presets

    raw = config.load(None, presets.overrides(name)).model_dump()
    for key, expected in HE2024[name].items():
        dotted, _, method = key.partition("@")
        section, field = dotted.split(".")
        value = config.parse(config.apply_overrides(raw, {"train.method": method})) if method else None
        actual = getattr(getattr(value, section), field) if method else raw[section][field]
        assert actual == pytest.approx(expected) if isinstance(expected, float) else actual == expected, (name, key)


@pytest.mark.parametrize(
    "marker, source",
    [("headline", "reports/figures/headline.md"), ("comparisons", "reports/figures/comparisons.md"),
     ("mix-shares", "reports/figures/mix_shares.md"), ("conclusions", "reports/figures/conclusions.md"),
     ("full-comparisons", "reports/studies/full/figures/comparisons.md"),
     ("full-conclusions", "reports/studies/full/figures/conclusions.md"),
     ("nmnist-comparisons", "reports/studies/nmnist/figures/comparisons.md"),
     ("nmnist-conclusions", "reports/studies/nmnist/figures/conclusions.md"),
     ("nmnist-headline", "reports/studies/nmnist/figures/headline.md"),
     ("nmnist-transfer", "reports/studies/nmnist/transfer.md"),
     ("nmnist_ratio-comparisons", "reports/studies/nmnist_ratio/figures/comparisons.md"),
     ("sensor", "reports/studies/sensor/comparison.md"),
     ("convergence", "reports/figures/convergence.md"),
     ("converged-comparisons", "reports/figures/comparisons_converged.md"),
     ("claims", "reports/figures/paper_claims.md"), ("tuning", "reports/studies/tuning.md"),
     ("energy", "reports/figures/energy.md"), ("terminal", "reports/repro/terminal.md"),
     ("compare", "reports/repro/compare.md"),
     ("revisions", "reports/repro/revisions.md"), ("nir", "reports/figures/nir.md"),
     ("factors", "reports/studies/factors.md"), ("snn-step", "reports/benchmarks/snn_step.md"),
     ("loader", "reports/benchmarks/loader.md")],
)
def test_readme_tables_are_the_ones_the_code_wrote(marker, source):
    """Each results table and the ordering sentences of the README are files the pipeline (or a study) wrote, verbatim."""
    written = layout.ROOT / source
    if not written.is_file():
        pytest.skip(f"{source} has not been written in this checkout")
    readme = (layout.ROOT / "README.md").read_text()
    table = re.search(rf"<!-- {marker} -->\n(.+?)<!-- /{marker} -->", readme, re.S)
    assert table, f"README has no <!-- {marker} --> ... <!-- /{marker} --> table"
    assert table.group(1).strip() == written.read_text().strip()


def notebook_imports(name: str) -> set[str]:
    nb = json.loads((layout.NOTEBOOKS / f"{name}.ipynb").read_text())
    return {m for c in nb["cells"] if c["cell_type"] == "code" for m in provenance.imports_of_source("".join(c["source"]))}


def test_training_stages_depend_on_exactly_the_code_their_notebook_reaches(stages):
    """So that editing a figure module re-runs the figures stage alone: a training stage's code deps in dvc.yaml are
    exactly the import closure of the train notebook (``tmkt.provenance``), which reaches no results or figure module."""
    reached = {str(path) for path in provenance.closure(notebook_imports("02_train"))}
    assert not [path for path in reached if path.startswith(("tmkt/results/", "tmkt/plots/results", "tmkt/plots/mechanism"))]
    for name, stage in stages.items():
        if family(name) in ("train", "ablate"):
            code = {dep for dep in stage["deps"] if dep.startswith("tmkt")}
            assert code == reached, f"{name}: missing {reached - code}, not reached {code - reached}"


def test_a_relocated_stage_runs_its_own_command_away_from_the_pipeline_outputs(stages, tmp_path):
    """tmkt.stages (the memory benchmark, the terminal test) runs a stage as dvc.yaml defines it, writing elsewhere."""
    from tmkt import stages as pipeline

    for name in ("convert", "train", "ablate-method@he2024"):
        command = pipeline.relocated_command(name, tmp_path)
        expected = stages[name]["cmd"]
        for folder in pipeline.RELOCATED:
            expected = expected.replace(folder, f"{tmp_path}/{folder}")
        assert command.startswith(expected), name
        outside = [word for word in command.split() if word.startswith(("data/", "reports/"))]
        assert not outside, f"{name} would write {outside} of the pipeline"
    assert pipeline.relocated_command("train", tmp_path).endswith(f"-p reports_root {tmp_path}")
    with pytest.raises(KeyError, match="no stage 'trian'"):
        pipeline.command("trian")
