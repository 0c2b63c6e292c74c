"""View models: what the page shows, computed from the store's plain views.

Every piece of a document that reaches the page as HTML goes through `html.escape` here:
`gr.HTML` executes what it is given (an `<img onerror>` in a sentence would run), so
escaping is not optional. Gradio's own components (Textbox, Radio, Markdown) get plain
strings and escape or sanitise them themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence, Set
from html import escape

from storage.types import (
    DocumentSummary,
    DocumentView,
    Kind,
    NodeView,
    Origin,
    RevisionView,
    State,
    VariantView,
)

NO_NODE = '<p class="hint">Select a node in the outline.</p>'
TWISTY = '<span class="twisty" aria-hidden="true"></span>'  # an outline row's expand control

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


def check_badges(node: NodeView, misread: Set[int], repeats: Mapping[int, int]) -> str:
    """The concept-check badges of one row: "may misread" with the decoded reading as its
    tooltip, "repeats" naming the sentence that says the same (a click goes there)."""
    badges = ""
    if node.id in misread and node.fidelity:
        badges += (
            f'<span class="check misread" title="The model reads it as: '
            f'{escape(node.fidelity.reading)}">may misread</span>'
        )
    if node.id in repeats:
        other = repeats[node.id]
        badges += (
            f'<span class="check repeats" role="link" data-goto="{other}" '
            f'title="Says the same as sentence {other}: click to go there">repeats</span>'
        )
    return badges


def outline_html(
    nodes: Sequence[NodeView],
    selected: int | None = None,
    translations: Mapping[int, str] | None = None,
    misread: Set[int] = frozenset(),
    repeats: Mapping[int, int] | None = None,
) -> str:
    """The outline tree as escaped HTML: a flat list of rows carrying their level, so the
    browser side (`app/outline.py`) can collapse, expand and move the keyboard focus.
    With `translations`, rows show the translated text and keep the original as a tooltip;
    rows in `misread` or `repeats` carry the concept-check badges.

    A row says only what differs from the default, because a long document has one per
    sentence and every byte is sent, parsed and diffed for each of them: the selection
    (`aria-selected`, the roving `tabindex`) is on the selected row alone, and only a
    row with rows under it has a twisty.
    """
    translations, repeats = translations or {}, repeats or {}
    rows = []
    for i, node in enumerate(nodes):
        text = translations.get(node.id, node_label(node))
        state = badge(node)
        shown = "" if node.kind is Kind.PARAGRAPH else f'<span class="badge">{state}</span>'
        chosen = ' aria-selected="true" tabindex="0"' if node.id == selected else ""
        parent = i + 1 < len(nodes) and nodes[i + 1].depth > node.depth
        title = f' title="{escape(node.text)}"' if node.id in translations else ""
        rows.append(
            f'<li class="node kind-{node.kind.value} badge-{state}" role="treeitem"'
            f' data-id="{node.id}" aria-level="{node.depth + 1}"{chosen}'
            f' style="--depth:{node.depth}">{TWISTY if parent else ""}'
            f'<span class="text"{title}>{escape(text)}</span>'
            f"{check_badges(node, misread, repeats)}{shown}</li>"
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
        elif node.kind is Kind.OUTLINE:  # a plan line: a heading, or hidden by the toggle
            level = min(node.depth + 3, 6)
            parts.append(f'<h{level} class="plan">{escape(text)}</h{level}>')
    flush()
    return '<article class="reading">' + "".join(parts) + "</article>"


def figures(follows: float | None, leads_on: float | None, similarity: float | None = None) -> str:
    """An alternative's figures: how it leads on to what follows, follows what comes
    before, and (when given) its similarity to the current concept."""
    named = [("leads on", leads_on), ("follows", follows), ("similarity", similarity)]
    return " · ".join(f"{name} {value:.2f}" for name, value in named if value is not None)


def alternative_label(
    text: str, similarity: float | None, follows: float | None = None, leads_on: float | None = None
) -> str:
    """How one regenerated alternative is listed: its figures first, then its text."""
    shown = figures(follows, leads_on, similarity)
    return f"{shown} · {text}" if shown else text


def shelf_html(variants: Iterable[VariantView]) -> str:
    """Every variant generated for the node, newest first, with its figures, the
    temperature it was drawn at (a quantized LCM's) and its time; a click uses one
    (`app.outline.clickable_list`), escaped."""
    rows = [
        f'<li role="button" tabindex="0" data-id="{v.id}" title="Use this text">'
        f'{escape(v.text)}<br><span class="meta">'
        f"{escape(figures(v.follows, v.leads_on, v.score))}{_drawn_at(v.temperature)} · "
        f"{escape(v.created_at.strftime('%Y-%m-%d %H:%M:%S'))}"
        f"{' · used' if v.accepted else ''}</span></li>"
        for v in variants
    ]
    if not rows:
        return '<p class="empty">No alternatives yet: Regenerate proposes some.</p>'
    return '<ul class="choices" aria-label="Alternatives shelf">' + "".join(rows) + "</ul>"


def _drawn_at(temperature: float | None) -> str:
    return "" if temperature is None else f" · temperature {temperature:.2f}"


def history_html(revisions: Iterable[RevisionView], moves: Sequence[float | None] = ()) -> str:
    """A node's revisions, newest first, escaped, each with how far its concept moved
    from the previous one (1 - cosine): a rewording moves little, a new meaning far."""
    revisions = list(revisions)
    moves = list(moves) or [None] * len(revisions)
    items = [
        f'<li><span class="meta">{escape(r.created_at.strftime("%Y-%m-%d %H:%M:%S"))} · '
        f"{escape(r.action)} · {escape(r.status)}{_moved(move)}</span><br>{escape(r.text)}</li>"
        for r, move in reversed(list(zip(revisions, moves, strict=True)))
    ]
    return '<ul class="history">' + "".join(items) + "</ul>"


def _moved(move: float | None) -> str:
    if move is None:
        return ""
    return f' · <span class="moved">meaning moved {move:.3f}</span>'


def checks_html(
    node: NodeView | None,
    doc: DocumentView | None,
    misread: Set[int],
    repeats: Mapping[int, int],
    checking: bool = False,
) -> str:
    """The selected node's concept checks for the node panel: how the model reads it back
    (with a warning when it may misread it; `checking`: the background is still reading
    back the document's imported text) and which sentence it repeats, escaped."""
    if node is None or doc is None:
        return ""
    parts = []
    unread = node.origin in (Origin.TYPED, Origin.IMPORTED) and node.kind is not Kind.PARAGRAPH
    if node.fidelity is None and checking and unread:
        parts.append(
            '<p class="reading-back">Not read back yet: the check of how the model reads '
            "this runs in the background.</p>"
        )
    elif node.fidelity:
        warning = "The model may misread this. " if node.id in misread else ""
        parts.append(
            f'<p class="reading-back{" misread" if warning else ""}">{warning}Read back as: '
            f"“{escape(node.fidelity.reading)}” (cosine {node.fidelity.cosine:.2f}, "
            f"chrF {node.fidelity.chrf:.0f})</p>"
        )
    if node.id in repeats:
        other = doc.node(repeats[node.id])
        parts.append(
            f'<p class="repeats">Says the same as: “{escape(other.text)}” '
            f"(cosine {node.nearest_cosine:.2f})</p>"
        )
    return "".join(parts)


def node_summary(node: NodeView | None) -> str:
    """One line of HTML describing the selected node; its text is not part of it."""
    if node is None:
        return NO_NODE
    parts = [f"<strong>{KIND_LABELS[node.kind]}</strong>", badge(node), escape(node.language)]
    if node.variant_count:
        parts.append(f"{node.variant_count} variants")
    return "<p>" + " · ".join(parts) + "</p>"


def document_header(doc: DocumentView | None, unread: int = 0) -> str:
    """Counts, language and version; while the background still reads back `unread`
    sentences, that their checks are on the way."""
    if doc is None:
        return ""
    sentences = sum(1 for _ in doc.sentences())
    checking = (
        f' · <span class="unread">checking how the model reads {unread:,} more</span>'
        if unread
        else ""
    )
    return (
        f"<p><strong>{len(doc.nodes)}</strong> nodes · <strong>{sentences}</strong> sentences"
        f" · {escape(doc.language)} · version {doc.version}{checking}</p>"
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
