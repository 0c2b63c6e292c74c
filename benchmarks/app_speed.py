"""What a writer waits for, through the real WriterService, store (SQLite file) and demo
models: regenerate one node (K=4) after 100 and after 10,000 sentences, expand an outline
item by 5 sentences after 100, decode a whole 100-sentence document (the language view),
import 5 MB of prose, and open a document of
10,000 sentences (read and render it on the server, and in Chromium from the click until
its last sentence is in the outline).

Regenerate is also timed part by part (read its context window, sample, decode, store), so the
largest cost can be named. When the bundled demo models have not been built yet, random
weights of the same shapes stand in (flagged in the JSON).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from app import views
from app.config import Settings, codec_dtype
from app.service import CONTEXT_WINDOW, DECODE_BATCH, WriterService
from engine.lcm import LCMNotFoundError, build_model, load_lcm, preset
from engine.paths import EVERYDAY_EN
from storage import DocumentStore, DocumentView, Kind, NewNode, NewVariant

from .codec_speed import SENTENCES, demo_codec
from .harness import Measurement, measure, measure_once, write_results

DOCUMENT_SENTENCES = 100
BIG_SECTIONS, BIG_SENTENCES_PER_SECTION = 100, 100  # + a paragraph each: 10,200 nodes
K = 4
EXPAND = 5
IMPORT_BYTES = 5 * 2**20


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


def imported(service: WriterService, title: str) -> DocumentView:
    """A DOCUMENT_SENTENCES-sentence document imported, read with its concepts."""
    doc = service.import_text(document_text(DOCUMENT_SENTENCES), title=title)
    return service.store.get_document(doc.id)


def regenerate_cases(service: WriterService, repeats: int) -> list:
    doc = imported(service, "Benchmark")
    sentences = list(doc.sentences())
    node = sentences[-2]  # the longest context with a sentence after it: fits both sides
    store, lcm, codec = service.store, service.lcm, service.codec
    before = [n.embedding for n in sentences[:-2]]
    context = torch.tensor(np.stack(before))
    samples = lcm.sample_next(context, num_samples=K, seed=0)
    texts = codec.decode(samples, lang=node.language)
    pairs = zip(texts, samples, strict=True)
    variants = [NewVariant(t, e.numpy(), node.language, 0.0) for t, e in pairs]
    common = {"k": K, "context": len(context)}
    return [
        measure("regenerate", lambda: service.regenerate(doc.id, node.id, K), repeats=repeats,
                **common),
        measure("regenerate.reading_window",
                lambda: store.reading_window(doc.id, node.id, CONTEXT_WINDOW), repeats=repeats,
                **common),
        measure("regenerate.sample_next", lambda: lcm.sample_next(context, K, seed=0),
                repeats=repeats, **common),
        measure("regenerate.decode", lambda: codec.decode(samples, lang=node.language),
                repeats=repeats, **common),
        measure("regenerate.store_variants", lambda: store.add_variants(node.id, variants),
                repeats=repeats, **common),
    ]  # fmt: skip


def expand_case(service: WriterService, repeats: int):
    """Expand an outline item after 100 sentences by EXPAND sentences: each drawn, decoded
    and drawn again while it repeats a phrase (engine.writing), then stored. Each run adds
    its sentences under the same item, so the context grows by EXPAND a run."""
    text = document_text(DOCUMENT_SENTENCES) + "\n\n- What happened next\n"
    doc = service.import_text(text, title="Expand")
    item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
    return measure("expand", lambda: service.expand(doc.id, item.id, EXPAND), repeats=repeats,
                   sentences=EXPAND, context=DOCUMENT_SENTENCES + 1)  # fmt: skip


def decode_document_case(service: WriterService, repeats: int):
    """What the language view does for a document: decode every concept, DECODE_BATCH at
    a time (translate_document; the demo codec writes only English, so the same decode
    calls are timed directly)."""
    doc = imported(service, "Decode")
    concepts = torch.tensor(np.stack([n.embedding for n in doc.nodes if n.embedding is not None]))
    lang = doc.language

    def decode_all():
        for start in range(0, len(concepts), DECODE_BATCH):
            service.codec.decode(concepts[start : start + DECODE_BATCH], lang=lang)

    return measure(
        "decode_document", decode_all, repeats=repeats, items=len(concepts), concepts=len(concepts)
    )


def open_document_cases(service: WriterService, doc: DocumentView, repeats: int) -> list:
    store = service.store

    def render():
        view = store.get_document(doc.id)
        views.outline_html(view.nodes, view.nodes[0].id)
        views.reading_html(view.nodes)

    nodes = len(doc.nodes)
    sentences = [n for n in doc.nodes if n.kind is Kind.SENTENCE]
    node = sentences[-2]  # a sentence after it: regenerate fits both sides
    return [
        measure("open_document", render, repeats=repeats, nodes=nodes),
        measure("open_document.read", lambda: store.get_document(doc.id), repeats=repeats,
                nodes=nodes),
        measure("regenerate_long", lambda: service.regenerate(doc.id, node.id, K),
                repeats=repeats, k=K, context=len(sentences) - 2),
    ]  # fmt: skip


def import_case(service: WriterService):
    """5 MB of everyday prose in paragraphs of five sentences, pasted: segmentation,
    encoding in batches and one transaction, timed once with its peak memory."""
    sentences = EVERYDAY_EN.read_text(encoding="utf-8").splitlines()
    paragraphs, size, i = [], 0, 0
    while size < IMPORT_BYTES:
        paragraph = " ".join(sentences[(i + j) % len(sentences)] for j in range(5))
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 2
        i += 5
    text = "\n\n".join(paragraphs)
    return measure_once("import_text", lambda: service.import_text(text, title="5 MB"),
                        megabytes=round(len(text.encode()) / 2**20, 2), sentences=i)  # fmt: skip


def browser_open_case(service: WriterService, doc: DocumentView, repeats: int) -> Measurement:
    """From the click on the document in the library until its last sentence is in the
    outline, in Debian's Chromium; between runs another, small document is opened."""
    from playwright.sync_api import sync_playwright

    from app.ui import create_app_from, launch_options
    from tests.app.chromium import CHROMIUM, CHROMIUM_ARGS

    small = service.import_text("A short note. It has two sentences.", title="Small")
    demo = create_app_from(service)
    demo.queue(default_concurrency_limit=2).launch(
        server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, **launch_options()
    )
    seconds = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(demo.local_url)
            page.wait_for_selector("#library .loading", state="detached")
            # The page opens the newest document, the small one. Each click waits until the
            # open before it has changed the outline: a click sent while one is pending was
            # lost with a 5 MB document in the library.
            page.wait_for_selector(f'#outline li.node[data-id="{small.nodes[-1].id}"]')
            last = f'#outline li.node[data-id="{doc.nodes[-1].id}"]'
            for _ in range(repeats + 1):  # the first is the warm-up
                start = time.perf_counter()
                page.locator("#library li", has_text=doc.title).click()
                page.wait_for_selector(last, state="attached")
                seconds.append(time.perf_counter() - start)
                page.locator("#library li", has_text=small.title).click()
                page.wait_for_selector(last, state="detached")
            browser.close()
    finally:
        demo.close()
    result = Measurement("open_document.browser", {"nodes": len(doc.nodes)}, seconds[1:],
                         None, None, None)  # fmt: skip
    print(f"  {result.name}: median {result.median_s * 1e3:.0f} ms", flush=True)
    return result


def run(options):
    repeats = options.repeats
    with tempfile.TemporaryDirectory() as tmp:
        precision = codec_dtype(Settings(device="cpu"))  # what the app runs here
        codec, codec_weights = demo_codec(Path(tmp) / "codec", precision)
        lcm, lcm_weights = demo_lcm(codec.dim)
        store = DocumentStore(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        service = WriterService(codec=codec, lcm=lcm, store=store)
        service.warm_up()
        results = [import_case(service)]  # first: its peak memory from a fresh process
        results += regenerate_cases(service, repeats)
        results.append(expand_case(service, repeats))
        results.append(decode_document_case(service, repeats))
        big = store.create_document("Big", big_document(codec.dim), language="eng_Latn",
                                    codec_name=codec.name, codec_dim=codec.dim)  # fmt: skip
        results += open_document_cases(service, big, repeats)
        results.append(browser_open_case(service, big, repeats))
        store.close()
    extra = {"codec_weights": codec_weights, "lcm_weights": lcm_weights,
             "codec_precision": str(precision or "fp32")}  # fmt: skip
    return write_results("app", results, extra)
