"""Typed, validated configuration read from ``params.yaml``.

``params.yaml`` is the single source of every value and its documentation (the comments); the classes here
hold only what a value may be: its type, its range and, for a named option, the option set. Each option set
is defined once, below, and imported by the code that branches on it. An unknown key, a missing key, a
wrong type, an out-of-range value or an unknown option raises :class:`ParamsError`, whose message names the
key path (``simulator.threshold_on``), the bad value and what is allowed. Types are strict: YAML ``false``
is a boolean, the *string* ``"false"`` is an error (papermill's ``-p flag false`` trap cannot reach a config).

A stage reads only what its ``params:`` list in ``dvc.yaml`` declares (:func:`stage_sections`), so DVC re-runs
it exactly when one of its parameters changes; ``load(stage=...)`` enforces it (reading an undeclared section is
an error that says to add it to the stage's ``params:``). Overrides (an ablation cell, a notebook
parameter) are dotted keys validated the same way: ``{"train.method": "tmkt", "scarcity.event_fraction": 0.03}``.
Options marked *[recon]* in ``params.yaml`` reconstruct what the papers leave unsaid (docs/method.md).
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tmkt import layout

# ------------------------------------------------------------------------------------- option sets
Method = Literal["event_only", "finetune", "sim2real", "joint", "he2024", "tmkt"]  #: tmkt.training.methods
#: What the second stream of joint, he2024 and tmkt is made of: the images as static frames, or the simulator's
#: recordings of them (tmkt.data.processed.ProcessedData.appearance)
Appearance = Literal["images", "simulated"]
SaccadePath = Literal["xy", "yx"]  #: the simulator's triangle, or x and y exchanged (tmkt.data.datasets.simulator)
SpeedProfile = Literal["constant", "minimum_jerk"]  #: speed along each saccade (tmkt.data.datasets.simulator)
SignalPolarity = Literal["brightening", "darkening"]  #: what fires a simulated ON event
Schedule = Literal["power", "linear", "cosine", "constant"]  #: r_m over training, tmkt.method.mixup
Heads = Literal["separate", "shared"]  #: classifier heads of the two-stream model, tmkt.method.models
Arch = Literal["vgg_snn", "resnet18_snn", "scnn"]  #: trunks, tmkt.method.models
StreamBatching = Literal["separate", "concat"]  #: two passes or one for the two streams, tmkt.method.models
#: surrogate gradients: norse's five, and He et al.'s two (qgate: QGateGrad, alpha - alpha^2 |x| on |x| <= 1/alpha;
#: rectangle: BackEIGateGrad, 1 on |x| < alpha / 2), which only the fused LIF implements (tmkt.method.neurons)
Surrogate = Literal["triangle", "super", "tanh", "circ", "heavi_erfc", "qgate", "rectangle"]
NORSE_SURROGATES = ("triangle", "super", "tanh", "circ", "heavi_erfc")
LrSchedule = Literal["cosine", "step"]  #: tmkt.training.loop.lr_factor
LrUpdate = Literal["step", "epoch"]  #: how often the learning rate changes (He et al.'s timm schedulers: epoch)
Sampler = Literal["uniform", "class_balanced"]  #: how event batches are drawn, tmkt.training.loop
ClassificationLoss = Literal["tet", "mean_ce"]  #: per-step TET, or CE of the time-averaged logits, tmkt.method.losses
ResetGrad = Literal["detach", "pass"]  #: gradient through the hard reset, tmkt.method.neurons
LifBackend = Literal["fused", "norse"]  #: the LIF loop: one autograd node, or norse's cell per step
StepWeights = Literal["learnable", "fixed"]  #: CKA step weights w_t, tmkt.method.losses
MrpLoss = Literal["mse", "l1"]  #: tmkt.method.losses.mrp_loss
FrameNorm = Literal["raw", "clip", "scale", "frame_max"]  #: tmkt.data.frames.normalize
Resize = Literal["area", "bilinear"]  #: how event frames and images are resized, tmkt.data.frames.resize
#: auto | cpu | cuda | cuda:<index> (tmkt.training.device.resolve_device)
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$")]
#: tmkt.training.device.autocast; auto: bf16 on CUDA, fp32 elsewhere (tmkt.training.device.fast_path)
Precision = Literal["fp32", "bf16", "auto"]
Dvs128Orientation = Literal["jaer", "transposed"]  #: DVS128 address decoding, tmkt.data.datasets.cifar10dvs
OmniglotStrokes = Literal["bright", "dark"]  #: Omniglot's contrast as read, tmkt.data.datasets.nomniglot
#: ``data.dataset`` -> its reader, ``module:class`` under :mod:`tmkt.data.datasets` (imported only when
#: that dataset is converted). ``mnist_sim`` simulates its recordings (``simulator:``); the others read
#: user-supplied files under ``data.raw_dir`` (data/raw/README.md).
DATASETS: dict[str, str] = {
    "mnist_sim": "embedded:SimulatedMNIST",
    "nmnist": "nmnist:NMNIST",
    "ncaltech101": "ncaltech101:NCaltech101",
    "cifar10dvs": "cifar10dvs:CIFAR10DVS",
    "cepdvs": "cepdvs:CEPDVS",
    "nomniglot": "nomniglot:NOmniglot",
}
Dataset = Literal[tuple(DATASETS)]  # type: ignore[valid-type]

T = TypeVar("T")
#: A knob that may take one value for every method or a mapping ``method -> value`` (all four methods listed);
#: :func:`parse` replaces a mapping by the value of ``train.method``, so the code only ever sees one value.
PerMethod = Union[T, dict[Method, T]]
#: The knobs that may be given per method, as (section, key).
PER_METHOD: tuple[tuple[str, str], ...] = (("train", "lr"), ("model", "heads"))

Unit = Annotated[float, Field(gt=0, lt=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class ParamsError(ValueError):
    """A bad ``params.yaml`` entry or override; the message names the key path and what is allowed."""


class Section(BaseModel):
    """Base of every section: frozen, strict types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------------------------- sections
