"""Train the demo codec on the demo corpus (plain PyTorch), in its four languages.

Two kinds of batch alternate, as in SONAR's recipe (translation plus denoising
auto-encoding, plus a distance term between translations):
- auto-encoding: a sentence in any language -> its concept -> the same sentence, with
  a share of the decoder's input tokens dropped (denoising) and a bag-of-words term;
- translation: an English sentence and its translation -> two concepts; each is
  decoded into the *other* language, and their cosine distance is penalised, so that a
  sentence and its translations share one concept.

Corpus layout (`engine.data.corpus.write_sentences`): `sentences.{split}.{lang}.txt` and
`pairs.{split}.tsv` (lang, English, translation); a language without a train file, or a
corpus without pairs, simply trains without them.

Resumable: a checkpoint (model, optimiser, step, data position, RNG) is written to
`<out>/checkpoint.pt` every few minutes and picked up on restart. Every eval interval the
held-out AutoBLEU (sacrebleu, greedy) is measured on a fixed sample of held-out sentences
and the current weights are exported as a codec directory to `<out>/codec`. Metrics go to
`<out>/log.jsonl`, one JSON object per line.

    python -m engine.codec.demo_train --sentences work/corpus --out work/codec_run

On a CPU the defaults train for 100 minutes; with `--device cuda` (the default where a
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
import torch.nn.functional as F
from tqdm import tqdm

from engine.codec.base import cpu_has_fast_bf16, default_device_dtype
from engine.codec.demo import (
    LANG,
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
    align_weight: float = 1.0  # weight of `align` in a translation batch's loss
    # How a translation's concept is pulled to its sentence's. "cosine": their cosine
    # distance, which collapsing every concept onto one point also minimises (the v2
    # codec's consecutive sentences sit at cosine 0.97). "contrastive": InfoNCE over the
    # batch, both ways: nearer its own translation than any other sentence's, which keeps
    # different sentences apart.
    align: str = "cosine"
    align_temperature: float = 0.05  # of "contrastive": cosines are divided by it
    # The schedule is in minutes of training (not steps) because throughput on a shared
    # CPU is unpredictable. Cosine cycles with warm restarts (SGDR): each cycle anneals
    # to min_lr_ratio, so every cycle's end is a finished model, and a longer budget
    # adds a cycle instead of changing the schedule of the minutes already trained.
    # On a CPU: the bundled codec's two cycles (3 hours on 2 cores).
    cycle_minutes: tuple[float, ...] = (80.0, 100.0)
    restart_lr_ratio: float = 0.5  # peak learning rate of every later cycle, relative to lr
    restart_warmup_s: float = 60.0
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every_s: float = 600.0
    checkpoint_every_s: float = 240.0
    max_steps: int | None = None  # a step cap on top of the time budget: runs of a fixed length
    eval_sentences: int = 200  # periodic eval; the final eval uses `final_eval_sentences`
    final_eval_sentences: int = 1000
    seed: int = 0

    @property
    def budget_minutes(self) -> float:
        return sum(self.cycle_minutes)


# On a GPU the loop is bound by kernel launches, not arithmetic (one H200: ~14 steps/s,
# ~5k sentences/s at 8,192 tokens a batch), so it takes bigger batches, a higher peak and
# minutes instead of hours: these reached held-out AutoBLEU 29.7 greedy, 33.5 beam 4 with
# the English codec. Dropout 0.1 or a 3e-3 peak diverged there in bf16.
GPU_SETTINGS = {"batch_tokens": 8192, "lr": 2e-3, "cycle_minutes": (7.0, 3.5)}


def default_train_config(device: torch.device | str, **overrides) -> TrainConfig:
    """The CPU defaults, or GPU_SETTINGS on a CUDA device; `overrides` (None = default)
    win over both."""
    settings = GPU_SETTINGS if torch.device(device).type == "cuda" else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    return TrainConfig(**{**settings, **given})


def uses_bf16(device: torch.device) -> bool:
    """Train in bf16 autocast on a GPU, and on a CPU with bf16 matrix units (AMX), where
    a training step of the demo codec runs 1.3-2x faster than in fp32."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    precision = "bf16 autocast" if uses_bf16(device) else "fp32"
    return f"CPU, {torch.get_num_threads()} torch threads, {precision}"


