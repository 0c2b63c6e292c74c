"""Stages 3 to 5 of the demo build: the English documents encoded by the demo codec
into shards, and the normaliser and the RVQ fitted on them."""

from __future__ import annotations

from pathlib import Path

from engine.data import corpus
from engine.data.normalizer_fit import FitNormalizerConfig, fit_normalizer
from engine.data.prepare import PrepareConfig, prepare
from engine.data.rvq_fit import FitRVQConfig, fit_rvq
from engine.demo.constants import RVQ_CODEBOOKS, RVQ_SAMPLE, RVQ_UNITS
from engine.lcm.config import NormalizerKind


def build_shards(work: Path, codec_dir: Path) -> Path:
    """<work>/shards (finished shards are kept) and the normalisers fitted on them:
    <work>/normalizer.safetensors (robust) and normalizer_whitened.safetensors."""
    shards = work / "shards"
    documents = corpus.write_documents(
        work / "corpus" / "documents.jsonl",
        work / "corpus" / "documents.eng_Latn.jsonl",
        "eng_Latn",
    )
    prepare(
        PrepareConfig(
            inputs=(documents,), out=shards, codec=str(codec_dir), lang="eng_Latn", device="cpu"
        )
    )
    for kind in ("robust", "whitened"):
        if not normalizer_path(work, kind).exists():
            fit_normalizer(FitNormalizerConfig(shards, normalizer_path(work, kind), kind=kind))
    return shards


def normalizer_path(work: Path, kind: NormalizerKind) -> Path:
    """The robust normaliser keeps its historical name, so older work dirs resume."""
    return work / (
        "normalizer.safetensors" if kind == "robust" else f"normalizer_{kind}.safetensors"
    )


def build_rvq(work: Path) -> Path:
    path = work / "rvq.safetensors"
    if not path.exists():
        fit_rvq(
            FitRVQConfig(
                shards=work / "shards",
                out=path,
                codebooks=RVQ_CODEBOOKS,
                units=RVQ_UNITS,
                max_concepts=RVQ_SAMPLE,
            )
        )
    return path
