"""NIR export of a network's event path: the graph loaded back with norse gives the same logits and predictions."""

from __future__ import annotations

import nir
import pytest
import torch
from torch import nn

from tmkt import config
from tmkt.method.models import build_model
from tmkt.results import nir_export


@pytest.fixture
def model():
    """A small VGG-SNN with BatchNorm statistics far from the identity, so that folding them matters."""
    torch.manual_seed(0)
    net = build_model(config.section("model", width=0.0625, blocks=2, heads="shared"), 3, 4, (8, 8))
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.3, 2.0)
            m.weight.data.uniform_(0.5, 2.0)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def test_the_graph_read_back_computes_the_same_logits(model, tmp_path):
    frames = (torch.rand(4, 6, 2, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    path = tmp_path / "model.nir"
    nir_export.write(nir_export.to_nir(model), path)
    graph = nir.read(str(path))
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"Conv2d", "LIF", "SumPool2d", "Flatten", "Affine"}
    assert graph.metadata["time_steps"] == 4
    with torch.no_grad():
        expected = model(frames, head="event").logits
    got = nir_export.run(nir_export.from_nir(graph), frames)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(got.mean(0).argmax(-1), expected.mean(0).argmax(-1))


def test_unsupported_trunks_are_named():
    resnet = build_model(config.section("model", arch="resnet18_snn", width=0.0625, blocks=1), 3, 2, (8, 8))
    with pytest.raises(NotImplementedError, match="VGG-SNN trunk only, not ResNet18SNN"):
        nir_export.to_nir(resnet)
