"""The writer's page: layout and event wiring. Every action goes through `WriterService`;
what the page shows comes from `app.views`.

The page keeps no hidden server-side session: the open document is the library's value,
the selected node and the versions last seen are hidden numbers, so each browser tab is
isolated, and every handler is a plain function of its inputs (which is also what
`gradio_client` sees). Versions travel with each change, so a second tab that changed the
same node makes the store refuse with a conflict instead of losing an update.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from app import views  # noqa: E402
from app.config import Settings  # noqa: E402
from app.outline import outline_tree  # noqa: E402
from app.service import ServiceError, TranslationUnavailableError, WriterService  # noqa: E402
from engine.lang import languages  # noqa: E402
from storage import (  # noqa: E402
    ConflictError,
    DocumentView,
    Kind,
    StorageError,
    decode_import,
)

log = logging.getLogger(__name__)
EXPORTS = {"Markdown": "md", "Plain text": "txt", "JSON (with concepts)": "json"}
# What every editing endpoint returns, in order (API clients zip these with the result).
EDITOR_FIELDS = (
    "library", "title", "header", "tree", "reading", "doc_version", "node_id", "node_version",
    "node_info", "node_text", "lock", "undo", "redo", "history", "alternatives",
)  # fmt: skip
NEW_KINDS = {"Sentence": Kind.SENTENCE, "Outline item": Kind.OUTLINE, "Section": Kind.SECTION}

CSS = """
.gradio-container { max-width: 1400px !important; }
#app-title h1 { margin: 0; font-size: 1.5rem; letter-spacing: -.01em; }
#alternatives > div.wrap:not([data-testid]) { display: grid; gap: .5rem;
  grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); }
#alternatives label { align-items: flex-start; line-height: 1.4; white-space: normal;
  min-height: 4.5rem; }
#reading article { font-family: Georgia, 'DejaVu Serif', serif; font-size: 1.05rem;
  line-height: 1.65; max-width: 42rem; }