class BaseConfig(Section):
    seeds: list[int] = Field(min_length=2)
    device: Device
    num_threads: int = Field(ge=1, le=256)
    parallel_runs: int = Field(ge=1, le=64)
    confidence: Unit

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"base.seeds must be distinct, got {seeds}")
        return seeds


class SplitFractions(Section):
    train: Unit
    val: Unit
    test: Unit

    @model_validator(mode="after")
    def _sum_to_one(self) -> "SplitFractions":
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class ReaderOptions(Section):
    ncaltech101_background: bool
    dvs128_orientation: Dvs128Orientation
    omniglot_strokes: OmniglotStrokes


class DataConfig(Section):
    dataset: Dataset
    raw_dir: str
    readers: ReaderOptions
    time_bins: int = Field(ge=1, le=64)
    height: int = Field(ge=4, le=512)
    width: int = Field(ge=4, le=512)
    frame_norm: FrameNorm
    resize: Resize
    clip_max: int = Field(ge=1, le=255)
    split: SplitFractions
    split_seed: int = Field(ge=0)
    max_per_class: int | None = Field(ge=1)
    simulated_images: bool


class SimulatorConfig(Section):
    canvas: int = Field(ge=8, le=256)
    saccade_ms: Positive
    step_ms: Positive
    amplitude_px: NonNegative
    intensity_floor: Unit
    log_noise_std: NonNegative
    threshold_on: Positive
    threshold_off: Positive
    threshold_mismatch: NonNegative
    threshold_min: Positive
    refractory_us: NonNegative
    background_rate_hz: NonNegative
    hot_pixels: int = Field(ge=0)
    hot_pixel_rate_hz: NonNegative
    signal_keep: float = Field(gt=0, le=1)
    path: SaccadePath
    speed_profile: SpeedProfile
    moving_fraction: float = Field(gt=0, le=1)
    polarity: SignalPolarity
    seed: int = Field(ge=0)


class ScarcityConfig(Section):
    event_fraction: float | None = Field(gt=0, le=1)
    event_per_class: int | None = Field(ge=1)

    @model_validator(mode="after")
    def _one_of(self) -> "ScarcityConfig":
        if (self.event_fraction is None) == (self.event_per_class is None):
            raise ValueError("set exactly one of event_fraction and event_per_class (the other to null)")
        return self


class ModelConfig(Section):
    arch: Arch
    width: float = Field(gt=0, le=4)
    blocks: int = Field(ge=1, le=4)
    tau: float = Field(gt=1)
    v_th: Positive
    surrogate: Surrogate
    surrogate_alpha: Positive
    reset_grad: ResetGrad
    lif: LifBackend
    heads: PerMethod[Heads]

    @model_validator(mode="after")
    def _surrogate_of_the_backend(self) -> "ModelConfig":
        if self.lif == "norse" and self.surrogate not in NORSE_SURROGATES:
            raise ValueError(f"surrogate {self.surrogate!r} (He et al.'s) exists in the fused LIF only: set "
                             f"model.lif: fused, or a surrogate of norse's {NORSE_SURROGATES}")
        return self


