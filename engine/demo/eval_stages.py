"""Stage 7 of the demo build: what the cards report. The RVQ's auto-encoding curve, each
LCM's held-out metrics beside two trivial baselines, and the bundled LCM's sampler
comparison, sampler tuning and regenerate comparison. Each is cached under <work>/eval.

The held-out documents (split valid) are used two ways, never both: the first EVAL_DOCS
drawn (engine.eval.evaluate.usable_documents, a fixed shuffle) are what every reported
figure is measured on; the next EVAL_DOCS drawn are what the bundled sampler is tuned
on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.codec import demo_train, load_codec
from engine.data.shards import END_OF_TEXT, read_documents
from engine.demo.constants import EVAL_DOCS, EVAL_POSITIONS, REGENERATE_DOCS, RVQ_HELDOUT
from engine.eval import concept_metrics as cm
from engine.eval import sampler_sweep
from engine.eval.concept_checks import (
    compare_regenerate,
    nearest_cosines,
    pair_cosines,
    repeat_threshold,
)
from engine.eval.evaluate import (
    EvalConfig,
    evaluate,
    heldout_positions,
    position_concepts,
    predict_next,
    usable_documents,
)
from engine.eval.generation_thresholds import tune_thresholds
from engine.eval.rvq_curve import autoencoding_curve
from engine.eval.sampler_comparison import compare_samplers
from engine.eval.writer_metrics import load_word_list
from engine.lcm import ResidualVQ, load_lcm
from engine.lcm.generation import set_stopping
from engine.paths import ASSETS, WORD_LIST
from engine.train.trainer import SNAPSHOTS


def rvq_curve(work: Path, codec_dir: Path) -> dict:
    """The RVQ's auto-encoding curve on the codec's held-out English sentences (the
    sample its own card's held-out figures use); cached."""
    out = work / "eval" / "rvq_curve.json"
    if not out.exists():
        rvq, _ = ResidualVQ.load(work / "rvq.safetensors")
        sentences = demo_train.heldout_sample(
            demo_train.sentence_file(work / "corpus", "valid"), RVQ_HELDOUT
        )
        curve = autoencoding_curve(load_codec(codec_dir, device="cpu"), rvq, sentences, "eng_Latn")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"sentences": len(sentences), **curve}, indent=2) + "\n")
    return json.loads(out.read_text())


def eval_lcm(
    work: Path, model: Path, codec_dir: Path, name: str, generation: dict | None = None
) -> dict:
    """`lcm-writer eval` of one LCM on the held-out documents, writer section included,
    stopping at `generation`'s thresholds (those tuned for the codec) where given; cached
    in <work>/eval/<name>."""
    out = work / "eval" / name
    if not (out / "eval.json").exists():
        cfg = EvalConfig(
            model=model,
            data=work / "shards",
            out=out,
            split="valid",
            codec=str(codec_dir),
            max_docs=EVAL_DOCS,
            positions=EVAL_POSITIONS,
            writer_words=WORD_LIST,
            generation=generation,
        )
        evaluate(cfg)
    return json.loads((out / "eval.json").read_text())


