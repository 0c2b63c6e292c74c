"""`lcm-writer demo-assets`: rebuild the bundled demo models from scratch.

Stages, each skipped when its output exists (so re-running the command resumes):
  1. corpus   Debian manuals and Bibles in four languages -> <work>/corpus (documents,
              aligned pairs, sentence files; engine.data.corpus)
  2. codec    four-language codec training (resumable) -> <work>/codec_run -> assets/demo/codec
  3. shards   prepare (engine.data.prepare) the English documents with the demo codec
              -> <work>/shards
  4. norm     fit_normalizer -> <work>/normalizer.safetensors
  5. rvq      fit_rvq -> <work>/rvq.safetensors, and its auto-encoding curve on held-out
              sentences -> <work>/eval/rvq_curve.json
  6. lcms     train (recipes/demo.yaml) each model type; the Two-Tower
              goes to assets/demo/lcm and the Quant-LCM-d to assets/demo/quant_lcm (fp16),
              the others stay in <work> for comparison
  7. eval     codec round trips and latency, evaluate (engine.eval.evaluate) per LCM
              -> <work>/eval
  8. cards    assets/demo/codec/README.md, assets/demo/lcm/README.md (all five LCMs) and
              assets/demo/quant_lcm/README.md

About 2.5 hours on a free 2-core CPU (most of it the codec). With a GPU the codec trains
there in about 11 minutes; the rest stays on the CPU, about 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

import torch

from engine.codec import default_device_dtype, demo_eval, demo_train
from engine.codec.demo import LANGUAGES, DemoCodecConfig
from engine.data import corpus
from engine.paths import ASSETS, RECIPES, REPO, WORD_LIST

LCM_TYPES = ("two_tower", "base_lcm", "one_tower", "quant_lcm_d", "quant_lcm_c")
QUANT_TYPES = ("quant_lcm_d", "quant_lcm_c")
BUNDLED_LCM = "two_tower"
BUNDLED_QUANT = "quant_lcm_d"  # bundled too: temperature / top-p are its sampling controls
# The demo RVQ: RVQ_CODEBOOKS x RVQ_UNITS k-means codebooks on the ~85k training concepts
# (the paper: 64 x 8192 on 15M sentences). See the Quant-LCM card for the curve.
RVQ_CODEBOOKS = 32
RVQ_UNITS = 256
RVQ_HELDOUT = 500  # held-out sentences of the auto-encoding curve
# The recipe's `demo` preset (d_model 384) would not fit beside the codec in the 40 MB
# asset budget; d_model 256 halves it. Short run: the corpus is small (~85k concepts).
LCM_OVERRIDES = {
    "model.d_model": 256,
    "model.n_heads": 4,
    "batch_concepts": 2048,
    "warmup_steps": 40,
    "save_every": 100,
    # chosen by engine.eval.sampler_sweep on held-out documents (card, "Guidance scale"):
    # above 3, expansions stop short and continuations repeat more than real text does
    "model.sampler.guidance_scale": 3.0,
}
# Predictions per held-out document for the next-concept metrics (29 documents -> 375).
EVAL_POSITIONS = 16
CURVE_COLUMNS = ["step", "minutes", "sentences", *LANGUAGES, "retrieval"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", type=Path, default=REPO / "work", help="scratch directory")
    parser.add_argument("--assets", type=Path, default=ASSETS / "demo", help="where the models go")
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
    parser.add_argument("--recipe", type=Path, default=RECIPES / "demo.yaml")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads (all)"
    )


def build_codec(
    work: Path, assets: Path, cfg: DemoCodecConfig, tc: demo_train.TrainConfig, device
) -> Path:
    """Train (or resume) the codec and copy the finished one into `assets/codec`."""
    run_dir, done = work / "codec_run", work / "codec_run" / "done.json"
    if not done.exists():
        final = demo_train.train(work / "corpus", run_dir, cfg, tc, device)
        done.write_text(json.dumps(final) + "\n")
    target = assets / "codec"
    shutil.copytree(run_dir / "codec", target, dirs_exist_ok=True)
    return target


def build_codec_assets(
    work: Path,
    assets: Path,
    cfg: DemoCodecConfig | None = None,
    minutes: list[float] | None = None,
    device: str | None = None,
) -> tuple[Path, dict]:
    """Stages 1, 2 and the codec's card: corpus, sentence files, codec training,
    held-out report. Returns the bundled codec directory and its report."""
    documents = corpus.build_corpus(work / "corpus", work / "debs")
    corpus.write_sentences(documents, work / "corpus")
    device = default_device_dtype(device)[0]
    tc = demo_train.default_train_config(device, cycle_minutes=minutes and tuple(minutes))
    codec_dir = build_codec(work, assets, cfg or DemoCodecConfig(), tc, device)
    report = codec_report(codec_dir, work, work / "eval" / "codec.json")
    write_codec_card(codec_dir / "README.md", report)
    return codec_dir, report


def learning_curve(run_dir: Path) -> list[dict]:
    """The periodic evaluations of a codec run (held-out round-trip AutoBLEU per language
    and mean retrieval accuracy among held-out pairs), one row each."""
    rows = []
    for record in map(json.loads, (run_dir / "log.jsonl").open()):
        if "eval" not in record:
            continue
        row = {
            "step": record["step"],
            "minutes": record["train_seconds"] / 60,
            "sentences": record["sentences"],
            "eng_Latn": record["eval"]["autobleu"],
        }
        retrieval = []
        for lang in LANGUAGES[1:]:
            figures = record.get(lang, {})
            row[lang] = figures.get("autobleu", "-")
            retrieval += [
                figures[k] for k in ("retrieval_from_eng", "retrieval_to_eng") if k in figures
            ]
        row["retrieval"] = statistics.mean(retrieval) if retrieval else "-"
        rows.append(row)
    return rows


def codec_report(codec_dir: Path, work: Path, out: Path) -> dict:
    """The codec's held-out figures (engine.codec.demo_eval), its learning curve and
    training record; cached in `out`."""
    if out.exists():
        return json.loads(out.read_text())
    report = demo_eval.codec_report(codec_dir, work / "corpus")
    report["curve"] = learning_curve(work / "codec_run")
    report["training"] = json.loads((work / "codec_run" / "train_config.json").read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def build_shards(work: Path, codec_dir: Path) -> Path:
    from engine.data.normalizer_fit import FitNormalizerConfig, fit_normalizer
    from engine.data.prepare import PrepareConfig, prepare

    shards, norm = work / "shards", work / "normalizer.safetensors"
    documents = corpus.write_documents(
        work / "corpus" / "documents.jsonl",
        work / "corpus" / "documents.eng_Latn.jsonl",
        "eng_Latn",
    )
    prepare(
        PrepareConfig(
            inputs=(documents,), out=shards, codec=str(codec_dir), lang="eng_Latn", device="cpu"
        )
    )
    if not norm.exists():
        fit_normalizer(FitNormalizerConfig(shards=shards, out=norm))
    return shards


def build_rvq(work: Path) -> Path:
    from engine.data.rvq_fit import FitRVQConfig, fit_rvq

    path = work / "rvq.safetensors"
    if not path.exists():
        fit_rvq(
            FitRVQConfig(shards=work / "shards", out=path, codebooks=RVQ_CODEBOOKS, units=RVQ_UNITS)
        )
    return path


def rvq_curve(work: Path, codec_dir: Path) -> dict:
    """The RVQ's auto-encoding curve on the codec's held-out English sentences (the
    sample its own card's held-out figures use); cached."""
    from engine.codec import load_codec
    from engine.eval.rvq_curve import autoencoding_curve
    from engine.lcm import ResidualVQ

    out = work / "eval" / "rvq_curve.json"
    if not out.exists():
        rvq, _ = ResidualVQ.load(work / "rvq.safetensors")
        sentences = demo_train.heldout_sample(
            demo_train.sentence_file(work / "corpus", "valid"), RVQ_HELDOUT
        )
        curve = autoencoding_curve(load_codec(codec_dir, device="cpu"), rvq, sentences, "eng_Latn")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"sentences": len(sentences), **curve}, indent=2) + "\n")
    return json.loads(out.read_text())


