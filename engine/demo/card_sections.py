"""Sections written into a model card after the measurement behind them: sampler
variants and sampler tuning (LCM card), regenerate that fits both sides (LCM card),
repeated-meaning threshold (codec card). Each replaces its own older text in place."""

from __future__ import annotations

from pathlib import Path

from engine.demo.cards import markdown_table
from engine.demo.templates import (
    CURVE_INTRO,
    CURVE_SECTION,
    REGENERATE_INTRO,
    REGENERATE_SECTION,
    REPEAT_INTRO,
    REPEAT_SECTION,
    SAMPLER_INTRO,
    SAMPLER_SECTION,
    TUNING_INTRO,
    TUNING_SECTION,
)
from engine.eval import generation_thresholds, sampler_comparison, sampler_sweep, writer_metrics
from engine.eval.concept_checks import regenerate_table
from engine.lcm.scoring import LEAD_SAMPLES, PREDICTION_STEPS


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


def set_tuning_section(card: Path, tuned: dict, data: str) -> None:
    """The tuning section (engine.demo.eval_stages.sampler_tuning's result: the stopping
    thresholds and the sampler); `data` says what it was tuned on."""
    set_card_section(card, TUNING_SECTION, _tuning_section(tuned, data))


def set_regenerate_section(card: Path, result: dict, data: str) -> None:
    """The held-out comparison of plain regenerate and regenerate that fits both sides
    (engine.eval.concept_checks.compare_regenerate) in an LCM card."""
    section = REGENERATE_INTRO.format(
        data=data,
        table=regenerate_table(result),
        predictions=result["predictions"],
        drawn_per_shown=result["drawn"] // result["k"],
        lead_samples=LEAD_SAMPLES,
        prediction_steps=PREDICTION_STEPS,
    )
    set_card_section(card, REGENERATE_SECTION, section)


def set_curve_section(card: Path, curves: dict[str, list[dict]], copy: float, every: int) -> None:
    """The learning curves (engine.demo.eval_stages.learning_curve, per model type) of an
    LCM card, beside copy-previous's contrastive accuracy `copy`; types without a
    snapshot are left out."""
    curves = {t: {r["step"]: r for r in rows} for t, rows in curves.items() if rows}
    steps = sorted({step for rows in curves.values() for step in rows})
    cell = "{contrastive_accuracy:.3f} ({l2:.2f})"
    table = markdown_table(
        [{"step": s, **{t: cell.format(**r[s]) if s in r else "-" for t, r in curves.items()}}
         for s in steps],
        ["step", *curves],
    )  # fmt: skip
    set_card_section(card, CURVE_SECTION, CURVE_INTRO.format(every=every, copy=copy, table=table))


def set_repeat_section(card: Path, result: dict, data: str) -> None:
    """The repetition threshold chosen on held-out pairs
    (engine.eval.concept_checks.repeat_threshold) in a codec card."""
    set_card_section(card, REPEAT_SECTION, REPEAT_INTRO.format(data=data, **result))


def _sampler_section(rows: list[dict], data: str) -> str:
    return SAMPLER_INTRO.format(data=data, samplers=sampler_comparison.markdown_table(rows))


def _tuning_section(tuned: dict, data: str) -> str:
    chosen = tuned["chosen"]
    verdict = ", ".join(
        f"{option} **{sampler_sweep.shown(value)}**" for option, value in chosen.items()
    )
    missing = [s["option"] for s in tuned["sweeps"] if s["option"] not in chosen]
    if missing:
        verdict += ("; " if verdict else "") + (
            f"no value of {', '.join(missing)} met the writer's targets (the model's default "
            "is kept: it needs more training)"
        )
    tables = "\n".join(
        f"**{s['option']}**\n\n"
        + sampler_sweep.markdown_table(s["rows"], s["option"], s["tolerance"])
        for s in tuned["sweeps"]
    )
    tolerance = next(g.tolerance for g in sampler_sweep.TUNING if g.option == "steps")
    generation = tuned["generation"]
    return TUNING_INTRO.format(
        data=data,
        verdict=verdict,
        tables=tables,
        tolerance=tolerance,
        word_rate=writer_metrics.WORD_RATE,
        slack=writer_metrics.WORD_SLACK * 100,
        distinct=writer_metrics.DISTINCT,
        real_repeats=generation_thresholds.REAL_REPEATS,
        generation_verdict=", ".join(
            f"{option} **{value:g}**" for option, value in generation["chosen"].items()
        ),
        thresholds=generation_thresholds.markdown_tables(generation),
    )
