"""The spiking trunks TMKT trains (docs/method.md §5) and the two-stream wrapper around them.

Every tensor is time-first, ``(T, B, C, H, W)``. Convolutions, batch norm and pooling see time folded
into the batch, ``(T·B, C, H, W)`` (:class:`TimeFolded`; BN statistics are therefore taken over all
``T·B`` frames, as in TET/He2024's layer-by-layer mode), and only the LIF layers
(:class:`tmkt.method.neurons.MultiStepLIF`) loop over ``t``.

Trunks (``ModelConfig.arch``):

- ``vgg_snn`` [He2024]: conv3×3-BN-LIF blocks 64, 128, pool, 256, 256, pool, 512, 512, pool, 512, 512,
  pool, flatten; pooling is 2×2 *average* pooling (He2024/TET). ``width`` multiplies the channels,
  ``blocks`` keeps the first 1..4 pooling stages. At width 1, blocks 4, 2×48×48, 101 classes the trunk
  and one head hold 9,688,165 parameters; with He2024's second head (one per stream) 10,153,674 — the
  paper's "~10.2M" — and with the MAG/MRP heads (2 × 18,433) 10,190,540 (convolutions carry no bias:
  BN follows).
- ``resnet18_snn`` [He2024, CEP-DVS]: pre-activation ResNet-18, a stem conv3×3 and stages of two
  pre-activation blocks (BN-LIF-conv-BN-LIF-conv + shortcut) at 64, 128, 256, 512 channels, strides 1, 2,
  2, 2 (``blocks`` stages kept), a final BN and global average pooling to a non-spiking feature.
- ``scnn`` [recon after He2024's N-Omniglot SCNN]: conv5×5 (15) -LIF-pool-conv5×5 (40) -LIF-pool,
  flatten, linear (300) -LIF; no BN; ``blocks`` is not used.

:class:`TwoStreamSNN` shares one trunk between the appearance/mixed and the event streams. A classifier
head is a linear map applied at every step to the trunk's output (the spikes of the last spiking layer after
its final pooling; the ResNet's pooled non-spiking feature), giving logits ``O_t``; testing always uses the
event head. How many heads there are is ``ModelConfig.heads`` [recon: the TMKT papers do not say]:
``separate`` keeps one per stream (``head_event``, ``head_mixed``; He2024's code), ``shared`` gives the mixed
stream the event head, so the classifier that is tested also learns from the mixed sequences. The
penultimate feature ``F_t`` is He2024's (each trunk's ``features``): the (post-reset) membrane potential of
the last spiking layer, flattened, or the ResNet's pooled output. ``mag_head`` predicts the modality
``m_t`` from ``F_t`` (a logit per step), ``mrp_head`` the event ratio ``rho = sigmoid(w · mean_t F_t + b)``. Prediction: ``argmax_k mean_t O_t`` (:func:`predict`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from tmkt.config import Arch, Heads, ModelConfig, StreamBatching
from tmkt.method.neurons import MultiStepLIF

Head = Literal["event", "mixed"]

VGG_STAGES: tuple[tuple[int, int], ...] = ((64, 128), (256, 256), (512, 512), (512, 512))
RESNET_STAGES: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (256, 2), (512, 2))


@dataclass
class ModelOutput:
    """What :meth:`TwoStreamSNN.forward` returns (T steps, B samples, K classes, D feature size)."""

    logits: Tensor  #: (T, B, K) per-step class logits O_t of the chosen head
    features: Tensor  #: (T, B, D) membrane potential of the last spiking layer, flattened
    mag_logits: Tensor  #: (T, B) logit of "frame t is an event frame" (MAG)
    ratio_pred: Tensor  #: (B,) predicted event ratio rho in (0, 1) (MRP)
    spike_rates: dict[str, float]  #: mean spike rate of every LIF layer of the trunk


def predict(logits: Tensor) -> Tensor:
    """Class indices ``argmax_k mean_t O_t`` from per-step logits ``(T, B, K)``."""
    if logits.dim() != 3:
        raise ValueError(f"predict expects per-step logits (T, B, K), got shape {tuple(logits.shape)}")
    return logits.mean(0).argmax(-1)


class TimeFolded(nn.Module):
    """A per-frame module applied to ``(T, B, ...)`` by folding time into the batch: ``(T·B, ...)``."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.module = modules[0] if len(modules) == 1 else nn.Sequential(*modules)

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def _channels(base: int, width: float) -> int:
    return max(1, round(base * width))


