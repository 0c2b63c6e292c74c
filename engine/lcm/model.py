"""What every LCM shares: the normaliser, the end-of-text concept, input checks, the
generation API (sample_next / generate) and checkpoint I/O.

A concrete model implements `loss` plus three steps that generation drives:
`start` (read a batch of contexts, building KV caches), `propose` (draw candidates for the
next concept of every sequence) and `append` (extend the caches by one chosen concept);
generation.GenerativeModel states what generation needs, and ConceptModel provides it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from . import checkpoint, generation
from .config import LCMConfig, ModelType, SamplerConfig
from .normalizer import Normalizer


class ConceptModel(nn.Module):
    model_type: ClassVar[ModelType]
    registry: ClassVar[dict[str, type[ConceptModel]]] = {}
    eot: torch.Tensor  # a buffer, see __init__

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "model_type" in cls.__dict__:  # an intermediate class names no model of its own
            ConceptModel.registry[cls.model_type] = cls

    def __init__(self, config: LCMConfig) -> None:
        super().__init__()
        if config.model_type != self.model_type:
            raise ValueError(f"{type(self).__name__} needs model_type {self.model_type!r}")
        self.config = config
        self.normalizer = Normalizer(config.dim, config.normalizer)
        # The codec's encoding of "End of text." (raw space); set before training/generation.
        self.register_buffer("eot", torch.zeros(config.dim))

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def device(self) -> torch.device:
        return self.eot.device

    # ---- implemented by each model -------------------------------------------------------
    def loss(
        self, concepts: torch.Tensor, mask: torch.Tensor, loss_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean training loss over positions that are valid (`mask`) and whose prediction
        counts (`loss_mask`); concepts are raw codec embeddings [B, L, dim]."""
        raise NotImplementedError

    # The steps of generation, documented in generation.GenerativeModel.
    def start(self, x: torch.Tensor, valid: torch.Tensor) -> Any:
        raise NotImplementedError

    def propose(
        self, state: Any, num_samples: int, generator: torch.Generator, options: SamplerConfig
    ) -> torch.Tensor:
        raise NotImplementedError

    def append(self, state: Any, x: torch.Tensor) -> None:
        raise NotImplementedError

    # ---- shared -------------------------------------------------------------------------
    def prepare_batch(
        self, concepts: torch.Tensor, mask: torch.Tensor, loss_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Check a training batch; return normalised concepts and the positions to score."""
        if concepts.dim() != 3 or concepts.shape[-1] != self.dim:
            raise ValueError(
                f"concepts must be [batch, length, {self.dim}], got {tuple(concepts.shape)}"
            )
        shape = tuple(concepts.shape[:2])
        for name, m in (("mask", mask), ("loss_mask", loss_mask)):
            if m is not None and (m.dtype != torch.bool or tuple(m.shape) != shape):
                raise ValueError(f"{name} must be a bool tensor of shape {shape}")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError("mask must mark a prefix of each row (pad on the right)")
        scored = mask if loss_mask is None else mask & loss_mask
        x = self.normalizer.normalize(concepts.to(self.eot.dtype))
        return x, scored

    def sample_next(
        self, context: torch.Tensor, num_samples: int = 4, seed: int = 0, **options: Any
    ) -> torch.Tensor:
        """`num_samples` alternatives [num_samples, dim] (raw space) for the concept after
        `context` [L, dim] (raw space, L may be 0). Options override config.sampler."""
        return generation.sample_next(self, context, num_samples, seed, **options)

    def sample_next_batch(
        self, contexts: list[torch.Tensor], num_samples: int = 4, seed: int = 0, **options: Any
    ) -> torch.Tensor:
        """`sample_next` for several contexts at once: [B, num_samples, dim] (raw space)."""
        return generation.sample_next_batch(self, contexts, num_samples, seed, **options)

    def generate(
        self, context: torch.Tensor, max_concepts: int = 32, seed: int = 0, **options: Any
    ) -> torch.Tensor:
        """Continue `context` [L, dim] concept by concept; returns the new concepts [M, dim]
        (raw space), stopping at end-of-text, on repetition, or after max_concepts."""
        return generation.generate_batch(self, [context], max_concepts, seed, **options)[0]

    def generate_batch(
        self, contexts: list[torch.Tensor], max_concepts: int = 32, seed: int = 0, **options
    ) -> list[torch.Tensor]:
        """`generate` for several documents at once (one batched forward per step)."""
        return generation.generate_batch(self, contexts, max_concepts, seed, **options)

    def save_pretrained(self, path: str | Path) -> Path:
        return checkpoint.write(path, self.config.to_dict(), self.state_dict())

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device | None = None, hint: str = ""
    ) -> ConceptModel:
        """Load any LCM checkpoint (called on a subclass, the checkpoint must be of it)."""
        data, state = checkpoint.read(path, hint)
        try:
            config = LCMConfig.from_dict(data)
            model_cls = ConceptModel.registry[config.model_type]
        except (TypeError, ValueError) as error:
            raise checkpoint.LCMCheckpointError(f"bad config in {path}: {error}") from error
        if not issubclass(model_cls, cls):
            raise checkpoint.LCMCheckpointError(
                f"{path} holds a {model_cls.__name__}, not a {cls.__name__}"
            )
        model = model_cls(config)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise checkpoint.LCMCheckpointError(f"weights in {path} do not fit: {error}") from error
        return model.to(device or "cpu").eval()


def masked_mean(per_position: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """Mean of per_position [B, L] over the positions marked in `scored` (0 if none)."""
    return (per_position * scored).sum() / scored.sum().clamp(min=1)


def build_model(config: LCMConfig) -> ConceptModel:
    """A freshly initialised model of config.model_type."""
    return ConceptModel.registry[config.model_type](config)
