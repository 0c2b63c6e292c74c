"""Train the demo codec as a sentence autoencoder on the demo corpus (plain PyTorch).

Resumable: a checkpoint (model, optimiser, step, data position, RNG) is written to
`<out>/checkpoint.pt` every few minutes and picked up on restart. Every eval interval the
held-out AutoBLEU (sacrebleu, greedy) is measured on a fixed sample of held-out sentences
and the current weights are exported as a codec directory to `<out>/codec`. Metrics go to
`<out>/log.jsonl`, one JSON object per line.

    python -m engine.codec.demo_train --sentences work/corpus --out work/codec_run

On a CPU the defaults train for 150 minutes; with `--device cuda` (the default where a
GPU is present) the GPU settings below train for 10.5.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import sacrebleu
import sentencepiece as spm
import torch
from tqdm import tqdm

from engine.codec.base import default_device_dtype
from engine.codec.demo import (
    PAD,
    DemoAutoencoder,
    DemoCodec,
    DemoCodecConfig,
    train_tokenizer,
)


@dataclass
class TrainConfig:
    max_chars: int = 200  # longer training sentences are skipped
    batch_tokens: int = 1200
    lr: float = 1.5e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 200
    input_dropout: float = 0.2  # decoder input tokens replaced by UNK (see DemoAutoencoder)
    bow_weight: float = 0.5  # bag-of-words loss on the concept (see DemoAutoencoder)
    # The schedule is in minutes of training (not steps) because throughput on a shared
    # CPU is unpredictable. Cosine cycles with warm restarts (SGDR): each cycle anneals
    # to min_lr_ratio, so every cycle's end is a finished model, and a longer budget
    # adds a cycle instead of changing the schedule of the minutes already trained.
    cycle_minutes: tuple[float, ...] = (80.0, 70.0)
    restart_lr_ratio: float = 0.5  # peak learning rate of every later cycle, relative to lr
    restart_warmup_s: float = 60.0
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every_s: float = 600.0
    checkpoint_every_s: float = 240.0
    eval_sentences: int = 200  # periodic eval; the final eval uses `final_eval_sentences`
    final_eval_sentences: int = 1000
    seed: int = 0

    @property
    def budget_minutes(self) -> float:
        return sum(self.cycle_minutes)


# On a GPU the loop is bound by kernel launches, not arithmetic (one H200: ~14 steps/s,
# ~5k sentences/s at 8,192 tokens a batch), so it takes bigger batches, a higher peak and
# minutes instead of hours: these reached held-out AutoBLEU 29.7 greedy, 33.5 beam 4.
# Dropout 0.1 or a 3e-3 peak diverged there in bf16.
GPU_SETTINGS = {"batch_tokens": 8192, "lr": 2e-3, "cycle_minutes": (7.0, 3.5)}


def default_train_config(device: torch.device | str, **overrides) -> TrainConfig:
    """The CPU defaults, or GPU_SETTINGS on a CUDA device; `overrides` (None = default)
    win over both."""
    settings = GPU_SETTINGS if torch.device(device).type == "cuda" else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    return TrainConfig(**{**settings, **given})


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} torch threads"


def heldout_sample(sentence_file: Path, n: int, seed: int = 0) -> list[str]:
    """A fixed sample of held-out sentences of 20-150 characters."""
    lines = sentence_file.read_text(encoding="utf-8").splitlines()
    pool = sorted({s for s in lines if 20 <= len(s) <= 150})
    return random.Random(seed).sample(pool, min(n, len(pool)))


def evaluate(codec: DemoCodec, sentences: list[str], beam_size: int = 1) -> dict:
    """AutoBLEU and exact match of encode -> decode round trips."""
    codec.model.eval()
    decoded = codec.decode(codec.encode(sentences), beam_size=beam_size)
    exact = sum(d == s for d, s in zip(decoded, sentences, strict=True)) / len(sentences)
    bleu = sacrebleu.corpus_bleu(decoded, [sentences]).score
    return {"autobleu": bleu, "exact_match": exact, "n": len(sentences), "beam": beam_size}


def tokenize_corpus(tokenizer, sentence_file: Path, max_chars: int, max_tokens: int) -> list:
    lines = [s for s in sentence_file.read_text(encoding="utf-8").splitlines() if s]
    ids = tokenizer.encode([s for s in lines if len(s) <= max_chars])
    return [torch.tensor(x, dtype=torch.int16) for x in ids if 0 < len(x) <= max_tokens]


def make_batches(data: list, batch_tokens: int, epoch: int, seed: int) -> list[list[int]]:
    """Length-bucketed batches of about `batch_tokens` tokens, shuffled per epoch."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(data)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), 8192):  # sort within large chunks
        chunk = sorted(order[start : start + 8192], key=lambda i: len(data[i]))
        batch: list[int] = []
        for i in chunk:
            if batch and (len(batch) + 1) * len(data[i]) > batch_tokens:
                batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def collate(data: list, idx: list[int], device: torch.device) -> torch.Tensor:
    out = torch.full((len(idx), max(len(data[i]) for i in idx)), PAD, dtype=torch.long)
    for row, i in enumerate(idx):
        out[row, : len(data[i])] = data[i].long()
    return out.to(device, non_blocking=True)


