"""Operation counts of an inference, checked against counts made by hand and by brute force."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from tmkt import config
from tmkt.method.models import build_model
from tmkt.results.energy import Operations, _conv_synops, count_operations


def brute_conv_synops(x: torch.Tensor, conv: nn.Conv2d) -> int:
    """Σ over outputs of the non-zero inputs inside each receptive field, by explicit loops (stride 1 or 2)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    total = 0
    for b, i, j in itertools.product(range(n), range((h + 2 * ph - kh) // sh + 1), range((w + 2 * pw - kw) // sw + 1)):
        for ch, di, dj in itertools.product(range(c), range(kh), range(kw)):
            y, z = i * sh + di - ph, j * sw + dj - pw
            if 0 <= y < h and 0 <= z < w and x[b, ch, y, z] != 0:
                total += 1
    return total * conv.out_channels


def test_a_single_spike_drives_the_synapses_of_the_outputs_it_reaches():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    corner, centre = torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3)
    corner[0, 0, 0, 0], centre[0, 0, 1, 1] = 1.0, 0.25
    assert _conv_synops(corner, conv) == 2 * 4  # a corner input is in the field of 4 of the 9 outputs
    assert _conv_synops(centre, conv) == 2 * 9  # any non-zero value counts, a pooled spike as much as a spike


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (1, 0)])
def test_convolution_synops_equal_brute_force(stride, padding):
    conv = nn.Conv2d(3, 4, 3, stride=stride, padding=padding, bias=False)
    x = (torch.rand(2, 3, 6, 5, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    assert _conv_synops(x, conv) == brute_conv_synops(x, conv)


def test_an_inference_is_counted_layer_by_layer():
    """VGG-SNN with one pooling stage: dense MACs in conv1, ACs in conv2, pool1 and the head, by hand."""
    cfg = config.section("model", arch="vgg_snn", width=0.0625, blocks=1, heads="separate")
    model = build_model(cfg, num_classes=3, time_steps=2, input_size=(4, 4)).eval()
    frames = torch.rand(2, 5, 2, 4, 4, generator=torch.Generator().manual_seed(1))  # T = 2, B = 5
    inputs = {}
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: inputs.update({name: i[0].clone()}))
             for name, m in [("conv2", model.trunk.layers.conv2.module[0]), ("pool1", model.trunk.layers.pool1.module),
                             ("head", model.head_event)]]
    with torch.no_grad():
        model(frames, head="event")
    for h in hooks:
        h.remove()
    ops = count_operations(model, [frames, frames])  # the same batch twice: totals double, per recording not
    c1, c2 = model.trunk.layers.conv1.module[0], model.trunk.layers.conv2.module[0]
    assert ops.recordings == 10
    assert ops.dense_macs == 2 * (2 * 5 * c1.out_channels * 4 * 4) * (2 * 9)  # twice: T·B outputs × C_in k²
    assert ops.ac["layers.conv2.module.0"] == 2 * brute_conv_synops(inputs["conv2"], c2)
    assert ops.ac["layers.pool1.module"] == 2 * int((inputs["pool1"] != 0).sum())
    assert ops.ac["head_event"] == 2 * int((inputs["head"] != 0).sum()) * 3
    ann_macs = 2 * 5 * 16 * (c1.out_channels * 2 * 9 + c2.out_channels * c1.out_channels * 9) + 2 * 5 * model.trunk.out_dim * 3
    assert ops.ann_macs == pytest.approx(ann_macs)  # one pass per recording: the T·B frames count 1/T
    assert ops.ann_adds == pytest.approx(2 * 5 * c2.out_channels * 16)
    one = ops.per_recording(e_ac_pj=0.9, e_mac_pj=4.6)
    assert one["synops"] == pytest.approx(sum(ops.ac.values()) / 10)
    assert one["energy_uj"] == pytest.approx((0.9 * one["synops"] + 4.6 * one["dense_macs"]) * 1e-6)
    assert Operations().per_recording(0.9, 4.6)["synops"] == 0.0


@pytest.mark.parametrize("arch, size", [("resnet18_snn", (8, 8)), ("scnn", (20, 20))])
def test_every_trunk_is_counted_with_dense_macs_only_where_it_reads_analog_values(arch, size):
    cfg = config.section("model", arch=arch, width=0.25, blocks=2)
    model = build_model(cfg, num_classes=3, time_steps=2, input_size=size).eval()
    frames = (torch.rand(2, 3, 2, *size, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    ops = count_operations(model, [frames])
    layers = [(n, m) for n, m in model.trunk.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    first_name, first = layers[0]
    outputs = 2 * 3 * first.out_channels * (size[0] * size[1] if arch == "resnet18_snn" else 16 * 16)
    first_macs = outputs * 2 * first.kernel_size[0] * first.kernel_size[1]
    # The ResNet's head reads its pooled, batch-normalised (analog) feature: dense MACs; the SCNN's reads spikes.
    head_macs = 2 * 3 * 3 * model.trunk.out_dim if arch == "resnet18_snn" else 0
    assert ops.dense_macs == first_macs + head_macs
    assert ("head_event" in ops.ac) == (arch == "scnn")
    assert first_name not in ops.ac and set(ops.ac) <= {n for n, _ in layers[1:]} | {"head_event"} | {
        n for n, m in model.trunk.named_modules() if isinstance(m, nn.AvgPool2d)}
    assert all(count >= 0 for count in ops.ac.values())


def test_measure_runs_counts_each_run_with_its_cells_parameters_and_checkpoint(monkeypatch, tmp_path):
    import pandas as pd

    from tmkt import config, layout
    from tmkt.results import energy as energy_module

    calls = []

    def fake(params, data, checkpoint, e_ac_pj, e_mac_pj):
        calls.append((params, checkpoint, e_ac_pj, e_mac_pj))
        return {"synops": float(len(calls))}

    monkeypatch.setattr(energy_module, "run_operations", fake)
    runs = pd.DataFrame(dict(axis=["reference", "method"], cell=["reference", "he2024"],
                             folder=[layout.REFERENCE_CELL, layout.cell_folder("method", "he2024")], seed=[3, 4]))
    section = config.section("energy")
    table = energy_module.measure_runs(runs, {("reference", "reference"): "P0", ("method", "he2024"): "P1"}, None,
                                       tmp_path, section)
    assert table["synops"].tolist() == [1.0, 2.0] and table["seed"].tolist() == [3, 4]
    assert [c[0] for c in calls] == ["P0", "P1"] and all(c[2:] == (section.e_ac_pj, section.e_mac_pj) for c in calls)
    assert calls[1][1] == layout.run_file(layout.cell_folder("method", "he2024"), 4, layout.CHECKPOINT, tmp_path)
