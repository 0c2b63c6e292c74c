"""`lcm-writer demo-assets`' codec stages end to end at toy size: the corpus from files
laid out like the Debian packages, a tiny four-language codec trained for a second, its
held-out report and model card."""

from __future__ import annotations

import json

from engine.codec import load_codec
from engine.demo.codec_stages import build_codec_assets
from tests.demo.debs import unpacked_packages
from tests.demo.tiny import tiny_config


def test_codec_stages_build_the_corpus_train_evaluate_and_write_the_card(tmp_path):
    work, assets = tmp_path / "work", tmp_path / "assets"
    unpacked_packages(work / "debs", pages=35)  # page 34 is held out
    codec_dir, report = build_codec_assets(
        work, assets, tiny_config(max_tokens=32), minutes=[0.01], device="cpu"
    )
    assert (work / "corpus" / "pairs.train.tsv").stat().st_size > 0
    codec = load_codec(codec_dir, device="cpu")
    assert codec.languages == ("eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn")
    assert report["everyday"]["n"] == 400  # assets/eval, never trained on
    assert report["languages"]["fra_Latn"]["n"] == 3  # the held-out page's sentences
    assert set(report["everyday_translation"]) == {"fra_Latn", "deu_Latn", "spa_Latn"}
    assert report["everyday_translation"]["deu_Latn"]["n"] == 200
    assert report["curve"] and report["latency_ms_median"] > 0
    card = (codec_dir / "README.md").read_text()
    assert "everyday English prose, greedy AutoBLEU" in card
    assert "| English everyday prose (assets/eval), greedy | 400 |" in card

    # re-running resumes: nothing is trained or measured again
    again = build_codec_assets(work, assets, tiny_config(max_tokens=32), minutes=[0.01])
    assert again[1] == json.loads((work / "eval" / "codec.json").read_text())