def train_lcm(
    work: Path, recipe: Path, model_type: str, steps: int, minutes: float | None = None
) -> Path:
    from engine.lcm import preset
    from engine.train.config import load_recipe
    from engine.train.trainer import FINAL, train

    out = work / f"lcm_{model_type}"
    overrides = {
        **LCM_OVERRIDES,
        "data": str(work / "shards"),
        "out_dir": str(out),
        "normalizer": str(work / "normalizer.safetensors"),
        "model.model_type": model_type,
        "max_steps": steps,
    }
    if minutes:
        overrides["max_minutes"] = minutes
    if model_type in QUANT_TYPES:  # the Two-Tower's shape, its head over the RVQ's units
        overrides["rvq"] = str(work / "rvq.safetensors")
    elif model_type != "two_tower":  # same depth as the Two-Tower's two towers together
        demo = preset("demo")
        overrides["model.n_layers"] = demo.n_layers + demo.n_denoiser_layers
    if not (out / FINAL).exists():
        train(load_recipe(recipe, overrides))
    return out / FINAL


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
    """Evaluate one LCM on the held-out documents, writer section included; cached."""
    from engine.eval.evaluate import EvalConfig, evaluate

    out = work / "eval" / name
    if not (out / "eval.json").exists():
        cfg = EvalConfig(
            model=model,
            data=work / "shards",
            out=out,
            split="valid",
            codec=str(codec_dir),
            positions=EVAL_POSITIONS,
            writer_words=WORD_LIST,
        )
        evaluate(cfg)
    return json.loads((out / "eval.json").read_text())


