"""Every event handler's contract, through `gradio_client` against the served app: what
goes in, what comes back, what the store holds afterwards, and the message on bad input."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

from app.layout import EDITOR_FIELDS
from storage import Kind, State

BUTTONS = ("lock", "undo", "redo", "reload")  # buttons have no value in the API
API_FIELDS = [f for f in EDITOR_FIELDS if f not in BUTTONS]
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


def refused(result, pattern: str) -> None:
    """Assert that an endpoint refused, saying `pattern` in the message area."""
    short = len(result) < len(API_FIELDS)
    shown = html.unescape(value(result[-1] if short else result[API_FIELDS.index("message")]))
    assert 'class="message error"' in shown, shown
    assert re.search(pattern, shown), shown


def imported(client, text: str = TEXT, title: str = "") -> dict:
    return editor(client.predict(title, text, None, api_name="/import_document"))


def node_args(view: dict) -> list:
    return [view["doc_id"], view["node_id"], view["node_version"], LANG]


def test_import_returns_the_outline_with_the_first_sentence_selected(client, service):
    view = imported(client, title="Rainy day")
    doc = service.store.get_document(view["doc_id"])
    assert doc.title == view["title"] == "Rainy day"
    first = next(doc.sentences())
    assert (view["node_id"], view["node_text"]) == (first.id, "Rain fell on the town.")
    assert view["node_version"] == first.version and view["doc_version"] == doc.version
    for sentence in doc.sentences():
        assert sentence.text in view["tree"] and sentence.text in view["reading"]
    refused(client.predict("", "   ", None, api_name="/import_document"), "nothing to import")


def test_save_text_stores_it_and_a_stale_version_is_a_conflict(client, service):
    view = imported(client)
    saved = editor(
        client.predict(*node_args(view)[:3], "A dry morning.", LANG, api_name="/save_text")
    )
    node = service.store.get_document(view["doc_id"]).node(view["node_id"])
    assert saved["node_text"] == node.text == "A dry morning." and node.edited
    assert saved["node_version"] == node.version > view["node_version"]
    stale = client.predict(*node_args(view)[:3], "Lost?", LANG, api_name="/save_text")
    refused(stale, "changed elsewhere.*Reload")  # the version seen before saving
    assert editor(stale)["node_text"] is None  # the editor keeps the writer's text
    assert service.store.get_document(view["doc_id"]).node(view["node_id"]).text == "A dry morning."


def test_regenerate_then_accept_a_variant(client, service):
    view = imported(client)
    second = service.store.get_document(view["doc_id"]).children(None)[0]
    sentence = service.store.get_document(view["doc_id"]).children(second.id)[1]
    alternatives, shelf, *_ = client.predict(view["doc_id"], sentence.id, 3, api_name="/regenerate")
    variants = service.store.list_variants(sentence.id)
    assert len(variants) == 3
    assert [c[1] for c in alternatives["choices"]] == [v.id for v in variants]
    assert re.findall(r'data-id="(\d+)"', value(shelf)) == [str(v.id) for v in variants[::-1]]
    accepted = editor(
        client.predict(
            view["doc_id"],
            sentence.id,
            sentence.version,
            variants[1].id,
            LANG,
            api_name="/accept_variant",
        )  # fmt: skip
    )
    node = service.store.get_document(view["doc_id"]).node(sentence.id)
    assert accepted["node_id"] == sentence.id
    assert accepted["node_text"] == node.text == variants[1].text
    refused(
        client.predict(view["doc_id"], sentence.id, node.version, None, LANG,
                       api_name="/accept_variant"),
        "Choose one of the alternatives",
    )  # fmt: skip


def test_node_actions_need_a_document_and_a_node(client):
    refused(client.predict(None, None, None, LANG, api_name="/move_down"), "Open or import")
    view = imported(client)
    refused(
        client.predict(view["doc_id"], None, None, LANG, api_name="/move_down"), "Select a node"
    )


def test_structure_lock_delete_undo_redo(client, service):
    view = imported(client, "One. Two. Three.")
    doc_id, one = view["doc_id"], view["node_id"]
    texts = lambda: [n.text for n in service.store.get_document(doc_id).sentences()]  # noqa: E731
    moved = editor(client.predict(*node_args(view), api_name="/move_down"))
    assert texts() == ["Two.", "One.", "Three."] and moved["node_id"] == one
    locked = editor(client.predict(*node_args(moved), api_name="/toggle_lock"))
    assert service.store.get_document(doc_id).node(one).state is State.LOCKED
    assert "locked" in locked["node_info"]
    refused(client.predict(*node_args(locked), api_name="/delete_node"), "(?i)lock")
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
    doc = service.store.get_document(view["doc_id"])
    two = doc.children(None)[1]
    args = [view["doc_id"], two.id, two.version, LANG]
    indented = editor(client.predict(*args, api_name="/indent"))
    assert (
        service.store.get_document(view["doc_id"]).node(two.id).parent_id
        == doc.children(None)[0].id
    )
    client.predict(view["doc_id"], two.id, indented["node_version"], LANG, api_name="/outdent")
    assert service.store.get_document(view["doc_id"]).node(two.id).parent_id is None


def test_expand_continue_insert(client, service):
    view = imported(client, "An introduction.\n\n- The first idea")
    doc = service.store.get_document(view["doc_id"])
    item = next(n for n in doc.nodes if n.kind is Kind.OUTLINE)
    expanded = editor(client.predict(view["doc_id"], item.id, 4, LANG, api_name="/expand"))
    assert len(service.store.get_document(view["doc_id"]).children(item.id)) == 4
    before = len(list(service.store.get_document(view["doc_id"]).sentences()))
    client.predict(view["doc_id"], expanded["node_id"], LANG, api_name="/continue_text")
    assert len(list(service.store.get_document(view["doc_id"]).sentences())) > before
    inserted = editor(
        client.predict(
            view["doc_id"], item.id, "Outline item", "A second idea", LANG, api_name="/insert"
        )  # fmt: skip
    )
    assert inserted["node_text"] == "A second idea"
    new = service.store.get_document(view["doc_id"]).node(inserted["node_id"])
    assert new.kind is Kind.OUTLINE and new.parent_id == item.parent_id


def test_expand_whole_outline(client, service):
    view = imported(client, "- Alpha\n- Beta")
    client.predict(view["doc_id"], None, 2, LANG, api_name="/expand_outline")
    doc = service.store.get_document(view["doc_id"])
    assert [len(doc.children(n.id)) for n in doc.children(None)] == [2, 2]


def test_translation_beyond_the_codecs_languages_needs_sonar(client):
    view = imported(client)
    refused(
        client.predict(view["doc_id"], view["node_id"], "rus_Cyrl", api_name="/translate"),
        "--codec sonar",
    )
    result = client.predict(view["doc_id"], view["node_id"], "rus_Cyrl", api_name="/show_language")
    assert editor(result)["tree"] == view["tree"]  # the view stays in the original language
    assert value(result[-1]) == LANG


def test_export_rename_delete_restore(client, service):
    view = imported(client)
    doc_id = view["doc_id"]
    path, _ = client.predict(doc_id, "Markdown", api_name="/export_document")
    assert Path(path).read_text(encoding="utf-8") == service.store.export_markdown(doc_id)
    json_path, _ = client.predict(doc_id, "JSON (with concepts)", api_name="/export_document")
    assert Path(json_path).suffix == ".json"
    renamed = editor(
        client.predict(doc_id, "Renamed", view["doc_version"], api_name="/rename_document")
    )
    assert renamed["title"] == service.store.get_document(doc_id).title == "Renamed"
    deleted = client.predict(doc_id, api_name="/delete_document")
    assert editor(deleted)["doc_id"] is None
    assert doc_id not in [d.id for d in service.store.list_documents()]
    assert f'data-id="{doc_id}"' in editor(deleted)["deleted"]  # listed under Recently deleted


def test_new_document_starts_with_one_outline_item(client, service):
    view = editor(client.predict("My essay", api_name="/new_document"))
    doc = service.store.get_document(view["doc_id"])
    assert doc.title == "My essay"
    assert [(n.kind, n.text) for n in doc.nodes] == [(Kind.OUTLINE, "My essay")]


def test_upload_markdown_and_refuse_bad_files(client, service, tmp_path):
    from gradio_client import handle_file

    notes = tmp_path / "field-notes.md"
    notes.write_text("# Field notes\n\nBirds at dawn. Wind from the west.\n", encoding="utf-8")
    view = editor(client.predict("", "", handle_file(str(notes)), api_name="/import_document"))
    doc = service.store.get_document(view["doc_id"])
    assert doc.title == "field-notes"
    assert [n.text for n in doc.sentences()] == ["Birds at dawn.", "Wind from the west."]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\xe9 au lait.".encode("latin-1"))
    refused(client.predict("", "", handle_file(str(latin1)), api_name="/import_document"),
            "“latin1.txt” is not UTF-8")  # fmt: skip
    too_long = client.predict("", "x. " * 400_000, None, api_name="/import_document")
    refused(too_long, "limit is 1,000,000")  # the tests serve a 1 MB limit


def test_cancelling_the_outline_expansion_keeps_whole_items_and_shows_them(client, service):
    view = imported(client, "\n".join(f"- Item {i}" for i in range(12)))
    job = client.submit(view["doc_id"], None, 2, LANG, api_name="/expand_outline")
    while not job.outputs() and not job.done():  # wait for the first item to be shown
        time.sleep(0.05)
    client.predict(api_name="/cancel_expansion")
    final = editor(job.result())
    doc = service.store.get_document(view["doc_id"])
    counts = [len(doc.children(item.id)) for item in doc.children(None)]
    done = [c for c in counts if c]
    assert 1 <= len(done) < 12 and counts == done + [0] * (12 - len(done)), counts
    summary = html.unescape(final["message"])
    assert f"Expanded {len(done)} outline items, cancelled before {12 - len(done)} more" in summary
    for i, count in enumerate(done):
        assert f"“Item {i}”: {count} of 2" in summary
    for sentence in doc.sentences():  # the page shows exactly what the server holds
        assert html.escape(sentence.text) in final["tree"]
    assert final["doc_version"] == doc.version
