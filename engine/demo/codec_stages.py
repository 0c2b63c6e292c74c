"""Stages 1 and 2 of the demo build: the corpus (engine.data.corpus) and the codec's
training (engine.codec.demo_train), its held-out report and its card."""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path

from engine.codec import default_device_dtype, demo_eval, demo_train
from engine.codec.demo import LANGUAGES, DemoCodecConfig
from engine.data import corpus
from engine.demo.cards import write_codec_card


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
    minutes: Sequence[float] | None = None,
    device: str | None = None,
    align: str | None = None,
) -> tuple[Path, dict]:
    """Stages 1, 2 and the codec's card: corpus, sentence files, codec training,
    held-out report. Returns the bundled codec directory and its report."""
    documents = corpus.build_corpus(work / "corpus", work / "debs")
    corpus.write_sentences(documents, work / "corpus")
    device = default_device_dtype(device)[0]
    tc = demo_train.default_train_config(
        device, cycle_minutes=minutes and tuple(minutes), align=align
    )
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
