"""Bad input gets a typed error that says what to fix, and nothing already stored is lost."""

from __future__ import annotations

import numpy as np
import pytest
from storage_helpers import DIM, emb, sample_tree

from storage import (
    MAX_NODE_TEXT_CHARS,
    DocumentStore,
    EmbeddingError,
    EmptyTextError,
    ImportDecodeError,
    InvalidInputError,
    InvalidMoveError,
    InvalidTextError,
    NewNode,
    NewVariant,
    NotFoundError,
    TextTooLongError,
    WrongDocumentError,
    decode_import,
)
from storage.export import to_json, to_markdown


@pytest.fixture
def doc(store: DocumentStore):  # noqa: ANN201
    return store.create_document(
        "Draft", sample_tree(), language="eng_Latn", codec_name="test", codec_dim=DIM
    )


def unchanged(store: DocumentStore, doc) -> bool:  # noqa: ANN001
    """The document is exactly as `doc` showed it: same version, texts and embeddings."""
    return store.export_json(doc.id) == to_json(doc)


def leaf(doc):  # noqa: ANN001, ANN201
    return next(n for n in doc.nodes if n.text == "Short.")


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", EmptyTextError, "empty"),
        ("   \n\t", EmptyTextError, "empty"),
        ("x" * 5_000_000, TextTooLongError, "5,000,000 characters"),
        ("before\x00after", InvalidTextError, "NUL character at position 6"),
        ("half a pair \ud800", InvalidTextError, "surrogate"),
        (b"bytes.", InvalidTextError, "must be a string"),
    ],
    ids=["empty", "blank", "5MB-paste", "NUL", "surrogate", "bytes"],
)
def test_bad_node_text_is_refused_and_nothing_changes(
    store: DocumentStore, doc, text, error, message
) -> None:  # noqa: ANN001
    node = leaf(doc)
    with pytest.raises(error, match=message):
        store.edit_text(node.id, text, expected_version=node.version)
    with pytest.raises(error, match=message):
        store.insert_node(doc.id, NewNode("sentence", text))
    with pytest.raises(error, match=message):
        store.add_variants(node.id, [NewVariant(text)])
    assert unchanged(store, doc)


def test_the_text_limit_is_inclusive_and_documented(store: DocumentStore, doc) -> None:  # noqa: ANN001
    node = leaf(doc)
    longest = "y" * MAX_NODE_TEXT_CHARS
    assert store.edit_text(node.id, longest, expected_version=node.version).text == longest
    with pytest.raises(TextTooLongError, match=f"{MAX_NODE_TEXT_CHARS:,}"):
        store.edit_text(node.id, longest + "y", expected_version=None)


def test_a_bad_node_deep_in_a_new_tree_stores_none_of_it(store: DocumentStore) -> None:
    tree = sample_tree() + [NewNode("section", "Bad", children=[NewNode("sentence", "a\x00")])]
    with pytest.raises(InvalidTextError):
        store.create_document("T", tree, language="eng_Latn", codec_name="test", codec_dim=DIM)
    assert store.list_documents(include_deleted=True) == []


def test_bad_titles_kinds_and_languages(store: DocumentStore, doc) -> None:  # noqa: ANN001
    with pytest.raises(EmptyTextError, match="title"):
        store.rename_document(doc.id, "  ")
    with pytest.raises(InvalidInputError, match="unknown kind 'chapter'; expected one of"):
        store.insert_node(doc.id, NewNode("chapter", "Text."))
    with pytest.raises(InvalidInputError, match="unknown origin"):
        store.insert_node(doc.id, NewNode("sentence", "Text.", origin="dreamed"))
    with pytest.raises(InvalidInputError, match="language code"):
        store.edit_text(leaf(doc).id, "Text.", expected_version=None, language="")
    assert unchanged(store, doc)


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        (np.zeros(DIM + 1, np.float32), f"has {DIM + 1} values but this document's codec uses"),
        (np.zeros((2, DIM), np.float32), "one vector"),
        (np.full(DIM, np.nan, np.float32), "NaN"),
        (np.zeros(DIM, np.int64), "dtype int64 is not supported"),
        (b"abc", "multiple of 4 bytes"),
    ],
)
def test_bad_embeddings_are_refused(store: DocumentStore, doc, embedding, message) -> None:  # noqa: ANN001
    node = leaf(doc)
    with pytest.raises(EmbeddingError, match=message):
        store.set_embedding(node.id, embedding, expected_version=node.version)
    assert unchanged(store, doc)


