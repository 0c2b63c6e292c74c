"""Every event handler's contract, through `gradio_client` against the served app: what
goes in, what comes back, what the store holds afterwards, and the message on bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client.exceptions import AppError

from app.ui import EDITOR_FIELDS
from storage import Kind, State

API_FIELDS = [f for f in EDITOR_FIELDS if f not in ("lock", "undo", "redo")]  # buttons: no value
TEXT = "Rain fell on the town. People stayed inside.\n\nThe next day was bright."
LANG = "eng_Latn"


def value(output):
    """A component's value, also when the endpoint sent a component update."""
    if isinstance(output, dict) and output.get("__type__") == "update":
        return output.get("value")
    return output


def editor(result) -> dict:
    """The editor part of an endpoint's result, by field name."""
    return {name: value(output) for name, output in zip(API_FIELDS, result, strict=False)}


def imported(client, text: str = TEXT, title: str = "") -> dict:
    return editor(client.predict(title, text, None, api_name="/import_document"))


def node_args(view: dict) -> list:
    return [view["library"], view["node_id"], view["node_version"], LANG]


def test_import_returns_the_outline_with_the_first_sentence_selected(client, service):
    view = imported(client, title="Rainy day")
    doc = service.store.get_document(view["library"])
    assert doc.title == view["title"] == "Rainy day"
    first = next(doc.sentences())
    assert (view["node_id"], view["node_text"]) == (first.id, "Rain fell on the town.")
    assert view["node_version"] == first.version and view["doc_version"] == doc.version
    for sentence in doc.sentences():
        assert sentence.text in view["tree"] and sentence.text in view["reading"]
    with pytest.raises(AppError, match="nothing to import"):
        client.predict("", "   ", None, api_name="/import_document")


def test_open_document_selects_its_first_sentence(client, service):
    view = imported(client, "Opened again. Still here.")
    other = imported(client, "Something else entirely.")
    result = client.predict(view["library"], api_name="/open_document")
    reopened = editor(result)
    assert reopened["library"] == view["library"] != other["library"]
    assert reopened["node_text"] == "Opened again."
    assert value(result[-1]) == LANG  # the view language goes back to the document's own


def test_save_text_stores_it_and_a_stale_version_is_a_conflict(client, service):
    view = imported(client)
    saved = editor(
        client.predict(*node_args(view)[:3], "A dry morning.", LANG, api_name="/save_text")
    )
    node = service.store.get_document(view["library"]).node(view["node_id"])
    assert saved["node_text"] == node.text == "A dry morning." and node.edited
    assert saved["node_version"] == node.version > view["node_version"]
    with pytest.raises(AppError, match="changed elsewhere"):  # the version seen before saving
        client.predict(*node_args(view)[:3], "Lost?", LANG, api_name="/save_text")
    assert (
        service.store.get_document(view["library"]).node(view["node_id"]).text == "A dry morning."
    )


def test_regenerate_then_accept_a_variant(client, service):
    view = imported(client)
    second = service.store.get_document(view["library"]).children(None)[0]
    sentence = service.store.get_document(view["library"]).children(second.id)[1]
    client.predict(view["library"], sentence.id, 3, api_name="/regenerate")
    variants = service.store.list_variants(sentence.id)
    assert len(variants) == 3
    accepted = editor(
        client.predict(
            view["library"],
            sentence.id,
            sentence.version,
            variants[1].id,
            LANG,
            api_name="/accept_variant",
        )  # fmt: skip
    )
    node = service.store.get_document(view["library"]).node(sentence.id)
    assert accepted["node_id"] == sentence.id
    assert accepted["node_text"] == node.text == variants[1].text
    with pytest.raises(AppError, match="Choose one of the alternatives"):
        client.predict(view["library"], sentence.id, node.version, None, LANG,
                       api_name="/accept_variant")  # fmt: skip


def test_node_actions_need_a_document_and_a_node(client):
    with pytest.raises(AppError, match="Open or import a document"):
        client.predict(None, None, None, LANG, api_name="/move_down")
    view = imported(client)
    with pytest.raises(AppError, match="Select a node"):
        client.predict(view["library"], None, None, LANG, api_name="/move_down")


def test_structure_lock_delete_undo_redo(client, service):
    view = imported(client, "One. Two. Three.")
    doc_id, one = view["library"], view["node_id"]
    texts = lambda: [n.text for n in service.store.get_document(doc_id).sentences()]  # noqa: E731
    moved = editor(client.predict(*node_args(view), api_name="/move_down"))
    assert texts() == ["Two.", "One.", "Three."] and moved["node_id"] == one
    locked = editor(client.predict(*node_args(moved), api_name="/toggle_lock"))
    assert service.store.get_document(doc_id).node(one).state is State.LOCKED
    assert "locked" in locked["node_info"]
    with pytest.raises(AppError, match="(?i)lock"):
        client.predict(*node_args(locked), api_name="/delete_node")
    unlocked = editor(client.predict(*node_args(locked), api_name="/toggle_lock"))
    deleted = editor(client.predict(*node_args(unlocked), api_name="/delete_node"))
    assert texts() == ["Two.", "Three."] and deleted["node_id"] != one
    undone = editor(
        client.predict(doc_id, deleted["node_id"], deleted["doc_version"], LANG, api_name="/undo")
    )
    assert texts() == ["Two.", "One.", "Three."]
    redone = editor(
        client.predict(doc_id, undone["node_id"], undone["doc_version"], LANG, api_name="/redo")
    )
    assert texts() == ["Two.", "Three."] and redone["doc_version"] > undone["doc_version"]


