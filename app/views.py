"""View models: what the page shows, computed from the store's plain views.

Every piece of a document that reaches the page as HTML goes through `html.escape` here:
`gr.HTML` executes what it is given (an `<img onerror>` in a sentence would run), so
escaping is not optional. Gradio's own components (Textbox, Radio, Markdown) get plain
strings and escape or sanitise them themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape

from storage.types import DocumentSummary, DocumentView, Kind, NodeView, Origin, RevisionView, State

NO_NODE = '<p class="hint">Select a node in the outline.</p>'

KIND_LABELS = {
    Kind.SECTION: "Section",
    Kind.PARAGRAPH: "Paragraph",
    Kind.OUTLINE: "Outline item",
    Kind.SENTENCE: "Sentence",
}


def badge(node: NodeView) -> str:
    """The one state word a writer needs to see: locked and stale win over provenance."""
    if node.state is State.LOCKED:
        return "locked"
    if node.state is State.STALE:
        return "stale"
    if node.edited:
        return "edited"
    if node.origin in (Origin.GENERATED, Origin.TRANSLATED):
        return node.origin.value
    return "typed"  # typed or imported: a person's words


def node_label(node: NodeView) -> str:
    """Plain text shown in the tree for one node (containers may have no text)."""
    if node.text.strip():
        return node.text
    return "¶" if node.kind is Kind.PARAGRAPH else "(empty)"


def outline_html(
    nodes: Iterable[NodeView],
    selected: int | None = None,
    translations: Mapping[int, str] | None = None,
) -> str:
    """The outline tree as escaped HTML: a flat list of rows carrying their depth, so the
    browser side (`app/outline.py`) can collapse, expand and move the keyboard focus.
    With `translations`, rows show the translated text and keep the original as a tooltip.
    """
    translations = translations or {}
    rows = []
    for node in nodes:
        text = translations.get(node.id, node_label(node))
        state = badge(node)
        shown = "" if node.kind is Kind.PARAGRAPH else f'<span class="badge">{state}</span>'
        is_selected = node.id == selected
        title = f' title="{escape(node.text)}"' if node.id in translations else ""
        rows.append(
            f'<li class="node kind-{node.kind.value} badge-{state}" role="treeitem"'
            f' data-id="{node.id}" data-depth="{node.depth}" aria-level="{node.depth + 1}"'
            f' aria-selected="{str(is_selected).lower()}"'
            f' tabindex="{0 if is_selected else -1}" style="--depth:{node.depth}">'
            f'<span class="twisty" aria-hidden="true"></span>'
            f'<span class="text"{title}>{escape(text)}</span>'
            f"{shown}</li>"
        )
    if not rows:
        return '<p class="empty">No document open. Import a text or create a new document.</p>'
    return (
        '<ul class="outline" role="tree" aria-label="Document outline">' + "".join(rows) + "</ul>"
    )


def reading_html(nodes: Iterable[NodeView], translations: Mapping[int, str] | None = None) -> str:
    """The document as prose (headings, paragraphs), optionally in another language."""
    translations = translations or {}
    parts: list[str] = []
    sentences: list[str] = []

    def flush() -> None:
        if sentences:
            parts.append(f"<p>{escape(' '.join(sentences))}</p>")
            sentences.clear()

    for node in nodes:
        text = translations.get(node.id, node.text)
        if node.kind is Kind.SENTENCE:
            sentences.append(text)
            continue
        flush()
        if node.kind is Kind.SECTION:
            level = min(node.depth + 2, 6)
            parts.append(f"<h{level}>{escape(text)}</h{level}>")
        elif node.kind is Kind.OUTLINE:
            parts.append(f'<p class="outline-item">{escape(text)}</p>')
    flush()
    return '<article class="reading">' + "".join(parts) + "</article>"


def alternative_label(text: str, similarity: float | None) -> str:
    """How one regenerated alternative is listed: its similarity first, then its text."""
    return text if similarity is None else f"{similarity:.2f} · {text}"


def history_html(revisions: Iterable[RevisionView]) -> str:
    """A node's revisions, newest first, escaped."""
    items = [
        f'<li><span class="meta">{escape(r.created_at.strftime("%Y-%m-%d %H:%M:%S"))} · '
        f"{escape(r.action)} · {escape(r.status)}</span><br>{escape(r.text)}</li>"
        for r in reversed(list(revisions))
    ]
    return '<ul class="history">' + "".join(items) + "</ul>"


def node_summary(node: NodeView | None) -> str:
    """One line of HTML describing the selected node; its text is not part of it."""
    if node is None:
        return NO_NODE
    parts = [f"<strong>{KIND_LABELS[node.kind]}</strong>", badge(node), escape(node.language)]
    if node.variant_count:
        parts.append(f"{node.variant_count} variants")
    return "<p>" + " · ".join(parts) + "</p>"


def document_header(doc: DocumentView | None) -> str:
    if doc is None:
        return ""
    sentences = sum(1 for _ in doc.sentences())
    return (
        f"<p><strong>{len(doc.nodes)}</strong> nodes · <strong>{sentences}</strong> sentences"
        f" · {escape(doc.language)} · version {doc.version}</p>"
    )


def library_html(documents: Iterable[DocumentSummary], open_id: int | None) -> str:
    """The documents as a list a click opens (`app.outline.clickable_list`), escaped."""
    rows = [
        f'<li role="option" tabindex="0" data-id="{d.id}"'
        f' aria-selected="{str(d.id == open_id).lower()}">{escape(d.title)}</li>'
        for d in documents
    ]
    if not rows:
        return '<p class="empty">No documents yet.</p>'
    return '<ul class="choices" role="listbox" aria-label="Documents">' + "".join(rows) + "</ul>"


def deleted_html(documents: Iterable[DocumentSummary]) -> str:
    """Soft-deleted documents; a click restores one."""
    rows = [
        f'<li role="button" tabindex="0" data-id="{d.id}" title="Restore">'
        f'{escape(d.title)} <span class="meta">{d.node_count} nodes</span>'
        '<span class="action">Restore</span></li>'
        for d in documents
    ]
    if not rows:
        return '<p class="empty">Nothing deleted.</p>'
    return '<ul class="choices" aria-label="Recently deleted">' + "".join(rows) + "</ul>"


def markdown_text(text: str) -> str:
    """`text` for a `gr.Markdown`: HTML escaped and Markdown punctuation backslashed, so a
    name can be neither a tag nor a link."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", escape(text, quote=False))
