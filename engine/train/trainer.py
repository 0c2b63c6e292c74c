"""The training loop on Hugging Face accelerate.

One code path for a single process, DDP and FSDP: accelerate's launcher and config
decide the distribution and (unless the recipe sets it) the mixed precision. A
checkpoint (`accelerator.save_state`) holds model, optimiser, scheduler, every rank's RNG
states, the data position and the step, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, gather_object, set_seed
from torch import nn
from tqdm import tqdm

from engine.data.dataset import ConceptBatches, Example, load_examples
from engine.lcm import ConceptModel, LCMConfig, QuantConfig, ResidualVQ, build_model, preset
from engine.lcm.normalizer import NormalizerFileError, load_normalizer
from engine.train.config import RecipeError, TrainConfig
from engine.train.schedule import warmup_cosine

CHECKPOINTS = "checkpoints"
FINAL = "final"
SNAPSHOTS = "snapshots"
METRICS = "metrics.jsonl"


class LossForward(nn.Module):
    """Makes the LCM's `loss` the forward pass: DDP and FSDP synchronise gradients
    through hooks around forward(), so the training step must go through it."""

    def __init__(self, model: ConceptModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, concepts, mask, loss_mask=None) -> torch.Tensor:
        return self.model.loss(concepts, mask, loss_mask)


@dataclass
class Progress:
    """Optimizer steps taken and concepts consumed (all ranks); saved with checkpoints."""

    step: int = 0
    concepts: int = 0

    def state_dict(self) -> dict:
        return {"step": self.step, "concepts": self.concepts}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.concepts = state["step"], state["concepts"]


class WeightAverage:
    """An exponential moving average of the trainable weights, updated after every
    optimiser step; saved with checkpoints, so a resumed run continues bit for bit.

    The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates, so the average
    does not hold on to the random initial weights for the first ~1 / (1 - decay) steps."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]
        self.updates = 0

    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for average, p in zip(self.average, self.params, strict=True):
                average.lerp_(p, 1 - decay)

    def _swap(self) -> None:
        for average, p in zip(self.average, self.params, strict=True):
            average.data, p.data = p.data, average.data

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The averaged weights in the model for the duration (to save them)."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def state_dict(self) -> dict:
        return {"updates": self.updates, "average": [a.clone() for a in self.average]}

    def load_state_dict(self, state: dict) -> None:
        self.updates = state["updates"]
        for average, saved in zip(self.average, state["average"], strict=True):
            average.copy_(saved)


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = sorted((out_dir / CHECKPOINTS).glob("step-*"))
    return found[-1] if found else None


def _fit_normalizer(model: ConceptModel, examples: list[Example], seed: int) -> None:
    """Fit on up to 100k training concepts when the recipe names no normaliser file."""
    concepts = np.concatenate([e.concepts for e in examples])
    if len(concepts) > 100_000:
        rows = np.random.default_rng(seed).choice(len(concepts), 100_000, replace=False)
        concepts = concepts[np.sort(rows)]
    model.normalizer.fit(concepts)


def _load_rvq(path: str, info: dict) -> ResidualVQ:
    rvq, meta = ResidualVQ.load(path)
    if rvq.dim != info["dim"] or meta.get("codec") != info["codec"]:
        raise ValueError(
            f"{path} was fitted on {meta.get('codec')} ({rvq.dim}-d), "
            f"the shards hold {info['codec']} ({info['dim']}-d)"
        )
    return rvq


