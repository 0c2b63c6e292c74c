"""View models: state badges, and escaping of everything a document puts into HTML."""

from __future__ import annotations

from datetime import UTC, datetime

from app import messages, views
from storage import DocumentSummary, Kind, NodeView, Origin, RevisionView, State

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


def test_outline_rows_carry_depth_selection_and_badge():
    html = views.outline_html([node(7, "One.", depth=2, origin=Origin.GENERATED)], selected=7)
    assert 'data-id="7"' in html and 'data-depth="2"' in html
    assert 'aria-selected="true"' in html and 'tabindex="0"' in html
    assert "badge-generated" in html
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