def test_invalid_utf8_in_an_imported_file_names_the_offset() -> None:
    assert decode_import("\ufeffLine one.\r\nLine two.".encode()) == "Line one.\nLine two."
    with pytest.raises(ImportDecodeError, match=r"invalid byte 0xe9 at offset 3.*save it as UTF-8"):
        decode_import("Café au lait".encode("latin-1"), name="notes.txt")
    with pytest.raises(InvalidTextError, match="NUL"):
        decode_import("text".encode("utf-16-le"))


def test_node_ids_from_another_document_are_refused(store: DocumentStore, doc) -> None:  # noqa: ANN001
    other = store.create_document(
        "Other", sample_tree(), language="eng_Latn", codec_name="test", codec_dim=DIM
    )
    foreign = other.nodes[0]
    with pytest.raises(WrongDocumentError, match=f"belongs to document {other.id}"):
        store.insert_node(doc.id, NewNode("sentence", "Here."), parent_id=foreign.id)
    with pytest.raises(WrongDocumentError, match="its own document"):
        store.move_node(leaf(doc).id, parent_id=foreign.id, position=0, expected_version=None)
    variant = store.add_variants(foreign.id, [NewVariant("Alt.", emb(1))])[0]
    with pytest.raises(WrongDocumentError, match=f"belongs to node {foreign.id}"):
        store.accept_variant(leaf(doc).id, variant.id, expected_version=None)
    assert unchanged(store, doc)


def test_unknown_ids_and_bad_positions(store: DocumentStore, doc) -> None:  # noqa: ANN001
    with pytest.raises(NotFoundError, match="document 999999 does not exist"):
        store.get_document(999_999)
    with pytest.raises(NotFoundError, match="node 999999"):
        store.edit_text(999_999, "Text.", expected_version=None)
    with pytest.raises(NotFoundError, match="node 999999"):
        store.node_history(999_999)
    with pytest.raises(InvalidMoveError, match="out of range"):
        store.insert_node(doc.id, NewNode("sentence", "Far."), position=7)
    with pytest.raises(InvalidMoveError, match="top level"):
        store.outdent(doc.nodes[0].id, expected_version=None)
    assert unchanged(store, doc)


def test_deleted_documents_and_nodes_refuse_changes_until_restored(
    store: DocumentStore, doc
) -> None:  # noqa: ANN001
    node = leaf(doc)
    store.delete_node(node.id, expected_version=node.version)
    with pytest.raises(InvalidInputError, match="is deleted: restore it"):
        store.edit_text(node.id, "Text.", expected_version=None)
    store.delete_document(doc.id)
    with pytest.raises(InvalidInputError, match="restore it before changing it"):
        store.undo(doc.id)
    store.restore_document(doc.id)
    store.undo(doc.id)
    assert store.export_markdown(doc.id) == _markdown_of_sample(store)


def _markdown_of_sample(store: DocumentStore) -> str:
    fresh = store.create_document(
        "Fresh", sample_tree(), language="eng_Latn", codec_name="test", codec_dim=DIM
    )
    return store.export_markdown(fresh.id)


def test_a_10000_node_document_stores_reads_edits_and_exports(store: DocumentStore) -> None:
    vectors = np.random.default_rng(0).standard_normal((9000, DIM)).astype(np.float32)
    paragraphs = [
        NewNode(
            "paragraph",
            "",
            children=[NewNode("sentence", f"S{p}.{s}.", vectors[p * 9 + s]) for s in range(9)],
        )
        for p in range(1000)
    ]
    doc = store.create_document(
        "Big", paragraphs, language="eng_Latn", codec_name="test", codec_dim=DIM
    )
    assert len(doc.nodes) == 10_000
    assert doc.nodes[-1].text == "S999.8." and doc.nodes[-1].embedding.tobytes() == (
        vectors[-1].tobytes()
    )
    target = doc.nodes[5001]  # the first sentence of paragraph 500
    with pytest.raises(TextTooLongError):  # a bad edit in a big document loses nothing
        store.edit_text(target.id, "z" * 5_000_000, expected_version=target.version)
    store.edit_text(target.id, "Changed.", expected_version=target.version, embedding=emb(1))
    markdown = store.export_markdown(doc.id)
    assert markdown.count("\n\n") == 999 and "Changed." in markdown
    assert markdown.replace("Changed.", target.text) == to_markdown(doc)
