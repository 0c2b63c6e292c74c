"""The project's entry points: settings validation, the CLI, and launch.py's exit codes."""

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings, describe_error, load_settings
from cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


def run_launch(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "launch.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=120,
    )


def test_defaults_are_local_and_embedded(monkeypatch):
    for name in ("LCMW_HOST", "LCMW_PORT", "LCMW_DB", "LCMW_CODEC", "LCMW_LCM"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 7860
    assert settings.db.startswith("sqlite:///") and settings.db.endswith(".sqlite3")
    assert (settings.codec, settings.lcm, settings.device) == ("demo", "demo", None)


def test_environment_and_flags_layer(monkeypatch):
    monkeypatch.setenv("LCMW_PORT", "9000")
    monkeypatch.setenv("LCMW_CODEC", "sonar")
    assert load_settings().port == 9000
    settings = load_settings(port=9100, codec=None)
    assert (settings.port, settings.codec) == (9100, "sonar")


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"port": 70000}, "--port"),
        ({"device": "tpu"}, "--device"),
        ({"db": "x.db"}, "--db"),
        ({"auth": "nopassword"}, "--auth"),
    ],
)
def test_invalid_settings_name_the_flag_and_variable(overrides, flag):
    with pytest.raises(ValidationError) as error:
        load_settings(**overrides)
    message = describe_error(error.value)
    assert flag in message and f"LCMW_{flag[2:].upper()}" in message


def test_launch_exits_non_zero_on_invalid_setting():
    result = run_launch("--device", "tpu")
    assert result.returncode == 2
    assert "--device / LCMW_DEVICE" in result.stderr
    assert "Traceback" not in result.stderr


def test_launch_reads_environment_variables():
    result = run_launch(LCMW_PORT="not-a-port")
    assert result.returncode == 2
    assert "--port / LCMW_PORT" in result.stderr


def test_cli_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("serve", "prepare", "train", "eval", "generate", "bench"):
        assert name in SUBCOMMANDS and name in out


def test_engine_commands_turn_their_flags_into_the_library_configs():
    """Every field of a command's config has a flag, and the flags default to the
    config's own defaults."""
    import argparse

    from cli import demo_assets, evaluate, fit_normalizer, fit_rvq, prepare
    from cli.configs import config_from
    from engine.data.normalizer_fit import FitNormalizerConfig
    from engine.data.prepare import PrepareConfig
    from engine.data.rvq_fit import FitRVQConfig
    from engine.demo.pipeline import DemoAssetsConfig
    from engine.eval.evaluate import EvalConfig

    s, out = Path("s"), Path("o")
    cases = [
        (prepare, ["a.txt", "b", "--out", "o"], PrepareConfig(inputs=("a.txt", "b"), out=out)),
        (fit_normalizer, ["s", "--out", "o"], FitNormalizerConfig(shards=s, out=out)),
        (fit_rvq, ["s", "--out", "o", "--units", "8"], FitRVQConfig(shards=s, out=out, units=8)),
        (evaluate, ["--model", "m", "--data", "s", "--out", "o", "--noise-levels", "0.1,0.5",
                    "--generation", "eot_threshold=0.99,repeat_threshold=0.998"],
         EvalConfig(model="m", data=s, out=out, noise_levels=(0.1, 0.5),
                    generation={"eot_threshold": 0.99, "repeat_threshold": 0.998})),
        (demo_assets, [], DemoAssetsConfig()),
        (demo_assets, ["--lcm-types", "two_tower,base_lcm", "--codec-minutes", "1", "2"],
         DemoAssetsConfig(lcm_types=("two_tower", "base_lcm"), codec_minutes=(1.0, 2.0))),
        (demo_assets, ["--codec-align", "contrastive"],
         DemoAssetsConfig(codec_align="contrastive")),
    ]  # fmt: skip
    for module, argv, expected in cases:
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        assert config_from(type(expected), parser.parse_args(argv)) == expected, module


def test_every_engine_error_is_an_engine_error():
    import importlib
    import inspect
    import pkgutil

    import engine
    from engine.errors import EngineError

    skip = {"engine.codec.sonar"}  # needs fairseq2's native library; its errors are CodecErrors
    found = []
    for info in pkgutil.walk_packages(engine.__path__, "engine."):
        if info.name in skip or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Exception) and cls.__module__ == info.name:
                found.append(cls)
    assert len(found) >= 12
    assert [c for c in found if not issubclass(c, EngineError)] == []