class TrainConfig(Section):
    method: Method
    epochs: int = Field(ge=1)
    steps_per_epoch: int | None = Field(ge=1)
    batch_size: int = Field(ge=2)
    lr: PerMethod[Annotated[float, Field(gt=0, le=1)]]
    weight_decay: NonNegative
    weight_decay_1d: bool
    warmup_epochs: int = Field(ge=0)
    warmup_lr_init: Annotated[float, Field(ge=0, le=1)] | None  #: null: f(u) = (u + 1) / W (tmkt.training.optim)
    cosine_counts_warmup: bool  #: the cosine's progress counts the warm-up units too (timm's default)
    lr_schedule: LrSchedule
    lr_update: LrUpdate
    lr_min: float = Field(ge=0, le=1)
    lr_step_epochs: int = Field(ge=1)
    lr_step_factor: float = Field(gt=0, le=1)
    sampler: Sampler
    classification_loss: ClassificationLoss
    step_weights_on_mse: bool
    finetune_image_fraction: float = Field(gt=0, le=1)  # 1: images (or their recordings) alone
    stream_batching: StreamBatching
    appearance: Appearance
    tet_mse_weight: float = Field(ge=0, le=1)  #: TET's lambda: the weight of its MSE term (tmkt.method.losses)
    crop_padding: int = Field(ge=0, le=64)
    flip: bool
    rotation_deg: float = Field(ge=0, le=180)
    eval_batch_size: int = Field(ge=1)
    channels_last: bool
    precision: Precision
    compile: bool | Literal["auto"]  #: auto: on CUDA only (tmkt.training.device.fast_path)
    report_test_selected: bool  #: also read the test split every epoch, for He et al.'s test-selected number


class MixupConfig(Section):
    schedule: Schedule
    power_k: Positive
    constant_ratio: float = Field(ge=0, le=1)


class LossConfig(Section):
    domain_alignment: bool
    da_step_weights: StepWeights
    da_eta_init: float
    lambda_da: NonNegative
    mag: bool
    lambda_mag: NonNegative
    mrp: bool
    lambda_mrp: NonNegative
    mrp_loss: MrpLoss


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"values must be distinct, got {values}")
    return values


class ScheduleAxis(Section):
    """The mixing methods crossed with schedules of ``r_m`` (``tmkt.grid``)."""

    methods: list[Method]
    schedules: list[Schedule]

    _distinct_methods = field_validator("methods")(_distinct)
    _distinct_schedules = field_validator("schedules")(_distinct)


class EventRatioAxis(Section):
    methods: list[Method]
    fractions: list[Annotated[float, Field(gt=0, le=1)]]

    _distinct_methods = field_validator("methods")(_distinct)
    _distinct_fractions = field_validator("fractions")(_distinct)


CellName = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]


class AblateConfig(Section):
    """The comparison grid around the train stage's configuration (``tmkt.grid``)."""

    seeds_per_cell: int = Field(ge=2)
    method: list[Method]
    control: list[Method]
    schedule: ScheduleAxis
    variant: dict[CellName, dict[str, dict[str, Any]]]
    event_ratio: EventRatioAxis

    _distinct_methods = field_validator("method", "control")(_distinct)

    @model_validator(mode="after")
    def _one_cell_per_method(self) -> "AblateConfig":
        both = set(self.method) & set(self.control)
        if both:
            raise ValueError(f"{sorted(both)} are in both ablate.method and ablate.control: list each method once")
        return self


class EnergyConfig(Section):
    e_ac_pj: Positive
    e_mac_pj: Positive


class FiguresConfig(Section):
    ratios: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1)
    monte_carlo_samples: int = Field(ge=100)
    gradient_draws: int = Field(ge=2)
    gradient_batch: int = Field(ge=1)
    convergence_tolerance: float = Field(ge=0, le=1)


class Params(Section):
    base: BaseConfig
    data: DataConfig
    simulator: SimulatorConfig
    scarcity: ScarcityConfig
    model: ModelConfig
    train: TrainConfig
    mixup: MixupConfig
    loss: LossConfig
    ablate: AblateConfig
    energy: EnergyConfig
    figures: FiguresConfig

    @model_validator(mode="after")
    def _enough_seeds(self) -> "Params":
        if self.ablate.seeds_per_cell > len(self.base.seeds):
            raise ValueError(
                f"ablate.seeds_per_cell = {self.ablate.seeds_per_cell} exceeds the {len(self.base.seeds)} seeds of base.seeds"
            )
        return self


