"""Dataclass configs for every LCM and the named presets.

One `LCMConfig` describes a whole model (architecture, diffusion training, sampling and
generation defaults) and is what `config.json` of a checkpoint holds, so a checkpoint can
be rebuilt without the code that trained it knowing anything else.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin, get_type_hints

# The string options: a config field typed with one of these accepts only its values.
ModelType = Literal["base_lcm", "two_tower", "one_tower", "quant_lcm_d", "quant_lcm_c"]
# (median, IQR / 1.349) | (mean, std) | robust, then the top principal directions whitened
NormalizerKind = Literal["robust", "standard", "whitened"]
Schedule = Literal["cosine", "quadratic", "sigmoid", "linear"]
Prediction = Literal["sample", "epsilon", "v_prediction"]  # sample: the clean x0
TimestepSampling = Literal["uniform", "beta"]
LossWeighting = Literal["none", "min_snr"]
Spacing = Literal["trailing", "leading", "linspace"]
GuidanceSpace = Literal["noise", "x0"]


@functools.cache
def _choices(cls: type) -> dict[str, tuple[str, ...]]:
    """The allowed values of every Literal-typed field of a config dataclass."""
    hints = get_type_hints(cls)
    return {
        f.name: get_args(hints[f.name])
        for f in dataclasses.fields(cls)
        if get_origin(hints[f.name]) is Literal
    }


def _check_choices(config: Any) -> None:
    """Reject a string option outside its Literal. Dataclasses check no types, and a typo
    in a config.json or a recipe would otherwise surface late (an error deep in training
    or sampling) or never (a branch that treats every unknown value alike)."""
    for name, allowed in _choices(type(config)).items():
        value = getattr(config, name)
        if value not in allowed:
            choices = ", ".join(map(repr, allowed))
            raise ValueError(f"{name} must be one of {choices}; got {value!r}")


@dataclass
class DiffusionConfig:
    """How diffusion LCMs are noised and trained (ignored by Base-LCM)."""

    num_train_steps: int = 100
    schedule: Schedule = "cosine"
    beta_start: float = 0.0001  # quadratic / linear only
    beta_end: float = 0.02
    sigmoid_alpha: float = 1.5  # sigmoid: alpha_bar(t) = sigmoid(beta - alpha * logit(t))
    sigmoid_beta: float = -1.0
    zero_terminal_snr: bool = True
    prediction: Prediction = "sample"
    timestep_sampling: TimestepSampling = "uniform"
    timestep_beta_a: float = 2.0  # beta sampling: Beta(a, b) mapped onto [0, T)
    timestep_beta_b: float = 1.0
    loss_weighting: LossWeighting = "none"
    min_snr_gamma: float = 5.0
    cfg_dropout: float = 0.15  # probability that a position sees no context (for CFG)

    def __post_init__(self) -> None:
        _check_choices(self)


@dataclass
class SamplerConfig:
    """DDIM sampling defaults; every field can be overridden per call of sample_next.

    The defaults are the reference's evaluation settings (40 trailing steps, initial noise
    0.6, guidance 3 with rescale 0.7 applied to the noise estimate); the remaining options
    are the reference's sampler options, all off.
    """

    steps: int = 40
    spacing: Spacing = "trailing"
    eta: float = 0.0
    init_noise_scale: float = 0.6
    guidance_scale: float = 3.0
    guidance_rescale: float = 0.7
    # noise: guide (and rescale) the noise estimates, except at t = T - 1 (the reference);
    # x0: guide (and rescale) the clean-sample estimates at every step.
    guidance_space: GuidanceSpace = "noise"
    epsilon_scaling: float | None = None  # divide the predicted noise by this, e.g. 1.005
    clip_sample: float | None = None  # clamp the predicted clean sample (normalised space)
    thresholding: bool = False  # dynamic thresholding of the predicted clean sample
    dynamic_thresholding_ratio: float = 0.995  # its per-row quantile of |x0|
    sample_max_value: float = 6.0  # its largest divisor
    clip_latent: float | None = None  # clamp the latent to [-c, c] before every model call
    clip_noise: float | None = None  # clamp every Gaussian draw to [-clip_noise, clip_noise]
    # Quantized LCMs only: how each codebook's unit is drawn (temperature 0: the most
    # likely unit; top_k / top_p keep the k most likely / the smallest set holding p).
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None

    def __post_init__(self) -> None:
        _check_choices(self)
        if self.epsilon_scaling is not None and self.epsilon_scaling <= 0:
            raise ValueError(f"epsilon_scaling must be positive, got {self.epsilon_scaling}")
        if self.thresholding and self.clip_sample is not None:
            raise ValueError("choose one of thresholding and clip_sample, not both")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(
                f"temperature must be >= 0 and 0 < top_p <= 1, got {self.temperature}, {self.top_p}"
            )
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if not 0 < self.dynamic_thresholding_ratio <= 1 or self.sample_max_value < 1:
            raise ValueError(
                "dynamic thresholding needs 0 < dynamic_thresholding_ratio <= 1 and "
                f"sample_max_value >= 1, got {self.dynamic_thresholding_ratio}, "
                f"{self.sample_max_value}"
            )


@dataclass
class GenerationConfig:
    """When `generate` stops continuing a document."""

    eot_threshold: float = 0.9  # cosine to the end-of-text concept
    repeat_threshold: float = 0.99  # cosine to an earlier concept; above 1 disables
    # A concept that repeats an earlier one is drawn again with new noise this many times
    # before the sequence stops: successive diffusion samples tend to converge, and one
    # unlucky draw should not end a document.
    resample_tries: int = 8


@dataclass
class QuantConfig:
    """The residual vector quantiser of a quantized LCM (ignored by the others): the
    codebooks themselves come from `lcm-writer fit-rvq` and live in the checkpoint."""

    num_codebooks: int = 16
    codebook_size: int = 256


@dataclass
class LCMConfig:
    model_type: ModelType = "two_tower"
    dim: int = 1024  # codec (concept) dimension
    d_model: int = 2048
    n_heads: int = 16
    n_layers: int = 5  # Base-LCM / One-Tower body, or the Two-Tower contextualizer
    n_denoiser_layers: int = 13  # Two-Tower denoiser, or the quantized LCMs' unit predictor
    ffn_multiple_of: int = 256  # SwiGLU width = 2/3 * 4 * d_model rounded up to this
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    dropout: float = 0.0  # on attention and feed-forward outputs, before the residual sum
    attention_dropout: float = 0.0  # on attention weights
    bias: bool = False  # additive biases in the attention and feed-forward projections
    normalizer: NormalizerKind = "robust"
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)

    def __post_init__(self) -> None:
        _check_choices(self)
        if self.normalizer == "whitened" and self.model_type in ("quant_lcm_d", "quant_lcm_c"):
            raise ValueError(
                f"a {self.model_type} model needs a per-dimension normaliser (robust or "
                "standard): its codebooks' residuals are scaled dimension by dimension"
            )
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(
                f"d_model ({self.d_model}) must split into n_heads ({self.n_heads}) heads "
                "of even size (rotary embeddings rotate pairs of dimensions)"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LCMConfig:
        """Inverse of to_dict; unknown keys and bad values raise a ValueError naming the
        field and its section, e.g. "diffusion: schedule must be one of ..."."""
        nested = {
            "diffusion": DiffusionConfig,
            "sampler": SamplerConfig,
            "generation": GenerationConfig,
            "quant": QuantConfig,
        }
        kwargs = dict(data)
        for name, sub in nested.items():
            if name in kwargs:
                try:
                    kwargs[name] = _build(sub, kwargs[name])
                except ValueError as error:
                    raise ValueError(f"{name}: {error}") from None
        return _build(cls, kwargs)


def _build(cls, data: dict[str, Any]):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; known: {sorted(known)}")
    return cls(**data)


def _toy(dim: int = 16) -> LCMConfig:
    return LCMConfig(
        model_type="two_tower", dim=dim, d_model=32, n_heads=4, n_layers=2, n_denoiser_layers=2,
        ffn_multiple_of=8,
    )  # fmt: skip


def _demo(dim: int = 512) -> LCMConfig:
    # Sized so that sample_next (4 samples, 40 guided DDIM steps) stays well under 1 s on a
    # 2-core CPU and a model trains in minutes there.
    return LCMConfig(
        model_type="two_tower", dim=dim, d_model=384, n_heads=6, n_layers=3, n_denoiser_layers=3,
        ffn_multiple_of=64,
    )  # fmt: skip


# The paper-scale presets follow the reference's architectures
# (facebookresearch/large_concept_model, lcm/models/two_tower_diffusion_lcm/archs.py lines
# 27-112 and lcm/models/base_lcm/archs.py lines 23-49): dropout_p=0.1 on sub-layer outputs,
# attention_dropout_p=0.0, and biases: mha_output_proj_bias=True (e.g. archs.py line 44),
# query/key/value projections with bias (lcm/nn/transformer/attention.py line 96, default
# True) and SwiGLU with bias=True (lcm/nn/transformer/factory.py line 280). The toy and
# demo presets keep neither: they train for minutes, where dropout only slows learning.
PAPER_LAYERS = {"dropout": 0.1, "attention_dropout": 0.0, "bias": True}


def _two_tower_1_6b(dim: int = 1024) -> LCMConfig:
    return LCMConfig(
        model_type="two_tower", dim=dim, d_model=2048, n_heads=16, n_layers=5, n_denoiser_layers=13,
        **PAPER_LAYERS,
    )  # fmt: skip


def _two_tower_7b(dim: int = 1024) -> LCMConfig:
    return LCMConfig(
        model_type="two_tower", dim=dim, d_model=4096, n_heads=32, n_layers=5, n_denoiser_layers=14,
        **PAPER_LAYERS,
    )  # fmt: skip


def _base_1_6b(dim: int = 1024) -> LCMConfig:
    return LCMConfig(
        model_type="base_lcm", dim=dim, d_model=2048, n_heads=16, n_layers=32, n_denoiser_layers=0,
        **PAPER_LAYERS,
    )  # fmt: skip


PRESETS = {
    "toy": _toy,
    "demo": _demo,
    "two_tower_1.6b": _two_tower_1_6b,
    "two_tower_7b": _two_tower_7b,
    "base_1.6b": _base_1_6b,
}


def preset(name: str, **overrides: Any) -> LCMConfig:
    """A named architecture; `overrides` replace top-level fields (e.g. dim=512,
    model_type="base_lcm")."""
    if name not in PRESETS:
        raise ValueError(f"unknown LCM preset {name!r}; choose one of {sorted(PRESETS)}")
    config = PRESETS[name]()
    return dataclasses.replace(config, **overrides) if overrides else config
