"""`eval` end to end: tiny SONAR codec -> prepare -> a few training steps -> metrics."""

import dataclasses
import json

import pytest
import torch

from engine.data.shards import END_OF_TEXT
from engine.demo.eval_stages import JsonMemo
from engine.eval import evaluate as eval_lib
from engine.eval import generation_thresholds, sampler_sweep
from engine.eval.concept_checks import FIGURES, WAYS, compare_regenerate, regenerate_cases
from engine.eval.mutual_information import UnigramCacheLM
from engine.eval.sampler_comparison import VARIANTS, compare_samplers, markdown_table
from engine.eval.text_metrics import auto_bleu
from engine.lcm import load_lcm
from engine.paths import RECIPES
from engine.train.config import load_recipe
from engine.train.trainer import FINAL, train
from tests.codec.tiny_sonar import build_tiny_sonar
from tests.lcm.helpers import toy_model
from tests.train.synthetic import prepared_shards

TEXT = [
    "The sun rose. Birds sang in the trees. A farmer walked to the field.",
    "Rain came at noon. The roads were wet. Children stayed inside.",
    "The market opened early. Traders shouted prices. Buyers came and went.",
    "Night fell on the town. Lamps were lit. The streets grew quiet.",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval")
    codec = build_tiny_sonar(tmp_path_factory.mktemp("codec"))
    prepared_shards(root, codec, TEXT)
    overrides = {
        "data": str(root / "s"),
        "split": "valid",
        "out_dir": str(root / "m"),
        "max_steps": 3,
        "save_every": 3,
        "log_every": 1,
        "warmup_steps": 1,
    }
    train(load_recipe(RECIPES / "toy.yaml", overrides))
    return root, codec, load_lcm(root / "m" / FINAL, device="cpu")


def test_eval_writes_every_metric_as_json_and_markdown(setup):
    root, codec, model = setup
    cfg = eval_lib.EvalConfig(
        model="m", data=root / "s", out=root / "e", max_new=2, max_sentences=4,
        noise_levels=(0.1, 0.5),
    )  # fmt: skip
    results = eval_lib.evaluate(cfg, model=model, codec=codec)
    saved = json.loads((root / "e" / "eval.json").read_text())
    assert saved["setup"]["documents"] == 4
    nc = saved["next_concept"]
    assert set(nc) == {
        "l2",
        "round_trip_l2",
        "contrastive_accuracy",
        "paraphrasing",
        "mi_proxy_unigram_cache",
    }
    assert nc["l2"] > 0 and 0 <= nc["contrastive_accuracy"] <= 1 and -1 <= nc["paraphrasing"] <= 1
    gen = saved["generation"]
    assert 0 <= gen["rouge_l"] <= 1 and 0 <= gen["ovl_3"] <= 1 and 0 <= gen["rep_4"] <= 1
    assert set(saved["codec"]) == {
        "auto_bleu",
        "fragility_auto_bleu@0.1",
        "fragility_cosine@0.1",
        "fragility_auto_bleu@0.5",
        "fragility_cosine@0.5",
    }
    # AutoBLEU is the round trip of the first sentences, recomputable by hand.
    sentences = [s for t in TEXT for s in t.split(". ")][:4]
    sentences = [s if s.endswith(".") else s + "." for s in sentences]
    decoded = codec.decode(codec.encode(sentences))
    assert saved["codec"]["auto_bleu"] == pytest.approx(auto_bleu(decoded, sentences))
    table = (root / "e" / "eval.md").read_text()
    assert "| next_concept | contrastive_accuracy |" in table
    assert results["codec"] == saved["codec"]


def test_eval_needs_two_documents(setup):
    root, codec, model = setup
    cfg = eval_lib.EvalConfig(model="m", data=root / "s", out=root / "x", split="train")
    with pytest.raises(ValueError, match="0 usable document"):
        eval_lib.evaluate(cfg, model=model, codec=codec)


def test_sampler_comparison_scores_every_variant_at_eval_positions(setup):
    """The default variant reproduces eval's next-concept metrics at the same positions;
    epsilon scaling changes the predictions."""
    root, codec, model = setup
    rows = compare_samplers(root / "m" / FINAL, root / "s", codec, positions=2, device="cpu")
    assert [row["variant"] for row in rows] == list(VARIANTS)
    docs = eval_lib.usable_documents(root / "s", "valid", 32)
    lm = UnigramCacheLM([s for d in docs for s in d["sentences"] if s != END_OF_TEXT])
    expected = eval_lib.next_concept_metrics(model, codec, docs, lm, "eng_Latn", 0, 2)
    assert rows[0] == {"variant": rows[0]["variant"], "options": {"guidance_space": "noise"},
                       **expected}  # fmt: skip
    for row in rows:
        assert row["predictions"] == expected["predictions"] == 8  # 4 documents x 2
        assert 0 <= row["contrastive_accuracy"] <= 1 and row["round_trip_l2"] >= 0
    assert rows[2]["l2"] != rows[0]["l2"]
    with pytest.raises(TypeError, match="guidance_spac"):
        compare_samplers(model, root / "s", codec, variants={"typo": {"guidance_spac": "x0"}})


def test_evaluated_documents_are_drawn_by_a_fixed_shuffle_into_disjoint_sets(setup):
    """Reported and tuning documents are slices of one seeded shuffle of the split, not
    the first in shard order (which follow the input files, often one source)."""
    root, _, _ = setup

    def drawn(skip: int) -> list[str]:
        return [d["text"] for d in eval_lib.usable_documents(root / "s", "valid", 2, skip)]

    reported, tuning = drawn(0), drawn(2)
    assert sorted(reported + tuning) == sorted(TEXT)
    assert reported == drawn(0)
    assert reported + tuning != TEXT  # drawn, not taken in shard order
    with pytest.raises(ValueError, match="1 usable document\\(s\\) after the first 3 drawn"):
        eval_lib.usable_documents(root / "s", "valid", 2, skip=3)


def test_sampler_comparison_table():
    rows = [
        {"variant": "a", "options": {"guidance_space": "noise"}, "predictions": 8,
         "paraphrasing": 0.5, "l2": 1.0, "round_trip_l2": 0.25, "contrastive_accuracy": 0.75},
        {"variant": "b", "options": {}, "predictions": 8,
         "paraphrasing": 0.4, "l2": 2.0, "round_trip_l2": 0.5, "contrastive_accuracy": 0.5},
    ]  # fmt: skip
    assert markdown_table(rows) == (
        "| variant | options | contrastive_accuracy | l2 | round_trip_l2 | paraphrasing |\n"
        "|---|---|---:|---:|---:|---:|\n"
        "| a | guidance_space=noise | 0.7500 | 1.0000 | 0.2500 | 0.5000 |\n"
        "| b | model defaults | 0.5000 | 2.0000 | 0.5000 | 0.4000 |\n"
    )


def test_sampler_sweep_scores_each_value_at_the_same_positions(setup):
    root, codec, model = setup
    docs = eval_lib.usable_documents(root / "s", "valid", 32)
    words = {w.lower() for t in TEXT for w in t.replace(".", "").split()}
    rows = sampler_sweep.sweep(model, codec, docs, words, values=(1.0, 4.0), positions=2)
    assert [r["guidance_scale"] for r in rows] == [1.0, 4.0]
    lm = UnigramCacheLM([s for d in docs for s in d["sentences"] if s != END_OF_TEXT])
    at_one = eval_lib.next_concept_metrics(model, codec, docs, lm, "eng_Latn", 0, 2,
                                           {"guidance_scale": 1.0})  # fmt: skip
    assert rows[0]["contrastive_accuracy"] == at_one["contrastive_accuracy"]
    assert rows[0]["l2"] != rows[1]["l2"]  # the option reached the sampler
    for row in rows:
        assert 0 <= row["regen_word_rate"] <= 1 and row["held_out_rep_4"] >= 0
        assert 0 <= row["regen_distinct"] <= 1 and 0 <= row["round_trip_word_rate"] <= 1


def _sweep_row(option, value, accuracy, words=0.95, distinct=1.0, rep=0.0):
    return {option: value, "contrastive_accuracy": accuracy, "l2": 1.0,
            "regen_word_rate": words, "round_trip_word_rate": 0.9, "regen_distinct": distinct,
            "continuation_rep_4": rep, "held_out_rep_4": 0.01}  # fmt: skip


def test_sampler_sweep_chooses_the_most_accurate_value_that_meets_the_writer_targets():
    rows = [_sweep_row("guidance_scale", 1.0, 0.58), _sweep_row("guidance_scale", 3.0, 0.65),
            _sweep_row("guidance_scale", 5.0, 0.67, rep=0.013),  # loops
            _sweep_row("guidance_scale", 8.0, 0.68, distinct=0.5),  # alternatives coincide
            _sweep_row("guidance_scale", 9.0, 0.69, words=0.86)]  # fmt: skip
    assert sampler_sweep.choose(rows)["guidance_scale"] == 3.0
    table = sampler_sweep.markdown_table(rows)
    assert "| **3** | 0.6500 |" in table and "| 8 | 0.6800 |" in table
    assert sampler_sweep.choose(rows[2:]) is None
    spaces = [_sweep_row("guidance_space", "noise", 0.80), _sweep_row("guidance_space", "x0", 0.81)]
    assert sampler_sweep.choose(spaces, "guidance_space")["guidance_space"] == "x0"
    assert "| **x0** | 0.8100 |" in sampler_sweep.markdown_table(spaces, "guidance_space")
    # 87 % words is enough where the codec's own round trip reads 90 %: 3 points slack
    assert sampler_sweep.choose([_sweep_row("guidance_scale", 9.0, 0.69, words=0.87)])


def test_the_cheapest_step_count_within_tolerance_of_the_best_is_chosen():
    rows = [_sweep_row("steps", 5, 0.60, rep=0.02), _sweep_row("steps", 10, 0.62),
            _sweep_row("steps", 20, 0.647), _sweep_row("steps", 40, 0.65)]  # fmt: skip
    assert sampler_sweep.choose(rows, "steps", tolerance=0.005)["steps"] == 20
    assert sampler_sweep.choose(rows, "steps")["steps"] == 40
    assert sampler_sweep.choose(rows, "steps", tolerance=0.1)["steps"] == 10  # 5: too few


def test_tune_sweeps_each_option_at_the_values_chosen_before_it(setup):
    root, codec, model = setup
    docs = eval_lib.usable_documents(root / "s", "valid", 32)
    words = {w.lower() for t in TEXT for w in t.replace(".", "").split()}
    grids = (sampler_sweep.Grid("guidance_scale", (1.0, 4.0)), sampler_sweep.Grid("steps", (2, 4)))
    tuned = sampler_sweep.tune(model, codec, docs, words, grids, positions=2)
    assert [s["option"] for s in tuned["sweeps"]] == ["guidance_scale", "steps"]
    first, second = (s["rows"] for s in tuned["sweeps"])
    assert set(tuned["chosen"]) <= {"guidance_scale", "steps"}
    fixed = (
        {"guidance_scale": tuned["chosen"]["guidance_scale"]}
        if "guidance_scale" in tuned["chosen"]
        else {}
    )
    again = sampler_sweep.sweep(model, codec, docs, words, (2, 4), "steps", fixed=fixed,
                                positions=2)  # fmt: skip
    assert [r["contrastive_accuracy"] for r in again] == [r["contrastive_accuracy"] for r in second]
    assert len(first) == 2


def test_an_interrupted_tuning_resumes_from_the_rows_it_kept(setup, tmp_path):
    root, codec, model = setup
    docs = eval_lib.usable_documents(root / "s", "valid", 32)
    words = {w.lower() for t in TEXT for w in t.replace(".", "").split()}
    grids = (sampler_sweep.Grid("guidance_scale", (1.0, 4.0)), sampler_sweep.Grid("steps", (2, 4)))
    memo = JsonMemo(tmp_path / "rows.json")
    tuned = sampler_sweep.tune(model, codec, docs, words, grids, positions=2, memo=memo)
    kept = JsonMemo(tmp_path / "rows.json")  # what a restarted process reads back
    assert kept == memo and len(kept) == 4 + 1  # 2 x 2 settings, the figures none changes
    # a kept row is read, not scored again: plant a figure no sampler gives
    first = next(k for k in kept if '"guidance_scale": 1.0' in k)
    kept[first] = {**kept[first], "contrastive_accuracy": -1.0}
    again = sampler_sweep.tune(model, codec, docs, words, grids, positions=2, memo=kept)
    assert again["sweeps"][0]["rows"][0]["contrastive_accuracy"] == -1.0
    assert again["sweeps"][0]["rows"][1] == tuned["sweeps"][0]["rows"][1]


def test_the_held_out_regenerate_comparison_scores_both_ways_at_seeded_positions():
    model = toy_model("two_tower")
    docs = [{"embeddings": torch.randn(n, model.dim).numpy()} for n in (2, 3, 7)]
    result = compare_regenerate(model, docs, k=2, drawn=4, positions=3, seed=1)
    assert result["predictions"] == 0 + 1 + 3  # a context and a next sentence around each
    again = compare_regenerate(model, docs, k=2, drawn=4, positions=3, seed=1)
    assert again == result
    for way in WAYS:
        first, best, mean = (result[way][f] for f in FIGURES)
        assert -1 <= mean <= best <= 1 and first <= best
    # The three-sentence document has one position: the middle sentence, context the first.
    rows = torch.from_numpy(docs[1]["embeddings"])
    plain = model.sample_next(rows[:1], num_samples=2, seed=1 + 0)
    case = next(regenerate_cases(model, docs[1:2], k=2, drawn=4, positions=3, seed=1))
    expected = torch.cosine_similarity(plain, rows[1][None], dim=-1)
    torch.testing.assert_close(case["plain"], expected)


def test_stopping_thresholds_are_measured_on_document_ends_and_real_repeats(setup):
    root, codec, model = setup
    docs = eval_lib.usable_documents(root / "s", "valid", 32)
    tuned = generation_thresholds.tune_thresholds(model, docs)
    ends = tuned["end_of_text"]
    assert [r["eot_threshold"] for r in ends] == list(generation_thresholds.EOT_GRID)
    assert all(r["documents"] == 4 for r in ends)
    for low, high in zip(ends, ends[1:], strict=False):  # a higher bar stops no more often
        assert high["stopped_at_end"] <= low["stopped_at_end"]
        assert high["stopped_inside"] <= low["stopped_inside"]
    assert tuned == generation_thresholds.tune_thresholds(model, docs)  # seeded
    assert set(tuned["chosen"]) == {"eot_threshold", "repeat_threshold"}
    table = generation_thresholds.markdown_tables(tuned)
    assert f"| **{tuned['chosen']['eot_threshold']:g}** |" in table


def test_the_repeat_rate_of_real_text_counts_each_sentence_against_earlier_ones():
    unit = torch.eye(4)
    near = torch.nn.functional.normalize(unit[0] + 0.01 * unit[1], dim=0)  # cosine 0.99995
    doc = {"sentences": ["a", "b", "c", END_OF_TEXT],
           "embeddings": torch.stack([unit[0], unit[2], near, unit[3]]).numpy()}  # fmt: skip
    rows = generation_thresholds.repeat_rows([doc], grid=(0.9, 0.99999))
    # "b" is unlike "a"; "c" nearly repeats "a" (two sentences after the first)
    assert rows == [
        {"repeat_threshold": 0.9, "real_repeats": 0.5, "sentences": 2},
        {"repeat_threshold": 0.99999, "real_repeats": 0.0, "sentences": 2},
    ]


def test_the_chosen_thresholds_separate_ends_best_and_spare_real_text():
    def end(t, at_end, inside):
        return {"eot_threshold": t, "stopped_at_end": at_end, "stopped_inside": inside}

    ends = [end(0.9, 0.97, 0.87), end(0.97, 0.75, 0.0), end(0.99, 0.75, 0.0)]
    repeats = [{"repeat_threshold": t, "real_repeats": r}
               for t, r in ((0.99, 0.43), (0.999, 0.07), (0.9995, 0.03))]  # fmt: skip
    chosen = generation_thresholds.choose(ends, repeats)
    assert chosen == {"eot_threshold": 0.99, "repeat_threshold": 0.999}  # tie: the higher
    assert generation_thresholds.choose(ends, repeats[:1])["repeat_threshold"] == 0.99


def test_eval_stops_at_the_generation_thresholds_it_is_given(setup):
    root, codec, _ = setup
    cfg = eval_lib.EvalConfig(
        model=root / "m" / FINAL, data=root / "s", out=root / "g", max_new=3, max_sentences=2,
        noise_levels=(0.1,), device="cpu",
        generation={"eot_threshold": 2.0, "repeat_threshold": 2.0},
    )  # fmt: skip
    results = eval_lib.evaluate(cfg, codec=codec)
    assert results["setup"]["generation"]["eot_threshold"] == 2.0
    assert results["generation"]["generated_concepts"] == 3  # nothing stops early
    with pytest.raises(ValueError, match="generation has no option 'eot'"):
        eval_lib.evaluate(dataclasses.replace(cfg, generation={"eot": 0.5}), codec=codec)