def lr_at(step: int, train_seconds: float, tc: TrainConfig) -> float:
    """Linear warmup, then cosine annealing per cycle of `tc.cycle_minutes`."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    start = 0.0
    for cycle, minutes in enumerate(tc.cycle_minutes):
        length = minutes * 60
        if train_seconds < start + length or cycle == len(tc.cycle_minutes) - 1:
            break
        start += length
    t = train_seconds - start
    peak = tc.lr * (tc.restart_lr_ratio if cycle else 1.0)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, t / length)))
    lr = peak * (tc.min_lr_ratio + (1 - tc.min_lr_ratio) * cosine)
    if cycle and t < tc.restart_warmup_s:
        lr *= t / tc.restart_warmup_s
    return lr


def train(
    sentences_dir: Path,
    out: Path,
    cfg: DemoCodecConfig,
    tc: TrainConfig,
    device: torch.device | str | None = "cpu",
) -> dict:
    """Train (or resume) until `budget_minutes` of training time are spent; returns the
    final held-out metrics.

    On a GPU the same loop runs in bf16 autocast; batches of many more tokens
    (`batch_tokens`) are what make it fast there.
    """
    device = default_device_dtype(device)[0]
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "The demo codec was asked to train on cuda, but torch sees no CUDA GPU here; "
            "train on the CPU (--device cpu) or on a machine with a GPU."
        )
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tc.seed)
    train_file, valid_file = (sentences_dir / f"sentences.{s}.txt" for s in ("train", "valid"))
    if not (out / "tokenizer.model").exists():
        train_tokenizer(train_file, out / "tokenizer", cfg.vocab_size)
    tokenizer = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    data = tokenize_corpus(tokenizer, train_file, tc.max_chars, cfg.max_tokens)
    if not data:
        raise ValueError(
            f"{train_file} has no sentence of at most {tc.max_chars} characters and "
            f"{cfg.max_tokens} tokens to train on."
        )
    eval_set = heldout_sample(valid_file, tc.final_eval_sentences, tc.seed)

    model = DemoAutoencoder(cfg).to(device)
    optim = torch.optim.AdamW(
        model.parameters(), lr=tc.lr, betas=(0.9, 0.98), weight_decay=tc.weight_decay
    )
    state = {"step": 0, "epoch": 0, "batch": 0, "sentences": 0, "train_seconds": 0.0}
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optim.load_state_dict(ckpt["optim"])
        state = ckpt["state"]
        torch.set_rng_state(ckpt["rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in ckpt:
            torch.cuda.set_rng_state(ckpt["cuda_rng"].cpu(), device)
    (out / "train_config.json").write_text(
        json.dumps(
            {"codec": asdict(cfg), "train": asdict(tc), "hardware": hardware(device)}, indent=2
        )
        + "\n"
    )
    codec = DemoCodec(model, tokenizer)
    log = (out / "log.jsonl").open("a")

    def write(record: dict) -> None:
        log.write(json.dumps(record) + "\n")
        log.flush()

    def save() -> None:
        torch.save(
            {
                "model": model.state_dict(),
                "optim": optim.state_dict(),
                "state": state,
                "rng": torch.get_rng_state(),
                **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
            },
            out / "checkpoint.tmp",
        )
        (out / "checkpoint.tmp").rename(ckpt_path)

    def run_eval(n: int) -> dict:
        metrics = evaluate(codec, eval_set[:n])
        write({"eval": metrics, **state})
        codec.save_pretrained(out / "codec")
        model.train()
        return metrics

    last_ckpt = last_eval = time.time()
    batches = make_batches(data, tc.batch_tokens, state["epoch"], tc.seed)
    budget = tc.budget_minutes * 60
    bar = tqdm(
        total=round(budget), initial=round(state["train_seconds"]), desc="demo codec", unit="s"
    )
    model.train()
    loss_sum, loss_n = 0.0, 0
    while state["train_seconds"] < budget:
        if state["batch"] >= len(batches):
            state["epoch"] += 1
            state["batch"] = 0
            batches = make_batches(data, tc.batch_tokens, state["epoch"], tc.seed)
        idx = batches[state["batch"]]
        t0 = time.time()
        for group in optim.param_groups:
            group["lr"] = lr_at(state["step"], state["train_seconds"], tc)
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            loss = model(collate(data, idx, device), tc.input_dropout, tc.bow_weight)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optim.step()
        state["step"] += 1
        state["batch"] += 1
        state["sentences"] += len(idx)
        state["train_seconds"] += time.time() - t0
        loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
        bar.update(round(state["train_seconds"]) - bar.n)
        if state["step"] % 50 == 0:
            rate = state["sentences"] / state["train_seconds"]
            write(
                {
                    "loss": loss_sum / loss_n,
                    "lr": optim.param_groups[0]["lr"],
                    "sent_per_s": rate,
                    **state,
                }
            )
            bar.set_postfix(loss=f"{loss_sum / loss_n:.3f}", sps=f"{rate:.0f}")
            loss_sum, loss_n = 0.0, 0
        if time.time() - last_ckpt > tc.checkpoint_every_s:
            save()
            last_ckpt = time.time()
        if time.time() - last_eval > tc.eval_every_s:
            run_eval(tc.eval_sentences)
            last_eval = time.time()
    bar.close()
    save()
    final = run_eval(tc.final_eval_sentences)
    log.close()
    return final


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=Path("work/corpus"))
    parser.add_argument("--out", type=Path, default=Path("work/codec_run"))
    parser.add_argument(
        "--minutes",
        type=float,
        nargs="+",
        help="length of each cosine cycle, in minutes of training "
        f"(default {TrainConfig.cycle_minutes} on a CPU, {GPU_SETTINGS['cycle_minutes']} on a GPU)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--batch-tokens", type=int, help="default: by device, see --minutes")
    parser.add_argument("--lr", type=float, help="peak learning rate; default: by device")
    parser.add_argument("--eval-every-s", type=float, default=TrainConfig.eval_every_s)
    parser.add_argument("--dropout", type=float, default=DemoCodecConfig.dropout)
    parser.add_argument("--input-dropout", type=float, default=TrainConfig.input_dropout)
    parser.add_argument("--bow-weight", type=float, default=TrainConfig.bow_weight)
    parser.add_argument("--dim", type=int, default=DemoCodecConfig.dim)
    parser.add_argument("--d-model", type=int, default=DemoCodecConfig.d_model)
    parser.add_argument("--layers", type=int, default=DemoCodecConfig.encoder_layers)
    parser.add_argument("--memory-slots", type=int, default=DemoCodecConfig.memory_slots)
    parser.add_argument("--vocab-size", type=int, default=DemoCodecConfig.vocab_size)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = DemoCodecConfig(
        vocab_size=args.vocab_size,
        dim=args.dim,
        d_model=args.d_model,
        encoder_layers=args.layers,
        decoder_layers=args.layers,
        memory_slots=args.memory_slots,
        dropout=args.dropout,
    )
    device = default_device_dtype(args.device)[0]
    tc = default_train_config(
        device,
        cycle_minutes=args.minutes and tuple(args.minutes),
        batch_tokens=args.batch_tokens,
        lr=args.lr,
        eval_every_s=args.eval_every_s,
        input_dropout=args.input_dropout,
        bow_weight=args.bow_weight,
    )
    print(json.dumps(train(args.sentences, args.out, cfg, tc, device)))


if __name__ == "__main__":
    main()
