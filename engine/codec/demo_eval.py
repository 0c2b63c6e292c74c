"""Held-out figures of a trained demo codec: everything its model card reports.

Every figure is measured on text the codec never trained on, in three kinds:
- held-out documents of the training sources (split "valid"), per language;
- a held-out source: the Debian Reference and its translations (split "test"), for the
  cross-lingual figures (retrieval among 1,000 pairs each way, English -> X BLEU);
- the project's own everyday prose (`assets/eval`), written for evaluation only.
Samples are drawn with a fixed seed; examples are the first rows of those samples.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from engine.codec.demo import LANG, DemoCodec
from engine.codec.demo_train import (
    evaluate,
    evaluate_pairs,
    heldout_pairs,
    heldout_sample,
    sentence_file,
)
from engine.paths import EVERYDAY_EN, EVERYDAY_PARALLEL

HELDOUT = 1000  # sentences (or pairs) per language and figure
EXAMPLES = 4  # per language
# The targets of the CPU-trained codec (issue "Demo codec v2"); GPU targets are higher.
TARGETS = {"everyday": 8.0, "round_trip": 5.0, "retrieval": 0.5}


def everyday_pairs(lang: str) -> list[tuple[str, str]]:
    """(English, translation) rows of the everyday-prose evaluation table."""
    header, *rows = EVERYDAY_PARALLEL.read_text(encoding="utf-8").splitlines()
    column = header.split("\t").index(lang)
    return [(row.split("\t")[0], row.split("\t")[column]) for row in rows]


def latency_ms(codec: DemoCodec, sentence: str, runs: int = 20) -> float:
    """Median milliseconds to encode and greedily decode one sentence."""
    codec.decode(codec.encode([sentence]))  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        codec.decode(codec.encode([sentence]))
        timings.append(time.perf_counter() - start)
    return 1000 * statistics.median(timings)


def _examples(codec: DemoCodec, sentences: list[str], lang: str, target: str) -> list:
    sample = sentences[:EXAMPLES]
    return list(zip(sample, codec.decode(codec.encode(sample, lang), target), strict=True))


def codec_report(codec_dir: Path, sentences_dir: Path, seed: int = 0) -> dict:
    """All held-out figures of the codec in `codec_dir`, measured on the CPU."""
    codec = DemoCodec.from_pretrained(codec_dir, device="cpu")
    others = [lang for lang in codec.languages if lang != LANG]
    english = heldout_sample(sentence_file(sentences_dir, "valid", LANG), HELDOUT, seed)
    everyday = EVERYDAY_EN.read_text(encoding="utf-8").splitlines()
    report: dict = {
        "english": {
            "greedy": evaluate(codec, english),
            "beam4": evaluate(codec, english, beam_size=4),
        },
        "everyday": evaluate(codec, everyday),
        "languages": {},
        "held_out_source": {},
        "everyday_translation": {},
        "examples": {
            "eng_Latn": _examples(codec, english, LANG, LANG),
            "everyday": _examples(codec, everyday, LANG, LANG),
        },
    }
    for lang in others:
        if sample := heldout_sample(sentence_file(sentences_dir, "valid", lang), HELDOUT, seed):
            report["languages"][lang] = evaluate(codec, sample, lang=lang)
            report["examples"][lang] = _examples(codec, sample, lang, lang)
        if pairs := heldout_pairs(sentences_dir, "test", lang, HELDOUT, seed):
            report["held_out_source"][lang] = evaluate_pairs(codec, pairs, lang)
        report["everyday_translation"][lang] = evaluate_pairs(codec, everyday_pairs(lang), lang)
        report["examples"][f"eng_Latn->{lang}"] = _examples(codec, everyday, LANG, lang)
    report["latency_ms_median"] = latency_ms(codec, everyday[0])
    report["torch_threads"] = torch.get_num_threads()
    report["parameters"] = sum(p.numel() for p in codec.model.parameters())
    return report


def verdicts(report: dict) -> list[str]:
    """One line per target: the figure, the target and whether it is met."""

    def line(what: str, value: float, target: float, fmt: str = "{:.1f}") -> str:
        mark = "meets" if value >= target else "misses"
        return f"{what}: {fmt.format(value)} ({mark} >= {fmt.format(target)})"

    lines = [line("everyday English prose, greedy AutoBLEU", report["everyday"]["autobleu"],
                  TARGETS["everyday"])]  # fmt: skip
    for lang, figures in report["languages"].items():
        lines.append(
            line(f"{lang} round trip AutoBLEU", figures["autobleu"], TARGETS["round_trip"])
        )
    for lang, figures in report["held_out_source"].items():
        for what, key in ((f"{LANG} -> {lang}", "retrieval_from_eng"),
                          (f"{lang} -> {LANG}", "retrieval_to_eng")):  # fmt: skip
            lines.append(line(f"retrieval {what}", figures[key], TARGETS["retrieval"], "{:.0%}"))
    return lines
