"""params.yaml validation: each kind of bad value gives a message naming the key and what is allowed."""

from __future__ import annotations

import pickle

import pytest
import yaml
from pydantic import ValidationError

from tmkt import config, layout
from tmkt.config import ParamsError


def test_repository_params_are_valid():
    params = config.load()
    assert params.data.dataset == "mnist_sim"
    assert set(yaml.safe_load(layout.PARAMS.read_text())) <= set(config.Params.model_fields)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("{simulator.thresold_on: 0.3}", ["simulator.thresold_on", "unknown key", "did you mean 'threshold_on'"]),
        ("{data.frame_norm: log}", ["data.frame_norm", "'log'", "'raw', 'clip', 'scale' or 'frame_max'"]),
        ("{data.time_bins: 0}", ["data.time_bins", "= 0", "greater than or equal to 1"]),
        ("{data.time_bins: '4'}", ["data.time_bins", "'4'", "valid integer"]),
        ("{loss.mag: 'false'}", ["loss.mag", "'false'", "valid boolean"]),
        ("{data.split: {train: 0.5, val: 0.2, test: 0.2}}", ["data.split", "must be 1"]),
        ("{scarcity.event_per_class: 3}", ["scarcity", "exactly one of event_fraction and event_per_class"]),
        ("{nosuchsection: {a: 1}}", ["nosuchsection", "unknown key"]),
    ],
)
def test_bad_values_name_key_value_and_allowed(override, fragments):
    with pytest.raises(ParamsError) as err:
        config.load(overrides=override)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message


def test_overrides_are_typed_and_nested():
    params = config.load(overrides="{train.method: he2024, scarcity.event_fraction: null, scarcity.event_per_class: 5}")
    assert params.train.method == "he2024"
    assert params.scarcity.event_per_class == 5 and params.scarcity.event_fraction is None
    assert config.load(overrides={"loss.mag": False}).loss.mag is False


def test_malformed_overrides_and_files(tmp_path):
    with pytest.raises(ParamsError, match="mapping"):
        config.load(overrides="[1, 2]")
    with pytest.raises(ParamsError, match="does not exist"):
        config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        config.load(bad)


def test_params_are_frozen():
    params = config.load()
    with pytest.raises(ValidationError, match="frozen"):
        params.data.time_bins = 7


def test_a_knob_given_per_method_takes_the_value_of_the_method_trained():
    raw = config.load().model_dump()
    raw["train"]["lr"] = {"event_only": 0.02, "finetune": 0.003, "sim2real": 0.007, "joint": 0.004, "he2024": 0.01, "tmkt": 0.005}
    raw["model"]["heads"] = {"event_only": "separate", "finetune": "separate", "sim2real": "separate", "joint": "shared", "he2024": "shared", "tmkt": "separate"}
    for method, lr, heads in (("event_only", 0.02, "separate"), ("sim2real", 0.007, "separate"), ("joint", 0.004, "shared"), ("he2024", 0.01, "shared"),
                              ("tmkt", 0.005, "separate")):
        params = config.parse(config.apply_overrides(raw, {"train.method": method}))
        assert (params.train.lr, params.model.heads) == (lr, heads)
    # an override with one value replaces the mapping
    assert config.parse(config.apply_overrides(raw, {"train.lr": 0.1})).train.lr == 0.1


@pytest.mark.parametrize("lr, message", [
    ({"event_only": 0.02}, "train.lr is given per method but has no value for finetune, sim2real, joint, he2024, tmkt"),
    ({"evnt_only": 0.02, "finetune": 0.003, "sim2real": 0.007, "joint": 0.004, "he2024": 0.01, "tmkt": 0.005}, "train.lr.evnt_only"),
    ({"event_only": 2.0, "finetune": 0.003, "sim2real": 0.007, "joint": 0.004, "he2024": 0.01, "tmkt": 0.005}, "train.lr.event_only = 2.0"),
])
def test_bad_per_method_knob_names_the_key(lr, message):
    raw = config.load().model_dump()
    raw["train"]["lr"] = lr
    with pytest.raises(config.ParamsError, match=message):
        config.parse(raw)