def sentence_file(sentences_dir: Path, split: str, lang: str = LANG) -> Path:
    return Path(sentences_dir) / f"sentences.{split}.{lang}.txt"


def heldout_sample(sentence_file: Path, n: int, seed: int = 0) -> list[str]:
    """A fixed sample of held-out sentences of 20-150 characters."""
    lines = Path(sentence_file).read_text(encoding="utf-8").splitlines()
    pool = sorted({s for s in lines if 20 <= len(s) <= 150})
    return random.Random(seed).sample(pool, min(n, len(pool)))


def read_pairs(sentences_dir: Path, split: str) -> list[tuple[str, str, str]]:
    """(lang, English, translation) rows of `pairs.{split}.tsv`; [] without the file."""
    path = Path(sentences_dir) / f"pairs.{split}.tsv"
    if not path.exists():
        return []
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())
    return [(lang, eng, other) for lang, eng, other in rows]


def heldout_pairs(
    sentences_dir: Path, split: str, lang: str, n: int, seed: int = 0
) -> list[tuple[str, str]]:
    """A fixed sample of distinct (English, translation) pairs of 20-150 characters."""
    pool = sorted(
        {
            (eng, other)
            for pair_lang, eng, other in read_pairs(sentences_dir, split)
            if pair_lang == lang and 20 <= len(eng) <= 150 and 20 <= len(other) <= 150
        }
    )
    # one row per English sentence and per translation: retrieval needs distinct targets
    seen: set[str] = set()
    unique = []
    for eng, other in pool:
        if eng not in seen and other not in seen:
            unique.append((eng, other))
            seen.update((eng, other))
    return random.Random(seed).sample(unique, min(n, len(unique)))


def evaluate(codec: DemoCodec, sentences: list[str], beam_size: int = 1, lang: str = LANG) -> dict:
    """AutoBLEU and exact match of encode -> decode round trips in `lang`."""
    codec.model.eval()
    decoded = codec.decode(codec.encode(sentences, lang), lang, beam_size=beam_size)
    exact = sum(d == s for d, s in zip(decoded, sentences, strict=True)) / len(sentences)
    bleu = sacrebleu.corpus_bleu(decoded, [sentences]).score
    return {"autobleu": bleu, "exact_match": exact, "n": len(sentences), "beam": beam_size}


def evaluate_pairs(codec: DemoCodec, pairs: list[tuple[str, str]], lang: str) -> dict:
    """Cross-lingual figures on (English, translation) pairs: retrieval accuracy each way
    (is a sentence's nearest concept by cosine, among all the other side's, its
    translation?) and BLEU of translating English -> `lang` through the concept."""
    codec.model.eval()
    eng, other = [p[0] for p in pairs], [p[1] for p in pairs]
    eng_concepts = codec.encode(eng, LANG)
    a = torch.nn.functional.normalize(eng_concepts, dim=-1)
    b = torch.nn.functional.normalize(codec.encode(other, lang), dim=-1)
    similarity, truth = a @ b.T, torch.arange(len(pairs))
    translated = codec.decode(eng_concepts, lang)
    return {
        "retrieval_from_eng": (similarity.argmax(1) == truth).float().mean().item(),
        "retrieval_to_eng": (similarity.argmax(0) == truth).float().mean().item(),
        "bleu_from_eng": sacrebleu.corpus_bleu(translated, [other]).score,
        "n": len(pairs),
    }


def _tokens(tokenizer, texts: list[str]) -> list:
    return [torch.tensor(x, dtype=torch.int16) for x in tokenizer.encode(texts)]


def tokenize_corpus(tokenizer, sentences_dir: Path, languages, max_chars: int, max_tokens: int):
    """Training data: auto-encoding sentences with their language index, and translation
    pairs (English tokens, other tokens, other language index)."""
    mono: list = []
    for index, lang in enumerate(languages):
        path = sentence_file(sentences_dir, "train", lang)
        if path.exists():
            lines = [s for s in path.read_text(encoding="utf-8").splitlines() if s]
            ids = _tokens(tokenizer, [s for s in lines if len(s) <= max_chars])
            mono.extend((x, index) for x in ids if 0 < len(x) <= max_tokens)
    rows = [
        (eng, other, languages.index(lang))
        for lang, eng, other in read_pairs(sentences_dir, "train")
        if lang in languages and max(len(eng), len(other)) <= max_chars
    ]
    eng_ids = _tokens(tokenizer, [r[0] for r in rows])
    other_ids = _tokens(tokenizer, [r[1] for r in rows])
    pairs = [
        (e, o, r[2])
        for e, o, r in zip(eng_ids, other_ids, rows, strict=True)
        if 0 < len(e) <= max_tokens and 0 < len(o) <= max_tokens
    ]
    return mono, pairs


