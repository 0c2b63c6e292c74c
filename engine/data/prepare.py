"""Preparing a corpus (`lcm-writer prepare`): documents -> sentences -> concepts -> shards.

Every document is split into sentences (engine.segment), the sentence "End of text." is
appended (its concept teaches a model to stop), and all sentences are encoded with a
codec in length-sorted batches. Documents are grouped into Parquet shards of
`shard_size`; shard k is handled by process k mod N, so `accelerate launch
--num_processes N lcm-writer prepare ...` embeds a corpus on N GPUs (or nodes). Finished
shards are skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm import tqdm

from engine.data.shards import (
    END_OF_TEXT,
    EncodedDocument,
    ShardError,
    shard_codec,
    write_shard,
)
from engine.data.sources import SourceDocument, iter_documents

T = TypeVar("T")


@dataclass(frozen=True)
class PrepareConfig:
    inputs: tuple[str | Path, ...]  # files or directories (.txt .md .jsonl .parquet)
    out: Path  # directory for the Parquet shards
    codec: str = "demo"  # "demo", "sonar" or a codec directory
    lang: str | None = None  # SONAR code (e.g. eng_Latn); None: detect per document
    split: str = "train"  # split of documents that name none
    text_field: str = "text"  # JSONL/Parquet field with the text
    source_field: str | None = None  # JSONL/Parquet field with a fine-tuning source
    limit: int | None = None  # only the first N documents
    shard_size: int = 1000  # documents per shard
    batch_size: int = 64  # sentences per encoder call
    max_chars: int = 200  # re-split longer sentences
    device: str | None = None  # codec device (None: cuda if present)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter); itertools.batched
    arrives only in Python 3.12."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def encode_sentences(codec, sentences: list[tuple[str, str]], batch_size: int) -> np.ndarray:
    """Encode (sentence, lang) pairs in batches of similar length; rows in input order."""
    out = np.zeros((len(sentences), codec.dim), dtype=np.float32)
    order = sorted(range(len(sentences)), key=lambda i: (sentences[i][1], len(sentences[i][0])))
    with tqdm(total=len(sentences), desc="encode", unit="sent", leave=False) as bar:
        for lang, group in itertools.groupby(order, key=lambda i: sentences[i][1]):
            for batch in _chunks(group, batch_size):
                with torch.inference_mode():
                    emb = codec.encode([sentences[i][0] for i in batch], lang=lang)
                out[list(batch)] = emb.float().cpu().numpy()
                bar.update(len(batch))
    return out


def encode_shard(
    codec, docs: list[SourceDocument], cfg: PrepareConfig, eot: np.ndarray
) -> list[EncodedDocument]:
    """Segment and encode one shard's documents; documents without sentences are dropped."""
    from engine.lang import detect_language
    from engine.segment import split_sentences

    pending: list[tuple[str, str]] = []  # (sentence, lang) of every text and source
    layout = []  # per document: (doc, text sentences slice, source sentences slice or None)
    for doc in docs:
        lang = cfg.lang or detect_language(doc.text)
        spans = []
        for text in (doc.text, doc.source):
            if text is None:
                spans.append(None)
                continue
            sentences = split_sentences(text, lang, cfg.max_chars)
            spans.append(slice(len(pending), len(pending) + len(sentences)))
            pending.extend((s, lang) for s in sentences)
        if spans[0].stop > spans[0].start and (spans[1] is None or spans[1].stop > spans[1].start):
            layout.append((doc, *spans))
    embeddings = encode_sentences(codec, pending, cfg.batch_size)

    def encoded(text: str, span: slice, split: str, with_eot: bool) -> EncodedDocument:
        sentences = [s for s, _ in pending[span]]
        rows = embeddings[span]
        if with_eot:
            sentences, rows = sentences + [END_OF_TEXT], np.concatenate([rows, eot[None]])
        return EncodedDocument(text, sentences, rows, split)

    result = []
    for doc, text_span, source_span in layout:
        split = doc.split or cfg.split
        item = encoded(doc.text, text_span, split, with_eot=True)
        if source_span is not None:
            item.source = encoded(doc.source, source_span, split, with_eot=False)
        result.append(item)
    return result


def prepare(cfg: PrepareConfig, codec=None, rank: int = 0, world_size: int = 1) -> list[Path]:
    """Write the shards of process `rank` of `world_size` (shard k belongs to rank
    k mod world_size); returns their paths. `codec` may be passed in (tests, notebooks);
    otherwise `cfg.codec` is loaded."""
    if cfg.shard_size < 1 or cfg.batch_size < 1:
        raise ValueError("shard_size and batch_size must be at least 1")
    if codec is None:
        from engine.codec import load_codec

        codec = load_codec(cfg.codec, device=cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    expected = {"codec": codec.name, "dim": codec.dim}
    eot = codec.encode([END_OF_TEXT], lang="eng_Latn")[0].float().cpu().numpy()
    documents = itertools.islice(
        iter_documents(cfg.inputs, cfg.text_field, cfg.source_field), cfg.limit
    )
    mine: list[Path] = []
    for index, chunk in enumerate(_chunks(documents, cfg.shard_size)):
        if index % world_size != rank:
            continue
        path = out / f"shard-{index:05d}.parquet"
        mine.append(path)
        if path.exists():
            found = shard_codec(path)
            if found != expected:
                raise ShardError(
                    f"{path} was encoded with {found}, not {expected}; "
                    "write to a new --out directory or delete the old shards"
                )
            continue
        encoded = encode_shard(codec, chunk, cfg, eot)
        write_shard(path, encoded, codec.name, codec.dim)
        print(f"[rank {rank}] {path.name}: {len(encoded)} documents")
    return mine
