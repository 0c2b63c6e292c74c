"""The SONAR language table, code conversion and seeded language detection."""

import pytest
import yaml

from engine.lang import (
    UnknownLanguageError,
    detect_language,
    language_name,
    languages,
    to_sonar,
)


def test_the_table_is_exactly_sonars_language_list():
    import importlib.util
    from pathlib import Path

    package = Path(importlib.util.find_spec("sonar").origin).parent  # without importing it
    card = yaml.safe_load((package / "cards" / "text_sonar_basic_encoder.yaml").read_text())
    sonar_codes = card["tokenizer_config"]["_set_"]["langs"]
    assert len(languages()) == 202
    assert set(languages()) == set(sonar_codes)
    assert all(lang.name for lang in languages().values())


@pytest.mark.parametrize(
    ("code", "name"),
    [("eng_Latn", "English"), ("fra_Latn", "French"), ("zho_Hant", "Chinese (Traditional)")],
)
def test_language_names(code, name):
    assert language_name(code) == name


@pytest.mark.parametrize(
    ("code", "sonar"),
    [
        ("en", "eng_Latn"),
        ("fr", "fra_Latn"),
        ("zh-cn", "zho_Hans"),
        ("zh-tw", "zho_Hant"),
        ("zh", "zho_Hans"),
        ("pt-BR", "por_Latn"),
        ("no", "nob_Latn"),
        ("fa", "pes_Arab"),
        ("deu_Latn", "deu_Latn"),
    ],
)
def test_iso_and_langdetect_codes_map_to_sonar(code, sonar):
    assert to_sonar(code) == sonar


def test_every_langdetect_profile_maps_to_a_sonar_language():
    import os

    import langdetect

    profiles = os.listdir(os.path.join(os.path.dirname(langdetect.__file__), "profiles"))
    assert len(profiles) == 55
    assert all(to_sonar(code) in languages() for code in profiles)


def test_unknown_codes_get_clear_errors():
    with pytest.raises(UnknownLanguageError, match="Did you mean eng_Latn"):
        language_name("eng_latn")
    with pytest.raises(UnknownLanguageError, match="ISO 639-1"):
        to_sonar("klingon")
    with pytest.raises(UnknownLanguageError):
        detect_language("Some text", fallback="english")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The committee will publish its final report on the new railway next spring.", "eng_Latn"),
        ("Le comité publiera son rapport final sur la nouvelle ligne au printemps.", "fra_Latn"),
        ("Der Ausschuss wird seinen Abschlussbericht im nächsten Frühjahr vorlegen.", "deu_Latn"),
        ("Комитет опубликует свой окончательный доклад следующей весной.", "rus_Cyrl"),
        ("委员会将于明年春天发布关于新铁路的最终报告。", "zho_Hans"),
        ("委員會將於明年春天發布關於新鐵路的最終報告。", "zho_Hant"),
        ("委員会は来年の春に新しい鉄道に関する最終報告書を発表します。", "jpn_Jpan"),
    ],
)
def test_detection(text, expected):
    assert detect_language(text) == expected
    assert detect_language(text) == detect_language(text)  # seeded: repeatable


@pytest.mark.parametrize("text", ["Hello!", "Ciao", "", "12345 678", "OK."])
def test_short_or_letterless_text_falls_back(text):
    assert detect_language(text, fallback="deu_Latn") == "deu_Latn"