def _lif(cfg: ModelConfig, record_membrane: bool = False) -> MultiStepLIF:
    return MultiStepLIF(cfg, record_membrane)


def _conv_bn(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> TimeFolded:
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)
    return TimeFolded(conv, nn.BatchNorm2d(c_out))


class VGGSNN(nn.Module):
    """VGG-SNN trunk [He2024]: ``(T, B, C, H, W)`` -> pooled spikes of the last LIF layer ``(T, B, D_out)``."""

    def __init__(self, cfg: ModelConfig, in_channels: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        height, width = input_size
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        c_in, index = in_channels, 0
        for stage, pair in enumerate(VGG_STAGES[: cfg.blocks], start=1):
            for base in pair:
                index += 1
                c_out = _channels(base, cfg.width)
                layers[f"conv{index}"] = _conv_bn(c_in, c_out)
                layers[f"lif{index}"] = _lif(cfg)
                c_in = c_out
            feature_hw = (height, width)
            height, width = height // 2, width // 2
            layers[f"pool{stage}"] = TimeFolded(nn.AvgPool2d(2))
        if height < 1 or width < 1:
            raise ValueError(f"input_size {input_size} is too small for {cfg.blocks} 2×2 pooling stages")
        self.layers = nn.Sequential(layers)
        self.last_lif: MultiStepLIF = layers[f"lif{index}"]
        self.last_lif.record_membrane = True
        self.feature_dim = c_in * feature_hw[0] * feature_hw[1]
        self.out_dim = c_in * height * width
        self.spiking_output = True  # pooled spikes: multiples of 1/4

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x).flatten(2)

    def features(self, out: Tensor) -> Tensor:
        """``F_t``: the post-reset membrane of the last LIF layer (before pooling), flattened, ``(T, B, D)``."""
        return self.last_lif.membrane.flatten(2)