def make_batches(lengths: list[int], batch_tokens: int, epoch: int, seed: int) -> list[list[int]]:
    """Length-bucketed batches of about `batch_tokens` tokens, shuffled per epoch."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), 8192):  # sort within large chunks
        chunk = sorted(order[start : start + 8192], key=lambda i: lengths[i])
        batch: list[int] = []
        for i in chunk:
            if batch and (len(batch) + 1) * lengths[i] > batch_tokens:
                batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def collate(rows: list, device: torch.device) -> torch.Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row.long()
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


class _Stream:
    """Batches of one kind of data, epoch after epoch; its position lives in `state`
    (under `name`) so that a resumed run continues where it stopped."""

    def __init__(self, name: str, lengths: list[int], tc: TrainConfig, state: dict) -> None:
        self.name, self.lengths, self.tc, self.state = name, lengths, tc, state
        state.setdefault(name, {"epoch": 0, "batch": 0})
        self.batches = make_batches(lengths, tc.batch_tokens, state[name]["epoch"], tc.seed)

    def next(self) -> list[int]:
        position = self.state[self.name]
        if position["batch"] >= len(self.batches):
            position["epoch"], position["batch"] = position["epoch"] + 1, 0
            self.batches = make_batches(self.lengths, self.tc.batch_tokens, position["epoch"],
                                        self.tc.seed)  # fmt: skip
        position["batch"] += 1
        return self.batches[position["batch"] - 1]


def autoencoding_loss(model: DemoAutoencoder, rows: list, tc: TrainConfig, device) -> torch.Tensor:
    tokens = collate([r[0] for r in rows], device)
    langs = torch.tensor([r[1] for r in rows], device=device)
    return model(tokens, tc.input_dropout, tc.bow_weight, langs)


def translation_loss(model: DemoAutoencoder, rows: list, tc: TrainConfig, device) -> torch.Tensor:
    """Each side's concept writes the other side; the two concepts are pulled together."""
    eng, other = collate([r[0] for r in rows], device), collate([r[1] for r in rows], device)
    langs = torch.tensor([r[2] for r in rows], device=device)
    english = torch.zeros_like(langs)  # English is always the first language
    eng_concepts, other_concepts = model.encode(eng), model.encode(other)
    loss = model.writing_loss(eng_concepts, other, langs, tc.input_dropout)
    loss = loss + model.writing_loss(other_concepts, eng, english, tc.input_dropout)
    return loss + tc.align_weight * alignment_loss(eng_concepts, other_concepts, tc)


