"""Evaluating an LCM and its codec on held-out shards (`lcm-writer eval`).

`evaluate` writes `eval.json` and `eval.md` (a Markdown table) to its `out` directory:
- next-concept metrics of the paper's section 2.4 at random positions of each document:
  l2, round-trip l2, contrastive accuracy, paraphrasing, mutual information (a named
  proxy unless a language model is supplied: see engine.eval.mutual_information);
- generation: continue each document from its first half (or, on fine-tuning shards,
  expand its source) and score the decoded text: ROUGE-L against the reference, OVL-3
  against the source text, REP-4;
- the codec: AutoBLEU of sentence round trips decode(encode(s)), and fragility: AutoBLEU
  of decode(x + noise) against decode(x) and the cosine of its re-encoding to x, at
  several relative noise levels;
- for a quantized LCM, its RVQ's auto-encoding curve (engine.eval.rvq_curve);
- with a writer word list, the writer-facing section (engine.eval.writer_metrics): decoded K=4
  regenerations and 5-sentence continuations, and ten examples chosen by the seed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from engine.data.shards import END_OF_TEXT, read_documents
from engine.errors import check_same_space
from engine.eval import concept_metrics as cm
from engine.eval import text_metrics as tm
from engine.eval import writer_metrics as wm
from engine.eval.mutual_information import LogProbModel, UnigramCacheLM
from engine.eval.rvq_curve import autoencoding_curve
from engine.lcm.generation import set_stopping

DOCUMENT_SEED = 0  # the shuffle that draws the documents evaluated (usable_documents)


@dataclass(frozen=True)
class EvalConfig:
    model: str | Path  # LCM checkpoint directory or "demo"
    data: Path  # shard directory
    out: Path  # directory for eval.json and eval.md
    split: str = "valid"  # split to evaluate on
    codec: str | None = None  # None: the shards' codec
    max_docs: int = 32  # documents to evaluate
    positions: int = 4  # predictions per document
    max_sentences: int = 64  # sentences for the codec metrics
    max_new: int = 8  # concepts to generate per document
    noise_levels: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5)  # fragility levels
    lang: str = "eng_Latn"  # language to decode into
    seed: int = 0
    device: str | None = None
    # A word list of `lang`, one word a line (e.g. Debian's wamerican): adds the
    # writer-facing section (engine.eval.writer_metrics), off when None.
    writer_words: Path | None = None
    # Stopping thresholds over the model's own (engine.lcm.config.GenerationConfig
    # fields), e.g. those tuned for the codec, so that models compared stop alike.
    generation: Mapping[str, float] | None = None


def usable_documents(data: str | Path, split: str, max_docs: int, skip: int = 0) -> list[dict]:
    """Up to max_docs documents of `split` with two or more concepts (a context and a next
    concept to predict), drawn by a fixed shuffle after the first `skip` drawn: shards
    follow the input files, so the first documents of a split are often one source, and
    disjoint slices of one shuffle keep a tuning set apart from the reported one. At least
    two are needed (contrastive accuracy compares them)."""
    usable = [d for d in read_documents(data, split) if len(d["embeddings"]) >= 2]
    order = np.random.default_rng(DOCUMENT_SEED).permutation(len(usable))
    docs = [usable[i] for i in order[skip : skip + max_docs]]
    if len(docs) < 2:
        raise ValueError(
            f"split {split!r} of {data} has {len(docs)} usable document(s) after the first "
            f"{skip} drawn; evaluation needs at least 2 with 2 or more concepts"
        )
    return docs


def heldout_positions(docs: list[dict], positions: int, seed: int) -> list[tuple[dict, int]]:
    """(document, index) of up to `positions` seeded concepts (index >= 1, so there is
    context) per document: every model and baseline is scored at the same ones."""
    rng = np.random.default_rng(seed)
    places = []
    for doc in docs:
        n = len(doc["embeddings"])
        picks = rng.choice(np.arange(1, n), min(positions, n - 1), replace=False)
        places += [(doc, int(i)) for i in sorted(picks)]
    return places


def position_concepts(places: list[tuple[dict, int]]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The concepts before each of `places` (heldout_positions') and the true next ones
    [N, dim]."""
    contexts = [torch.from_numpy(doc["embeddings"][:i]) for doc, i in places]
    return contexts, torch.stack([torch.from_numpy(doc["embeddings"][i]) for doc, i in places])


