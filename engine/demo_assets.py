"""`lcm-writer demo-assets`: rebuild the bundled demo models from scratch.

Stages, each skipped when its output exists (so re-running the command resumes):
  1. corpus   Debian docs -> <work>/corpus/documents.jsonl + sentences.{train,valid}.txt
  2. codec    autoencoder training (resumable) -> <work>/codec_run -> assets/demo/codec
  3. shards   `lcm-writer prepare` with the demo codec -> <work>/shards
  4. norm     `lcm-writer fit-normalizer` -> <work>/normalizer.safetensors
  5. lcms     `lcm-writer train` (recipes/demo.yaml) for each model type; the Two-Tower
              goes to assets/demo/lcm (fp16), the others stay in <work> for comparison
  6. eval     codec round trips and latency, `lcm-writer eval` per LCM -> <work>/eval
  7. cards    assets/demo/codec/README.md and assets/demo/lcm/README.md

About 3 hours on a free 2-core CPU (most of it the codec). With a GPU the codec trains
there in about 11 minutes (the bundled one did, on an H200: see its card); the rest
stays on the CPU, about 20 minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import torch

from engine.codec import default_device_dtype, demo_train
from engine.codec.demo import DemoCodec, DemoCodecConfig, is_demo_checkpoint
from engine.data import corpus

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets" / "demo"
LCM_TYPES = ("two_tower", "base_lcm", "one_tower")
BUNDLED_LCM = "two_tower"
# The recipe's `demo` preset (d_model 384) would not fit beside the codec in the 40 MB
# asset budget; d_model 256 halves it. Short run: the corpus is small (~85k concepts).
LCM_OVERRIDES = [
    "model.d_model=256",
    "model.n_heads=4",
    "batch_concepts=2048",
    "warmup_steps=40",
    "save_every=100",
    # chosen on training documents: contrastive accuracy rises from guidance 3 to 8 (card)
    "model.sampler.guidance_scale=8.0",
]
# Predictions per held-out document for the next-concept metrics (29 documents -> 375).
EVAL_POSITIONS = 16
CURVE_COLUMNS = ["step", "minutes", "sentences", "autobleu", "exact_match", "n"]
TARGET_AUTOBLEU = 30.0  # held-out round trips, greedy or beam (the demo codec's target)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", type=Path, default=REPO / "work", help="scratch directory")
    parser.add_argument("--assets", type=Path, default=ASSETS, help="where the models go")
    parser.add_argument(
        "--codec-minutes",
        type=float,
        nargs="+",
        help="length of each cosine cycle of the codec's training, in minutes (default "
        f"{demo_train.TrainConfig.cycle_minutes} on a CPU, "
        f"{demo_train.GPU_SETTINGS['cycle_minutes']} on a GPU)",
    )
    parser.add_argument(
        "--codec-device", help="where the codec trains: cpu or cuda (default: cuda when present)"
    )
    parser.add_argument("--lcm-steps", type=int, default=400, help="optimiser steps per LCM")
    parser.add_argument("--lcm-minutes", type=float, default=None, help="time cap per LCM")
    parser.add_argument(
        "--lcm-types", default=",".join(LCM_TYPES), help=f"comma-separated, from {LCM_TYPES}"
    )
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "demo.yaml")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads (all)"
    )


def _run_cli(module, argv: list[str]) -> int:
    """Run an `lcm-writer` subcommand module in this process."""
    parser = argparse.ArgumentParser(prog=module.__name__)
    module.add_arguments(parser)
    status = module.run(parser.parse_args(argv))
    if status:
        raise RuntimeError(f"{module.__name__} {' '.join(argv)} failed with status {status}")
    return status


def build_codec(work: Path, assets: Path, minutes: list[float] | None, device: str | None) -> Path:
    """Train (or resume) the codec and copy the finished one into `assets/codec`."""
    run_dir, done = work / "codec_run", work / "codec_run" / "done.json"
    if not done.exists():
        device = default_device_dtype(device)[0]
        tc = demo_train.default_train_config(device, cycle_minutes=minutes and tuple(minutes))
        final = demo_train.train(work / "corpus", run_dir, DemoCodecConfig(), tc, device)
        done.write_text(json.dumps(final) + "\n")
    target = assets / "codec"
    shutil.copytree(run_dir / "codec", target, dirs_exist_ok=True)
    return target


def codec_report(codec_dir: Path, work: Path, out: Path) -> dict:
    """Held-out round trips (greedy, measured at the end of training, and beam 4, both on
    the same 1,000 sentences), the learning curve and one-sentence encode+decode latency."""
    if out.exists():
        return json.loads(out.read_text())
    codec = DemoCodec.from_pretrained(codec_dir, device="cpu")
    sample = demo_train.heldout_sample(work / "corpus" / "sentences.valid.txt", 1000)
    sentence = "The module provides a way of using operating system dependent functionality."
    codec.decode(codec.encode([sentence]))  # warm-up
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        codec.decode(codec.encode([sentence]))
        timings.append(time.perf_counter() - start)
    log = [json.loads(line) for line in (work / "codec_run" / "log.jsonl").open()]
    report = {
        "greedy": json.loads((work / "codec_run" / "done.json").read_text()),
        "beam4": demo_train.evaluate(codec, sample, beam_size=4),
        "latency_ms_median": 1000 * statistics.median(timings),
        "torch_threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in codec.model.parameters()),
        "curve": [
            {
                "step": r["step"],
                "minutes": r["train_seconds"] / 60,
                "sentences": r["sentences"],
                **r["eval"],
            }
            for r in log
            if "eval" in r
        ],
        "examples": list(zip(sample[:8], codec.decode(codec.encode(sample[:8])), strict=True)),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def build_shards(work: Path, codec_dir: Path) -> Path:
    from engine.data import normalizer_fit, prepare

    shards, norm = work / "shards", work / "normalizer.safetensors"
    documents = work / "corpus" / "documents.jsonl"
    _run_cli(prepare, [str(documents), "--out", str(shards), "--codec", str(codec_dir),
                       "--lang", "eng_Latn", "--device", "cpu"])  # fmt: skip
    if not norm.exists():
        _run_cli(normalizer_fit, [str(shards), "--out", str(norm)])
    return shards


def train_lcm(
    work: Path, recipe: Path, model_type: str, steps: int, minutes: float | None = None
) -> Path:
    from engine.lcm import preset
    from engine.train import cli as train_cli

    out = work / f"lcm_{model_type}"
    overrides = [
        *LCM_OVERRIDES,
        f"normalizer={work / 'normalizer.safetensors'}",
        f"model.model_type={model_type}",
        f"max_steps={steps}",
    ]
    if minutes:
        overrides.append(f"max_minutes={minutes}")
    if model_type != "two_tower":  # same depth as the Two-Tower's two towers together
        demo = preset("demo")
        overrides.append(f"model.n_layers={demo.n_layers + demo.n_denoiser_layers}")
    if not (out / "final").exists():
        _run_cli(train_cli, ["--recipe", str(recipe), "--data", str(work / "shards"),
                             "--out", str(out), "--set", *overrides])  # fmt: skip
    return out / "final"


def bundle_lcm(final: Path, target: Path) -> None:
    """Copy an LCM checkpoint with its weight matrices in fp16 (normaliser and EOT stay
    fp32: they are statistics, not weights)."""
    from engine.lcm import checkpoint

    config, state = checkpoint.read(final)
    half = {
        k: v.half() if v.is_floating_point() and not k.startswith(("normalizer", "eot")) else v
        for k, v in state.items()
    }
    checkpoint.write(target, config, half)


def eval_lcm(work: Path, model: Path, codec_dir: Path, name: str) -> dict:
    from engine.eval import cli as eval_cli

    out = work / "eval" / name
    if not (out / "eval.json").exists():
        _run_cli(eval_cli, ["--model", str(model), "--data", str(work / "shards"), "--split",
                            "valid", "--codec", str(codec_dir), "--out", str(out),
                            "--positions", str(EVAL_POSITIONS)])  # fmt: skip
    return json.loads((out / "eval.json").read_text())


def _table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def codec_status(report: dict) -> str:
    best = max((report["greedy"], report["beam4"]), key=lambda m: m["autobleu"])
    how = "greedy" if best["beam"] == 1 else f"beam {best['beam']}"
    verdict = "meets" if best["autobleu"] >= TARGET_AUTOBLEU else "falls short of"
    return (
        f"it {verdict} the target of held-out AutoBLEU >= {TARGET_AUTOBLEU:.0f} "
        f"({best['autobleu']:.1f} with {how} decoding)"
    )


def write_codec_card(path: Path, report: dict, work: Path) -> None:
    cfg = json.loads((work / "codec_run" / "train_config.json").read_text())
    greedy, beam, last = report["greedy"], report["beam4"], report["curve"][-1]
    examples = "\n".join(f"- `{a}`\n  -> `{b}`" for a, b in report["examples"])
    path.write_text(CODEC_CARD.format(
        params=report["parameters"] / 1e6, codec=json.dumps(cfg["codec"]),
        train=json.dumps(cfg["train"]), hardware=cfg.get("hardware", "a CPU"),
        minutes=last["minutes"], sentences=last["sentences"], status=codec_status(report),
        cpu_minutes=demo_train.default_train_config("cpu").budget_minutes,
        gpu_minutes=demo_train.default_train_config("cuda").budget_minutes,
        greedy_bleu=greedy["autobleu"],
        greedy_exact=100 * greedy["exact_match"], beam_bleu=beam["autobleu"],
        beam_exact=100 * beam["exact_match"], latency=report["latency_ms_median"],
        threads=report["torch_threads"], examples=examples,
        curve=_table(report["curve"], CURVE_COLUMNS),
    ))  # fmt: skip


def lcm_status(results: dict) -> str:
    """Contrastive accuracy of every row, and whether the diffusion LCMs beat both
    baselines on it (the demo LCMs' target)."""
    accuracy = {n: r["next_concept"]["contrastive_accuracy"] for n, r in results.items()
                if n != "baselines"}  # fmt: skip
    baseline = {n: r["contrastive_accuracy"] for n, r in results["baselines"].items()}
    listed = ", ".join(f"{n} {a:.3f}" for n, a in {**accuracy, **baseline}.items())
    diffusion = [n for n in accuracy if n != "base_lcm"]
    losers = [n for n in diffusion if accuracy[n] <= max(baseline.values())]
    verdict = (
        f"{' and '.join(losers)} {'does' if len(losers) == 1 else 'do'} not beat both baselines."
        if losers
        else f"{' and '.join(diffusion)} beat both baselines."
    )
    return f"{listed}. {verdict}"


def write_lcm_card(path: Path, results: dict, codec: dict, work: Path) -> None:
    """`results`: model type -> `lcm-writer eval` output, plus "baselines"; `codec`: the
    codec report."""
    columns = ["l2", "round_trip_l2", "contrastive_accuracy", "paraphrasing"]
    rows = [
        {"model": name, **{c: r["next_concept"].get(c, "-") for c in columns}}
        for name, r in results.items()
        if name != "baselines"
    ]
    rows += [
        {"model": name, **r} | {"round_trip_l2": "-"} for name, r in results["baselines"].items()
    ]
    details = []
    for name, r in results.items():
        if name == "baselines":
            continue
        summary_path = work / f"lcm_{name}" / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        summary = {k: v for k, v in summary.items() if k not in ("ranks", "model")}
        details.append(
            f"### {name}\n\nTraining: `{json.dumps(summary)}`\n\n"
            f"All held-out metrics:\n\n```json\n{json.dumps(r, indent=2)}\n```\n"
        )
    path.write_text(
        LCM_CARD.format(
            overrides=" ".join(LCM_OVERRIDES),
            codec_bleu=codec["greedy"]["autobleu"],
            status=lcm_status(results),
            positions=EVAL_POSITIONS,
            table=_table(rows, ["model", *columns]),
            sections="\n".join(details),
        )
    )


def baseline_metrics(
    work: Path, max_docs: int = 32, positions: int = EVAL_POSITIONS, seed: int = 0
) -> dict:
    """The two trivial predictors the LCMs must beat, at the positions `lcm-writer eval`
    samples (same seed): copy the previous concept; predict the mean training concept."""
    import numpy as np

    from engine.data.shards import read_documents
    from engine.eval import concept_metrics as cm

    train_docs = read_documents(work / "shards", "train", None)
    mean = torch.from_numpy(np.concatenate([d["embeddings"] for d in train_docs]).mean(0))
    docs = [
        d for d in read_documents(work / "shards", "valid", max_docs) if len(d["embeddings"]) >= 2
    ]
    rng = np.random.default_rng(seed)
    previous, targets, contexts = [], [], []
    for doc in docs:
        emb, n = torch.from_numpy(doc["embeddings"]), len(doc["embeddings"])
        for position in sorted(rng.choice(np.arange(1, n), min(positions, n - 1), replace=False)):
            previous.append(emb[position - 1])
            targets.append(emb[position])
            contexts.append(emb[:position])
    target = torch.stack(targets)
    results = {}
    for name, predicted in (
        ("copy_previous", torch.stack(previous)),
        ("mean_concept", mean.expand_as(target)),
    ):
        results[name] = {
            "l2": cm.l2_distance(predicted, target),
            "contrastive_accuracy": cm.contrastive_accuracy(predicted, target),
            "paraphrasing": cm.paraphrasing(predicted, contexts),
        }
    return results


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    work, assets = args.work.resolve(), args.assets.resolve()
    documents = corpus.build_corpus(work / "corpus", work / "debs")
    corpus.write_sentences(documents, work / "corpus")
    codec_dir = build_codec(work, assets, args.codec_minutes, args.codec_device)
    if not is_demo_checkpoint(codec_dir):
        raise RuntimeError(f"{codec_dir} is not a demo codec checkpoint")
    build_shards(work, codec_dir)
    model_types = args.lcm_types.split(",")
    finals = {
        t: train_lcm(work, args.recipe, t, args.lcm_steps, args.lcm_minutes) for t in model_types
    }
    if BUNDLED_LCM in finals:
        bundle_lcm(finals[BUNDLED_LCM], assets / "lcm")
    codec = codec_report(codec_dir, work, work / "eval" / "codec.json")
    write_codec_card(assets / "codec" / "README.md", codec, work)
    results = {t: eval_lcm(work, final, codec_dir, t) for t, final in finals.items()}
    results["baselines"] = baseline_metrics(work)
    (work / "eval" / "lcms.json").write_text(json.dumps(results, indent=2) + "\n")
    write_lcm_card(assets / "lcm" / "README.md", results, codec, work)
    return 0


CODEC_CARD = """# Demo concept codec (English)

**What**: a small sentence autoencoder that maps an English sentence to a 512-d concept
vector and back. It stands in for SONAR on a CPU; it is English-only (translation needs
SONAR: `--codec sonar` on a GPU). {params:.2f}M parameters, stored in fp16.

**Architecture** (`engine/codec/demo.py`): SentencePiece unigram tokenizer; pre-norm
transformer encoder, then a token-wise MLP to 512 and masked mean pooling (each token can
write into its own part of the concept); the decoder reads the concept as a few memory
slots (linear projection) through cross-attention, plus the slots' mean added to every
input position, and writes the sentence greedily or with beam search, with a KV cache.
Config: `{codec}`

**Training** (`engine/codec/demo_train.py`, via `lcm-writer demo-assets`): reconstruction
loss (teacher forcing; a share `input_dropout` of the decoder's input tokens is replaced
by UNK so that the decoder has to read the concept) plus `bow_weight` times a
bag-of-words loss (predict the sentence's tokens from the concept alone, through a
training-only head), on the train split of the demo corpus (see assets/README.md),
AdamW, on **{hardware}**: {minutes:.1f} minutes of training time, {sentences:,}
sentences seen. The learning rate warms up, then follows cosine cycles with warm
restarts (`cycle_minutes`, in minutes of training time; every later cycle peaks at
`restart_lr_ratio` of the first).
Config: `{train}`

**Status**: {status}.

**Rebuilding** (`lcm-writer demo-assets`): the codec trains on a GPU when one is present
(`GPU_SETTINGS` in `engine/codec/demo_train.py`, {gpu_minutes:.1f} minutes), else on the
CPU with the defaults ({cpu_minutes:.0f} minutes). On a 2-core CPU those defaults
reached held-out AutoBLEU 24.7 greedy / 27.3 beam 4 (the codec bundled before this one):
about 3 hours of CPU for less quality than 11 GPU minutes.

## Held-out round trips
Sentences of 20-150 characters from held-out documents (sacrebleu AutoBLEU, exact match):

| decoding | sentences | AutoBLEU | exact match |
|---|---|---|---|
| greedy | 1000 | {greedy_bleu:.1f} | {greedy_exact:.1f} % |
| beam 4 | 1000 | {beam_bleu:.1f} | {beam_exact:.1f} % |

Encode + decode of one sentence (greedy), median of 20 runs on this 2-core CPU with
{threads} torch thread(s), under the load of other jobs: **{latency:.0f} ms**.

Learning curve (periodic evals use the first 200 sentences of the same sample):

{curve}

Examples (input -> round trip):

{examples}

## Limits
- English only; trained on technical prose (Python docs, Debian handbook): everyday,
  literary or conversational sentences come back less faithfully, and rare names,
  numbers and code identifiers are often changed.
- Round trips degrade with sentence length; sentences are capped at 200 characters.
- Its concept space has nothing to do with SONAR's: LCMs trained on one do not work on
  the other.
"""

LCM_CARD = """# Demo LCMs (English, on the demo codec's concepts)

**What**: small Large Concept Models that predict the next concept of a document in the
demo codec's 512-d space (engine/lcm, preset `demo` with `{overrides}`). The bundled model (this
directory, fp16) is the Two-Tower diffusion LCM; the Base-LCM and One-Tower below were
trained the same way for comparison and are not bundled. Each carries its robust
normaliser (fitted on the training concepts) and its end-of-text concept (the demo
codec's encoding of "End of text.").

**Training**: `lcm-writer demo-assets` -> `lcm-writer prepare` (demo codec, capped
spaCy/SaT segmentation) -> `fit-normalizer` -> `lcm-writer train --recipe recipes/demo.yaml`
on the train split of the demo corpus (assets/README.md), pre-training objective (next
concept over whole documents, wrapped at 128 concepts), on this 2-core CPU.

## Status (read first)
- Trained on the concepts of the demo codec (`../codec/README.md`, held-out AutoBLEU
  {codec_bleu:.1f} greedy): continuations decode only as faithfully as its round trips.
- Contrastive accuracy on held-out documents ({positions} positions per document): {status}
- **Guidance scale 8** is the sampler default of the bundled Two-Tower (and of the
  One-Tower evaluated here), chosen on training documents (with an earlier codec, the
  Two-Tower's contrastive accuracy was 0.661 at guidance 3 and 0.683 at 8). Pass
  `guidance_scale` per call to trade accuracy for less repetition in long generations.

## Results on held-out documents
Next-concept metrics of the paper's section 2.4 (`lcm-writer eval`, split `valid`, the
same sampled positions for every row; l2 in raw codec space; contrastive accuracy: share
of the other true next concepts that lie farther from the prediction than the right one;
paraphrasing: highest cosine to a context concept), against two trivial predictors:

{table}

{sections}

## Limits
- Tiny by LCM standards and trained for minutes on a CPU on ~600 documents of
  technical prose: continuations are topical at best, often generic or repetitive.
- Only meaningful with the demo codec; with SONAR, train your own LCM.
"""