def sampler_comparison(work: Path, model: Path, codec_dir: Path) -> list[dict]:
    """The bundled LCM's next-concept metrics under the sampler variants of
    engine.eval.sampler_comparison (guidance in noise or x0 space, epsilon scaling), at
    the held-out positions `lcm-writer eval` uses; cached."""
    from engine.codec import load_codec
    from engine.eval.sampler_comparison import compare_samplers

    out = work / "eval" / "sampler_comparison.json"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        codec = load_codec(codec_dir, device="cpu")
        rows = compare_samplers(model, work / "shards", codec, EVAL_POSITIONS, device="cpu")
        out.write_text(json.dumps(rows, indent=2) + "\n")
    return json.loads(out.read_text())


def guidance_sweep(work: Path, model: Path, codec_dir: Path) -> list[dict]:
    """The bundled LCM's guidance sweep (engine.eval.sampler_sweep) on the held-out
    documents `lcm-writer eval` reads; cached."""
    from engine.codec import load_codec
    from engine.eval import sampler_sweep
    from engine.eval.evaluate import usable_documents
    from engine.eval.writer_metrics import load_word_list
    from engine.lcm import load_lcm

    out = work / "eval" / "guidance_sweep.json"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        codec, lcm = load_codec(codec_dir, device="cpu"), load_lcm(model, device="cpu")
        docs = usable_documents(work / "shards", "valid", 32)
        rows = sampler_sweep.sweep(lcm, codec, docs, load_word_list(WORD_LIST))
        out.write_text(json.dumps(rows, indent=2) + "\n")
    return json.loads(out.read_text())


SAMPLER_SECTION = "## Sampler variants"
GUIDANCE_SECTION = "## Guidance scale"


def set_card_section(card: Path, heading: str, body: str) -> None:
    """Write (or rewrite) the section under `heading` (a "## " line) of a model card,
    e.g. one generated before the measurement existed."""
    text = card.read_text()
    head, _, tail = text.partition(heading)
    rest = tail[tail.find("\n## ") :] if "\n## " in tail else ""
    card.write_text(head.rstrip() + "\n\n" + body.rstrip() + "\n" + rest)