def predict_next(
    model, contexts: list[torch.Tensor], seed: int, sampler: Mapping[str, Any] | None = None
) -> torch.Tensor:
    """One sampled next concept per context [N, dim] (float, CPU); prediction i draws its
    noise from seed + i."""
    options = dict(sampler or {})
    return torch.stack(
        [
            model.sample_next(c.to(model.device), num_samples=1, seed=seed + i, **options)[0]
            .float()
            .cpu()
            for i, c in enumerate(tqdm(contexts, desc="predict", leave=False))
        ]
    )


def next_concept_metrics(
    model,
    codec,
    docs,
    lm: LogProbModel,
    lang: str,
    seed: int,
    positions: int = 4,
    sampler: Mapping[str, Any] | None = None,
) -> dict:
    """Paper section 2.4 metrics at up to `positions` random positions (>= 1) per document.
    The positions and each prediction's noise depend only on `seed`; `sampler` overrides
    the model's sampler options (e.g. {"guidance_space": "x0"})."""
    places = heldout_positions(docs, positions, seed)
    contexts, targets = position_concepts(places)
    context_texts = [" ".join(doc["sentences"][:i]) for doc, i in places]
    predicted = predict_next(model, contexts, seed, sampler)
    decoded = codec.decode(predicted, lang=lang)
    reencoded = codec.encode(decoded, lang=lang).float().cpu()
    conditional, unconditional, lengths = [], [], []
    for text, context in zip(decoded, context_texts, strict=True):
        with_context, n = lm.logprob(text, context)
        alone, _ = lm.logprob(text, None)
        if n:
            conditional.append(with_context), unconditional.append(alone), lengths.append(n)
    metrics = {
        "predictions": len(predicted),
        "l2": cm.l2_distance(predicted, targets),
        "round_trip_l2": cm.l2_distance(predicted, reencoded),
        "contrastive_accuracy": cm.contrastive_accuracy(predicted, targets),
        "paraphrasing": cm.paraphrasing(predicted, contexts),
    }
    if lengths:
        metrics[lm.name] = cm.pointwise_mutual_information(conditional, unconditional, lengths)
    return metrics


