"""The fused LIF (one autograd node over T steps) against norse's LIFBoxCell loop, the reference definition."""

from __future__ import annotations

import pytest
import torch

from tmkt import config
from tmkt.method import neurons
from tmkt.method.neurons import MultiStepLIF

SURROGATES = ["triangle", "super", "tanh", "circ", "heavi_erfc"]


def both(**changes) -> tuple[MultiStepLIF, MultiStepLIF]:
    """(fused, norse) layers of the same neuron, recording membranes."""
    model = config.section("model", **changes)
    return (MultiStepLIF(model.model_copy(update={"lif": "fused"}), record_membrane=True),
            MultiStepLIF(model.model_copy(update={"lif": "norse"}), record_membrane=True))


@pytest.fixture(params=["compiled", "torch"])
def loops(request, monkeypatch):
    """Both implementations of the fused LIF: numba's CPU loops, and the torch operations CUDA runs."""
    if request.param == "torch":
        monkeypatch.setattr(neurons, "compiled_loops", lambda currents: False)
    return request.param


@pytest.mark.parametrize("reset_grad", ["detach", "pass"])
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_fused_equals_norse_in_value_and_gradient(surrogate, reset_grad, loops):
    """Same spikes and membranes, bit for bit; the same input gradient (allclose) for a loss that reads both,
    with currents that make neurons fire, stay silent and sit near threshold."""
    torch.manual_seed(0)
    currents = (torch.randn(6, 3, 4, 5) * 0.8 + 0.4).requires_grad_()
    weights_z, weights_v = torch.randn(6, 3, 4, 5), torch.randn(6, 3, 4, 5)
    outputs = {}
    for name, lif in zip(("fused", "norse"), both(surrogate=surrogate, surrogate_alpha=0.7, reset_grad=reset_grad,
                                                   tau=2.0, v_th=0.5)):
        x = currents.detach().clone().requires_grad_()
        z = lif(x)
        ((z * weights_z).sum() + (lif.membrane * weights_v).sum()).backward()
        outputs[name] = (z.detach(), lif.membrane.detach(), x.grad, lif.spike_rate)
    (z_f, v_f, g_f, r_f), (z_n, v_n, g_n, r_n) = outputs["fused"], outputs["norse"]
    assert 0 < z_n.mean() < 1  # some neurons fire, some do not
    assert torch.equal(z_f, z_n) and torch.equal(v_f, v_n) and torch.equal(r_f, r_n)
    torch.testing.assert_close(g_f, g_n, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tau", [1.5, 2.0, 4.0])
def test_fused_equals_norse_without_membrane_gradient(tau, loops):
    """A loss on the spikes alone (every layer but the last): the membrane output gets no gradient."""
    torch.manual_seed(1)
    currents = torch.rand(10, 8, 16) * 1.5
    fused, norse = both(tau=tau)
    fused.record_membrane = norse.record_membrane = False
    grads = []
    for lif in (fused, norse):
        x = currents.clone().requires_grad_()
        (lif(x) * torch.arange(16.0)).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-6)
    assert fused.membrane is None


def test_fused_lif_passes_torch_gradcheck_in_double():
    """The hand-written backward is the derivative of the forward with H' replaced by the surrogate: with a
    smooth stand-in for nothing else, gradcheck on inputs away from the threshold checks the chain rule."""
    from tmkt.method.neurons import FusedLIF

    torch.manual_seed(2)
    currents = (torch.rand(5, 7, dtype=torch.float64) * 0.3).requires_grad_()  # never reaches V_th = 0.5: no spikes
    def membranes(x):
        return FusedLIF.apply(x, 0.5, 0.5, 0.0, "triangle", 1.0, "detach")[1]

    assert torch.autograd.gradcheck(membranes, (currents,))


def test_fused_lif_follows_a_channels_last_layout(loops):
    """A time-folded channels-last layer hands the LIF a permuted (T, B, C, H, W) tensor: same values and grads."""
    torch.manual_seed(3)
    folded = torch.randn(4 * 2, 3, 5, 6).contiguous(memory_format=torch.channels_last)
    currents = folded.view(4, 2, 3, 5, 6)
    fused, norse = both()
    results = []
    for lif, x in ((fused, currents), (norse, currents.contiguous())):
        x = x.detach().clone().requires_grad_() if lif is norse else x.detach().requires_grad_()
        z = lif(x)
        (z * torch.arange(6.0)).sum().backward()
        results.append((z.detach().contiguous(), x.grad.contiguous()))
    assert torch.equal(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)


def test_the_compiled_backward_is_cached_once_for_every_process(tmp_path):
    """Processes sharing numba's on-disk cache reuse one compiled backward: the cache neither grows with every
    process (which let concurrent pipelines fail to load it) nor is re-compiled for each."""
    import os
    import subprocess
    import sys

    script = ("import torch; from tmkt import config; from tmkt.method.neurons import MultiStepLIF\n"
              "x = torch.randn(4, 2, 8, requires_grad=True)\n"
              "MultiStepLIF(config.section('model', lif='fused'))(x).sum().backward()\n")
    env = os.environ | {"NUMBA_CACHE_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path)
    compiled = [p.name for p in tmp_path.rglob("lif_kernels.backward-*.nbc")]
    assert len(compiled) == 1, compiled


@pytest.mark.parametrize("surrogate, alpha, expected", [
    ("qgate", 2.0, [0.0, 0.2, 1.0, 2.0, 1.0, 0.0]),   # alpha max(0, 1 - alpha |x|): peak 2, support 0.5
    ("rectangle", 1.0, [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]),  # 1 on |x| < 0.5
])
def test_he_et_al_surrogates(surrogate, alpha, expected, loops):
    x = torch.tensor([-0.6, -0.45, -0.25, 0.0, 0.25, 0.55])
    assert neurons.surrogate_derivative(x, surrogate, alpha).tolist() == pytest.approx(expected)
    # the fused LIF's backward uses it: one neuron, one step, v_th 0.5: dL/dI = k H'(I k - v_th)
    cfg = config.section("model", surrogate=surrogate, surrogate_alpha=alpha, lif="fused")
    layer = MultiStepLIF(cfg)
    currents = torch.tensor([[[1.0]], [[0.2]]], requires_grad=True)
    layer(currents).sum().backward()
    k = 1 / cfg.tau
    u_0 = k * 1.0  # 0.5: no spike (u - v_th > 0 is false), so v_0 = u_0
    u_1 = u_0 + k * (0.2 - u_0)  # 0.35: x = -0.15
    slope = neurons.surrogate_derivative(torch.tensor([u_1 - cfg.v_th]), surrogate, alpha)
    assert currents.grad.flatten()[1].item() == pytest.approx(k * slope.item(), rel=1e-5)
    with pytest.raises(config.ParamsError, match="fused LIF only"):
        config.section("model", surrogate=surrogate, lif="norse")