def set_sampler_section(card: Path, rows: list[dict], data: str) -> None:
    """The sampler-comparison section; `data` says what it was measured on."""
    set_card_section(card, SAMPLER_SECTION, _sampler_section(rows, data))


def set_guidance_section(card: Path, rows: list[dict], data: str) -> None:
    """The guidance-sweep section; `data` says what it was measured on."""
    set_card_section(card, GUIDANCE_SECTION, _guidance_section(rows, data))


REGENERATE_SECTION = "## Regenerate that fits both sides"


def set_regenerate_section(card: Path, result: dict, data: str) -> None:
    """The held-out comparison of plain regenerate and regenerate that fits both sides
    (engine.eval.concept_checks.compare_regenerate) in an LCM card."""
    from engine.eval.concept_checks import regenerate_table

    section = REGENERATE_INTRO.format(
        data=data, table=regenerate_table(result), predictions=result["predictions"]
    )
    set_card_section(card, REGENERATE_SECTION, section)


REPEAT_SECTION = "## Repeated meaning threshold"


def set_repeat_section(card: Path, result: dict, data: str) -> None:
    """The repetition threshold chosen on held-out pairs
    (engine.eval.concept_checks.repeat_threshold) in a codec card."""
    set_card_section(card, REPEAT_SECTION, REPEAT_INTRO.format(data=data, **result))


def _sampler_section(rows: list[dict], data: str) -> str:
    from engine.eval.sampler_comparison import markdown_table

    return SAMPLER_INTRO.format(data=data, samplers=markdown_table(rows))


def _guidance_section(rows: list[dict], data: str) -> str:
    from engine.eval.sampler_sweep import choose, markdown_table

    best = choose(rows)
    verdict = (
        f"Chosen: **{best['guidance_scale']:g}**, the most accurate value whose expansions "
        "all reach their length and whose continuations repeat no more than real text."
        if best
        else "No value met both conditions: the model needs more training."
    )
    return GUIDANCE_INTRO.format(data=data, table=markdown_table(rows), verdict=verdict)


def _table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figure_table(report: dict) -> str:
    rows = [
        ("English, held-out documents, greedy", report["english"]["greedy"]),
        ("English, held-out documents, beam 4", report["english"]["beam4"]),
        ("English everyday prose (assets/eval), greedy", report["everyday"]),
        *((f"{lang}, held-out documents, greedy", f) for lang, f in report["languages"].items()),
    ]
    lines = ["| round trip | sentences | AutoBLEU | exact match |", "|---|---|---|---|"]
    lines += [f"| {what} | {f['n']} | {f['autobleu']:.1f} | {100 * f['exact_match']:.1f} % |"
              for what, f in rows]  # fmt: skip
    lines += ["", "| pairs | n | retrieval eng -> X | retrieval X -> eng | BLEU eng -> X |",
              "|---|---|---|---|---|"]  # fmt: skip
    for name, key in (("Debian Reference (held-out source)", "held_out_source"),
                      ("everyday prose (assets/eval)", "everyday_translation")):  # fmt: skip
        for lang, f in report[key].items():
            lines.append(f"| {name}, {lang} | {f['n']} | {f['retrieval_from_eng']:.1%} | "
                         f"{f['retrieval_to_eng']:.1%} | {f['bleu_from_eng']:.1f} |")  # fmt: skip
    return "\n".join(lines)


def _examples(report: dict) -> str:
    parts = []
    for what, rows in report["examples"].items():
        shown = "\n".join(f"- `{a}`\n  -> `{b}`" for a, b in rows)
        parts.append(f"**{what}**\n\n{shown}")
    return "\n\n".join(parts)