def alignment_loss(a: torch.Tensor, b: torch.Tensor, tc: TrainConfig) -> torch.Tensor:
    """How far the concepts `a` [B, dim] are from their translations' `b` (see `align`)."""
    if tc.align == "cosine":
        return 1 - F.cosine_similarity(a, b).mean()
    if tc.align != "contrastive":
        raise ValueError(f"align must be 'cosine' or 'contrastive', got {tc.align!r}")
    logits = (
        F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T / tc.align_temperature
    )
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def train(
    sentences_dir: Path,
    out: Path,
    cfg: DemoCodecConfig,
    tc: TrainConfig,
    device: torch.device | str | None = "cpu",
) -> dict:
    """Train (or resume) until `budget_minutes` of training time are spent; returns the
    final held-out metrics (English round trips).

    On a GPU the same loop runs in bf16 autocast; batches of many more tokens
    (`batch_tokens`) are what make it fast there.
    """
    device = default_device_dtype(device)[0]
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "The demo codec was asked to train on cuda, but torch sees no CUDA GPU here; "
            "train on the CPU (--device cpu) or on a machine with a GPU."
        )
    languages = list(cfg.languages)
    train_files = [
        p for lang in languages if (p := sentence_file(sentences_dir, "train", lang)).exists()
    ]
    if not train_files:
        raise ValueError(
            f"{sentences_dir} has no training sentences (sentences.train.<lang>.txt) in "
            f"{', '.join(languages)}; build them with `lcm-writer demo-assets`."
        )
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tc.seed)
    if not (out / "tokenizer.model").exists():
        train_tokenizer(train_files, out / "tokenizer", cfg.vocab_size)
    tokenizer = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    mono, pairs = tokenize_corpus(tokenizer, sentences_dir, languages, tc.max_chars, cfg.max_tokens)
    if not mono:
        raise ValueError(
            f"{sentences_dir} has no sentence of at most {tc.max_chars} characters and "
            f"{cfg.max_tokens} tokens to train on."
        )
    eval_set = heldout_sample(
        sentence_file(sentences_dir, "valid"), tc.final_eval_sentences, tc.seed
    )
    if not eval_set:
        raise ValueError(
            f"{sentence_file(sentences_dir, 'valid')} has no held-out sentence of 20-150 "
            "characters to measure the codec on."
        )
    eval_langs = {}  # other languages with held-out sentences: 100 each, periodic evals only
    for lang in languages[1:]:
        path = sentence_file(sentences_dir, "valid", lang)
        if path.exists() and (sample := heldout_sample(path, 100, tc.seed)):
            eval_langs[lang] = sample
    eval_pairs = {lang: heldout_pairs(sentences_dir, "valid", lang, 200, tc.seed)
                  for lang in eval_langs}  # fmt: skip

    model = DemoAutoencoder(cfg).to(device)
    optim = torch.optim.AdamW(
        model.parameters(), lr=tc.lr, betas=(0.9, 0.98), weight_decay=tc.weight_decay
    )
    state = {"step": 0, "sentences": 0, "train_seconds": 0.0}
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
            {
                "codec": asdict(cfg),
                "train": asdict(tc),
                "hardware": hardware(device),
                "data": {"autoencoding": len(mono), "translation_pairs": len(pairs)},
            },
            indent=2,
        )  # fmt: skip
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
        record = {"eval": metrics}
        for lang, sample in eval_langs.items():
            record[lang] = evaluate(codec, sample, lang=lang)
            if eval_pairs[lang]:
                record[lang] |= evaluate_pairs(codec, eval_pairs[lang], lang)
        write({**record, **state})
        codec.save_pretrained(out / "codec")
        model.train()
        return metrics

    streams = [(_Stream("autoencoding", [len(r[0]) for r in mono], tc, state), mono,
                autoencoding_loss)]  # fmt: skip
    if pairs:
        lengths = [len(e) + len(o) for e, o, _ in pairs]
        streams.append((_Stream("translation", lengths, tc, state), pairs, translation_loss))
    last_ckpt = last_eval = time.time()
    budget = tc.budget_minutes * 60
    bf16 = uses_bf16(device)
    bar = tqdm(
        total=round(budget), initial=round(state["train_seconds"]), desc="demo codec", unit="s"
    )
    model.train()
    loss_sum, loss_n = 0.0, 0
    while state["train_seconds"] < budget and state["step"] < (tc.max_steps or float("inf")):
        stream, data, loss_fn = streams[state["step"] % len(streams)]
        rows = [data[i] for i in stream.next()]
        t0 = time.time()
        for group in optim.param_groups:
            group["lr"] = lr_at(state["step"], state["train_seconds"], tc)
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            loss = loss_fn(model, rows, tc, device)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optim.step()
        state["step"] += 1
        state["sentences"] += len(rows)
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
    parser.add_argument("--align-weight", type=float, default=TrainConfig.align_weight)
    parser.add_argument("--align", choices=["cosine", "contrastive"], default=TrainConfig.align)
    parser.add_argument(
        "--languages", nargs="+", default=list(DemoCodecConfig.languages), help="first: English"
    )
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
        languages=tuple(args.languages),
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
        align_weight=args.align_weight,
        align=args.align,
    )
    print(json.dumps(train(args.sentences, args.out, cfg, tc, device)))


if __name__ == "__main__":
    main()
