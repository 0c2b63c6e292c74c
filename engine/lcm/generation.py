"""Concept-by-concept generation shared by all LCMs.

The model reads the contexts once (`start`, filling its KV caches), then each new concept
costs one `propose` (for diffusion: a DDIM run against the cached context) and one
`append` (one position through the contextualizer). Contexts of different lengths are
batched by left padding. Everything draws from one seeded generator, so a seed fixes the
result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from .config import LCMConfig, SamplerConfig
from .normalizer import Normalizer


@runtime_checkable
class GenerativeModel(Protocol):
    """What generation needs from a model. engine.lcm.model's ConceptModel implements it;
    stating it here keeps this module from importing the model module, which imports it."""

    config: LCMConfig  # its sampler and generation sections are the defaults
    normalizer: Normalizer
    eot: torch.Tensor  # the end-of-text concept (raw space); its dtype is the model's
    training: bool

    @property
    def dim(self) -> int: ...

    @property
    def device(self) -> torch.device: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...

    def start(self, x: torch.Tensor, valid: torch.Tensor) -> Any:
        """State for normalised, left-padded contexts x [B, L, dim] (valid: [B, L])."""
        ...

    def propose(
        self, state: Any, num_samples: int, generator: torch.Generator, options: SamplerConfig
    ) -> torch.Tensor:
        """num_samples candidates [B, num_samples, dim] (normalised) for the next concept."""
        ...

    def append(self, state: Any, x: torch.Tensor) -> None:
        """Extend the state by one normalised concept per sequence, x [B, dim]."""
        ...


NEVER = 2.0  # a cosine threshold no pair of concepts reaches: turns a stop off


def sampler_options(defaults: SamplerConfig, options: dict[str, Any]) -> SamplerConfig:
    known = {f.name for f in dataclasses.fields(SamplerConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown sampler option(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(defaults, **options)


@contextmanager
def inference(model: GenerativeModel) -> Iterator[None]:
    """Eval mode and no autograd for the duration, restoring the previous mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _normalised(model: GenerativeModel, context: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(context) or context.dim() != 2 or context.shape[1] != model.dim:
        shape = tuple(context.shape) if torch.is_tensor(context) else type(context).__name__
        raise ValueError(f"context must be a tensor [length, {model.dim}], got {shape}")
    context = context.to(model.device, model.eot.dtype)
    if not torch.isfinite(context).all():
        raise ValueError("context contains NaN or infinite values")
    return model.normalizer.normalize(context)


def _left_padded(model: GenerativeModel, contexts: list[torch.Tensor]):
    """Normalised contexts as one left-padded batch [B, L, dim] and its validity mask."""
    rows = [_normalised(model, c) for c in contexts]
    length = max(r.shape[0] for r in rows)
    x = torch.zeros(len(rows), length, model.dim, device=model.device, dtype=model.eot.dtype)
    valid = torch.zeros(len(rows), length, dtype=torch.bool, device=model.device)
    for b, row in enumerate(rows):
        if row.shape[0]:
            x[b, length - row.shape[0] :] = row
            valid[b, length - row.shape[0] :] = True
    return x, valid


def _generator(model: GenerativeModel, seed: int) -> torch.Generator:
    return torch.Generator(device=model.device).manual_seed(int(seed))


def sample_next_batch(
    model: GenerativeModel,
    contexts: list[torch.Tensor],
    num_samples: int,
    seed: int,
    **options: Any,
) -> torch.Tensor:
    """[B, num_samples, dim] alternatives (raw space) for the concept after each context:
    one `start` and one `propose` for the whole batch, all noise from one seeded generator."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    if not contexts:
        raise ValueError("need at least one context")
    sampler = sampler_options(model.config.sampler, options)
    with inference(model):
        x, valid = _left_padded(model, contexts)
        state = model.start(x, valid)
        proposals = model.propose(state, num_samples, _generator(model, seed), sampler)
        return model.normalizer.denormalize(proposals)


def sample_next(
    model: GenerativeModel, context: torch.Tensor, num_samples: int, seed: int, **options: Any
) -> torch.Tensor:
    return sample_next_batch(model, [context], num_samples, seed, **options)[0]


def set_stopping(model: GenerativeModel, settings: dict[str, float]) -> None:
    """Override the model's stopping thresholds (GenerationConfig fields), e.g. with those
    tuned for its codec; an unknown name is refused."""
    for option, value in settings.items():
        if not hasattr(model.config.generation, option):
            raise ValueError(f"generation has no option {option!r}")
        setattr(model.config.generation, option, value)


def _nearest(raw, history, history_valid) -> torch.Tensor:
    """Per row of `raw` [B, dim]: its highest cosine to an earlier concept (-inf: none, so
    that no threshold makes a first concept a repeat)."""
    if not history.shape[1]:
        return torch.full((len(raw),), float("-inf"), device=raw.device)
    similarity = F.cosine_similarity(raw[:, None], history, dim=-1)
    return similarity.masked_fill(~history_valid, float("-inf")).max(dim=1).values


def generate_batch(
    model: GenerativeModel,
    contexts: list[torch.Tensor],
    max_concepts: int,
    seed: int,
    eot_threshold: float | None = None,
    repeat_threshold: float | None = None,
    resample_tries: int | None = None,
    stop_on_repeat: bool = True,
    **options: Any,
) -> list[torch.Tensor]:
    """New concepts (raw space) for each context. A concept whose cosine to an earlier one
    of its sequence reaches repeat_threshold (above 1: never) is drawn again, up to
    `resample_tries` times, keeping the draw least like the earlier ones; if even that one
    repeats, the sequence stops there (with stop_on_repeat=False it goes on with it: a
    writer who asked for n sentences gets n). A sequence also stops before a concept whose
    cosine to `model.eot` reaches eot_threshold. None takes config.generation's."""
    if not contexts:
        return []
    if max_concepts < 0:
        raise ValueError(f"max_concepts must be >= 0, got {max_concepts}")
    defaults = model.config.generation
    eot_threshold = defaults.eot_threshold if eot_threshold is None else eot_threshold
    repeat_threshold = defaults.repeat_threshold if repeat_threshold is None else repeat_threshold
    tries = defaults.resample_tries if resample_tries is None else resample_tries
    if tries < 0:
        raise ValueError(f"resample_tries must be >= 0, got {tries}")
    sampler = sampler_options(model.config.sampler, options)
    generator = _generator(model, seed)
    outputs: list[list[torch.Tensor]] = [[] for _ in contexts]
    with inference(model):
        x, valid = _left_padded(model, contexts)
        history, history_valid = model.normalizer.denormalize(x), valid
        state = model.start(x, valid)
        done = torch.zeros(len(contexts), dtype=torch.bool, device=model.device)
        for step in range(max_concepts):
            new = model.propose(state, 1, generator, sampler)[:, 0]
            raw = model.normalizer.denormalize(new)
            nearest = _nearest(raw, history, history_valid)
            for _ in range(tries):
                again = (nearest >= repeat_threshold) & ~done
                if not again.any():
                    break
                fresh = model.propose(state, 1, generator, sampler)[:, 0]
                fresh_raw = model.normalizer.denormalize(fresh)
                fresh_nearest = _nearest(fresh_raw, history, history_valid)
                better = again & (fresh_nearest < nearest)
                new = torch.where(better[:, None], fresh, new)
                raw = torch.where(better[:, None], fresh_raw, raw)
                nearest = torch.where(better, fresh_nearest, nearest)
            stop = F.cosine_similarity(raw, model.eot[None], dim=-1) >= eot_threshold
            if stop_on_repeat:
                stop |= nearest >= repeat_threshold
            done |= stop
            for b in (~done).nonzero().flatten().tolist():
                outputs[b].append(raw[b])
            if done.all() or step == max_concepts - 1:
                break
            model.append(state, new)
            history = torch.cat([history, raw[:, None]], dim=1)
            history_valid = torch.cat([history_valid, ~done[:, None]], dim=1)
    empty = torch.zeros(0, model.dim, device=model.device, dtype=model.eot.dtype)
    return [torch.stack(rows) if rows else empty for rows in outputs]
