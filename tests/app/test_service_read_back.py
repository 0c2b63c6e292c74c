"""Round trips a long import leaves to the background, on real tiny models and a real
SQLite file: the import reads back its first sentences itself, the background the rest
(in a batch per transaction), with the same figures an import would have stored; a text
changed before the background reaches it keeps its own round trip, undo brings back a
text the background then reads, and undo after the background read a text brings back
its reading with it."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from app.read_back import BackgroundReader
from app.service import TEXT_TRUTH
from storage import Kind

TEXT = (
    "The train left early. Fog covered the river. A dog barked twice. "
    "The baker opened late. Rain fell on the square."
)


def checked(service, doc_id: int) -> dict[int, object]:
    doc = service.store.get_document(doc_id)
    return {n.id: n.fidelity for n in doc.nodes if n.kind is not Kind.PARAGRAPH}


def read_all(service) -> None:
    after = 0
    while (after := service.read_back_unread(after, limit=2)) is not None:
        pass


def test_an_import_reads_back_its_first_sentences_and_the_background_the_rest(service):
    short = dataclasses.replace(service, read_back_at_import=2)
    doc = short.import_text(TEXT)
    assert short.unread.is_set()  # the background is woken
    fidelity = list(checked(short, doc.id).values())
    assert all(f is not None for f in fidelity[:2]) and all(f is None for f in fidelity[2:])
    assert short.workspace(doc.id).unread == 3
    read_all(short)
    assert short.workspace(doc.id).unread == 0
    # The same round trips as an import that reads back every sentence itself (up to
    # the last float bits, which differ with the batch a concept is decoded in).
    whole = service.import_text(TEXT)
    for late, inline in zip(
        checked(short, doc.id).values(), checked(service, whole.id).values(), strict=True
    ):
        assert late.reading == inline.reading
        assert (late.cosine, late.chrf) == pytest.approx((inline.cosine, inline.chrf), abs=1e-5)


def test_a_text_changed_before_the_background_reads_it_keeps_its_own_round_trip(service):
    short = dataclasses.replace(service, read_back_at_import=0)
    doc = short.import_text(TEXT)
    first = next(doc.sentences())
    unread = short.store.unread_nodes(TEXT_TRUTH, short.codec.languages, limit=10_000)
    assert first.id in {n.id for n in unread}
    edited = short.edit(first.id, doc.id, "The night train left late.", first.version)
    assert edited.fidelity is not None
    read_all(short)
    assert checked(short, doc.id)[first.id] == edited.fidelity
    # Undo brings back the imported text, never read back: the background reads it now.
    short.undo(doc.id, None)
    assert short.workspace(doc.id).unread == 1
    read_all(short)
    assert short.workspace(doc.id).unread == 0
    restored = short.store.get_document(doc.id).node(first.id)
    assert restored.text == first.text and restored.fidelity is not None
    assert restored.fidelity != edited.fidelity


def test_undo_brings_back_the_reading_the_background_stored_with_the_text(service):
    short = dataclasses.replace(service, read_back_at_import=0)
    doc = short.import_text(TEXT)
    read_all(short)
    first = short.store.get_document(doc.id).node(next(doc.sentences()).id)
    short.edit(first.id, doc.id, "The night train left late.", first.version)
    short.undo(doc.id, None)
    assert short.store.get_document(doc.id).node(first.id).fidelity == first.fidelity
    assert short.workspace(doc.id).unread == 0


def test_the_background_reader_fills_in_an_import_it_is_woken_for(service):
    short = dataclasses.replace(service, read_back_at_import=1, unread=threading.Event())
    reader = BackgroundReader(short).start()
    try:
        doc = short.import_text(TEXT)
        done = threading.Event()

        def poll() -> None:
            while short.store.count_unread(doc.id, TEXT_TRUTH, short.codec.languages):
                done.wait(0.05)
            done.set()

        threading.Thread(target=poll, daemon=True).start()
        assert done.wait(120), "the background reader never finished"
    finally:
        reader.stop()
    assert all(f is not None for f in checked(short, doc.id).values())
