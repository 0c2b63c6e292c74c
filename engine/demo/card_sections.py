"""Sections written into a model card after the measurement behind them: sampler
variants and guidance sweep (LCM card), regenerate that fits both sides (LCM card),
repeated-meaning threshold (codec card). Each replaces its own older text in place."""

from __future__ import annotations

from pathlib import Path

from engine.demo.templates import (
    GUIDANCE_INTRO,
    GUIDANCE_SECTION,
    REGENERATE_INTRO,
    REGENERATE_SECTION,
    REPEAT_INTRO,
    REPEAT_SECTION,
    SAMPLER_INTRO,
    SAMPLER_SECTION,
)
from engine.eval import sampler_comparison, sampler_sweep
from engine.eval.concept_checks import regenerate_table


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


def set_regenerate_section(card: Path, result: dict, data: str) -> None:
    """The held-out comparison of plain regenerate and regenerate that fits both sides
    (engine.eval.concept_checks.compare_regenerate) in an LCM card."""
    section = REGENERATE_INTRO.format(
        data=data, table=regenerate_table(result), predictions=result["predictions"]
    )
    set_card_section(card, REGENERATE_SECTION, section)


def set_repeat_section(card: Path, result: dict, data: str) -> None:
    """The repetition threshold chosen on held-out pairs
    (engine.eval.concept_checks.repeat_threshold) in a codec card."""
    set_card_section(card, REPEAT_SECTION, REPEAT_INTRO.format(data=data, **result))


def _sampler_section(rows: list[dict], data: str) -> str:
    return SAMPLER_INTRO.format(data=data, samplers=sampler_comparison.markdown_table(rows))


def _guidance_section(rows: list[dict], data: str) -> str:
    best = sampler_sweep.choose(rows)
    verdict = (
        f"Chosen: **{best['guidance_scale']:g}**, the most accurate value whose expansions "
        "all reach their length and whose continuations repeat no more than real text."
        if best
        else "No value met both conditions: the model needs more training."
    )
    return GUIDANCE_INTRO.format(
        data=data, table=sampler_sweep.markdown_table(rows), verdict=verdict
    )