_TEMPLATE = re.compile(r"\$\{\s*([^}]+?)\s*\}")


def stage_sections(path: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """What each stage of ``dvc.yaml`` (default: the repository's, ``tmkt.layout.DVC_YAML``) reads of
    ``params.yaml``: ``{stage: (section or section.key, ...)}``, the stage's ``params:`` list as DVC reads it.

    ``dvc.yaml`` is the one declaration: DVC re-runs a stage exactly when one of these parameters changes, and
    :class:`StageParams` refuses every other read. YAML anchors and aliases are resolved; ``${name}`` is replaced
    by the stage's ``vars``, the file's ``vars`` or a value of the ``params.yaml`` beside it, as DVC does. The
    template of a ``matrix``/``foreach`` item (``ablate.variant.${item.cell}``) stays: :func:`declared` fills it
    in for one generated stage (``ablate-variant@tmkt_shared``). A ``{file: keys}`` entry counts only for
    ``params.yaml``; an unresolvable ``${name}``, a missing file or a file without stages is a :class:`ParamsError`
    naming ``dvc.yaml``.
    """
    path, stages, known = _pipeline(path)
    return {name: tuple(_fill(key, known[name], path, name, items=True) for key in _param_keys(stage.get("params")))
            for name, stage in stages.items()}


def declared(stage: str, path: str | Path | None = None) -> tuple[str, ...]:
    """The parameters ``stage`` declares in ``dvc.yaml`` (:func:`stage_sections`); a stage that ``matrix`` or
    ``foreach`` generates is named as DVC names it, ``<stage>@<item>``, and its item templates are filled in
    (with one matrix key or a ``foreach``: ``${item.<key>}``, ``${item}`` and ``${key}`` are the item)."""
    path = layout.DVC_YAML if path is None else layout.resolve(path)
    family, _, item = stage.partition("@")
    sections = stage_sections(path)
    if family not in sections:
        raise ParamsError(f"{path} has no stage {family!r}; its stages: {', '.join(sections)}")
    keys = sections[family]
    if not keys:
        raise ParamsError(f"stage {family!r} of {path} has no params: list; list there what it reads of params.yaml")
    templated = [k for k in keys if _TEMPLATE.search(k)]
    if not templated:
        return keys
    definition = _pipeline(path)[1][family]
    matrix = definition.get("matrix") or {}
    names = {"item": item, "key": item} if "foreach" in definition else (
        {f"item.{next(iter(matrix))}": item} if len(matrix) == 1 else {})
    if not item or not names:
        raise ParamsError(f"stage {family!r} of {path} declares {templated[0]!r}, which depends on its matrix "
                          f"item: name one generated stage ({family}@<item>) of a single-key matrix or a foreach")
    return tuple(_fill(k, names, path, stage, items=False) for k in keys)


def _pipeline(path: str | Path | None) -> tuple[Path, dict[str, dict], dict[str, dict[str, Any]]]:
    """``dvc.yaml``'s path, its stages and, per stage, the values its ``${name}`` may name: the stage's ``vars``,
    the file's ``vars`` and the ``params.yaml`` beside it."""
    default = path is None
    path = layout.DVC_YAML if default else layout.resolve(path)
    try:
        pipeline = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"pipeline file {path} does not exist" + (_OUTSIDE_A_CLONE if default else "")) from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    stages = pipeline.get("stages") if isinstance(pipeline, dict) else None
    if not isinstance(stages, dict) or not stages:
        raise ParamsError(f"{path} declares no stages: (a mapping of stage name to definition)")
    params_file = path.parent / "params.yaml"
    values = (yaml.safe_load(params_file.read_text()) if params_file.is_file() else None) or {}
    known = {name: values | _vars(pipeline.get("vars")) | _vars(stage.get("vars")) for name, stage in stages.items()}
    return path, stages, known


def _vars(entries: Any) -> dict[str, Any]:
    """DVC ``vars:`` as one mapping (its entries that name files are not read)."""
    out: dict[str, Any] = {}
    for entry in entries or []:
        if isinstance(entry, dict):
            out |= entry
    return out


def _param_keys(entries: list | None) -> list[str]:
    """A stage's ``params:`` entries as keys of ``params.yaml``."""
    keys: list[str] = []
    for entry in entries or []:
        if isinstance(entry, dict):
            keys += [k for file, ks in entry.items() if Path(file).name == "params.yaml" for k in ks or []]
        else:
            keys.append(str(entry))
    return keys


