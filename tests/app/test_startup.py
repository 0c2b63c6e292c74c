"""`create_app(settings)`: real models and database load; anything missing is a
StartupError whose message says what to do (serve.py prints it and exits 1)."""

from __future__ import annotations

import subprocess
import sys

import gradio as gr
import pytest

from app.config import Settings, codec_dtype
from app.serve import StartupError, create_app
from engine.paths import REPO
from tests.app.tiny import build_toy_lcm


@pytest.fixture
def settings(tmp_path, model_dirs) -> Settings:
    codec, lcm = model_dirs
    return Settings(codec=str(codec), lcm=str(lcm), db=f"sqlite:///{tmp_path / 'w.sqlite3'}")


def test_create_app_loads_models_and_database(settings):
    assert isinstance(create_app(settings), gr.Blocks)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("codec", "/no/such/codec", "--codec demo"),
        ("lcm", "/no/such/lcm", "--lcm demo"),
        ("db", "sqlite:///{tmp}/a-file/w.sqlite3", "could not open the database"),
    ],
)
def test_a_missing_part_is_a_startup_error_that_says_what_to_do(
    settings, tmp_path, field, value, message
):
    (tmp_path / "a-file").write_text("a file where the database folder should be")
    with pytest.raises(StartupError, match=message):
        create_app(settings.model_copy(update={field: value.format(tmp=tmp_path)}))


def test_an_lcm_for_another_codec_is_refused(settings, tmp_path):
    other = build_toy_lcm(tmp_path, dim=8)
    with pytest.raises(StartupError, match="8-d concepts"):
        create_app(settings.model_copy(update={"lcm": str(other)}))


def test_precision_picks_the_codecs_arithmetic():
    import torch

    from engine.codec.base import cpu_has_fast_bf16

    assert codec_dtype(Settings(precision="fp32")) == torch.float32
    assert codec_dtype(Settings(precision="bf16")) == torch.bfloat16
    assert codec_dtype(Settings(device="cuda")) is None  # the codec's own GPU default
    fast = torch.bfloat16 if cpu_has_fast_bf16() else None
    assert codec_dtype(Settings(device="cpu")) == fast
    with pytest.raises(ValueError, match="precision"):
        Settings(precision="fp8")


def test_the_app_does_not_load_the_evaluation_libraries():
    """rouge-score pulls in nltk and scipy (~6 s and ~170 MiB at start-up); only the
    evaluation needs it, not the writing guard that shares its word helpers."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, app.serve, app.ui; print(*sorted(sys.modules))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "app.service" in loaded
    assert not {"rouge_score", "nltk", "scipy"} & set(loaded)
