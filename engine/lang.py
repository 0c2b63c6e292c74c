"""Languages: SONAR's 202 language codes, their names, and language detection.

SONAR names languages by FLORES-200 codes ("eng_Latn": ISO 639-3 + script); langdetect
and most people use ISO 639-1 ("en"). The table in assets/languages.tsv links the two.
Detection is langdetect, seeded so the same text always gets the same answer, and it
answers `fallback` (typically the document's language) when the text is too short or
too mixed to tell: langdetect calls "Hello!" Italian.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from engine.errors import EngineError
from engine.paths import LANGUAGES_TSV

MIN_DETECT_CHARS = 20  # below this many letters langdetect is a coin toss
MIN_DETECT_PROB = 0.80
# langdetect reads at most 10,000 characters (after dropping URLs and e-mail addresses):
# scanning a 5 MB import past that point only cost time (5 s).
DETECT_CHARS = 20_000


class UnknownLanguageError(EngineError, ValueError):
    """A language code that SONAR does not know (the message lists close matches)."""


@dataclass(frozen=True)
class Language:
    code: str  # SONAR / FLORES-200 code, e.g. "eng_Latn"
    name: str  # English name, e.g. "English"
    iso639_1: str  # "" when the language has no two-letter code
    langdetect: str  # langdetect's code ("en", "zh-cn"); "" when it cannot detect it


@cache
def languages() -> dict[str, Language]:
    """All SONAR languages by code, in code order (read once from assets/languages.tsv)."""
    with LANGUAGES_TSV.open(encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        return {row["code"]: Language(**row) for row in rows}


def language_name(code: str) -> str:
    """English name of a SONAR code: language_name("fra_Latn") == "French"."""
    return _get(code).name


def _get(code: str) -> Language:
    table = languages()
    if code not in table:
        import difflib

        close = difflib.get_close_matches(code, table, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownLanguageError(
            f"{code!r} is not a SONAR language code (they look like 'eng_Latn', "
            f"'fra_Latn', 'zho_Hans'; see assets/languages.tsv).{hint}"
        )
    return table[code]


@cache
def _by_iso() -> dict[str, str]:
    out = {}
    for lang in languages().values():
        if lang.iso639_1:
            out[lang.iso639_1] = lang.code
        if lang.langdetect:
            out[lang.langdetect] = lang.code
    return out


def to_sonar(code: str) -> str:
    """SONAR code for an ISO 639-1 / langdetect / SONAR code ("fr", "zh-cn", "fra_Latn").

    Regional tags fall back to the language ("pt-BR" -> "por_Latn").
    """
    if code in languages():
        return code
    key = code.strip().lower().replace("_", "-")
    table = _by_iso()
    for candidate in (key, key.split("-")[0]):
        if candidate in table:
            return table[candidate]
    raise UnknownLanguageError(
        f"No SONAR language for {code!r}: give an ISO 639-1 code such as 'en' or a SONAR "
        "code such as 'eng_Latn' (see assets/languages.tsv)."
    )


def detect_language(text: str, fallback: str = "eng_Latn") -> str:
    """Best-guess SONAR code of `text` (from its first `DETECT_CHARS` characters);
    `fallback` when it is short or ambiguous."""
    _get(fallback)  # a bad fallback is a bug in the caller: say so even for short text
    text = text[:DETECT_CHARS]
    letters = sum(ch.isalpha() for ch in text)
    by_script = _east_asian_language(text, letters)
    if by_script == "zho":
        probs = _langdetect(text)
        return "zho_Hant" if probs.get("zh-tw", 0) > probs.get("zh-cn", 0) else "zho_Hans"
    if by_script:
        return by_script
    if letters < MIN_DETECT_CHARS:
        return fallback
    best = max(_langdetect(text).items(), key=lambda kv: kv[1], default=("", 0.0))
    return _by_iso().get(best[0], fallback) if best[1] >= MIN_DETECT_PROB else fallback


def _langdetect(text: str) -> dict[str, float]:
    """langdetect's probabilities for `text` (seeded, so repeatable); {} if it has none."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return {guess.lang: guess.prob for guess in detect_langs(text)}
    except LangDetectException:
        return {}


def _east_asian_language(text: str, letters: int) -> str | None:
    """Japanese, Korean or Chinese ("zho") told apart by script, which is unambiguous.

    langdetect hesitates between them (it gives a Chinese paragraph 0.71 zh-cn, 0.29 ko).
    """
    kana = sum("\u3040" <= ch <= "\u30ff" for ch in text)
    hangul = sum("\uac00" <= ch <= "\ud7af" for ch in text)
    han = sum("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)
    if not letters or max(kana, hangul, han) < 2:
        return None
    if kana and kana + han >= letters / 2:
        return "jpn_Jpan"
    if hangul >= letters / 2:
        return "kor_Hang"
    if han >= letters / 2:
        return "zho"
    return None