def build(cfg: TrainConfig, info: dict, examples: list[Example]) -> ConceptModel:
    """The model to train: from `init_from` or a preset; with normaliser, EOT and (for a
    quantized LCM) the RVQ's codebooks set."""
    rvq = _load_rvq(cfg.rvq, info) if cfg.rvq else None
    if cfg.init_from:
        model = ConceptModel.from_pretrained(cfg.init_from)
        if cfg.model:
            raise ValueError("`model` overrides cannot change a checkpoint given in init_from")
    else:
        config = preset(cfg.preset, dim=info["dim"])
        if cfg.model:
            config = LCMConfig.from_dict({**config.to_dict(), **cfg.model, "dim": info["dim"]})
        if rvq is not None:  # the codebooks decide the quantized LCM's sizes
            quant = QuantConfig(rvq.num_codebooks, rvq.codebook_size)
            config = dataclasses.replace(config, quant=quant)
        model = build_model(config)
    if model.dim != info["dim"]:
        raise ValueError(f"the model works on {model.dim}-d concepts, the shards on {info['dim']}")
    if cfg.normalizer:
        normalizer, meta = load_normalizer(cfg.normalizer)
        if int(meta["dim"]) != model.dim or meta.get("codec") != info["codec"]:
            raise NormalizerFileError(
                f"{cfg.normalizer} was fitted on {meta.get('codec')} ({meta['dim']}-d), "
                f"the shards hold {info['codec']} ({info['dim']}-d)"
            )
        if normalizer.kind != model.config.normalizer:
            raise NormalizerFileError(
                f"{cfg.normalizer} holds a {normalizer.kind} normaliser, the model is built "
                f"for a {model.config.normalizer} one; set model.normalizer: "
                f"{normalizer.kind} in the recipe (or fit the file with --kind "
                f"{model.config.normalizer})"
            )
        model.normalizer.load_state_dict(normalizer.state_dict())
    elif not cfg.init_from:
        _fit_normalizer(model, examples, cfg.seed)
    model.eot.copy_(torch.from_numpy(info["eot"]))
    quantized = hasattr(model, "rvq")
    if rvq is not None and not quantized:
        raise ValueError(f"rvq is set but a {model.config.model_type} model has no codebooks")
    if rvq is not None:
        model.rvq.load_state_dict(rvq.state_dict())
    elif quantized and not cfg.init_from:
        raise ValueError(f"a {model.config.model_type} model needs `rvq` (a file from fit-rvq)")
    return model


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only (not on biases, norms or gains)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.adam_eps)