def test_a_missing_key_is_named_and_nothing_fills_it_in(tmp_path):
    raw = yaml.safe_load(layout.PARAMS.read_text())
    del raw["simulator"]["seed"], raw["figures"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as err:
        config.load(path)
    assert "simulator.seed: missing" in str(err.value) and "figures: missing" in str(err.value)


def test_a_stage_reads_only_what_it_declares():
    convert = config.load(stage="convert")
    assert convert.data.time_bins == config.defaults().data.time_bins and convert.base.parallel_runs >= 1
    with pytest.raises(config.UndeclaredRead, match=r"stage 'convert' reads base.seeds, which it does not declare"):
        convert.base.seeds
    with pytest.raises(config.UndeclaredRead, match=r"reads model.*add 'model' to the params: of stage 'convert' in dvc"):
        convert.model
    with pytest.raises(ParamsError, match=r"dvc.yaml has no stage 'plot'; its stages: convert, train"):
        config.load(stage="plot")
    restored = pickle.loads(pickle.dumps(config.load(stage="ablate-method@he2024")))  # runs train in worker processes
    assert restored.ablate.seeds_per_cell == config.defaults().ablate.seeds_per_cell
    with pytest.raises(config.UndeclaredRead, match=r"ablate-method@he2024' reads ablate.variant"):
        restored.ablate.variant


PIPELINE = """
vars:
  - where: data
stages:
  first:
    cmd: echo
    params: &shared
      - model
      - ${where}.time_bins
  second:
    cmd: echo
    params: *shared
  cells:
    matrix:
      cell: [a, b]
    cmd: echo ${item.cell}
    params:
      - train
      - ablate.variant.${item.cell}
  crossed:
    matrix:
      x: [a]
      y: [b]
    cmd: echo
    params:
      - ablate.variant.${item.x}
  silent:
    cmd: echo
"""


def test_stage_declarations_are_read_from_dvc_yaml_with_anchors_vars_and_matrix_items(tmp_path):
    path = tmp_path / "dvc.yaml"
    path.write_text(PIPELINE)
    sections = config.stage_sections(path)
    assert sections["first"] == sections["second"] == ("model", "data.time_bins")  # anchor, alias and file vars
    assert sections["cells"] == ("train", "ablate.variant.${item.cell}")
    assert config.declared("cells@b", path) == ("train", "ablate.variant.b")
    with pytest.raises(ParamsError, match=r"stage 'cells' of .*dvc.yaml declares 'ablate.variant.\$\{item.cell\}'"):
        config.declared("cells", path)
    with pytest.raises(ParamsError, match="name one generated stage"):
        config.declared("crossed@a-b", path)
    with pytest.raises(ParamsError, match=r"stage 'silent' of .*dvc.yaml has no params: list"):
        config.declared("silent", path)
    with pytest.raises(ParamsError, match=r"dvc.yaml has no stage 'third'"):
        config.declared("third", path)
    path.write_text(PIPELINE.replace("${where}", "${nowhere}"))
    with pytest.raises(ParamsError, match=r"stage 'first' of .*dvc.yaml declares '\$\{nowhere\}.time_bins'"):
        config.stage_sections(path)
    with pytest.raises(ParamsError, match=r"pipeline file .*missing.yaml does not exist"):
        config.stage_sections(tmp_path / "missing.yaml")


def test_a_generated_stage_reads_its_own_item_only(tmp_path):
    path = tmp_path / "dvc.yaml"
    path.write_text(PIPELINE)
    params = config.StageParams(config.defaults(), "cells@a", sections=config.declared("cells@a", path))
    assert params.train.epochs == config.defaults().train.epochs
    with pytest.raises(config.UndeclaredRead, match=r"reads ablate.seeds_per_cell.*params: of stage 'cells' in dvc.yaml"):
        params.ablate.seeds_per_cell


def test_section_sets_changes_on_the_repository_values():
    model = config.section("model", width=0.125)
    assert model.width == 0.125 and model.tau == config.defaults().model.tau
    with pytest.raises(ParamsError, match=r"model.widht: unknown key \(did you mean 'width'\?\)"):
        config.section("model", widht=1.0)


def test_time_averaged_ce_with_learnable_step_weights_is_refused():
    raw = config.load().model_dump()
    he = config.apply_overrides(raw, {"train.method": "he2024", "train.classification_loss": "mean_ce"})
    with pytest.raises(config.ParamsError, match="mean_ce with learnable step weights"):
        config.parse(he)
    assert config.parse(config.apply_overrides(he, {"loss.da_step_weights": "fixed"})).train.classification_loss == "mean_ce"