def test_indent_and_outdent(client, service):
    view = imported(client, "- Part one\n- Part two")
    doc = service.store.get_document(view["library"])
    two = doc.children(None)[1]
    args = [view["library"], two.id, two.version, LANG]
    indented = editor(client.predict(*args, api_name="/indent"))
    assert (
        service.store.get_document(view["library"]).node(two.id).parent_id
        == doc.children(None)[0].id
    )
    client.predict(view["library"], two.id, indented["node_version"], LANG, api_name="/outdent")
    assert service.store.get_document(view["library"]).node(two.id).parent_id is None


def test_expand_continue_insert(client, service):
    view = imported(client, "An introduction.\n\n- The first idea")
    doc = service.store.get_document(view["library"])
    item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
    expanded = editor(client.predict(view["library"], item.id, 4, LANG, api_name="/expand"))
    assert len(service.store.get_document(view["library"]).children(item.id)) == 4
    before = len(list(service.store.get_document(view["library"]).sentences()))
    client.predict(view["library"], expanded["node_id"], LANG, api_name="/continue_text")
    assert len(list(service.store.get_document(view["library"]).sentences())) > before
    inserted = editor(
        client.predict(
            view["library"], item.id, "Outline item", "A second idea", LANG, api_name="/insert"
        )  # fmt: skip
    )
    assert inserted["node_text"] == "A second idea"
    new = service.store.get_document(view["library"]).node(inserted["node_id"])
    assert new.kind is Kind.OUTLINE and new.parent_id == item.parent_id


def test_expand_whole_outline(client, service):
    view = imported(client, "- Alpha\n- Beta")
    client.predict(view["library"], None, 2, LANG, api_name="/expand_outline")
    doc = service.store.get_document(view["library"])
    assert [len(doc.children(n.id)) for n in doc.children(None)] == [2, 2]


def test_translation_beyond_the_codecs_languages_needs_sonar(client):
    view = imported(client)
    with pytest.raises(AppError, match="--codec sonar"):
        client.predict(view["library"], view["node_id"], "rus_Cyrl", api_name="/translate")
    result = client.predict(view["library"], view["node_id"], "rus_Cyrl", api_name="/show_language")
    assert editor(result)["tree"] == view["tree"]  # the view stays in the original language
    assert value(result[-1]) == LANG


def test_export_rename_delete_restore(client, service):
    view = imported(client)
    doc_id = view["library"]
    path = client.predict(doc_id, "Markdown", api_name="/export_document")
    assert Path(path).read_text(encoding="utf-8") == service.store.export_markdown(doc_id)
    json_path = client.predict(doc_id, "JSON (with concepts)", api_name="/export_document")
    assert Path(json_path).suffix == ".json"
    renamed = editor(
        client.predict(doc_id, "Renamed", view["doc_version"], api_name="/rename_document")
    )
    assert renamed["title"] == service.store.get_document(doc_id).title == "Renamed"
    deleted = client.predict(doc_id, api_name="/delete_document")
    assert editor(deleted)["library"] is None
    assert doc_id not in [d.id for d in service.store.list_documents()]
    restored = editor(client.predict(doc_id, api_name="/restore_document"))
    assert restored["library"] == doc_id and doc_id in [
        d.id for d in service.store.list_documents()
    ]


def test_new_document_starts_with_one_outline_item(client, service):
    view = editor(client.predict("My essay", api_name="/new_document"))
    doc = service.store.get_document(view["library"])
    assert doc.title == "My essay"
    assert [(n.kind, n.text) for n in doc.nodes] == [(Kind.OUTLINE, "My essay")]


def test_upload_markdown_and_refuse_bad_files(client, service, tmp_path):
    from gradio_client import handle_file

    notes = tmp_path / "field-notes.md"
    notes.write_text("# Field notes\n\nBirds at dawn. Wind from the west.\n", encoding="utf-8")
    view = editor(client.predict("", "", handle_file(str(notes)), api_name="/import_document"))
    doc = service.store.get_document(view["library"])
    assert doc.title == "field-notes"
    assert [n.text for n in doc.sentences()] == ["Birds at dawn.", "Wind from the west."]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\xe9 au lait.".encode("latin-1"))
    with pytest.raises(AppError, match="UTF-8"):
        client.predict("", "", handle_file(str(latin1)), api_name="/import_document")
    with pytest.raises(AppError, match="limit is 1,000,000"):  # the tests serve a 1 MB limit
        client.predict("", "x. " * 400_000, None, api_name="/import_document")


def test_cancelling_the_outline_expansion_keeps_finished_items(client, service):
    view = imported(client, "\n".join(f"- Item {i}" for i in range(12)))
    job = client.submit(view["library"], None, 2, LANG, api_name="/expand_outline")
    while not job.outputs() and not job.done():  # the first item is done and shown
        time.sleep(0.05)
    job.cancel()
    while not job.done():
        time.sleep(0.05)
    doc = service.store.get_document(view["library"])
    counts = [len(doc.children(item.id)) for item in doc.children(None)]
    assert set(counts) == {0, 2}, counts  # whole items only: each one expanded or untouched
    assert 1 <= counts.count(2) < 12
