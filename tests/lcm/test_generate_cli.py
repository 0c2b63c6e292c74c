"""`lcm-writer generate` end to end with a tiny demo codec and a toy LCM (random weights)."""

from __future__ import annotations

import io
import json

import pytest

from cli import main
from tests.demo.tiny import save_tiny_demo_codec
from tests.lcm.helpers import toy_model, toy_quant_model

TEXT = (
    "The quick brown fox jumps over the lazy dog. A decoder turns any concept back into a sentence."
)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    codec = save_tiny_demo_codec(root)  # 32-d concepts
    lcm = toy_model("two_tower", dim=32).save_pretrained(root / "lcm")
    wrong = toy_model("two_tower", dim=16).save_pretrained(root / "lcm16")
    quant = toy_quant_model("quant_lcm_d", dim=32).save_pretrained(root / "quant")
    return {"codec": str(codec), "lcm": str(lcm), "lcm16": str(wrong), "quant": str(quant)}


def generate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["generate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_continues_a_text_reproducibly(capsys, checkpoints):
    args = ["--lcm", checkpoints["lcm"], "--codec", checkpoints["codec"], "--lang", "eng_Latn",
            "--max-concepts", "3", "--steps", "4", "--json"]  # fmt: skip
    code, out, err = generate(capsys, TEXT, *args)
    assert code == 0, err
    result = json.loads(out)
    assert result["input"] == [
        "The quick brown fox jumps over the lazy dog.",
        "A decoder turns any concept back into a sentence.",
    ]
    assert 1 <= len(result["continuation"]) <= 3
    assert all(isinstance(s, str) for s in result["continuation"])
    assert generate(capsys, TEXT, *args)[1] == out  # same seed, same text


def test_a_quantized_lcm_takes_temperature_top_p_and_top_k(capsys, checkpoints):
    args = ["--lcm", checkpoints["quant"], "--codec", checkpoints["codec"], "--lang",
            "eng_Latn", "--max-concepts", "2", "--json"]  # fmt: skip
    greedy = [generate(capsys, TEXT, *args, "--temperature", "0", "--seed", str(s)) for s in (1, 2)]
    assert greedy[0][0] == 0, greedy[0][2]
    assert greedy[0][1] == greedy[1][1]  # temperature 0: the seed does not matter
    top_1 = generate(capsys, TEXT, *args, "--temperature", "5", "--top-k", "1", "--seed", "3")
    assert top_1[1] == greedy[0][1]
    code, _, err = generate(capsys, TEXT, *args, "--top-p", "1.5")
    assert code == 2 and "top_p" in err


def test_reads_stdin_and_prints_one_sentence_per_line(capsys, checkpoints, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(TEXT))
    code, out, err = generate(capsys, "--lcm", checkpoints["lcm"], "--codec",
                              checkpoints["codec"], "--lang", "eng_Latn", "--max-concepts", "2",
                              "--steps", "2")  # fmt: skip
    assert code == 0, err
    assert 1 <= len(out.strip("\n").split("\n")) <= 2


def test_errors_are_specific(capsys, checkpoints, tmp_path):
    code, _, err = generate(capsys, "   ", "--lcm", checkpoints["lcm"])
    assert code == 2 and "no text" in err
    code, _, err = generate(capsys, TEXT, "--lcm", str(tmp_path / "none"), "--codec",
                            checkpoints["codec"], "--lang", "eng_Latn")  # fmt: skip
    assert code == 1 and "no LCM checkpoint" in err and "none" in err
    code, _, err = generate(capsys, TEXT, "--lcm", checkpoints["lcm16"], "--codec",
                            checkpoints["codec"], "--lang", "eng_Latn")  # fmt: skip
    assert code == 1 and "16-d" in err and "32-d" in err
    code, _, err = generate(capsys, TEXT, "--lcm", checkpoints["lcm"], "--codec",
                            checkpoints["codec"], "--lang", "eng_Latn", "--steps", "0")  # fmt: skip
    assert code == 2 and "steps must be in 1..100" in err