def heldout_contexts(
    work: Path, max_docs: int, positions: int, seed: int
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The concepts before each position `lcm-writer eval` samples (same seed) in the
    held-out documents, and the true next concepts [N, dim]."""
    docs = usable_documents(work / "shards", "valid", max_docs)
    return position_concepts(heldout_positions(docs, positions, seed))


def baseline_metrics(
    work: Path, max_docs: int = EVAL_DOCS, positions: int = EVAL_POSITIONS, seed: int = 0
) -> dict:
    """The two trivial predictors the LCMs must beat, at the positions `lcm-writer eval`
    samples (same seed): copy the previous concept; predict the mean training concept."""
    train_docs = read_documents(work / "shards", "train", None)
    mean = torch.from_numpy(np.concatenate([d["embeddings"] for d in train_docs]).mean(0))
    contexts, target = heldout_contexts(work, max_docs, positions, seed)
    previous = [context[-1] for context in contexts]
    results = {}
    for name, predicted in (
        ("copy_previous", torch.stack(previous)),
        ("mean_concept", mean.expand_as(target)),
    ):
        results[name] = {
            "l2": cm.l2_distance(predicted, target),
            "contrastive_accuracy": cm.contrastive_accuracy(predicted, target),
            "paraphrasing": cm.paraphrasing(predicted, contexts),
        }
    return results


def learning_curve(work: Path, model_type: str) -> list[dict]:
    """Held-out l2 and contrastive accuracy of one LCM's snapshots (one every
    `snapshot_every` training steps), at the positions and with the noise of `lcm-writer
    eval`, each at its training-time sampler: does more training still help? Cached;
    [] when the run kept no snapshots."""
    out = work / "eval" / f"curve_{model_type}.json"
    if not out.exists():
        snapshots = sorted((work / f"lcm_{model_type}" / SNAPSHOTS).glob("step-*"))
        contexts, target = heldout_contexts(work, EVAL_DOCS, EVAL_POSITIONS, seed=0)
        rows = []
        with torch.inference_mode():
            for snapshot in snapshots:
                predicted = predict_next(load_lcm(snapshot, device="cpu"), contexts, seed=0)
                rows.append(
                    {
                        "step": int(snapshot.name.removeprefix("step-")),
                        "l2": cm.l2_distance(predicted, target),
                        "contrastive_accuracy": cm.contrastive_accuracy(predicted, target),
                    }
                )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2) + "\n")
    return json.loads(out.read_text())


def sampler_comparison(work: Path, model: Path, codec_dir: Path) -> list[dict]:
    """The bundled LCM's next-concept metrics under the sampler variants of
    engine.eval.sampler_comparison (guidance in noise or x0 space, epsilon scaling), at
    the held-out positions `lcm-writer eval` uses; cached."""
    out = work / "eval" / "sampler_comparison.json"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        codec = load_codec(codec_dir, device="cpu")
        rows = compare_samplers(model, work / "shards", codec, EVAL_POSITIONS, device="cpu")
        out.write_text(json.dumps(rows, indent=2) + "\n")
    return json.loads(out.read_text())


def tuning_documents(work: Path) -> list[dict]:
    """Held-out documents EVAL_DOCS + 1 to 2 x EVAL_DOCS drawn (those with two or more
    concepts): the sampler is tuned on these, which no reported figure reads."""
    return usable_documents(work / "shards", "valid", EVAL_DOCS, skip=EVAL_DOCS)


class JsonMemo(dict):
    """A dict kept in a JSON file, rewritten (atomically) with every new entry: an hour-long
    sweep that is interrupted keeps what it scored."""

    def __init__(self, path: Path):
        super().__init__(json.loads(path.read_text()) if path.exists() else {})
        self.path = path

    def __setitem__(self, key: str, value) -> None:
        super().__setitem__(key, value)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self, indent=2) + "\n")
        partial.replace(self.path)


def sampler_tuning(work: Path, model: Path, codec_dir: Path) -> dict:
    """The bundled LCM's stopping thresholds (engine.eval.generation_thresholds), then its
    sampler at those thresholds (engine.eval.sampler_sweep.tune), both tuned on
    `tuning_documents`: sampler_sweep.tune's result plus "generation"; cached, and its
    thresholds and rows cached as they are scored (a restart resumes the sweep)."""
    out = work / "eval" / "sampler_tuning.json"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        codec, lcm = load_codec(codec_dir, device="cpu"), load_lcm(model, device="cpu")
        docs = tuning_documents(work)
        rows = JsonMemo(out.with_name("sampler_tuning.rows.json"))
        if "thresholds" not in rows:  # no sweep row has this key: theirs are JSON objects
            rows["thresholds"] = tune_thresholds(lcm, docs)
        thresholds = rows["thresholds"]
        set_stopping(lcm, thresholds["chosen"])
        tuned = sampler_sweep.tune(lcm, codec, docs, load_word_list(WORD_LIST), memo=rows)
        out.write_text(json.dumps({**tuned, "generation": thresholds}, indent=2) + "\n")
    return json.loads(out.read_text())


def regenerate_comparison(work: Path, model: Path) -> dict:
    """Plain regenerate against regenerate that fits both sides (engine.eval.concept_checks)
    at up to 4 positions in each of the first REGENERATE_DOCS held-out documents; cached."""
    out = work / "eval" / "regenerate.json"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        docs = usable_documents(work / "shards", "valid", REGENERATE_DOCS)
        result = compare_regenerate(load_lcm(model, device="cpu"), docs)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return json.loads(out.read_text())


EVERYDAY_NEIGHBOURS = 200  # lines of assets/eval/everyday_en.txt whose neighbours are pairs


def repeat_cosine(work: Path, codec_dir: Path) -> dict:
    """The cosine above which the writer flags two sentences as saying the same thing
    (engine.eval.concept_checks.repeat_threshold), for this codec: the everyday
    paraphrase pairs of assets/eval against neighbours that say something else
    (consecutive everyday lines; each sentence of a tuning document with its nearest
    other sentence there, as the badge compares them); cached."""
    out = work / "eval" / "repeat.json"
    if not out.exists():
        codec = load_codec(codec_dir, device="cpu")
        lines = (ASSETS / "eval" / "everyday_paraphrases.tsv").read_text().splitlines()[1:]
        originals, paraphrases = zip(*(line.split("\t") for line in lines), strict=True)
        everyday = (ASSETS / "eval" / "everyday_en.txt").read_text().splitlines()
        everyday = codec.encode([s for s in everyday if s.strip()][:EVERYDAY_NEIGHBOURS])
        docs = [d["embeddings"][_sentence_rows(d)] for d in tuning_documents(work)]
        documents = np.concatenate(
            [nearest_cosines(torch.from_numpy(e)) for e in docs if len(e) > 1]
        )
        prose = pair_cosines(everyday[:-1], everyday[1:])
        found = repeat_threshold(
            pair_cosines(codec.encode(list(originals)), codec.encode(list(paraphrases))),
            np.concatenate([prose, documents]),
        )
        found["everyday_neighbours_flagged"] = float((prose >= found["threshold"]).mean())
        found["document_neighbours_flagged"] = float((documents >= found["threshold"]).mean())
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(found, indent=2) + "\n")
    return json.loads(out.read_text())


def _sentence_rows(doc: dict) -> list[int]:
    """Rows of a shard document that are sentences (not its end-of-text marker)."""
    return [i for i, s in enumerate(doc["sentences"]) if s != END_OF_TEXT]