.history { list-style: none; padding: 0; margin: 0; font-size: .9rem; }
.history li { padding: .35rem 0; border-bottom: 1px solid var(--border-color-primary); }
.history .meta { color: var(--body-text-color-subdued); font-size: .8rem; }
"""


class StartupError(Exception):
    """A model or the database could not be opened; the message says what to do."""


def launch_options() -> dict[str, Any]:
    """Options for `Blocks.launch` that belong to the page (Gradio 6 takes them there)."""
    fonts = ("ui-sans-serif", "system-ui", "Segoe UI", "DejaVu Sans", "sans-serif")
    mono = ("ui-monospace", "DejaVu Sans Mono", "monospace")
    return {"css": CSS, "theme": gr.themes.Soft(font=fonts, font_mono=mono)}


def create_app(settings: Settings) -> gr.Blocks:
    """Load the codec, the LCM and the database named in `settings`, then build the page."""
    from engine.codec import CodecError, load_codec
    from engine.lcm import load_lcm
    from storage import DocumentStore

    try:
        codec = load_codec(settings.codec, device=settings.device)
    except (CodecError, OSError, ValueError) as error:
        raise StartupError(
            f"could not load the codec {settings.codec!r}: {error}"
            + _other_choice("--codec", settings.codec, "a codec checkpoint directory")
        ) from error
    try:
        lcm = load_lcm(settings.lcm, device=settings.device)
    except (OSError, ValueError) as error:  # LCMNotFoundError, LCMCheckpointError
        raise StartupError(
            f"could not load the LCM {settings.lcm!r}: {error}"
            + _other_choice(
                "--lcm", settings.lcm, "a directory with config.json and model.safetensors"
            )
        ) from error
    if lcm.dim != codec.dim:
        raise StartupError(
            f"the LCM works on {lcm.dim}-d concepts but the codec {codec.name!r} makes "
            f"{codec.dim}-d ones: pick an LCM trained on this codec's embeddings."
        )
    try:
        store = DocumentStore(settings.db)
    except (StorageError, OSError) as error:
        raise StartupError(f"could not open the database {settings.db}: {error}") from error
    except Exception as error:  # SQLAlchemy's errors: the app may not import sqlalchemy
        raise StartupError(
            f"could not open the database {settings.db}: {error}. Check the --db URL "
            "(for example sqlite:///path/to/documents.sqlite3) and that its folder is writable."
        ) from error
    service = WriterService(codec, lcm, store)
    try:
        service.warm_up()
    except CodecError as error:  # a lazily loaded codec (SONAR) fails on first use
        raise StartupError(f"the codec {settings.codec!r} could not run: {error}") from error
    return create_app_from(service, max_upload_mb=settings.max_upload_mb)


def _other_choice(flag: str, chosen: str, path_hint: str) -> str:
    """What else to pass to `flag` (the bundled demo model unless that is what failed)."""
    if chosen == "demo":
        return ""
    return f". Use `{flag} demo` for the bundled model, or point `{flag}` at {path_hint}."


def friendly(handler: Callable) -> Callable:
    """Show the writer a clear message for anything that goes wrong, never a traceback."""

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(*args, **kwargs):
            with _errors_as_messages(handler.__name__):
                yield from handler(*args, **kwargs)

        return stream

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        with _errors_as_messages(handler.__name__):
            return handler(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _errors_as_messages(name: str) -> Iterator[None]:
    try:
        yield
    except gr.Error:
        raise
    except ConflictError as error:
        raise gr.Error(
            f"{error}. Your text is still in the editor: copy it, select the node again "
            "to see the new version, then apply your change.",
            title="Changed elsewhere",
        ) from error
    except (ServiceError, StorageError) as error:
        raise gr.Error(str(error), title="Cannot do that") from error
    except Exception as error:  # model or codec failures: log them, tell the writer
        log.exception("handler %s failed", name)
        raise gr.Error(
            f"Something went wrong ({type(error).__name__}: {error}). Your document is "
            "saved; the details are in the server log.",
            print_exception=False,
        ) from error


def create_app_from(service: WriterService, *, max_upload_mb: int = 5) -> gr.Blocks:
    """The page for an already loaded service (used by `create_app` and by the tests)."""
    languages = language_choices(service.codec.languages)
    max_chars = max_upload_mb * 1_000_000

    with gr.Blocks(title="LCM Writer") as demo:
        with gr.Row(equal_height=False):
            gr.Markdown("# LCM Writer", elem_id="app-title")
            gr.Markdown(
                f"Concepts by **{service.codec.name}** · an outline editor on a Large Concept "
                "Model. Select a sentence, then edit, regenerate, translate or continue it.",
                elem_id="app-subtitle",
            )
        doc_version = gr.Number(visible=False, precision=0, elem_id="doc-version")
        node_id = gr.Number(visible=False, precision=0, elem_id="node-id")
        node_version = gr.Number(visible=False, precision=0, elem_id="node-version")
        deleted_doc = gr.Number(visible=False, precision=0)

        with gr.Row(equal_height=False):
            # ---- library ------------------------------------------------------------------
            with gr.Column(scale=1, min_width=240):
                library = gr.Radio([], label="Documents", elem_id="library")
                with gr.Accordion("Import or new", open=True):
                    import_title = gr.Textbox(
                        label="Title", placeholder="optional", elem_id="import-title"
                    )
                    import_text = gr.Textbox(
                        label="Paste text or Markdown",
                        lines=6,
                        max_lines=14,
                        elem_id="import-text",
                        placeholder="Blank lines separate paragraphs; # starts a section; "
                        "- starts an outline item.",
                    )
                    import_file = gr.File(
                        label=f"…or upload .txt / .md (up to {max_upload_mb} MB)",
                        file_types=[".txt", ".md"],
                        type="filepath",
                        height=90,
                    )
                    with gr.Row():
                        import_btn = gr.Button("Import", variant="primary", elem_id="import-btn")
                        new_btn = gr.Button("New empty", elem_id="new-btn")
                with gr.Accordion("Document", open=False):
                    title_box = gr.Textbox(label="Title", elem_id="title-box")
                    with gr.Row():
                        rename_btn = gr.Button("Rename", size="sm")
                        delete_doc_btn = gr.Button("Delete", size="sm", variant="stop")
                        restore_doc_btn = gr.Button("Undo delete", size="sm", visible=False)
                    export_format = gr.Radio(list(EXPORTS), value="Markdown", label="Export as")
                    export_btn = gr.Button("Export", size="sm", elem_id="export-btn")
                    export_file = gr.File(
                        label="Download", elem_id="export-file", interactive=False
                    )

            # ---- outline --------------------------------------------------------------------
            with gr.Column(scale=3, min_width=320):
                with gr.Row():
                    undo_btn = gr.Button("↶ Undo", size="sm", elem_id="undo-btn")
                    redo_btn = gr.Button("↷ Redo", size="sm", elem_id="redo-btn")
                    view_lang = gr.Dropdown(
                        languages,
                        value=service.codec.languages[0],
                        label="View in",
                        elem_id="view-lang",
                        scale=2,
                        min_width=140,
                    )
                doc_header = gr.Markdown("", elem_id="doc-header")
                tree = outline_tree(
                    views.outline_html([]), elem_id="outline", max_height=640, padding=True
                )
                with gr.Row():
                    expand_all_n = gr.Slider(
                        1, 10, value=3, step=1, label="Sentences per outline item", min_width=160
                    )
                    expand_all_btn = gr.Button("Expand whole outline", elem_id="expand-all-btn")
                    cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel-btn")
                with gr.Accordion("Read", open=False):
                    reading = gr.HTML("", elem_id="reading")

            # ---- node panel ------------------------------------------------------------------
            with gr.Column(scale=2, min_width=300):
                node_info = gr.Markdown("Select a node in the outline.", elem_id="node-info")
                node_text = gr.Textbox(
                    label="Text",
                    info="Shift+Enter saves · in the outline, e jumps here",
                    lines=3,
                    max_lines=8,
                    elem_id="node-text",
                    interactive=True,
                )
                with gr.Row():
                    save_btn = gr.Button("Save", variant="primary", size="sm", elem_id="save-btn")
                    lock_btn = gr.Button("Lock", size="sm", elem_id="lock-btn")
                    delete_btn = gr.Button(
                        "Delete", size="sm", variant="stop", elem_id="delete-btn"
                    )
                with gr.Row():
                    up_btn = gr.Button("↑", size="sm", min_width=40, elem_id="up-btn")
                    down_btn = gr.Button("↓", size="sm", min_width=40, elem_id="down-btn")
                    outdent_btn = gr.Button("⇤", size="sm", min_width=40, elem_id="outdent-btn")
                    indent_btn = gr.Button("⇥", size="sm", min_width=40, elem_id="indent-btn")
                with gr.Tab("Regenerate"):
                    with gr.Row():
                        k_slider = gr.Slider(2, 8, value=4, step=1, label="Alternatives (K)")
                        regen_btn = gr.Button("Regenerate", variant="primary", elem_id="regen-btn")
                    alternatives = gr.Radio(
                        [], label="Alternatives (similarity · text)", elem_id="alternatives"
                    )
                    with gr.Row():
                        accept_btn = gr.Button("Accept", size="sm", elem_id="accept-btn")
                        keep_btn = gr.Button("Keep current", size="sm", elem_id="keep-btn")
                with gr.Tab("Write"):
                    with gr.Row():
                        expand_n = gr.Slider(1, 10, value=5, step=1, label="Sentences")
                        expand_btn = gr.Button("Expand under", elem_id="expand-btn")
                    continue_btn = gr.Button("Continue to end of text", elem_id="continue-btn")
                    new_kind = gr.Radio(list(NEW_KINDS), value="Sentence", label="Insert after")
                    new_text = gr.Textbox(label="New text", lines=2, elem_id="new-text")
                    insert_btn = gr.Button("Insert", size="sm", elem_id="insert-btn")
                with gr.Tab("Translate"):
                    translate_lang = gr.Dropdown(
                        languages, value=service.codec.languages[0], label="Language"
                    )
                    translate_btn = gr.Button("Translate", elem_id="translate-btn")
                    translation = gr.Textbox(label="Translation", interactive=False, lines=2)
                    replace_btn = gr.Button("Replace with translation", size="sm")
                with gr.Tab("History"):
                    history = gr.HTML("", elem_id="history")

        # ---- what every change refreshes -----------------------------------------------------
        editor = [
            library,
            title_box,
            doc_header,
            tree,
            reading,
            doc_version,
            node_id,
            node_version,
            node_info,
            node_text,
            lock_btn,
            undo_btn,
            redo_btn,
            history,
            alternatives,
        ]  # fmt: skip  (in the order of EDITOR_FIELDS)

        def screen(doc_id: int | None, selected: int | None, lang: str | None = None) -> dict:
            """Everything the editor shows for a document and a selected node."""
            docs = service.store.list_documents()
            library_update = gr.Radio(choices=[(d.title, d.id) for d in docs], value=doc_id)
            if doc_id is None:
                return {
                    library: library_update, title_box: "", doc_header: "", reading: "",
                    tree: views.outline_html([]), doc_version: None, node_id: None,
                    node_version: None, node_info: "Select a node in the outline.",
                    node_text: "", history: "", alternatives: gr.Radio(choices=[], value=None),
                    lock_btn: "Lock", undo_btn: gr.Button(interactive=False),
                    redo_btn: gr.Button(interactive=False),
                }  # fmt: skip
            doc = service.store.get_document(doc_id)
            translations = service.translate_document(doc_id, lang) if lang else {}
            node = _node_or_none(doc, selected)
            sentences = sum(1 for _ in doc.sentences())
            return {
                library: library_update,
                title_box: doc.title,
                doc_header: f"**{len(doc.nodes)}** nodes · **{sentences}** sentences · "
                f"{doc.language} · version {doc.version}",
                tree: views.outline_html(doc.nodes, node.id if node else None, translations),
                reading: views.reading_html(doc.nodes, translations),
                doc_version: doc.version,
                node_id: node.id if node else None,
                node_version: node.version if node else None,
                node_info: views.node_summary(node) if node else "Select a node in the outline.",
                node_text: node.text if node else "",
                lock_btn: "Unlock" if node and node.locked else "Lock",
                undo_btn: gr.Button(interactive=doc.can_undo),
                redo_btn: gr.Button(interactive=doc.can_redo),
                history: views.history_html(service.store.node_history(node.id)) if node else "",
                alternatives: gr.Radio(choices=[], value=None),
            }

        def need(doc_id, selected=None, *, node: bool = False) -> tuple[int, int | None]:
            if doc_id is None:
                raise gr.Error("Open or import a document first.", title="No document")
            if node and selected is None:
                raise gr.Error("Select a node in the outline first.", title="No node selected")
            return int(doc_id), None if selected is None else int(selected)

        def view_language(doc_id: int, lang: str | None) -> str | None:
            """The view language, or None for the document's own (or one the codec lacks)."""
            if lang is None or doc_id is None or lang not in service.codec.languages:
                return None
            return None if lang == service.store.get_document(int(doc_id)).language else lang

        # ---- library handlers --------------------------------------------------------------
        @friendly
        def load_page():
            docs = service.store.list_documents()
            return screen(docs[0].id if docs else None, None)

        @friendly
        def open_document(doc_id):
            doc_id, _ = need(doc_id)
            doc = service.store.get_document(doc_id)
            first = next(doc.sentences(), None)
            return {**screen(doc_id, first.id if first else None), view_lang: doc.language}

        @friendly
        def import_document(title: str, text: str, file_path: str | None):
            if file_path:
                data = Path(file_path).read_bytes()
                if len(data) > max_chars:
                    raise gr.Error(f"The file is larger than {max_upload_mb} MB.")
                text = decode_import(data)
                title = title or Path(file_path).stem
            if len(text) > max_chars:
                raise gr.Error(
                    f"The text has {len(text):,} characters; the limit is {max_chars:,}. "
                    "Import it in parts."
                )
            doc = service.import_text(text, title)
            first = next(doc.sentences(), None)
            gr.Info(f"Imported “{doc.title}”: {sum(1 for _ in doc.sentences())} sentences.")
            return {
                **screen(doc.id, first.id if first else None),
                import_text: "", import_file: None, import_title: "", view_lang: doc.language,
            }  # fmt: skip

        @friendly
        def new_document(title: str):
            doc = service.new_document(title or "Untitled")
            return {**screen(doc.id, doc.nodes[0].id), view_lang: doc.language}

        @friendly
        def rename_document(doc_id, title: str, version):
            doc_id, _ = need(doc_id)
            service.store.rename_document(doc_id, title, expected_version=_int(version))
            return screen(doc_id, None)

        @friendly
        def delete_document(doc_id):
            doc_id, _ = need(doc_id)
            service.store.delete_document(doc_id)
            gr.Info("Document deleted. “Undo delete” brings it back.")
            return {
                **screen(None, None),
                deleted_doc: doc_id,
                restore_doc_btn: gr.Button(visible=True),
            }

        @friendly
        def restore_document(deleted):
            if deleted is None:
                raise gr.Error("There is no deleted document to restore.")
            service.store.restore_document(int(deleted))
            return {
                **screen(int(deleted), None),
                deleted_doc: None,
                restore_doc_btn: gr.Button(visible=False),
            }

        @friendly
        def export_document(doc_id, fmt_label: str):
            doc_id, _ = need(doc_id)
            name, content = service.export(doc_id, EXPORTS[fmt_label])
            path = Path(tempfile.mkdtemp(prefix="lcmw-export-")) / name
            path.write_text(content, encoding="utf-8")
            return str(path)

        # ---- editor handlers ---------------------------------------------------------------
        @friendly
        def select_node(doc_id, lang, evt: gr.EventData):
            doc_id, _ = need(doc_id)
            return screen(doc_id, int(evt.id), view_language(doc_id, lang))

        @friendly
        def show_language(doc_id, selected, lang, progress=gr.Progress()):  # noqa: B008
            doc_id, selected = need(doc_id, selected)
            try:
                service.translate_document(doc_id, lang, lambda f, d: progress(f, desc=d))
            except TranslationUnavailableError as error:
                gr.Warning(str(error), title="Translation unavailable")
                language = service.store.get_document(doc_id).language
                return {**screen(doc_id, selected), view_lang: language}
            return {**screen(doc_id, selected, view_language(doc_id, lang)), view_lang: lang}

        def node_action(action: Callable[..., Any]) -> Callable:
            """A handler for a button that changes the selected node and redraws."""

            @friendly
            def handler(doc_id, selected, version, lang):
                doc_id, selected = need(doc_id, selected, node=True)
                result = action(doc_id, selected, _int(version))
                return screen(doc_id, result or selected, view_language(doc_id, lang))

            handler.__name__ = action.__name__
            return handler

        def lock_toggle(doc_id, selected, version):
            node = service.store.get_document(doc_id).node(selected)
            toggle = service.store.unlock_node if node.locked else service.store.lock_node
            toggle(selected, expected_version=version)

        def delete_node(doc_id, selected, version):
            doc = service.store.get_document(doc_id)
            neighbour = _neighbour(doc, selected)
            service.store.delete_node(selected, expected_version=version)
            gr.Info("Deleted. Undo brings it back.")
            return neighbour

        def structure(method: str) -> Callable:
            def move(doc_id, selected, version):
                getattr(service.store, method)(selected, expected_version=version)

            move.__name__ = method
            return move

        @friendly
        def save_text(doc_id, selected, version, text: str, lang):
            doc_id, selected = need(doc_id, selected, node=True)
            service.edit(selected, doc_id, text, _int(version))
            return screen(doc_id, selected, view_language(doc_id, lang))

        @friendly
        def regenerate(doc_id, selected, k):
            doc_id, selected = need(doc_id, selected, node=True)
            options = service.regenerate(doc_id, selected, int(k))
            choices = [
                (views.alternative_label(o.text, o.similarity), o.variant_id) for o in options
            ]
            return gr.Radio(choices=choices, value=None)

        @friendly
        def accept(doc_id, selected, version, variant, lang):
            doc_id, selected = need(doc_id, selected, node=True)
            if variant is None:
                raise gr.Error("Choose one of the alternatives first (or keep the current text).")
            service.store.accept_variant(selected, int(variant), expected_version=_int(version))
            return screen(doc_id, selected, view_language(doc_id, lang))

        @friendly
        def expand(doc_id, selected, count, lang):
            doc_id, selected = need(doc_id, selected, node=True)
            added = service.expand(doc_id, selected, int(count))
            gr.Info(f"Added {len(added)} sentences.")
            return screen(doc_id, added[0].id, view_language(doc_id, lang))

        @friendly
        def continue_text(doc_id, selected, lang):
            doc_id, selected = need(doc_id, selected, node=True)
            added = service.continue_after(doc_id, selected)
            gr.Info(f"Added {len(added)} sentences, up to the end of the text.")
            return screen(doc_id, added[-1].id, view_language(doc_id, lang))

        @friendly
        def insert(doc_id, selected, kind_label: str, text: str, lang):
            doc_id, selected = need(doc_id, selected)
            node = service.insert(doc_id, selected, NEW_KINDS[kind_label], text)
            return {**screen(doc_id, node.id, view_language(doc_id, lang)), new_text: ""}

        @friendly
        def translate(doc_id, selected, lang):
            doc_id, selected = need(doc_id, selected, node=True)
            return service.translate(selected, doc_id, lang)

        @friendly
        def replace_with_translation(doc_id, selected, version, lang, view):
            doc_id, selected = need(doc_id, selected, node=True)
            text = service.translate(selected, doc_id, lang)
            service.store.replace_with_translation(
                selected, text, language=lang, expected_version=_int(version)
            )
            return screen(doc_id, selected, view_language(doc_id, view))

        def history_step(step: str) -> Callable:
            @friendly
            def handler(doc_id, selected, version, lang):
                doc_id, selected = need(doc_id, selected)
                change = getattr(service.store, step)(doc_id, expected_version=_int(version))
                doc = service.store.get_document(doc_id)
                focus = next((i for i in change.node_ids if _node_or_none(doc, i)), selected)
                return screen(doc_id, focus, view_language(doc_id, lang))

            handler.__name__ = step
            return handler

        @friendly
        def expand_outline(doc_id, selected, count, lang, progress=gr.Progress()):  # noqa: B008
            doc_id, selected = need(doc_id, selected)
            progress(0, desc="Expanding the outline")
            for done, total in service.expand_outline(doc_id, int(count)):
                progress(done / total, desc=f"Expanded {done} of {total} outline items")
                yield screen(doc_id, selected, view_language(doc_id, lang))

        # ---- wiring ------------------------------------------------------------------------
        demo.load(load_page, None, editor, api_name="load_page")
        library.input(open_document, library, [*editor, view_lang], api_name="open_document")
        import_btn.click(
            import_document,
            [import_title, import_text, import_file],
            [*editor, import_text, import_file, import_title, view_lang],
            api_name="import_document",
        )
        new_btn.click(new_document, import_title, [*editor, view_lang], api_name="new_document")
        rename_btn.click(
            rename_document, [library, title_box, doc_version], editor, api_name="rename_document"
        )
        title_box.submit(rename_document, [library, title_box, doc_version], editor, api_name=False)
        delete_doc_btn.click(
            delete_document,
            library,
            [*editor, deleted_doc, restore_doc_btn],
            api_name="delete_document",
        )
        restore_doc_btn.click(
            restore_document,
            deleted_doc,
            [*editor, deleted_doc, restore_doc_btn],
            api_name="restore_document",
        )
        export_btn.click(
            export_document, [library, export_format], export_file, api_name="export_document"
        )

        # A click while an earlier selection is still loading wins (never dropped, never overtaken).
        tree.select(
            select_node,
            [library, view_lang],
            editor,
            api_visibility="private",
            trigger_mode="always_last",
        )
        view_lang.input(
            show_language,
            [library, node_id, view_lang],
            [*editor, view_lang],
            api_name="show_language",
        )
        node_inputs = [library, node_id, node_version, view_lang]
        for button, action, name in [
            (lock_btn, lock_toggle, "toggle_lock"),
            (delete_btn, delete_node, "delete_node"),
            (up_btn, structure("move_up"), "move_up"),
            (down_btn, structure("move_down"), "move_down"),
            (indent_btn, structure("indent"), "indent"),
            (outdent_btn, structure("outdent"), "outdent"),
        ]:
            button.click(node_action(action), node_inputs, editor, api_name=name)
        for trigger in (save_btn.click, node_text.submit):
            trigger(
                save_text,
                [library, node_id, node_version, node_text, view_lang],
                editor,
                api_name="save_text" if trigger == save_btn.click else False,
            )
        regen_btn.click(
            regenerate, [library, node_id, k_slider], alternatives, api_name="regenerate"
        )
        accept_btn.click(
            accept,
            [library, node_id, node_version, alternatives, view_lang],
            editor,
            api_name="accept_variant",
        )
        keep_btn.click(lambda: gr.Radio(choices=[], value=None), None, alternatives, api_name=False)
        expand_btn.click(expand, [library, node_id, expand_n, view_lang], editor, api_name="expand")
        continue_btn.click(
            continue_text, [library, node_id, view_lang], editor, api_name="continue_text"
        )
        insert_btn.click(
            insert,
            [library, node_id, new_kind, new_text, view_lang],
            [*editor, new_text],
            api_name="insert",
        )
        translate_btn.click(
            translate, [library, node_id, translate_lang], translation, api_name="translate"
        )
        replace_btn.click(
            replace_with_translation,
            [library, node_id, node_version, translate_lang, view_lang],
            editor,
            api_name="replace_with_translation",
        )
        undo_btn.click(
            history_step("undo"),
            [library, node_id, doc_version, view_lang],
            editor,
            api_name="undo",
        )
        redo_btn.click(
            history_step("redo"),
            [library, node_id, doc_version, view_lang],
            editor,
            api_name="redo",
        )
        expanding = expand_all_btn.click(
            expand_outline,
            [library, node_id, expand_all_n, view_lang],
            editor,
            api_name="expand_outline",
        )
        cancel_btn.click(None, None, None, cancels=[expanding], api_name=False)
    return demo


def language_choices(readable: Sequence[str]) -> list[tuple[str, str]]:
    """(name, code) for every language the codec family knows, the codec's own first, so
    picking one the loaded codec lacks explains how to get it."""
    table = {code: lang.name for code, lang in languages().items()}
    known = list(dict.fromkeys([*readable, *table]))
    return [(table.get(code, code), code) for code in known]


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _node_or_none(doc: DocumentView, node_id: int | None):
    if node_id is None:
        return None
    try:
        return doc.node(int(node_id))
    except KeyError:
        return None


def _neighbour(doc: DocumentView, node_id: int) -> int | None:
    """The node to select after deleting `node_id`: the previous one, else the next one
    outside its subtree."""
    ids = [n.id for n in doc.nodes]
    at = ids.index(node_id)
    if at > 0:
        return ids[at - 1]
    depth = doc.node(node_id).depth
    after = next((n.id for n in doc.nodes[at + 1 :] if n.depth <= depth), None)
    return after
