"""What a writer waits for, through the real WriterService, store (SQLite file) and demo
models: regenerate one node (K=4), decode a whole 100-sentence document (the language
view), and open a 10,000-node document (read it, render the outline and reading view).

Regenerate is also timed part by part (read the document, sample, decode, store), so the
largest cost can be named. When the bundled demo models have not been built yet, random
weights of the same shapes stand in (flagged in the JSON).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from app import views
from app.service import DECODE_BATCH, WriterService
from engine.lcm import LCMNotFoundError, build_model, load_lcm, preset
from storage import DocumentStore, Kind, NewNode, NewVariant

from .codec_speed import SENTENCES, demo_codec
from .harness import measure, write_results

DOCUMENT_SENTENCES = 100
BIG_SECTIONS, BIG_SENTENCES_PER_SECTION = 100, 98  # + a paragraph each: 10,000 nodes
K = 4


def demo_lcm(dim: int):
    try:
        return load_lcm("demo", device="cpu"), "bundled weights"
    except LCMNotFoundError:
        torch.manual_seed(0)
        return build_model(preset("demo", dim=dim)).eval(), "random weights (not built yet)"


def document_text(sentences: int) -> str:
    """`sentences` sentences in paragraphs of five."""
    rows = [SENTENCES[i % len(SENTENCES)] for i in range(sentences)]
    return "\n\n".join(" ".join(rows[i : i + 5]) for i in range(0, sentences, 5))


def big_document(dim: int) -> list[NewNode]:
    rng = np.random.default_rng(0)

    def sentence(i: int) -> NewNode:
        embedding = rng.standard_normal(dim).astype(np.float32)
        return NewNode(Kind.SENTENCE, SENTENCES[i % len(SENTENCES)], embedding)

    return [
        NewNode(
            Kind.SECTION,
            f"Section {s}",
            rng.standard_normal(dim).astype(np.float32),
            children=[
                NewNode(
                    Kind.PARAGRAPH,
                    "",
                    children=[sentence(i) for i in range(BIG_SENTENCES_PER_SECTION)],
                )
            ],
        )
        for s in range(BIG_SECTIONS)
    ]


def regenerate_cases(service: WriterService, repeats: int) -> list:
    doc = service.import_text(document_text(DOCUMENT_SENTENCES), title="Benchmark")
    node = list(doc.sentences())[-1]  # the last sentence: the longest context
    store, lcm, codec = service.store, service.lcm, service.codec
    before = [n.embedding for n in doc.sentences() if n.id != node.id]
    context = torch.tensor(np.stack(before))
    samples = lcm.sample_next(context, num_samples=K, seed=0)
    texts = codec.decode(samples, lang=node.language)
    pairs = zip(texts, samples, strict=True)
    variants = [NewVariant(t, e.numpy(), node.language, 0.0) for t, e in pairs]
    common = {"k": K, "context": len(context)}
    return [
        measure("regenerate", lambda: service.regenerate(doc.id, node.id, K), repeats=repeats,
                **common),
        measure("regenerate.read_document", lambda: store.get_document(doc.id), repeats=repeats,
                **common),
        measure("regenerate.sample_next", lambda: lcm.sample_next(context, K, seed=0),
                repeats=repeats, **common),
        measure("regenerate.decode", lambda: codec.decode(samples, lang=node.language),
                repeats=repeats, **common),
        measure("regenerate.store_variants", lambda: store.add_variants(node.id, variants),
                repeats=repeats, **common),
    ]  # fmt: skip


def decode_document_case(service: WriterService, repeats: int):
    """What the language view does for a document: decode every concept, DECODE_BATCH at
    a time (translate_document; the demo codec writes only English, so the same decode
    calls are timed directly)."""
    doc = service.import_text(document_text(DOCUMENT_SENTENCES), title="Decode")
    concepts = torch.tensor(np.stack([n.embedding for n in doc.nodes if n.embedding is not None]))
    lang = doc.language

    def decode_all():
        for start in range(0, len(concepts), DECODE_BATCH):
            service.codec.decode(concepts[start : start + DECODE_BATCH], lang=lang)

    return measure(
        "decode_document", decode_all, repeats=repeats, items=len(concepts), concepts=len(concepts)
    )


def open_document_cases(store: DocumentStore, dim: int, repeats: int) -> list:
    doc = store.create_document("Big", big_document(dim), language="eng_Latn",
                                codec_name="demo", codec_dim=dim)  # fmt: skip

    def render():
        view = store.get_document(doc.id)
        views.outline_html(view.nodes, view.nodes[0].id)
        views.reading_html(view.nodes)

    nodes = len(doc.nodes)
    return [
        measure("open_document", render, repeats=repeats, nodes=nodes),
        measure("open_document.read", lambda: store.get_document(doc.id), repeats=repeats,
                nodes=nodes),
    ]  # fmt: skip


def run(options):
    repeats = options.repeats
    with tempfile.TemporaryDirectory() as tmp:
        codec, codec_weights = demo_codec(Path(tmp) / "codec")
        lcm, lcm_weights = demo_lcm(codec.dim)
        store = DocumentStore(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        service = WriterService(codec=codec, lcm=lcm, store=store)
        service.warm_up()
        results = regenerate_cases(service, repeats)
        results.append(decode_document_case(service, repeats))
        results += open_document_cases(store, codec.dim, repeats)
        store.close()
    extra = {"codec_weights": codec_weights, "lcm_weights": lcm_weights}
    return write_results("app", results, extra)