def _fill(key: str, known: dict[str, Any], path: Path, stage: str, items: bool) -> str:
    """``key`` with each ``${name}`` replaced by its value in ``known`` (a dotted name walks nested mappings);
    with ``items``, a template of the matrix or foreach item (``${item...}``, ``${key}``) is kept."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        node: Any = known
        for part in [name] if name in known else name.split("."):
            if not isinstance(node, dict) or part not in node:
                if items and (name == "key" or name.split(".")[0] == "item"):
                    return match.group(0)
                raise ParamsError(f"stage {stage!r} of {path} declares {key!r}: {match.group(0)} is no var of the "
                                  "stage or the file, no key of params.yaml and no matrix item")
            node = node[part]
        return str(node)

    return _TEMPLATE.sub(value, key)


class UndeclaredRead(ParamsError, AttributeError):
    """A stage read a parameter that its ``params:`` in ``dvc.yaml`` does not list (:func:`declared`)."""


class StageParams:
    """The parameters as one stage may read them: what its ``params:`` in ``dvc.yaml`` declares, nothing else.

    A read of anything else raises :class:`UndeclaredRead`, because DVC would not re-run the stage when that
    value changes. The declaration is read once, at construction (a copy sent to a worker process keeps it).
    ``.all`` is the unrestricted :class:`Params` (to derive a cell's parameters).
    """

    def __init__(self, params: Params, stage: str, section: str | None = None, keys: tuple[str, ...] | None = None,
                 sections: tuple[str, ...] | None = None):
        sections = declared(stage) if sections is None else sections
        self.__dict__.update(all=params, stage=stage, declared=sections, _section=section, _keys=keys)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        node = self.__dict__["all"] if self._section is None else self._section_value()
        value = getattr(node, name)
        if self._section is not None:
            if name in self._keys:
                return value
            raise self._undeclared(f"{self._section}.{name}")
        if name in self.declared:
            return value
        keys = tuple(d.split(".", 1)[1] for d in self.declared if d.startswith(f"{name}."))
        if keys:
            return StageParams(self.all, self.stage, name, keys, self.declared)
        raise self._undeclared(name)

    def _section_value(self) -> Any:
        return getattr(self.__dict__["all"], self._section)

    def _undeclared(self, what: str) -> UndeclaredRead:
        family = self.stage.split("@")[0]
        return UndeclaredRead(
            f"stage {self.stage!r} reads {what}, which it does not declare, so DVC would not re-run it when the value "
            f"changes: add {what!r} to the params: of stage {family!r} in dvc.yaml"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("parameters are read-only")

    def __getstate__(self) -> dict:
        return dict(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"StageParams(stage={self.stage!r}, declared={self.declared})"


def _format_error(err: ValidationError, root: type[BaseModel] | None = None, prefix: str = "") -> str:
    lines = []
    for e in err.errors():
        # pydantic names the alternatives of a union in the location ("constrained-float", "dict[...]"): drop them
        loc = prefix + ".".join(str(part) for part in e["loc"] if not ("[" in str(part) or str(part).startswith("constrained")))
        if e["type"] == "extra_forbidden":
            parent = _section_model(e["loc"][:-1], root or Params)
            allowed = sorted(parent.model_fields) if parent else []
            hint = difflib.get_close_matches(str(e["loc"][-1]), allowed, n=1)
            lines.append(
                f"{loc}: unknown key"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; allowed keys: {', '.join(allowed)}"
            )
        elif e["type"] == "missing":
            lines.append(f"{loc}: missing; every key must be given (the repository's params.yaml lists them all)")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict) else f" = {value!r}"
            lines.append(f"{loc}{shown}: {e['msg']}")
    return "invalid parameters:\n  " + "\n  ".join(lines)


def _section_model(loc: tuple, model: type[BaseModel]) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def as_overrides(overrides: dict[str, Any] | str | None) -> dict[str, Any]:
    """Dotted-key overrides as a mapping; a string is read as a YAML flow mapping ("{train.method: he2024}")."""
    if overrides is None or overrides == "":
        return {}
    if isinstance(overrides, str):
        try:
            overrides = yaml.safe_load(overrides)
        except yaml.YAMLError as exc:
            raise ParamsError(f"overrides {overrides!r} are not a YAML mapping: {exc}") from exc
        if not isinstance(overrides, dict):
            raise ParamsError(f"overrides must be a mapping of dotted keys to values, got {overrides!r}")
    return dict(overrides)


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any] | str | None) -> dict[str, Any]:
    """A copy of ``raw`` with dotted-key overrides set (:func:`as_overrides`)."""
    overrides = as_overrides(overrides)
    if not overrides:
        return raw
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        node = out
        parts = str(key).split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ParamsError(f"override {key!r}: '{part}' is not a section")
        node[parts[-1]] = value
    return out


def _for_method(raw: dict[str, Any], params: Params) -> dict[str, Any]:
    """``raw`` with every per-method mapping of :data:`PER_METHOD` replaced by the value for ``train.method``."""
    out = copy.deepcopy(raw)
    method = params.train.method
    for section, key in PER_METHOD:
        value = getattr(getattr(params, section), key)
        if isinstance(value, dict):
            missing = [m for m in get_args(Method) if m not in value]
            if missing:
                raise ParamsError(f"{section}.{key} is given per method but has no value for {', '.join(missing)}")
            out[section][key] = value[method]
    return out


def parse(raw: dict[str, Any]) -> Params:
    """Validate a parameter mapping (the content of ``params.yaml``); per-method knobs take ``train.method``'s value."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params must be a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
        resolved = Params.model_validate(_for_method(raw, params))
    except ValidationError as err:
        raise ParamsError(_format_error(err)) from None
    _check_variants(resolved)
    _check_combinations(resolved)
    return resolved


def _check_combinations(params: Params) -> None:
    """Knobs that are valid alone but not together."""
    train, loss = params.train, params.loss
    learnable = loss.da_step_weights == "learnable" and (train.method == "he2024" or (train.method == "tmkt"
                                                                                      and loss.domain_alignment))
    if train.classification_loss == "mean_ce" and learnable:
        raise ParamsError(f"train.classification_loss: mean_ce with learnable step weights ({train.method}): the "
                          "weights scale per-step terms, which the CE of time-averaged logits has none of; set "
                          "loss.da_step_weights: fixed (He et al.'s runs without TET have no --regularization)")


def _check_variants(params: Params) -> None:
    """Every override of an ``ablate.variant`` cell names a key of a section (its value is validated when the
    cell's parameters are loaded, ``tmkt.grid.cell_params``)."""
    for name, nested in params.ablate.variant.items():
        for section, keys in nested.items():
            model = Params.model_fields.get(section)
            fields = getattr(model.annotation, "model_fields", {}) if model else {}
            unknown = [k for k in (keys or {}) if k not in fields]
            if not fields or unknown:
                what = f"section {section!r}" if not fields else f"{section}.{unknown[0]}"
                raise ParamsError(f"ablate.variant.{name}: {what} is not a parameter (write overrides as "
                                  f"{{section: {{key: value}}}}, e.g. {{model: {{heads: shared}}}})")


#: Why the repository's ``params.yaml`` can be missing: the process runs outside a clone (``tmkt.layout.find_root``).
_OUTSIDE_A_CLONE = (
    f": run from inside a clone of the repository (a folder holding {' and '.join(layout.ROOT_MARKERS)})"
)


def load(
    path: str | Path | None = None, overrides: dict[str, Any] | str | None = None, stage: str | None = None
) -> Params | StageParams:
    """Read, override and validate ``params.yaml`` (default: the repository's, ``tmkt.layout.PARAMS``; if it is
    missing, the error says to run from inside a clone of the repository).

    With ``stage``, the result lets that stage read only what it declares (:class:`StageParams`).
    """
    default = path is None
    path = layout.PARAMS if default else layout.resolve(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"parameter file {path} does not exist" + (_OUTSIDE_A_CLONE if default else "")) from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    try:
        params = parse(apply_overrides(raw, overrides))
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from None
    return params if stage is None else StageParams(params, stage)


@functools.cache
def defaults() -> Params:
    """The repository's ``params.yaml``: the defaults of every value."""
    return load()


def section(name: str, **changes: Any) -> Section:
    """Section ``name`` of :func:`defaults` with ``changes`` set, validated (tests, benchmarks, notebooks' what-ifs):
    ``section("model", width=0.125, blocks=2)``, ``section("data", split={"train": 0.6, "val": 0.2, "test": 0.2})``."""
    current = getattr(defaults(), name)
    try:
        return type(current).model_validate(current.model_dump() | changes)
    except ValidationError as err:
        raise ParamsError(_format_error(err, type(current), f"{name}.")) from None
