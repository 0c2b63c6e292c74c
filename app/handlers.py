"""What each click does, and which click does it (`wire`). Every handler makes one
`WriterService` call for its action and renders one screen from one read: a
`WriterService.workspace`, or what the action returned when that is all its screen shows
(regenerate's alternatives and shelf). Errors reach the message area (`app.messages.shown`).

Versions travel with each change, so a second tab that changed the same node makes the
service refuse with "changed elsewhere" (and the page offer a reload) instead of losing
an update.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from app import messages
from app.layout import EXPORTS, NEW_KINDS, Page
from app.messages import shown
from app.screen import alternatives, render
from app.service import (
    DocumentMissingError,
    Expansion,
    Move,
    ServiceError,
    TranslationUnavailableError,
    WriterService,
)


class Handlers:
    """The page's event handlers, bound to one service and one page layout."""

    def __init__(self, service: WriterService, page: Page, max_upload_mb: int) -> None:
        self.service, self.page = service, page
        self.max_chars = max_upload_mb * 1_000_000
        self.max_upload_mb = max_upload_mb
        self._stops: dict[str, threading.Event] = {}  # outline expansions, per browser tab

    def screen(self, doc_id, node_id=None, lang=None, note="", *, keep_text=False, **options):
        ws = self.service.workspace(doc_id, node_id, lang, **options)
        return render(self.page, ws, note, keep_text=keep_text)

    # -- library ---------------------------------------------------------------------------

    @shown
    def load_page(self) -> dict:
        documents = self.service.workspace(None).documents
        return self.screen(documents[0].id if documents else None, select_first=True)

    @shown
    def open_document(self, evt: gr.EventData) -> dict:
        ws = self.service.workspace(evt.id, select_first=True)
        if ws.document is None:
            raise DocumentMissingError("That document is no longer in the library.")
        return {**render(self.page, ws), self.page.view_lang: ws.document.language}

    @shown
    def import_document(
        self,
        title: str,
        text: str,
        file_path: str | None,
        progress=gr.Progress(),  # noqa: B008
    ) -> dict:
        def report(done: float, what: str) -> None:
            progress(done, desc=what)

        if file_path:
            if Path(file_path).stat().st_size > self.max_chars:
                raise ServiceError(f"The file is larger than {self.max_upload_mb} MB.")
            doc = self.service.import_file(file_path, title, report)
        elif len(text) > self.max_chars:
            raise ServiceError(
                f"The text has {len(text):,} characters; the limit is {self.max_chars:,}. "
                "Import it in parts."
            )
        else:
            doc = self.service.import_text(text, title, report)
        count = sum(1 for _ in doc.sentences())
        note = f"Imported “{doc.title}”: {_sentences(count)}."
        page = self.page
        return {
            **self.screen(doc.id, select_first=True, note=note),
            page.import_text: "",
            page.import_file: None,
            page.import_title: "",
            page.view_lang: doc.language,
        }

    @shown
    def new_document(self, title: str) -> dict:
        doc = self.service.new_document(title)
        return {**self.screen(doc.id, doc.nodes[0].id), self.page.view_lang: doc.language}

    @shown
    def rename_document(self, doc_id, title: str, version) -> dict:
        self.service.rename_document(doc_id, title, _int(version))
        return self.screen(doc_id)

    @shown
    def confirm_delete(self, doc_id) -> dict:
        if doc_id is None:
            raise ServiceError("Open a document first.")
        return {self.page.confirm_row: gr.Row(visible=True)}

    @shown
    def delete_document(self, doc_id) -> dict:
        deleted = self.service.delete_document(doc_id)
        note = f"Deleted “{deleted.title}”. “Recently deleted” (left) brings it back."
        return {**self.screen(None, note=note), self.page.confirm_row: gr.Row(visible=False)}

    @shown
    def restore_document(self, evt: gr.EventData) -> dict:
        restored = self.service.restore_document(evt.id)
        note = f"Restored “{restored.title}”."
        return self.screen(restored.id, select_first=True, note=note)

    @shown
    def export_document(self, doc_id, fmt_label: str) -> dict:
        name, content = self.service.export(doc_id, EXPORTS[fmt_label])
        path = Path(tempfile.mkdtemp(prefix="lcmw-export-")) / name
        path.write_text(content, encoding="utf-8")
        return {
            self.page.export_file: str(path),
            self.page.message: messages.info(f"Exported {name}."),
        }

    # -- reading ---------------------------------------------------------------------------

    @shown
    def select_node(self, doc_id, lang, evt: gr.EventData) -> dict:
        ws = self.service.workspace(doc_id, evt.id, lang)
        if ws.document is None:
            raise DocumentMissingError(
                "This document was deleted (perhaps in another tab): restore it from "
                "“Recently deleted”."
            )
        return render(self.page, ws)

    @shown
    def show_language(self, doc_id, node_id, lang) -> dict:
        try:
            self.service.translate_document(doc_id, lang)
        except TranslationUnavailableError as error:
            ws = self.service.workspace(doc_id, node_id)
            own = ws.document.language if ws.document else lang
            return {
                **render(self.page, ws, view_only=True),
                **messages.refusal(self.page, error),
                self.page.view_lang: own,
            }
        return render(self.page, self.service.workspace(doc_id, node_id, lang), view_only=True)

    @shown
    def reload(self, doc_id, node_id, lang) -> dict:
        """After a refusal: the document as it is now; the editor keeps the writer's text."""
        ws = self.service.workspace(doc_id, node_id, lang)
        if ws.document is None:
            note = "That document was deleted: restore it from “Recently deleted”."
        elif ws.node is None:
            note = "The node you had selected was deleted; your text is still in the editor."
        else:
            note = "Reloaded. The editor still holds your text: Save applies it to this version."
        return render(self.page, ws, note, keep_text=True)

    # -- editing ---------------------------------------------------------------------------

    @shown
    def save_text(self, doc_id, node_id, version, text: str, lang) -> dict:
        self.service.edit(node_id, doc_id, text, _int(version))
        return self.screen(doc_id, node_id, lang)

    @shown
    def toggle_lock(self, doc_id, node_id, version, lang) -> dict:
        self.service.toggle_lock(doc_id, node_id, _int(version))
        return self.screen(doc_id, node_id, lang, keep_text=True)  # typing survives a lock

    @shown
    def delete_node(self, doc_id, node_id, version, lang) -> dict:
        neighbour = self.service.delete_node(doc_id, node_id, _int(version))
        return self.screen(doc_id, neighbour, lang, "Deleted. Undo brings it back.")

    def mover(self, how: Move):
        @shown
        def move(self, doc_id, node_id, version, lang) -> dict:
            self.service.move(doc_id, node_id, how, _int(version))
            return self.screen(doc_id, node_id, lang, keep_text=True)

        move.__name__ = how
        return move.__get__(self)

    @shown
    def regenerate(self, doc_id, node_id, k, temperature=None) -> dict:
        """`temperature`: the slider's value, only on a page for a quantized LCM."""
        regeneration = self.service.regenerate(doc_id, node_id, k, temperature)
        return alternatives(self.page, regeneration, int(k))

    @shown
    def use_variant(self, doc_id, node_id, version, lang, evt: gr.EventData) -> dict:
        """One click on the shelf: that alternative becomes the node's text and concept."""
        self.service.accept_variant(doc_id, node_id, evt.id, _int(version))
        return self.screen(doc_id, node_id, lang, "Used the alternative from the shelf.")

    @shown
    def accept(self, doc_id, node_id, version, variant, lang) -> dict:
        self.service.accept_variant(doc_id, node_id, variant, _int(version))
        return self.screen(doc_id, node_id, lang)

    @shown
    def expand(self, doc_id, node_id, count, lang) -> dict:
        expansion = self.service.expand(doc_id, node_id, count)
        focus = expansion.added[0].id if expansion.added else node_id
        return self.screen(doc_id, focus, lang, describe(expansion))

    @shown
    def continue_text(self, doc_id, node_id, lang) -> dict:
        expansion = self.service.continue_after(doc_id, node_id)
        return self.screen(doc_id, expansion.added[-1].id, lang, describe(expansion))

    @shown
    def insert(self, doc_id, node_id, kind_label: str, text: str, lang) -> dict:
        node = self.service.insert(doc_id, node_id, NEW_KINDS[kind_label], text)
        return {**self.screen(doc_id, node.id, lang), self.page.new_text: ""}

    @shown
    def translate(self, doc_id, node_id, lang) -> dict:
        text = self.service.translate(node_id, doc_id, lang)
        return {self.page.translation: text, self.page.message: ""}

    @shown
    def replace_with_translation(self, doc_id, node_id, version, lang, view) -> dict:
        self.service.replace_with_translation(doc_id, node_id, lang, _int(version))
        return self.screen(doc_id, node_id, view)

    @shown
    def undo(self, doc_id, node_id, version, lang) -> dict:
        change = self.service.undo(doc_id, _int(version))
        return self.screen(doc_id, change.node_ids[0] if change.node_ids else node_id, lang)

    @shown
    def redo(self, doc_id, node_id, version, lang) -> dict:
        change = self.service.redo(doc_id, _int(version))
        return self.screen(doc_id, change.node_ids[0] if change.node_ids else node_id, lang)

    # -- whole outline ---------------------------------------------------------------------

    @shown
    def expand_outline(self, doc_id, node_id, count, lang, request: gr.Request) -> Iterator[dict]:
        """One item at a time, each one whole; Cancel stops between items. Every step
        shows what the server holds, and the last one sums up."""
        stop = self._stops.setdefault(request.session_hash or "", threading.Event())
        stop.clear()
        total = self.service.outline_items_to_expand(doc_id)
        done: list[Expansion] = []
        for expansion in self.service.expand_outline(doc_id, count):
            done.append(expansion)
            progress = (
                f"Expanding the outline: {len(done)} of {total} items done; "
                f"“{_short(expansion.node.text)}” got {_sentences(len(expansion.added))}."
            )
            if stop.is_set() or len(done) == total:
                break
            yield self.screen(doc_id, node_id, lang, progress)
        skipped = total - len(done)
        yield self.screen(doc_id, node_id, lang, summary(done, skipped))

    @shown
    def cancel_expansion(self, request: gr.Request) -> dict:
        self._stops.setdefault(request.session_hash or "", threading.Event()).set()
        return {self.page.message: messages.info("Cancelling after the item being expanded…")}