class MetricsLog:
    """JSON lines on the main process, mirrored to TensorBoard when it is installed."""

    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.path = out_dir / METRICS
        self.tensorboard = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tensorboard = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                pass

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tensorboard is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self.tensorboard.add_scalar(f"train/{key}", value, record["step"])

    def history(self) -> list[dict]:
        """Every record written so far, including those of runs this one resumed."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()


def _save_checkpoint(accelerator: Accelerator, out_dir: Path, step: int, keep: int) -> None:
    accelerator.save_state(str(out_dir / CHECKPOINTS / f"step-{step:08d}"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for old in sorted((out_dir / CHECKPOINTS).glob("step-*"))[:-keep]:
            shutil.rmtree(old)


def _save_final(accelerator: Accelerator, wrapped: nn.Module, config: LCMConfig, path: Path):
    """save_pretrained of the trained weights; works for DDP and (sharded) FSDP alike.
    Building the copy draws its initial weights from a forked RNG: saving a snapshot must
    not change the noise and dropout of the steps after it."""
    state = accelerator.get_state_dict(wrapped)  # collective under FSDP: every rank calls it
    if accelerator.is_main_process:
        with torch.random.fork_rng(devices=[]):
            model = build_model(config)
        model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
        model.save_pretrained(path)


def _out_of_time(accelerator: Accelerator, cfg: TrainConfig, start: float) -> bool:
    """True once the run has used its `max_minutes`; every rank takes the same decision."""
    if cfg.max_minutes is None:
        return False
    late = torch.tensor(float(time.perf_counter() - start > 60 * cfg.max_minutes))
    return bool(accelerator.reduce(late.to(accelerator.device), "max").item())


def weights_digest(model: nn.Module) -> str:
    """sha256 of every parameter's bytes: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(p.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) the recipe; returns a summary with losses and throughput."""
    out_dir = Path(cfg.out_dir)
    accelerator = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision
    )
    examples, info = load_examples(cfg.data, cfg.split, cfg.objective, cfg.max_len)
    set_seed(cfg.seed)  # identical initial weights on every rank
    model = build(cfg, info, examples)
    config = model.config
    batches = ConceptBatches(
        examples,
        cfg.batch_concepts,
        seed=cfg.seed,
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
        with_loss_mask=cfg.objective == "finetune",
    )
    wrapped = LossForward(model)
    optimizer = _optimizer(wrapped, cfg)
    # Not passed to prepare(): accelerate would step it once per process per step.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        partial(
            warmup_cosine, warmup=cfg.warmup_steps, total=cfg.max_steps, min_ratio=cfg.min_lr_ratio
        ),
    )
    wrapped, optimizer = accelerator.prepare(wrapped, optimizer)
    progress = Progress()
    accelerator.register_for_checkpointing(scheduler, batches, progress)
    average = None
    if cfg.ema_decay is not None:
        if accelerator.distributed_type == DistributedType.FSDP:
            raise RecipeError("ema_decay needs whole weights on every rank: not under FSDP")
        average = WeightAverage(accelerator.unwrap_model(wrapped), cfg.ema_decay)
        accelerator.register_for_checkpointing(average)
    saved_weights = average.swapped_in if average is not None else nullcontext

    resume_from = latest_checkpoint(out_dir)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
    else:
        set_seed(cfg.seed, device_specific=True)  # different noise / dropout per rank
    if accelerator.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "recipe.json").write_text(cfg.model_dump_json(indent=2) + "\n")
    metrics = MetricsLog(out_dir, accelerator.is_main_process)
    device = accelerator.device

    window_loss, window_concepts, window_steps = 0.0, 0, 0
    window_start = time.perf_counter()
    run_concepts, run_start = 0, time.perf_counter()
    bar = tqdm(
        total=cfg.max_steps,
        initial=progress.step,
        desc="train",
        unit="step",
        disable=not accelerator.is_main_process,
    )
    wrapped.train()
    while progress.step < cfg.max_steps:
        grad_norm = None
        for _ in range(cfg.grad_accum):
            batch = batches.next_batch()
            loss_mask = batch.loss_mask.to(device) if batch.loss_mask is not None else None
            with accelerator.accumulate(wrapped):
                loss = wrapped(batch.concepts.to(device), batch.mask.to(device), loss_mask)
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.grad_clip:
                    grad_norm = accelerator.clip_grad_norm_(wrapped.parameters(), cfg.grad_clip)
                optimizer.step()
                if accelerator.sync_gradients and not accelerator.optimizer_step_was_skipped:
                    scheduler.step()
                    if average is not None:
                        average.update()
                optimizer.zero_grad(set_to_none=True)
            window_loss += loss.detach().float().item() / cfg.grad_accum
            window_concepts += batch.num_concepts
        progress.step += 1
        window_steps += 1
        bar.update(1)
        out_of_time = _out_of_time(accelerator, cfg, run_start)
        save_now = (
            progress.step % cfg.save_every == 0 or progress.step == cfg.max_steps or out_of_time
        )

        if save_now or progress.step % cfg.log_every == 0:  # a checkpoint never loses a window
            totals = accelerator.reduce(
                torch.tensor([window_loss, float(window_concepts)], device=device), "sum"
            )
            mean_loss = totals[0].item() / accelerator.num_processes / window_steps
            concepts = int(totals[1].item())
            elapsed = time.perf_counter() - window_start
            progress.concepts += concepts
            run_concepts += concepts
            record = {
                "step": progress.step,
                "loss": mean_loss,
                "lr": scheduler.get_last_lr()[0],
                "grad_norm": float(grad_norm) if grad_norm is not None else None,
                "concepts": progress.concepts,
                "concepts_per_s": concepts / elapsed,
                "epoch": batches.epoch,
                "elapsed_s": round(time.perf_counter() - run_start, 3),
            }
            metrics.write(record)
            bar.set_postfix(loss=f"{mean_loss:.4f}", cps=f"{concepts / elapsed:.0f}")
            window_loss, window_concepts, window_steps = 0.0, 0, 0
            window_start = time.perf_counter()

        if save_now:
            _save_checkpoint(accelerator, out_dir, progress.step, cfg.keep_checkpoints)
        if cfg.snapshot_every and progress.step % cfg.snapshot_every == 0:
            snapshot = out_dir / SNAPSHOTS / f"step-{progress.step:08d}"
            with saved_weights():
                _save_final(accelerator, wrapped, config, snapshot)
        if out_of_time:
            break
    bar.close()
    metrics.close()

    with saved_weights():
        _save_final(accelerator, wrapped, config, out_dir / FINAL)
    # Per-rank audit: which data each rank trained on (this run only) and whether all
    # replicas ended identical (not meaningful under FSDP, where each rank holds a shard).
    sharded = accelerator.distributed_type == DistributedType.FSDP
    ranks = gather_object(
        [
            {
                "rank": accelerator.process_index,
                "data_fingerprint": batches.fingerprint.hexdigest(),
                "weights_sha256": None if sharded else weights_digest(wrapped),
            }
        ]
    )
    seconds = time.perf_counter() - run_start
    history = metrics.history() if accelerator.is_main_process else []
    summary = {
        "steps": progress.step,
        "stopped_by_time_limit": progress.step < cfg.max_steps,
        "resumed_from": str(resume_from) if resume_from else None,
        "first_loss": history[0]["loss"] if history else None,  # of the whole training
        "last_loss": history[-1]["loss"] if history else None,
        "concepts_per_s": run_concepts / seconds if run_concepts else None,  # this run
        "processes": accelerator.num_processes,
        "model": str(out_dir / FINAL),
        "ranks": ranks,
    }
    if accelerator.is_main_process:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    accelerator.end_training()
    return summary
