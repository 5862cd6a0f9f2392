"""Tests of the multi-step LIF layer and the spiking networks (tiny sizes, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tmkt import config
from tmkt.method.models import TwoStreamSNN, build_model, predict
from tmkt.method.neurons import MultiStepLIF


# ------------------------------------------------------------------------------------------ neuron
def test_constant_input_runs_t_steps_with_carried_state():
    # By hand, tau = 2, V_th = 0.5, I = 0.8: u = 0.4 (silent), u = 0.4 + 0.2 = 0.6 (fires, v = 0), repeat.
    lif = MultiStepLIF(config.section("model"), record_membrane=True)
    spikes = lif(torch.full((4, 2, 3), 0.8))
    assert spikes.shape == (4, 2, 3)
    expected = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(4, 1, 1).expand(4, 2, 3)
    assert torch.equal(spikes, expected)  # T read as batch would give four identical (silent) steps
    torch.testing.assert_close(lif.membrane[:, 0, 0], torch.tensor([0.4, 0.0, 0.4, 0.0]))
    assert lif.spike_rate.item() == pytest.approx(0.5)


def test_threshold_is_strict_like_norse_and_he2024():
    # I = 1: u_0 = 0.5 = V_th exactly, which does not fire (H(x) = 1 only for x > 0); u_1 = 0.75 fires.
    spikes = MultiStepLIF(config.section("model"))(torch.ones(3, 1))
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0]


def test_state_is_fresh_on_every_call():
    # T = 3 at I = 0.8 ends with v = 0.4: a carried-over state would make the second call fire at t = 0.
    lif = MultiStepLIF(config.section("model"))
    x = torch.full((3, 2), 0.8)
    first, second = lif(x), lif(x)
    assert first[:, 0].tolist() == [0.0, 1.0, 0.0]
    assert torch.equal(first, second)


@pytest.mark.parametrize("tau, v_th", [(2.0, 0.5), (3.0, 0.7)])
def test_dynamics_match_hand_written_loop(tau, v_th):
    rng = np.random.default_rng(0)
    currents = rng.normal(0.6, 0.6, size=(8, 4, 5))
    v = np.zeros((4, 5))
    golden_spikes, golden_v = [], []
    for current in currents:  # v <- v + (I - v) / tau; spike if v > V_th; hard reset to 0
        v = v + (current - v) / tau
        fired = v > v_th
        v = np.where(fired, 0.0, v)
        golden_spikes.append(fired.astype(np.float32))
        golden_v.append(v.copy())
    lif = MultiStepLIF(config.section("model", tau=tau, v_th=v_th), record_membrane=True)
    spikes = lif(torch.tensor(currents, dtype=torch.float32))
    assert 0.1 < spikes.mean().item() < 0.9  # the test exercises both firing and silence
    np.testing.assert_array_equal(spikes.numpy(), np.stack(golden_spikes))
    np.testing.assert_allclose(lif.membrane.numpy(), np.stack(golden_v), atol=1e-5)


@pytest.mark.parametrize("reset_grad, expected", [("detach", 0.5), ("pass", 0.32)])
def test_reset_gradient_options(reset_grad, expected):
    # One step, I = 0.8: u = I/2 = 0.4, z = 0, v = (1 - z) u. Triangle surrogate (alpha 1) at x = u - V_th = -0.1:
    # H' = 0.9, so dz/dI = 0.45. detach: dv/dI = (1 - z) du/dI = 0.5.  pass: 0.5 - u dz/dI = 0.5 - 0.18 = 0.32.
    current = torch.tensor([[0.8]], requires_grad=True)
    lif = MultiStepLIF(config.section("model", surrogate="triangle", surrogate_alpha=1.0, reset_grad=reset_grad), record_membrane=True)
    lif(current)
    lif.membrane.sum().backward()
    assert current.grad.item() == pytest.approx(expected, abs=1e-6)


def test_bad_neuron_options_are_named():
    with pytest.raises(ValueError, match="reset_grad"):
        MultiStepLIF(config.section("model").model_copy(update={"reset_grad": "soft"}))
    with pytest.raises(ValueError, match="surrogate"):
        MultiStepLIF(config.section("model").model_copy(update={"surrogate": "sigmoid"}))
    with pytest.raises(ValueError, match=r"\(T, B, \.\.\.\)"):
        MultiStepLIF(config.section("model"))(torch.ones(5))


# ------------------------------------------------------------------------------------------ models
TINY = {
    "vgg_snn": (config.section("model", arch="vgg_snn", width=0.125, blocks=2, heads="separate"), (16, 16)),
    "resnet18_snn": (config.section("model", arch="resnet18_snn", width=0.0625, blocks=2), (16, 16)),
    "scnn": (config.section("model", arch="scnn", width=0.25), (20, 20)),
}


def _tiny(arch: str, seed: int = 0, **overrides):
    cfg, size = TINY[arch]
    torch.manual_seed(seed)
    model = build_model(cfg.model_copy(update=overrides), num_classes=5, time_steps=3, input_size=size)
    x = torch.rand(3, 4, 2, *size, generator=torch.Generator().manual_seed(seed + 1)) * 2
    return model, x


def _loss(out, labels):
    return (
        F.cross_entropy(out.logits.flatten(0, 1), labels.repeat(out.logits.shape[0]))
        + F.binary_cross_entropy_with_logits(out.mag_logits, torch.ones_like(out.mag_logits))
        + F.mse_loss(out.ratio_pred, torch.full_like(out.ratio_pred, 0.5))
    )


def test_vgg_output_shapes_and_heads():
    model, x = _tiny("vgg_snn")
    out = model(x, head="event")
    # By hand: channels 64/8 = 8, 128/8 = 16, 256/8 = 32; features: the lif4 membrane at 8×8 (one pooling stage).
    assert out.logits.shape == (3, 4, 5)
    assert out.features.shape == (3, 4, 32 * 8 * 8)
    assert out.mag_logits.shape == (3, 4)
    assert out.ratio_pred.shape == (4,)
    assert ((out.ratio_pred > 0) & (out.ratio_pred < 1)).all()
    assert list(out.spike_rates) == ["lif1", "lif2", "lif3", "lif4"]
    assert all(isinstance(r, float) and 0.0 <= r <= 1.0 for r in out.spike_rates.values())
    assert 0.0 < sum(out.spike_rates.values())
    mixed = model(x, head="mixed")
    assert not torch.allclose(mixed.logits, out.logits)  # a separate head per stream ...
    torch.testing.assert_close(mixed.features, out.features)  # ... on one shared trunk


@pytest.mark.parametrize("arch", ["resnet18_snn", "scnn"])
def test_other_trunks_output_shapes(arch):
    model, x = _tiny(arch)
    out = model(x)
    assert out.logits.shape == (3, 4, 5)
    assert out.features.shape == (3, 4, model.trunk.feature_dim)
    assert out.mag_logits.shape == (3, 4) and out.ratio_pred.shape == (4,)


def test_features_are_the_post_reset_membrane_of_the_last_spiking_layer():
    model, x = _tiny("vgg_snn")
    seen = {}
    model.trunk.last_lif.register_forward_hook(lambda module, args, spikes: seen.update(spikes=spikes))
    out = model(x)
    spikes = seen["spikes"].flatten(2)
    assert spikes.sum() > 0
    assert (out.features[spikes == 1] == 0).all()  # hard reset to 0 where the neuron fired
    assert (out.features[spikes == 0] <= model.trunk.last_lif.v_th).all()  # silent: never above threshold


def test_resnet_is_pre_activation_and_its_feature_is_the_pooled_non_spiking_output():
    model, x = _tiny("resnet18_snn")
    trunk = model.trunk
    assert isinstance(trunk.layers.stem.module, torch.nn.Conv2d)  # a bare stem: no BN, no LIF
    first_block = trunk.layers.stage1[0]
    assert [type(m.module if hasattr(m, "module") else m).__name__ for m in list(first_block.children())[:3]] == [
        "BatchNorm2d", "MultiStepLIF", "Conv2d"]
    out = model(x)
    pooled = trunk(x)  # training-mode BN: the same batch, the same statistics
    torch.testing.assert_close(out.features, pooled)  # CKA, MAG and MRP read the pooled 512·width vector ...
    torch.testing.assert_close(out.logits, model.head_event(pooled))  # ... and so does the classifier
    assert pooled.shape == (3, 4, trunk.out_dim) and not torch.isin(pooled, torch.tensor([0.0, 1.0])).all()


def test_the_resnet_projection_shortcut_is_a_strided_pointwise_convolution():
    model, _ = _tiny("resnet18_snn")
    shortcut = model.trunk.layers.stage2[0].shortcut[2]  # after its BN and LIF
    conv = shortcut.module[1]
    strided = torch.nn.Conv2d(conv.in_channels, conv.out_channels, 1, stride=2, bias=False)
    strided.weight = conv.weight
    x = (torch.rand(3, 4, conv.in_channels, 7, 8) > 0.5).float()  # an odd height too
    torch.testing.assert_close(shortcut(x), strided(x.flatten(0, 1)).unflatten(0, (3, 4)), rtol=0, atol=0)


def test_batch_layout_mistake_is_refused():
    model, x = _tiny("vgg_snn")
    with pytest.raises(ValueError, match=r"\(T, B, C, H, W\)"):
        model(x.transpose(0, 1))  # (B, T, ...) instead of (T, B, ...)
    with pytest.raises(ValueError, match="head"):
        model(x, head="image")


def test_time_folding_keeps_causality_and_sample_independence():
    # In eval mode (BN on running statistics) step t depends only on steps <= t of the same sample; a mix-up
    # of T and B when folding time into the batch would break both.
    model, x = _tiny("vgg_snn")
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.momentum = None  # running statistics := those of the next batch, so that eval mode spikes
        model(x)
        model.eval()
        base = model(x).logits
        later = x.clone()
        later[2] = torch.rand_like(later[2]) * 2
        other = x.clone()
        other[:, 1] = torch.rand_like(other[:, 1]) * 2
        changed_later, changed_other = model(later).logits, model(other).logits
    assert model(x).spike_rates["lif4"] > 0
    torch.testing.assert_close(changed_later[:2], base[:2])
    assert not torch.allclose(changed_later[2], base[2])
    torch.testing.assert_close(changed_other[:, [0, 2, 3]], base[:, [0, 2, 3]])


@pytest.mark.parametrize("arch", ["vgg_snn", "resnet18_snn", "scnn"])
def test_gradients_reach_the_first_layer(arch):
    model, x = _tiny(arch)
    _loss(model(x), torch.arange(4) % 5).backward()
    first_conv = next(m for m in model.trunk.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.grad is not None
    assert torch.isfinite(first_conv.weight.grad).all() and first_conv.weight.grad.abs().sum() > 0
    assert model.mag_head.weight.grad.abs().sum() > 0 and model.mrp_head.weight.grad.abs().sum() > 0


def test_reset_grad_changes_the_network_gradient_but_not_its_output():
    grads, logits = {}, {}
    for option in ("detach", "pass"):
        model, x = _tiny("vgg_snn", reset_grad=option)
        out = model(x)
        _loss(out, torch.arange(4) % 5).backward()
        grads[option] = model.trunk.layers.conv1.module[0].weight.grad
        logits[option] = out.logits.detach()
    torch.testing.assert_close(logits["detach"], logits["pass"])
    assert not torch.allclose(grads["detach"], grads["pass"], rtol=1e-3, atol=1e-6)


def test_predict_averages_logits_over_time():
    # Mean over t: class 0 scores 5/3, class 1 scores 2/3, although class 1 wins two of three steps.
    logits = torch.tensor([[[5.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]]])
    assert predict(logits).tolist() == [0]


def test_paper_scale_vgg_snn_trains_one_step_on_cpu():
    torch.manual_seed(0)
    cfg = config.section("model", arch="vgg_snn", width=1.0, blocks=4)
    model = build_model(cfg, num_classes=101, time_steps=10, input_size=(48, 48))
    # By hand: 3×3 convolutions 2-64-128 | 256-256 | 512-512 | 512-512 (no bias), BN scale+shift, and one
    # linear head on the 512×3×3 pooled spikes: 9,688,165 parameters; He2024's second head makes it 10.15M.
    widths = [2, 64, 128, 256, 256, 512, 512, 512, 512]
    convs = sum(9 * c_in * c_out for c_in, c_out in zip(widths, widths[1:]))
    trunk_and_head = convs + 2 * sum(widths[1:]) + (512 * 3 * 3 + 1) * 101
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(model.trunk) + count(model.head_event) == trunk_and_head == 9_688_165
    assert model.trunk.feature_dim == 512 * 6 * 6

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.rand(10, 2, 2, 48, 48, generator=torch.Generator().manual_seed(1))
    before = model.trunk.layers.conv1.module[0].weight.detach().clone()
    loss = _loss(model(x), torch.tensor([3, 7]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert not torch.equal(before, model.trunk.layers.conv1.module[0].weight)


def test_forward_pair_separate_equals_two_passes_and_concat_shares_batch_norm():
    torch.manual_seed(0)
    model = build_model(config.section("model", width=0.0625, blocks=2), num_classes=3, time_steps=2, input_size=(8, 8))
    mixed, events = torch.rand(2, 4, 2, 8, 8), 2 * torch.rand(2, 4, 2, 8, 8)
    out_m, out_e = model.forward_pair(mixed, events, "separate")
    assert torch.equal(out_m.logits, model(mixed, head="mixed").logits)
    assert torch.equal(out_e.logits, model(events, head="event").logits)
    cat_m, cat_e = model.forward_pair(mixed, events, "concat")
    assert cat_m.logits.shape == out_m.logits.shape and cat_e.features.shape == out_e.features.shape
    # training-mode BN sees the joint batch, so the outputs differ from the separate passes ...
    assert not torch.allclose(cat_e.logits, out_e.logits)
    # ... but in eval mode (running statistics) a joint pass is exactly two passes
    model.eval()
    sep = model.forward_pair(mixed, events, "separate")
    cat = model.forward_pair(mixed, events, "concat")
    assert torch.allclose(sep[0].logits, cat[0].logits, atol=1e-5) and torch.allclose(sep[1].logits, cat[1].logits, atol=1e-5)


def test_shared_heads_route_the_mixed_stream_through_the_event_head():
    torch.manual_seed(0)
    cfg = config.section("model", width=0.0625, blocks=2, heads="separate")
    separate = build_model(cfg, num_classes=3, time_steps=2, input_size=(8, 8))
    shared = build_model(cfg.model_copy(update={"heads": "shared"}), num_classes=3, time_steps=2, input_size=(8, 8))
    assert not hasattr(shared, "head_mixed")
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(separate) - count(shared) == count(separate.head_mixed)
    x = torch.rand(2, 4, 2, 8, 8)
    assert torch.equal(shared(x, head="mixed").logits, shared(x, head="event").logits)
    assert not torch.equal(separate(x, head="mixed").logits, separate(x, head="event").logits)
    # the mixed stream's loss reaches the event head only when the heads are shared
    for model, reaches in ((shared, True), (separate, False)):
        model.zero_grad()
        out_m, _ = model.forward_pair(x, x, "separate")
        out_m.logits.sum().backward()
        assert (model.head_event.weight.grad is not None) == reaches
    with pytest.raises(ValueError, match="heads must be one of"):
        TwoStreamSNN(separate.trunk, 3, 2, (2, 8, 8), heads="three")
