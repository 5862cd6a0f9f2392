"""A trained network's event path (trunk and event head) as a NIR graph, for the simulators and neuromorphic
toolchains that read the Neuromorphic Intermediate Representation, and that graph loaded back with norse.

The mapping, exact in value:

- Convolution + BatchNorm (eval) → one ``nir.Conv2d`` with the BatchNorm folded in:
  ``w' = w · γ / sqrt(σ² + ε)``, ``b' = β − μ · γ / sqrt(σ² + ε)``.
- The hard-reset LIF (``v ← v + (I − v) / τ``, ``τ = model.tau`` steps, threshold ``model.v_th``, reset to 0)
  → ``nir.LIF`` with ``tau = τ · dt``, ``r = 1``, ``v_leak = 0``, ``v_reset = 0``, read at the time step
  ``dt`` = :data:`tmkt.method.neurons.DT` (the graph's metadata states it). NIR's LIF is continuous; one Euler
  step of ``dt`` is exactly the compendium's update.
- 2×2 average pooling → ``nir.SumPool2d``, with its 1/4 moved into the weights of the next layer (norse reads no
  average pooling; 1/4 is exact in floating point).
- Flatten and the event head → ``nir.Flatten`` and ``nir.Affine``. The graph's output is the per-step logits;
  the prediction is the arg-max of their mean over the ``T`` steps, as in training.

Only the VGG-SNN trunk (the default and the paper's N-Caltech101 network) is exported; the residual ResNet-18 and
the SCNN raise ``NotImplementedError``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nir
import numpy as np
import torch
from torch import Tensor, nn

from tmkt.method.models import VGGSNN, TwoStreamSNN
from tmkt.method.neurons import DT, MultiStepLIF


def _layer_shapes(model: TwoStreamSNN) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """(input, output) shape of every trunk layer for one frame (without time and batch)."""
    shapes: dict = {}
    hooks = [
        layer.register_forward_hook(lambda m, i, o, name=name: shapes.update({name: (tuple(i[0].shape[2:]), tuple(o.shape[2:]))}))
        for name, layer in model.trunk.layers.named_children()
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(model.time_steps, 1, *model.input_shape), head="event")
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def to_nir(model: TwoStreamSNN) -> nir.NIRGraph:
    """The event path of ``model`` (eval-mode BatchNorm) as a NIR graph (module docstring)."""
    if not isinstance(model.trunk, VGGSNN):
        raise NotImplementedError(f"NIR export covers the VGG-SNN trunk only, not {type(model.trunk).__name__}")
    shapes = _layer_shapes(model)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array(model.input_shape)})}
    edges, previous, scale = [], "input", 1.0
    for name, layer in model.trunk.layers.named_children():
        inner = layer.module if hasattr(layer, "module") else layer
        if isinstance(inner, nn.Sequential):  # TimeFolded(conv, BN)
            conv, bn = inner
            gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weight = conv.weight * gain[:, None, None, None] * scale
            nodes[name] = nir.Conv2d(input_shape=shapes[name][0][1:], weight=weight.detach().numpy(), stride=conv.stride,
                                     padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                                     bias=(bn.bias - bn.running_mean * gain).detach().numpy())
            scale = 1.0
        elif isinstance(inner, MultiStepLIF):
            shape = shapes[name][1]
            nodes[name] = nir.LIF(tau=np.full(shape, inner.tau * DT), r=np.ones(shape), v_leak=np.zeros(shape),
                                  v_threshold=np.full(shape, inner.v_th), v_reset=np.zeros(shape))
        elif isinstance(inner, nn.AvgPool2d):
            k = inner.kernel_size
            nodes[name] = nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]), padding=np.array([0, 0]))
            scale = 1.0 / (k * k)
        else:
            raise NotImplementedError(f"trunk layer {name} ({type(inner).__name__}) has no NIR mapping")
        edges.append((previous, name))
        previous = name
    head = model.head_event
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array(shapes[previous][1])}, start_dim=0, end_dim=-1)
    nodes["head"] = nir.Affine(weight=(head.weight * scale).detach().numpy(), bias=head.bias.detach().numpy())
    nodes["output"] = nir.Output(output_type={"output": np.array([head.out_features])})
    edges += [(previous, "flatten"), ("flatten", "head"), ("head", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT, "time_steps": model.time_steps,
                                                             "prediction": "argmax of the mean over steps of the output"})


def from_nir(graph: nir.NIRGraph) -> nn.Module:
    """The graph as a norse module of one time step: ``module(x_t, state) -> (logits_t, state)``."""
    import nirtorch
    from norse.torch.utils.import_nir import _import_norse_module

    def node_module(node: nir.NIRNode) -> nn.Module:
        if isinstance(node, nir.Flatten):  # NIR's dimensions exclude the batch, torch's include it
            return nn.Flatten(node.start_dim + 1, node.end_dim)
        return _import_norse_module(node, dt=float(graph.metadata.get("dt", DT)))

    # nirtorch.load is what norse 1.1's own importer uses. It warns that nir_to_torch replaces it, but the
    # replacement, tried on this graph, gave logits up to 0.17 away from the trained network; load gives them exactly.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="nirtorch.load is being deprecated", category=DeprecationWarning)
        return nirtorch.load(graph, node_module)


@torch.no_grad()
def run(module: nn.Module, frames: Tensor) -> Tensor:
    """Per-step logits ``(T, B, K)`` of a loaded graph on frames ``(T, B, C, H, W)``, state carried over the steps."""
    state, logits = None, []
    for frame in frames.unbind(0):
        out, state = module(frame, state)
        logits.append(out)
    return torch.stack(logits)


def read(path: str | Path) -> nir.NIRGraph:
    """A graph written by :func:`write`."""
    return nir.read(str(path))


def write(graph: nir.NIRGraph, path: str | Path) -> None:
    """Write the graph to ``path`` (HDF5), atomically."""
    from tmkt import atomic

    with atomic.atomic_path(Path(path)) as tmp:
        nir.write(str(tmp), graph)


def round_trip(model: TwoStreamSNN, graph: nir.NIRGraph, batches) -> dict[str, float]:
    """The network and its graph read back with norse on the same batches ``(T, B, C, H, W)``: recordings, the
    fraction with the same prediction, and the largest difference of a per-step logit."""
    module, same, total, largest = from_nir(graph), 0, 0, 0.0
    for frames in batches:
        with torch.no_grad():
            expected = model(frames, head="event").logits
        got = run(module, frames)
        same += int((got.mean(0).argmax(-1) == expected.mean(0).argmax(-1)).sum())
        total += frames.shape[1]
        largest = max(largest, float((got - expected).abs().max()))
    return dict(recordings=total, same_prediction=same / max(1, total), max_logit_difference=largest)