def write_codec_card(path: Path, report: dict) -> None:
    cfg, curve = report["training"], report["curve"]
    data = cfg.get("data", {})
    path.write_text(CODEC_CARD.format(
        params=report["parameters"] / 1e6, codec=json.dumps(cfg["codec"]),
        train=json.dumps(cfg["train"]), hardware=cfg.get("hardware", "a CPU"),
        minutes=curve[-1]["minutes"], sentences=curve[-1]["sentences"],
        autoencoding=data.get("autoencoding", 0), pairs=data.get("translation_pairs", 0),
        status="\n".join(f"- {line}" for line in demo_eval.verdicts(report)),
        figures=_figure_table(report), latency=report["latency_ms_median"],
        threads=report["torch_threads"], examples=_examples(report),
        curve=_table(curve, CURVE_COLUMNS),
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
    codec report. The sampler sections are added after (set_*_section)."""
    from engine.eval.writer_metrics import examples_markdown

    columns = ["l2", "round_trip_l2", "contrastive_accuracy", "paraphrasing"]
    rows = [
        {"model": name, **{c: r["next_concept"].get(c, "-") for c in columns}}
        for name, r in results.items()
        if name != "baselines"
    ]
    rows += [
        {"model": name, **r} | {"round_trip_l2": "-"} for name, r in results["baselines"].items()
    ]
    writer_columns = ["regen_word_rate", "round_trip_word_rate", "regen_distinct",
                      "regen_cosine_true", "regen_cosine_neighbours", "continuation_rep_4",
                      "held_out_rep_4"]  # fmt: skip
    writer_rows = [{"model": name, **{c: r["writer"][c] for c in writer_columns}}
                   for name, r in results.items() if "writer" in r]  # fmt: skip
    bundled = results.get(BUNDLED_LCM, {})
    details = []
    for name, r in results.items():
        if name == "baselines":
            continue
        summary_path = work / f"lcm_{name}" / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        summary = {k: v for k, v in summary.items() if k not in ("ranks", "model")}
        figures = {k: v for k, v in r.items() if k != "writer_examples"}
        details.append(
            f"### {name}\n\nTraining: `{json.dumps(summary)}`\n\n"
            f"All held-out metrics:\n\n```json\n{json.dumps(figures, indent=2)}\n```\n"
        )
    path.write_text(
        LCM_CARD.format(
            overrides=" ".join(f"{k}={v}" for k, v in LCM_OVERRIDES.items()),
            codec_bleu=codec["english"]["greedy"]["autobleu"],
            everyday_bleu=codec["everyday"]["autobleu"],
            status=lcm_status(results),
            positions=EVAL_POSITIONS,
            table=_table(rows, ["model", *columns]),
            sections="\n".join(details),
            writer=_table(writer_rows, ["model", *writer_columns]),
            writer_examples=examples_markdown(bundled.get("writer_examples", [])),
        )
    )


def curve_rows(curve: dict) -> list[dict]:
    """The flat `autoencoding_curve` metrics as one row per codebook count."""
    levels = sorted(int(k.split("@")[1]) for k in curve if k.startswith("auto_bleu@"))
    return [
        {"codebooks": k, "auto_bleu": curve[f"auto_bleu@{k}"], "share_of_continuous":
         curve[f"ratio@{k}"], "cosine": curve[f"cosine@{k}"]}
        for k in levels
    ]  # fmt: skip


def write_quant_card(path: Path, curve: dict, results: dict) -> None:
    """The bundled Quant-LCM-d's card: its RVQ's auto-encoding curve against the target
    (70 % of the continuous codec's AutoBLEU with all codebooks, the paper's ratio) and
    the quantized LCMs' held-out metrics beside the Two-Tower's."""
    rows = curve_rows(curve)
    share = rows[-1]["share_of_continuous"]
    verdict = "meets" if share >= 0.7 else "misses"
    columns = ["l2", "round_trip_l2", "contrastive_accuracy", "paraphrasing"]
    models = [n for n in (BUNDLED_LCM, *QUANT_TYPES) if n in results]
    table = [{"model": n, **{c: results[n]["next_concept"].get(c, "-") for c in columns}}
             for n in models]  # fmt: skip
    path.write_text(QUANT_CARD.format(
        codebooks=RVQ_CODEBOOKS, units=RVQ_UNITS, n=curve["sentences"],
        continuous=curve["continuous_auto_bleu"], share=share, verdict=verdict,
        curve=_table(rows, ["codebooks", "auto_bleu", "share_of_continuous", "cosine"]),
        table=_table(table, ["model", *columns]), positions=EVAL_POSITIONS,
    ))  # fmt: skip


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
    codec_dir, codec = build_codec_assets(
        work, assets, minutes=args.codec_minutes, device=args.codec_device
    )
    build_shards(work, codec_dir)
    model_types = args.lcm_types.split(",")
    curve = None
    if set(model_types) & set(QUANT_TYPES):
        build_rvq(work)
        curve = rvq_curve(work, codec_dir)
    finals = {
        t: train_lcm(work, args.recipe, t, args.lcm_steps, args.lcm_minutes) for t in model_types
    }
    if BUNDLED_LCM in finals:
        bundle_lcm(finals[BUNDLED_LCM], assets / "lcm")
    if BUNDLED_QUANT in finals:
        bundle_lcm(finals[BUNDLED_QUANT], assets / "quant_lcm")
    results = {t: eval_lcm(work, final, codec_dir, t) for t, final in finals.items()}
    results["baselines"] = baseline_metrics(work)
    (work / "eval" / "lcms.json").write_text(json.dumps(results, indent=2) + "\n")
    card = assets / "lcm" / "README.md"
    write_lcm_card(card, results, codec, work)
    if BUNDLED_LCM in finals:
        data = "the held-out documents (split valid) of the demo corpus"
        set_sampler_section(card, sampler_comparison(work, finals[BUNDLED_LCM], codec_dir), data)
        set_guidance_section(card, guidance_sweep(work, finals[BUNDLED_LCM], codec_dir), data)
    if BUNDLED_QUANT in finals:
        write_quant_card(assets / "quant_lcm" / "README.md", curve, results)
    return 0


GUIDANCE_INTRO = (
    GUIDANCE_SECTION
    + """ (bundled Two-Tower, tuned on held-out documents)
Classifier-free guidance sharpens the next concept, so contrastive accuracy rises with
it, but successive concepts converge: expansions stop short (the repetition check fires
even after resampling) and continuations loop. `engine.eval.sampler_sweep` scores each
value on {data}, at the same positions and starting noise: next-concept accuracy and l2,
the decoded K=4 regenerations' dictionary-word rate and distinct bigrams, REP-4 of
5-sentence continuations beside the held-out text's own, and how many of 20 seeded
expansions by 5 sentences got all 5. {verdict}

{table}"""
)

SAMPLER_INTRO = (
    SAMPLER_SECTION
    + """ (bundled Two-Tower, same positions and starting noise)
Classifier-free guidance and its rescale applied to the noise estimate with no guidance
at the first step (the reference implementation's way, the default), or to the
clean-sample estimate (this project's earlier way), and epsilon scaling (the predicted
noise divided by a factor just above 1), measured on {data}
(`engine/eval/sampler_comparison.py`, next-concept metrics of the paper's section 2.4):

{samplers}
"""
)

REGENERATE_INTRO = (
    REGENERATE_SECTION
    + """ (bundled Two-Tower)
The writer's regenerate draws 3K candidates from the concepts before a sentence and
shows the K whose continuation (the LCM's prediction of the next concept after the
candidate, 4 draws) comes closest to the sentence that really follows; plain regenerate
shows K draws. Cosine of the alternatives to the sentence that was really there, at
{predictions} held-out positions with a sentence after them ({data};
`engine/eval/concept_checks.py`, seed 0):

{table}"""
)

REPEAT_INTRO = (
    REPEAT_SECTION
    + """
The writer flags two sentences of a document as saying the same thing when their
concepts' cosine is at least **{threshold:.2f}** (`REPEAT_COSINE` in app/service.py),
chosen to get the most pairs of both kinds right on held-out pairs ({data};
`engine/eval/concept_checks.py`): {paraphrases} paraphrase pairs (mean cosine
{paraphrase_cosine:.3f}; {paraphrases_flagged:.0%} flagged) against {neighbours} unrelated
neighbours, consecutive sentences of held-out prose and documents (mean cosine
{neighbour_cosine:.3f}; {neighbours_flagged:.1%} flagged: everyday prose
{everyday_neighbours_flagged:.1%}, documents {document_neighbours_flagged:.1%}).
"""
)

CODEC_CARD = """# Demo concept codec (English, French, German, Spanish)

**What**: a small sentence encoder-decoder that maps a sentence in English, French, German
or Spanish to a 512-d concept vector, and writes any concept back in any of the four.
A sentence and its translations are trained to share one concept, so "View in French"
decodes the same concepts in French. It stands in for SONAR on a CPU; other languages
need SONAR (`--codec sonar` on a GPU). {params:.2f}M parameters, stored in fp16.

**Architecture** (`engine/codec/demo.py`): one SentencePiece unigram tokenizer for the
four languages; a pre-norm transformer encoder, a token-wise MLP to 512 and masked mean
pooling (the encoder is told nothing about the language); the decoder reads the concept
as a few memory slots through cross-attention, plus the slots' mean and a learned
embedding of the language to write added to every input position, and writes greedily
or with beam search, with a KV cache.
Config: `{codec}`

**Training** (`engine/codec/demo_train.py`, via `lcm-writer demo-assets`) on the train
split of the demo corpus (assets/README.md: Debian manuals in four languages, the World
English Bible and the Spanish Reina-Valera, WordNet), SONAR's recipe at toy scale:
auto-encoding batches ({autoencoding:,} sentences, a share of the decoder's inputs
replaced by UNK, plus a bag-of-words term) alternate with translation batches
({pairs:,} aligned sentence pairs: each side's concept writes the other side, and the
cosine distance between the two concepts is penalised). AdamW on **{hardware}**:
{minutes:.1f} minutes of training time, {sentences:,} sentences and pairs seen, a cosine
learning-rate cycle (`cycle_minutes`).
Config: `{train}`

## Status against the targets (CPU-trained codec)
{status}

## Held-out figures
Measured on the CPU with the shipped fp16 weights, on text never trained on: sentences
of 20-150 characters from held-out documents (split by document), the Debian Reference
(held out as a whole source, in all four languages), and the project's own everyday
prose (`assets/eval`, written for evaluation). Samples by a fixed seed. Retrieval: is the
nearest concept by cosine, among all the pairs' other sides, the translation?

{figures}

Encode + decode of one sentence (greedy), median of 20 runs on this 2-core CPU with
{threads} torch thread(s): **{latency:.0f} ms**.

Learning curve (periodic evals: 200 English and 100 sentences per other language from
held-out documents, retrieval among 200 held-out pairs):

{curve}

## Examples (input -> output; the first rows of the fixed-seed samples, not picked)

{examples}

## Limits
- Trained for under two hours on a 2-core CPU: round trips keep the topic and many
  words, but often not the sentence; translations are rough. The GPU recipe
  (`--codec-device cuda`) is the path to quality.
- Trained on technical manuals and Bibles: everyday, literary or conversational
  sentences come back less faithfully, and rare names and numbers are often changed.
- Round trips degrade with sentence length; sentences are capped at 200 characters.
- Its concept space has nothing to do with SONAR's: LCMs trained on one do not work on
  the other.
"""

LCM_CARD = """# Demo LCMs (English, on the demo codec's concepts)

**What**: small Large Concept Models that predict the next concept of a document in the
demo codec's 512-d space (engine/lcm, preset `demo` with `{overrides}`). The bundled model (this
directory, fp16) is the Two-Tower diffusion LCM; the Base-LCM, One-Tower and the
quantized LCMs below were trained the same way for comparison (the Quant-LCM-d is bundled
in `../quant_lcm`, with its RVQ's card). Each carries its robust
normaliser (fitted on the training concepts) and its end-of-text concept (the demo
codec's encoding of "End of text.").

**Training**: `lcm-writer demo-assets` -> `lcm-writer prepare` (demo codec, capped
spaCy/SaT segmentation) -> `fit-normalizer` -> `lcm-writer train --recipe recipes/demo.yaml`
on the train split of the demo corpus (assets/README.md), pre-training objective (next
concept over whole documents, wrapped at 128 concepts), on this 2-core CPU.

## Status (read first)
- Trained on the concepts of the demo codec (`../codec/README.md`, held-out AutoBLEU
  {codec_bleu:.1f} greedy, {everyday_bleu:.1f} on everyday prose): continuations decode
  only as faithfully as its round trips.
- Contrastive accuracy on held-out documents ({positions} positions per document): {status}
- **Guidance scale 3** is the sampler default of the bundled Two-Tower (and of the
  One-Tower evaluated here), set by the sweep in "Guidance scale" below. Pass
  `guidance_scale` per call for sharper but more repetitive suggestions.

## Results on held-out documents
Next-concept metrics of the paper's section 2.4 (`lcm-writer eval`, split `valid`, the
same sampled positions for every row; l2 in raw codec space; contrastive accuracy: share
of the other true next concepts that lie farther from the prediction than the right one;
paraphrasing: highest cosine to a context concept), against two trivial predictors:

{table}

## What a writer gets (held-out documents, decoded)
At the same positions: K=4 regenerations of a sentence from the concepts before it and
5-sentence continuations, decoded by the demo codec (`engine/eval/writer_metrics.py`).
Word rate: share of decoded words found in Debian's `wamerican` list (the codec's own
round trip of the true sentences is the reference); distinct: share of the 4
alternatives that differ; cosines of the sampled concepts to the true sentence's and to
its neighbours'; REP-4 of the continuations against the held-out text's own next
sentences.

{writer}

Examples of the bundled Two-Tower:
{writer_examples}

{sections}

## Limits
- Tiny by LCM standards and trained for minutes on a CPU, on about 4,500 English
  documents (software manuals and the World English Bible): continuations are topical
  at best, often generic or repetitive, and read only as well as the codec decodes.
- Only meaningful with the demo codec; with SONAR, train your own LCM.
"""

QUANT_CARD = """# Demo quantized LCM (Quant-LCM-d, English, on the demo codec's concepts)

**What**: the paper's quantized LCM (section 2.5) at demo size. A residual vector
quantiser (RVQ: {codebooks} codebooks of {units} units, seeded k-means on the training
concepts, `lcm-writer fit-rvq`) writes every concept as one unit per codebook, coarse to
fine; Quant-LCM-d (`engine/lcm/quant_lcm.py`) keeps the Two-Tower's contextualizer and
predicts the units codebook by codebook with a softmax, so sampling has the controls a
writer knows from language models: `temperature` (0: always the most likely unit),
`top_p` and `top_k`, passed to `sample_next` / `generate`. The codebooks are inside
`model.safetensors`; `load_lcm("demo-quant")` loads it. Same training data, recipe and
size as the bundled Two-Tower (`../lcm/README.md`), fp16.

## The RVQ's auto-encoding curve
{n} held-out English sentences (20-150 characters, the codec card's held-out sample):
AutoBLEU of decode(RVQ(x)[:k]) for the first k codebooks, against the continuous codec's
own round trip decode(x) (AutoBLEU {continuous:.1f}), and the cosine of the quantised
concept to x (`engine/eval/rvq_curve.py`):

{curve}

With all {codebooks} codebooks the RVQ keeps {share:.0%} of the continuous codec's AutoBLEU:
it **{verdict}** the target of 70 % (the paper's ratio with 64 codebooks of 8,192 units).

## Next-concept metrics on held-out documents
`lcm-writer eval`, split `valid`, {positions} positions per document, default sampling
(Quant-LCM: temperature 1), beside the bundled Two-Tower:

{table}

## Limits
- The RVQ is fitted on about 85k concepts: its later codebooks model little but noise,
  and the quantised concepts decode only as faithfully as the demo codec's round trips.
- No classifier-free guidance (the paper's quantized LCMs lag its diffusion LCMs too).
"""