def describe(expansion: Expansion) -> str:
    """What an expand or continue did, saying where and, if fewer, why."""
    where = expansion.node.text or "the paragraph"
    verb = "after" if expansion.node.kind.value == "sentence" else "under"
    text = f"Added {_sentences(len(expansion.added))} {verb} “{_short(where)}”"
    return text + (f"; {expansion.shortfall}." if expansion.shortfall else ".")


def summary(done: list[Expansion], skipped: int) -> str:
    """The end of a whole-outline expansion: each item's count, why any got fewer."""
    lines = [
        f"Expanded {len(done)} outline items"
        + (f", cancelled before {skipped} more:" if skipped else ":")
    ]
    for expansion in done:
        line = f"• “{_short(expansion.node.text)}”: {len(expansion.added)} of {expansion.requested}"
        lines.append(line + (f" ({expansion.shortfall})" if expansion.shortfall else ""))
    return "\n".join(lines)


def wire(page: Page, writer: Handlers, demo: gr.Blocks) -> None:
    """Connect every control to its handler. Progress shows in the message area only, so
    no running action greys out the document."""
    p, editor = page, page.editor
    quiet = {"show_progress_on": [p.message]}
    node_in = [p.doc_id, p.node_id, p.node_version, p.view_lang]
    demo.load(writer.load_page, None, editor, api_name="load_page", **quiet)
    p.library.select(
        writer.open_document, None, [*editor, p.view_lang], api_name="open_document", **quiet
    )
    p.import_btn.click(
        writer.import_document,
        [p.import_title, p.import_text, p.import_file],
        [*editor, p.import_text, p.import_file, p.import_title, p.view_lang],
        api_name="import_document",
        **quiet,
    )
    p.new_btn.click(
        writer.new_document,
        p.import_title,
        [*editor, p.view_lang],
        api_name="new_document",
        **quiet,
    )
    for trigger in (p.rename_btn.click, p.title_box.submit):
        trigger(
            writer.rename_document,
            [p.doc_id, p.title_box, p.doc_version],
            editor,
            api_name="rename_document" if trigger == p.rename_btn.click else False,
            **quiet,
        )
    p.delete_doc_btn.click(
        writer.confirm_delete, p.doc_id, [p.confirm_row, *editor], api_name=False, **quiet
    )
    p.keep_doc_btn.click(lambda: gr.Row(visible=False), None, p.confirm_row, api_name=False)
    p.confirm_delete_btn.click(
        writer.delete_document,
        p.doc_id,
        [*editor, p.confirm_row],
        api_name="delete_document",
        **quiet,
    )
    p.deleted.select(writer.restore_document, None, editor, api_name="restore_document", **quiet)
    p.export_btn.click(
        writer.export_document,
        [p.doc_id, p.export_format],
        [p.export_file, p.message, p.reload_btn],
        api_name="export_document",
        **quiet,
    )
    p.reload_btn.click(
        writer.reload, [p.doc_id, p.node_id, p.view_lang], editor, api_name="reload", **quiet
    )

    # A click while an earlier selection is still loading wins (never dropped, never overtaken).
    p.tree.select(
        writer.select_node,
        [p.doc_id, p.view_lang],
        editor,
        api_visibility="private",
        trigger_mode="always_last",
        **quiet,
    )
    p.view_lang.select(
        writer.show_language,
        [p.doc_id, p.node_id, p.view_lang],
        [*editor, p.view_lang],
        api_name="show_language",
        **quiet,
    )
    for button, name in [(p.lock_btn, "toggle_lock"), (p.delete_btn, "delete_node")]:
        button.click(getattr(writer, name), node_in, editor, api_name=name, **quiet)
    for button, how in [
        (p.up_btn, "move_up"),
        (p.down_btn, "move_down"),
        (p.indent_btn, "indent"),
        (p.outdent_btn, "outdent"),
    ]:
        button.click(writer.mover(how), node_in, editor, api_name=how, **quiet)
    for trigger in (p.save_btn.click, p.node_text.submit):
        trigger(
            writer.save_text,
            [*node_in[:3], p.node_text, p.view_lang],
            editor,
            api_name="save_text" if trigger == p.save_btn.click else False,
            **quiet,
        )
    regenerate_in = [p.doc_id, p.node_id, p.k_slider]
    if p.temperature_slider is not None:
        regenerate_in.append(p.temperature_slider)
    p.regen_btn.click(
        writer.regenerate,
        regenerate_in,
        [p.alternatives, p.shelf, p.message, p.reload_btn],
        api_name="regenerate",
        **quiet,
    )
    # Accept reads the choice from a plain number the browser copies it into: a restarted
    # server has forgotten the Radio's choices and would refuse the Radio's own value.
    p.alternatives.change(None, p.alternatives, p.chosen_variant, js="(id) => id")
    p.accept_btn.click(
        writer.accept,
        [*node_in[:3], p.chosen_variant, p.view_lang],
        editor,
        api_name="accept_variant",
        **quiet,
    )
    p.shelf.select(writer.use_variant, node_in, editor, api_name="use_variant", **quiet)
    p.keep_btn.click(lambda: gr.Radio(choices=[], value=None), None, p.alternatives, api_name=False)
    p.expand_btn.click(
        writer.expand,
        [p.doc_id, p.node_id, p.expand_n, p.view_lang],
        editor,
        api_name="expand",
        **quiet,
    )
    p.continue_btn.click(
        writer.continue_text,
        [p.doc_id, p.node_id, p.view_lang],
        editor,
        api_name="continue_text",
        **quiet,
    )
    p.insert_btn.click(
        writer.insert,
        [p.doc_id, p.node_id, p.new_kind, p.new_text, p.view_lang],
        [*editor, p.new_text],
        api_name="insert",
        **quiet,
    )
    p.translate_btn.click(
        writer.translate,
        [p.doc_id, p.node_id, p.translate_lang],
        [p.translation, p.message, p.reload_btn],
        api_name="translate",
        **quiet,
    )
    p.replace_btn.click(
        writer.replace_with_translation,
        [*node_in[:3], p.translate_lang, p.view_lang],
        editor,
        api_name="replace_with_translation",
        **quiet,
    )
    history_in = [p.doc_id, p.node_id, p.doc_version, p.view_lang]
    p.undo_btn.click(writer.undo, history_in, editor, api_name="undo", **quiet)
    p.redo_btn.click(writer.redo, history_in, editor, api_name="redo", **quiet)
    p.expand_all_btn.click(
        writer.expand_outline,
        [p.doc_id, p.node_id, p.expand_all_n, p.view_lang],
        editor,
        api_name="expand_outline",
        **quiet,
    )
    p.cancel_btn.click(
        writer.cancel_expansion,
        None,
        [p.message, p.reload_btn],
        api_name="cancel_expansion",
        **quiet,
    )


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _sentences(count: int) -> str:
    return f"{count} sentence" + ("" if count == 1 else "s")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