class Subsample(nn.Module):
    """``x[..., ::s, ::s]``. Followed by a stride-1 1×1 convolution it is exactly a 1×1 convolution of stride ``s``
    (such a kernel reads only those pixels). The ResNet's projection shortcuts are written this way because torch
    2.13's CPU backward of a strided 1×1 convolution on channels-last inputs with few channels (below 32, as in
    the CPU-sized widths) corrupts memory and crashes the process."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return x[..., :: self.stride, :: self.stride]


class PreActBlock(nn.Module):
    """Pre-activation BasicBlock [He2024's CEP-DVS ResNet-18]: ``conv(LIF(BN(conv(LIF(BN x))))) + shortcut(x)``.

    The shortcut is the identity, or ``conv1×1(LIF(BN x))`` with the block's stride where the shape changes
    (:class:`Subsample` then a stride-1 conv1×1: the same function).
    Nothing follows the sum: the next block (or the trunk's final BN) normalises it.
    """

    def __init__(self, cfg: ModelConfig, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.lif1 = TimeFolded(nn.BatchNorm2d(c_in)), _lif(cfg)
        self.conv1 = TimeFolded(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False))
        self.bn2, self.lif2 = TimeFolded(nn.BatchNorm2d(c_out)), _lif(cfg)
        self.conv2 = TimeFolded(nn.Conv2d(c_out, c_out, 3, padding=1, bias=False))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                TimeFolded(nn.BatchNorm2d(c_in)), _lif(cfg),
                TimeFolded(Subsample(stride), nn.Conv2d(c_in, c_out, 1, bias=False)),  # = conv1×1 with stride
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.lif2(self.bn2(self.conv1(self.lif1(self.bn1(x)))))) + self.shortcut(x)


class ResNet18SNN(nn.Module):
    """Pre-activation spiking ResNet-18 trunk [He2024, CEP-DVS]: ``(T, B, C, H, W)`` -> ``(T, B, D_out)``.

    ``F_t = mean_{h,w} BN(stages(conv3×3(x_t)))``: a stem convolution (no BN, no LIF, no pooling), stages of two
    :class:`PreActBlock`, a final BatchNorm and global average pooling. The output is *not* spiking: it is both
    the classifier heads' input and the feature ``F_t`` of CKA, MAG and MRP (:meth:`features`). Convolutions are
    initialised Kaiming-normal (fan-out), BatchNorm to weight 1, bias 0.
    """

    def __init__(self, cfg: ModelConfig, in_channels: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        c_in = _channels(64, cfg.width)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=TimeFolded(nn.Conv2d(in_channels, c_in, 3, padding=1, bias=False))
        )
        for stage, (base, stride) in enumerate(RESNET_STAGES[: cfg.blocks], start=1):
            c_out = _channels(base, cfg.width)
            layers[f"stage{stage}"] = nn.Sequential(PreActBlock(cfg, c_in, c_out, stride), PreActBlock(cfg, c_out, c_out, 1))
            c_in = c_out
        layers["bn"] = TimeFolded(nn.BatchNorm2d(c_in))
        self.layers = nn.Sequential(layers)
        for module in self.layers.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        self.feature_dim = self.out_dim = c_in
        self.spiking_output = False

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x).mean(dim=(-2, -1))

    def features(self, out: Tensor) -> Tensor:
        """``F_t``: the pooled non-spiking output itself, ``(T, B, D)``."""
        return out


class SCNN(nn.Module):
    """Small convolutional SNN trunk [recon, N-Omniglot]: ``(T, B, C, H, W)`` -> LIF spikes ``(T, B, D_out)``."""

    def __init__(self, cfg: ModelConfig, in_channels: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        c1, c2, hidden = _channels(15, cfg.width), _channels(40, cfg.width), _channels(300, cfg.width)
        height, width = input_size
        for _ in range(2):  # conv5×5 without padding, then 2×2 pooling
            height, width = (height - 4) // 2, (width - 4) // 2
        if height < 1 or width < 1:
            raise ValueError(f"input_size {input_size} is too small for the SCNN (needs at least 16×16)")
        self.layers = nn.Sequential(
            OrderedDict(
                conv1=TimeFolded(nn.Conv2d(in_channels, c1, 5, bias=False)),
                lif1=_lif(cfg),
                pool1=TimeFolded(nn.AvgPool2d(2)),
                conv2=TimeFolded(nn.Conv2d(c1, c2, 5, bias=False)),
                lif2=_lif(cfg),
                pool2=TimeFolded(nn.AvgPool2d(2)),
            )
        )
        for module in self.layers.modules():
            if isinstance(module, nn.Conv2d):  # no BN here: He2024's SCNN uses Kaiming-normal convolutions
                nn.init.kaiming_normal_(module.weight)
        self.fc = nn.Linear(c2 * height * width, hidden)
        self.last_lif = _lif(cfg, record_membrane=True)
        self.feature_dim = self.out_dim = hidden
        self.spiking_output = True

    def forward(self, x: Tensor) -> Tensor:
        return self.last_lif(self.fc(self.layers(x).flatten(2)))

    def features(self, out: Tensor) -> Tensor:
        """``F_t``: the post-reset membrane of the last LIF layer, ``(T, B, D)``."""
        return self.last_lif.membrane


#: ``model.arch`` -> its trunk.
TRUNKS: dict[Arch, type[nn.Module]] = {"vgg_snn": VGGSNN, "resnet18_snn": ResNet18SNN, "scnn": SCNN}


class TwoStreamSNN(nn.Module):
    """One shared spiking trunk, a classifier head per stream and the MAG / MRP heads."""

    def __init__(
        self,
        trunk: nn.Module,
        num_classes: int,
        time_steps: int,
        input_shape: tuple[int, int, int],
        heads: Heads,
    ) -> None:
        super().__init__()
        if heads not in get_args(Heads):
            raise ValueError(f"heads must be one of {get_args(Heads)}, got {heads!r}")
        self.trunk = trunk
        self.time_steps, self.input_shape, self.heads = time_steps, tuple(input_shape), heads
        self.head_event = nn.Linear(trunk.out_dim, num_classes)
        if heads == "separate":
            self.head_mixed = nn.Linear(trunk.out_dim, num_classes)
        self.mag_head = nn.Linear(trunk.feature_dim, 1)
        self.mrp_head = nn.Linear(trunk.feature_dim, 1)
        self._lifs = [
            (name.removeprefix("layers."), m) for name, m in trunk.named_modules() if isinstance(m, MultiStepLIF)
        ]

    def forward(self, x: Tensor, head: Head = "event") -> ModelOutput:
        """``x``: ``(T, B, C, H, W)``; ``head``: ``"event"`` or ``"mixed"`` (the stream's classifier)."""
        self._check_input(x)
        if head not in ("event", "mixed"):
            raise ValueError(f"head must be 'event' or 'mixed', got {head!r}")
        return self._outputs(self.trunk(x), self.classifier(head), slice(None))

    def classifier(self, head: Head) -> nn.Linear:
        """The classifier of a stream: ``head_event``, or for ``"mixed"`` its own head unless heads are shared."""
        return self.head_mixed if head == "mixed" and self.heads == "separate" else self.head_event

    def forward_pair(
        self, mixed: Tensor, events: Tensor, batching: StreamBatching
    ) -> tuple[ModelOutput, ModelOutput]:
        """Outputs of the mixed stream (its classifier, :meth:`classifier`) and the event stream (event head).

        ``separate``: two passes, so BatchNorm normalises each stream with its own batch statistics (He2024).
        ``concat`` [recon]: one pass over the concatenated batch, sharing BatchNorm statistics between the
        streams; the spike rates are then those of the joint batch.
        """
        if batching == "separate":
            return self(mixed, head="mixed"), self(events, head="event")
        if batching != "concat":
            raise ValueError(f"batching must be one of {get_args(StreamBatching)}, got {batching!r}")
        both = torch.cat([mixed, events], dim=1)
        self._check_input(both)
        out, b = self.trunk(both), mixed.shape[1]
        return (
            self._outputs(out, self.classifier("mixed"), slice(0, b)),
            self._outputs(out, self.classifier("event"), slice(b, None)),
        )

    def _check_input(self, x: Tensor) -> None:
        expected = (self.time_steps, *self.input_shape)
        if x.dim() != 5 or (x.shape[0], *x.shape[2:]) != expected:
            raise ValueError(
                f"TwoStreamSNN expects x of shape (T, B, C, H, W) = ({expected[0]}, B, "
                f"{', '.join(map(str, expected[1:]))}), got {tuple(x.shape)}"
            )

    def _outputs(self, trunk_out: Tensor, classifier: nn.Linear, batch: slice) -> ModelOutput:
        """Heads on the samples ``batch`` of the trunk's last pass."""
        features = self.trunk.features(trunk_out)[:, batch]
        rates = torch.stack([lif.spike_rate for _, lif in self._lifs]).tolist()  # one device sync
        return ModelOutput(
            logits=classifier(trunk_out[:, batch]),
            features=features,
            mag_logits=self.mag_head(features).squeeze(-1),
            ratio_pred=torch.sigmoid(self.mrp_head(features.mean(0))).squeeze(-1),
            spike_rates={name: rate for (name, _), rate in zip(self._lifs, rates)},
        )


def build_model(
    cfg: ModelConfig,
    num_classes: int,
    time_steps: int,
    input_size: tuple[int, int],
    in_channels: int = 2,
) -> TwoStreamSNN:
    """The :class:`TwoStreamSNN` of ``cfg.arch`` for ``(T, B, in_channels, H, W)`` inputs, ``input_size = (H, W)``."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"input_size must be (H, W) with positive sizes, got {input_size!r}")
    trunk = TRUNKS[cfg.arch](cfg, in_channels, tuple(input_size))
    return TwoStreamSNN(trunk, num_classes, time_steps, (in_channels, *input_size), cfg.heads)
