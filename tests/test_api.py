"""The public API (``import tmkt``, docs/api.md): lazy names, layouts, keyword-built layers, the example."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

import tmkt
from tmkt import config, layout
from tmkt.method import mixup
from tmkt.method.losses import DomainAlignment
from tmkt.method.models import build_model
from tmkt.method.neurons import MultiStepLIF


def test_import_tmkt_does_not_import_torch():
    code = "import sys, tmkt; dir(tmkt); print('torch' in sys.modules); tmkt.solve_p; print('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(layout.ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("name", tmkt.__all__)
def test_every_public_name_resolves_with_a_docstring(name):
    value = getattr(tmkt, name)
    assert name in dir(tmkt)
    assert (value.__doc__ or "").strip(), f"tmkt.{name} has no docstring"


def test_the_package_exports_exactly_the_api_module():
    from tmkt.method import standalone
    assert sorted(tmkt.__all__) == sorted(standalone.__all__)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'timestep_mixup_x'"):
        tmkt.timestep_mixup_x  # noqa: B018


def test_the_api_page_shows_every_public_name():
    page = (layout.ROOT / "docs/api.md").read_text()
    for name in tmkt.__all__:
        assert f"### `{name}" in page, f"docs/api.md has no section for {name}"


def test_batch_first_and_time_first_give_the_same_mix_transposed():
    images, events = torch.rand(3, 6, 2, 4, 4), torch.rand(3, 6, 2, 4, 4)  # (B, T, C, H, W)
    batch_first = tmkt.TimestepMixup(6, r_m=0.5, generator=torch.Generator().manual_seed(1))(images, events)
    time_first = tmkt.TimestepMixup(6, r_m=0.5, layout="TB", generator=torch.Generator().manual_seed(1))(
        images.transpose(0, 1), events.transpose(0, 1))
    assert torch.equal(batch_first.frames, time_first.frames.transpose(0, 1))
    assert torch.equal(batch_first.modality, time_first.modality.transpose(0, 1))
    assert torch.equal(batch_first.switch_step, time_first.switch_step)
    # and the mix is the pipeline's own, draw for draw
    expected = mixup.mix("timestep", images.transpose(0, 1), events.transpose(0, 1), 0.5,
                         torch.Generator().manual_seed(1))
    assert torch.equal(time_first.frames, expected.frames)


def test_a_batch_first_mix_keeps_images_before_the_switch_and_events_after():
    images, events = torch.zeros(5, 4, 1, 2, 2), torch.ones(5, 4, 1, 2, 2)
    out = tmkt.TimestepMixup(4, r_m=0.5, layout="BT", generator=torch.Generator().manual_seed(0))(images, events)
    steps = torch.arange(4)[None, :]
    assert torch.equal(out.modality, (steps >= out.switch_step[:, None]).float())  # (B, T)
    assert torch.equal(out.frames[:, :, 0, 0, 0], out.modality)


@pytest.mark.parametrize("shape, pattern", [
    ((4, 4, 2, 3, 3), "ambiguous layout"),
    ((5, 7, 2, 3, 3), "no axis .* has time_steps = 4"),
    ((4, 2, 3, 3), "5-D frames"),
])
def test_an_ambiguous_or_wrong_layout_is_refused(shape, pattern):
    x = torch.zeros(shape)
    with pytest.raises(ValueError, match=pattern):
        tmkt.TimestepMixup(4)(x, x)


def test_a_given_layout_must_put_time_steps_on_its_time_axis():
    x = torch.zeros(4, 5, 2, 3, 3)  # time-first (T=4, B=5)
    assert tmkt.TimestepMixup(4)(x, x).frames.shape == x.shape  # inferred: TB
    with pytest.raises(ValueError, match="layout 'BT' puts 5 steps"):
        tmkt.TimestepMixup(4, layout="BT")(x, x)
    with pytest.raises(ValueError, match="layout must be 'BT', 'TB'"):
        tmkt.TimestepMixup(4, layout="NCHW")
    with pytest.raises(ValueError, match="strategy must be 'timestep'"):
        tmkt.TimestepMixup(4, strategy="cutmix")
    with pytest.raises(ValueError, match="r_m .* must lie in"):
        tmkt.TimestepMixup(4, r_m=1.5)


def test_from_kwargs_gives_the_forward_of_the_config_built_layer():
    cfg = config.section("model").model_copy(update=dict(tau=3.0, v_th=0.4, surrogate="super", reset_grad="pass"))
    reference = MultiStepLIF(cfg, record_membrane=True)
    built = tmkt.MultiStepLIF.from_kwargs(tau_mem=3.0, v_th=0.4, method="super", reset_grad="pass",
                                          backend=cfg.lif, record_membrane=True)
    currents = torch.randn(6, 3, 10, requires_grad=True)
    spikes = built(currents)
    assert spikes.sum() > 0 and torch.equal(spikes, reference(currents))
    assert torch.equal(built.membrane, reference.membrane)
    grad_built, = torch.autograd.grad(spikes.sum(), currents)
    grad_reference, = torch.autograd.grad(reference(currents).sum(), currents)
    assert torch.equal(grad_built, grad_reference)


def test_from_kwargs_defaults_are_the_neuron_of_params_yaml():
    model = config.section("model")
    layer = tmkt.MultiStepLIF.from_kwargs()
    assert (layer.tau, layer.v_th, layer.surrogate, layer.alpha, layer.reset_grad, layer.backend) == (
        model.tau, model.v_th, model.surrogate, model.surrogate_alpha, model.reset_grad, model.lif)


def test_from_kwargs_names_the_bad_keyword():
    with pytest.raises(ValueError, match="tau_mem: Input should be greater than 1"):
        tmkt.MultiStepLIF.from_kwargs(tau_mem=1.0)
    with pytest.raises(ValueError, match="method: Input should be"):
        tmkt.MultiStepLIF.from_kwargs(method="sigmoid")


def test_two_stream_snn_is_build_model_of_the_same_config():
    torch.manual_seed(0)
    net = tmkt.two_stream_snn(num_classes=3, time_steps=2, input_size=(8, 8), width=0.0625, blocks=2)
    torch.manual_seed(0)
    cfg = config.section("model").model_copy(update=dict(width=0.0625, blocks=2, heads="separate"))
    reference = build_model(cfg, 3, 2, (8, 8))
    x = torch.rand(2, 4, 2, 8, 8)
    assert torch.equal(net(x).logits, reference(x).logits)
    with pytest.raises(ValueError, match="two_stream_snn: width"):
        tmkt.two_stream_snn(num_classes=3, time_steps=2, input_size=(8, 8), width=0)
    custom = tmkt.two_stream_snn(num_classes=3, time_steps=2, input_size=(8, 8), tau_mem=3.0, method="super")
    assert {(m.tau, m.surrogate) for m in custom.modules() if isinstance(m, MultiStepLIF)} == {(3.0, "super")}
    with pytest.raises(ValueError, match="tau_mem: Input should be greater than 1"):
        tmkt.two_stream_snn(num_classes=3, time_steps=2, input_size=(8, 8), tau_mem=1.0)


def test_cka_alignment_batch_first_is_the_time_first_loss():
    mixed, event = torch.randn(5, 3, 7), torch.randn(5, 3, 7)  # (B, T, D)
    batch_first = tmkt.CKAAlignment(3, layout="BT")(mixed, event)
    time_first = DomainAlignment(3, "learnable", 1.0)(mixed.transpose(0, 1), event.transpose(0, 1))
    assert torch.equal(batch_first.loss, time_first.loss) and torch.equal(batch_first.cka, time_first.cka)
    assert torch.allclose(batch_first.weights, torch.sigmoid(torch.ones(3)))


def test_ratio_schedule_and_solve_p():
    assert tmkt.ratio_schedule("power", 0.5) == 0.125
    assert tmkt.ratio_schedule("constant", 0.9, constant_ratio=0.3) == 0.3
    assert tmkt.expected_event_ratio(tmkt.solve_p(0.3, 8), 8) == pytest.approx(0.3, abs=1e-9)
    with pytest.raises(ValueError, match="schedule: Input should be"):
        tmkt.ratio_schedule("sliding", 0.5)


def test_the_example_trains_with_a_falling_loss_from_an_installed_copy_outside_any_clone(tmp_path):
    """What ``pip install .`` (non-editable) gives: the package copied into site-packages, run from elsewhere."""
    shutil.copytree(layout.ROOT / "tmkt", tmp_path / "site" / "tmkt", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(layout.ROOT / "examples/timestep_mixup.py", tmp_path / "example.py")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    out = subprocess.run([sys.executable, "example.py"], capture_output=True, text=True, env=env, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", out.stdout)]
    shares = [float(x) for x in re.findall(r"event share (\d+\.\d+)", out.stdout)]
    accuracies = [float(x) for x in re.findall(r"event accuracy (\d+\.\d+)", out.stdout)]
    assert len(losses) >= 3 and losses[-1] < 0.5 * losses[0]
    assert shares[0] < shares[-1]  # r_m rose over training
    assert accuracies[-1] > accuracies[0]
    assert len((layout.ROOT / "examples/timestep_mixup.py").read_text().splitlines()) < 60