def generation_metrics(model, codec, docs, max_new: int, lang: str, seed: int) -> dict:
    """Continue (or expand) each document, decode, and score the text."""
    prompts, references, sources = [], [], []
    for doc in docs:
        sentences = [s for s in doc["sentences"] if s != END_OF_TEXT]
        if "source_embeddings" in doc:  # fine-tuning shards: source -> target
            prompts.append(torch.from_numpy(doc["source_embeddings"]))
            sources.append(" ".join(doc["source_sentences"]))
            references.append(" ".join(sentences))
        else:
            half = max(1, len(sentences) // 2)
            prompts.append(torch.from_numpy(doc["embeddings"][:half]))
            sources.append(" ".join(sentences[:half]))
            references.append(" ".join(sentences[half:]))
    generated = model.generate_batch(
        [p.to(model.device) for p in prompts], max_concepts=max_new, seed=seed
    )
    texts = [
        " ".join(codec.decode(g.float().cpu(), lang=lang)) if len(g) else "" for g in generated
    ]
    n = len(texts)
    return {
        "rouge_l": sum(map(tm.rouge_l, texts, references)) / n,
        "ovl_3": sum(tm.ngram_overlap(t, s, 3) for t, s in zip(texts, sources, strict=True)) / n,
        "rep_4": sum(tm.ngram_repetition(t, 4) for t in texts) / n,
        "generated_concepts": sum(len(g) for g in generated) / n,
        "example": texts[0],
    }


def codec_metrics(codec, sentences: list[str], levels: list[float], lang: str, seed: int) -> dict:
    """AutoBLEU of round trips, and fragility under relative Gaussian noise."""
    embeddings = codec.encode(sentences, lang=lang).float().cpu()
    clean = codec.decode(embeddings, lang=lang)
    metrics = {"auto_bleu": tm.auto_bleu(clean, sentences)}
    generator = torch.Generator().manual_seed(seed)
    for level in levels:
        noisy = codec.decode(cm.add_relative_noise(embeddings, level, generator), lang=lang)
        metrics[f"fragility_auto_bleu@{level:g}"] = tm.auto_bleu(noisy, clean)
        reencoded = codec.encode(noisy, lang=lang).float().cpu()
        metrics[f"fragility_cosine@{level:g}"] = cm.mean_cosine(reencoded, embeddings)
    return metrics


def markdown_table(results: dict) -> str:
    lines = ["| group | metric | value |", "|---|---|---|"]
    for group, metrics in results.items():
        if not isinstance(metrics, dict):
            continue
        for name, value in metrics.items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value).replace("|", "/")
            shown = shown if len(shown) <= 120 else shown[:117] + "..."
            lines.append(f"| {group} | {name} | {shown} |")
    return "\n".join(lines) + "\n"


def evaluate(cfg: EvalConfig, model=None, codec=None) -> dict:
    """Run every metric and write eval.json and eval.md to `cfg.out`; returns the results.
    `model` / `codec` may be passed in, else they are loaded as `cfg` names them."""
    words = wm.load_word_list(cfg.writer_words) if cfg.writer_words else None
    docs = usable_documents(cfg.data, cfg.split, cfg.max_docs)
    if model is None:
        from engine.lcm import load_lcm

        model = load_lcm(cfg.model, device=cfg.device)
    if codec is None:
        from engine.codec import load_codec
        from engine.data.shards import list_shards, shard_codec

        name = cfg.codec or shard_codec(list_shards(cfg.data)[0])["codec"]
        codec = load_codec(name, cfg.device)
    check_same_space(model, codec)
    set_stopping(model, dict(cfg.generation or {}))
    sentences = [s for d in docs for s in d["sentences"] if s != END_OF_TEXT]
    with torch.inference_mode():
        results = {
            "next_concept": next_concept_metrics(
                model, codec, docs, UnigramCacheLM(sentences), cfg.lang, cfg.seed, cfg.positions
            ),
            "generation": generation_metrics(model, codec, docs, cfg.max_new, cfg.lang, cfg.seed),
            "codec": codec_metrics(
                codec, sentences[: cfg.max_sentences], list(cfg.noise_levels), cfg.lang, cfg.seed
            ),
        }
        if hasattr(model, "rvq"):
            results["rvq"] = autoencoding_curve(
                codec, model.rvq, sentences[: cfg.max_sentences], cfg.lang
            )
        if words is not None:
            results["writer"] = wm.writer_metrics(
                model, codec, docs, words, positions=cfg.positions, seed=cfg.seed, lang=cfg.lang
            )
            results["writer_examples"] = results["writer"].pop("examples")
    results["setup"] = {
        "model": str(cfg.model),
        "codec": codec.name,
        "data": str(cfg.data),
        "split": cfg.split,
        "documents": len(docs),
        "sentences": min(len(sentences), cfg.max_sentences),
        "predictions": results["next_concept"].pop("predictions"),
        "generation": dataclasses.asdict(model.config.generation),
    }
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    examples = wm.examples_markdown(results.get("writer_examples", []))
    (out / "eval.md").write_text(markdown_table(results) + examples)
    return results
