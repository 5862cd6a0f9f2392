"""params.yaml validation: each kind of bad value gives a message naming the key and what is allowed."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from tmkt import config, paths
from tmkt.config import ParamsError


def test_repository_params_are_valid():
    params = config.load()
    assert params.data.dataset == "mnist_sim"
    assert set(yaml.safe_load(paths.PARAMS.read_text())) <= set(config.Params.model_fields)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("{simulator.thresold_on: 0.3}", ["simulator.thresold_on", "unknown key", "did you mean 'threshold_on'"]),
        ("{data.frame_norm: log}", ["data.frame_norm", "'log'", "'raw', 'clip' or 'scale'"]),
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
