"""View models: state badges, and escaping of everything a document puts into HTML."""

from __future__ import annotations

from datetime import UTC, datetime

from app import messages, views
from storage import (
    DocumentSummary,
    DocumentView,
    Fidelity,
    Kind,
    NodeView,
    Origin,
    RevisionView,
    State,
    VariantView,
)

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def node(id: int, text: str, kind=Kind.SENTENCE, depth=1, **changes) -> NodeView:
    fields = dict(
        id=id, document_id=1, parent_id=None, position=0, depth=depth, kind=kind, text=text,
        language="eng_Latn", embedding=None, origin=Origin.IMPORTED, state=State.OK,
        edited=False, version=1, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    return NodeView(**{**fields, **changes})


def test_outline_escapes_node_text_and_translations():
    html = views.outline_html([node(1, EVIL), node(2, "fine")], translations={2: EVIL})
    assert "<script>" not in html and "<img" not in html
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
        in html
    )


def test_reading_view_and_history_escape_text():
    doc = [node(1, EVIL, kind=Kind.SECTION, depth=0), node(2, EVIL)]
    assert "<img" not in views.reading_html(doc)
    revision = RevisionView(
        id=1, node_id=2, action="<b>edit</b>", text=EVIL, language="eng_Latn", embedding=None,
        origin=Origin.TYPED, state=State.OK, edited=True, deleted=False, created_at=NOW,
        status="applied",
    )  # fmt: skip
    history = views.history_html([revision])
    assert "<img" not in history and "<b>" not in history and "&lt;img" in history


def test_badges_put_protection_before_provenance():
    assert views.badge(node(1, "a")) == "typed"
    assert views.badge(node(1, "a", origin=Origin.GENERATED)) == "generated"
    assert views.badge(node(1, "a", origin=Origin.GENERATED, edited=True)) == "edited"
    assert views.badge(node(1, "a", state=State.STALE, edited=True)) == "stale"
    assert views.badge(node(1, "a", state=State.LOCKED, origin=Origin.GENERATED)) == "locked"


def test_outline_rows_carry_level_selection_badge_and_a_twisty_only_on_parents():
    item = node(6, "Part one", depth=1, kind=Kind.OUTLINE)
    html = views.outline_html([item, node(7, "One.", depth=2, origin=Origin.GENERATED)], selected=7)
    parent, leaf = html.split("</li>")[:2]
    assert 'data-id="7"' in leaf and 'aria-level="3"' in leaf and "badge-generated" in leaf
    assert 'aria-selected="true"' in leaf and 'tabindex="0"' in leaf
    assert "aria-selected" not in parent and "tabindex" not in parent  # only the selected row
    assert views.TWISTY in parent and views.TWISTY not in leaf
    assert "No document open" in views.outline_html([])


def summary(id: int, title: str, deleted=False) -> DocumentSummary:
    return DocumentSummary(
        id=id, title=title, language="<i>eng</i>", codec_name="demo", codec_dim=16,
        created_at=NOW, updated_at=NOW, version=1, deleted=deleted, node_count=3,
    )  # fmt: skip


def test_library_lists_messages_and_summaries_escape_titles_and_languages():
    html = views.library_html([summary(1, EVIL), summary(2, "fine")], open_id=2)
    html += views.deleted_html([summary(3, EVIL, deleted=True)])
    html += views.node_summary(node(1, "a", language="<b>x</b>"))
    html += messages.info(f"Imported “{EVIL}”") + messages.problem(EVIL, EVIL)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert (
        'data-id="2" aria-selected="true"' in html and 'data-id="1" aria-selected="false"' in html
    )
    assert views.markdown_text("[Click](https://x.io) <b>") == (
        "\\[Click\\]\\(https://x\\.io\\) &lt;b&gt;"
    )


def test_concept_checks_shelf_and_history_escape_what_they_quote():
    misread = node(1, EVIL, fidelity=Fidelity(EVIL, 0.2, 3.0), nearest_id=2, nearest_cosine=0.97)
    other = node(2, EVIL)
    doc = DocumentView(
        id=1, title="t", language="eng_Latn", codec_name="demo", codec_dim=16,
        created_at=NOW, updated_at=NOW, version=1, deleted=False, nodes=(misread, other),
        undo_action=None, redo_action=None,
    )  # fmt: skip
    html = views.outline_html(doc.nodes, misread={1}, repeats={1: 2})
    html += views.checks_html(misread, doc, {1}, {1: 2})
    variant = VariantView(
        id=5, node_id=1, text=EVIL, embedding=None, language="eng_Latn", score=0.5,
        created_at=NOW, accepted=True, follows=0.8, leads_on=0.6,
    )  # fmt: skip
    html += views.shelf_html([variant])
    revision = RevisionView(
        id=1, node_id=2, action="edit", text=EVIL, language="eng_Latn", embedding=None,
        origin=Origin.TYPED, state=State.OK, edited=True, deleted=False, created_at=NOW,
        status="applied",
    )  # fmt: skip
    history = views.history_html([revision, revision], [None, 0.25])
    assert "<script>" not in html + history and "<img" not in html + history
    assert 'data-goto="2"' in html and "may misread" in html and "The model may misread" in html
    assert "leads on 0.60 · follows 0.80 · similarity 0.50" in html and "used" in html
    assert history.count("meaning moved 0.250") == 1
    assert views.checks_html(other, doc, set(), {}) == ""


def test_the_shelf_says_at_which_temperature_a_variant_was_drawn():
    drawn = {"node_id": 1, "embedding": None, "language": "eng_Latn", "score": 0.5}
    drawn |= {"created_at": NOW, "accepted": False}
    html = views.shelf_html(
        [
            VariantView(id=1, text="Cold.", temperature=0.0, **drawn),
            VariantView(id=2, text="Diffused.", **drawn),
        ]
    )
    cold, diffused = html.split("</li>")[:2]
    assert "similarity 0.50 · temperature 0.00 · " in cold
    assert "temperature" not in diffused


def test_a_document_still_being_read_back_says_so_in_its_header_and_node_panel():
    unread, generated = node(1, "Imported."), node(2, "Generated.", origin=Origin.GENERATED)
    doc = DocumentView(
        id=1, title="t", language="eng_Latn", codec_name="demo", codec_dim=16,
        created_at=NOW, updated_at=NOW, version=1, deleted=False, nodes=(unread, generated),
        undo_action=None, redo_action=None,
    )  # fmt: skip
    assert "checking how the model reads 1,234 more" in views.document_header(doc, 1234)
    assert "checking" not in views.document_header(doc, 0)
    assert "Not read back yet" in views.checks_html(unread, doc, set(), {}, checking=True)
    assert views.checks_html(unread, doc, set(), {}, checking=False) == ""
    assert views.checks_html(generated, doc, set(), {}, checking=True) == ""
