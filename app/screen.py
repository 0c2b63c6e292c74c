"""The screen model: what every editor component shows for one `Workspace` (the service's
one read after an action), and what the Regenerate tab shows for one `Regeneration`.
Pure: no service calls, no side effects."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app import messages, views
from app.layout import Page
from app.service import Regeneration, Workspace


def render(
    page: Page, ws: Workspace, note: str = "", *, keep_text: bool = False, view_only: bool = False
) -> dict:
    """Every editor component for `ws`, with `note` in the message area. `keep_text`
    leaves the editor's text alone (a reload after a refused save keeps the writer's);
    `view_only` (another view language: no node changed) leaves the alternatives too."""
    doc, node = ws.document, ws.node
    shown: dict[Any, Any] = {
        page.library: views.library_html(ws.documents, doc.id if doc else None),
        page.deleted: views.deleted_html(ws.deleted),
        page.doc_id: doc.id if doc else None,
        page.title_box: doc.title if doc else "",
        page.doc_header: views.document_header(doc, ws.unread),
        page.tree: views.outline_html(
            doc.nodes if doc else [],
            node.id if node else None,
            ws.translations,
            ws.misread,
            ws.repeats,
        ),  # fmt: skip
        page.reading: views.reading_html(doc.nodes, ws.translations) if doc else "",
        page.doc_version: doc.version if doc else None,
        page.node_id: node.id if node else None,
        page.node_version: node.version if node else None,
        page.node_info: views.node_summary(node)
        + views.checks_html(node, doc, ws.misread, ws.repeats, ws.unread > 0),
        page.node_text: node.text if node else "",
        page.lock_btn: "Unlock" if node and node.locked else "Lock",
        page.undo_btn: gr.Button(interactive=bool(doc and doc.can_undo)),
        page.redo_btn: gr.Button(interactive=bool(doc and doc.can_redo)),
        page.history: views.history_html(ws.history, ws.moves) if node else "",
        page.alternatives: gr.Radio(choices=[], value=None),
        page.message: messages.info(note) if note else "",
        page.reload_btn: gr.Button(interactive=False),
        page.shelf: views.shelf_html(ws.variants),
    }
    if keep_text or view_only:
        del shown[page.node_text]
    if view_only:
        del shown[page.alternatives]
    return shown


def alternatives(page: Page, regeneration: Regeneration, asked: int) -> dict:
    """The alternatives to choose from, the node's shelf, and a note when draws repeated."""
    choices = [
        (views.alternative_label(a.text, a.similarity, a.follows, a.leads_on), a.variant_id)
        for a in regeneration.alternatives
    ]
    shown = len(choices)
    return {
        page.alternatives: gr.Radio(choices=choices, value=None),
        page.shelf: views.shelf_html(regeneration.shelf),
        page.message: messages.info(repeated(shown, asked)) if shown < asked else "",
    }


def repeated(shown: int, asked: int) -> str:
    """Why regenerate lists fewer alternatives than asked: draws of the same concept are
    listed once (a quantized LCM at a low temperature)."""
    alternatives = "alternative" if shown == 1 else "alternatives"
    return (
        f"Only {shown} distinct {alternatives} of the {asked} asked for: the other draws were "
        "the same concept. A higher temperature gives more variety."
    )
