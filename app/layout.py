"""The writer's page: components and where they sit, nothing else. `build_layout` must run
inside a `gr.Blocks` context; handlers and wiring live in `app.handlers`.

The page keeps no hidden server-side session: the open document, the selected node and
the versions last seen are hidden numbers, so each browser tab is isolated, a tab left
open across a server restart keeps working, and every handler is a plain function of its
inputs (which is also what `gradio_client` sees).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gradio as gr

from app import views
from app.outline import clickable_list, outline_tree
from engine.lang import languages
from storage import Kind

EXPORTS = {"Markdown": "md", "Plain text": "txt", "JSON (with concepts)": "json"}
NEW_KINDS = {"Sentence": Kind.SENTENCE, "Outline item": Kind.OUTLINE, "Section": Kind.SECTION}
# What every editing endpoint returns, in order (API clients zip these with the result).
EDITOR_FIELDS = (
    "library", "doc_id", "title", "header", "tree", "reading", "doc_version", "node_id",
    "node_version", "node_info", "node_text", "lock", "undo", "redo", "history",
    "alternatives", "deleted", "message", "reload", "shelf",
)  # fmt: skip

# The library until the page's first read arrives (a test, or a writer, waits for it).
LOADING = '<p class="empty loading">Loading the library…</p>'

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
#messages .message { padding: .5rem .75rem; border-radius: 6px; border-left: 4px solid;
  white-space: pre-wrap; overflow-wrap: anywhere; }
#messages .message.info { border-color: var(--color-accent);
  background: var(--background-fill-secondary); }
#messages .message.error { border-color: #c0504d; background: #fdf1f0; color: #7a1f1c; }
#messages .message.error strong { display: block; }
#reading .plan { color: var(--body-text-color-subdued); font-style: italic; }
body:has(#show-plan input:not(:checked)) #reading .plan { display: none; }
#node-info .misread { border-left: 3px solid #c0504d; padding-left: .5rem; }
#node-info .repeats { border-left: 3px solid #bf9a6c; padding-left: .5rem; }
"""


@dataclass(frozen=True)
class Page:
    """Every component a handler reads or writes."""

    library: gr.HTML
    deleted: gr.HTML
    doc_id: gr.Number
    doc_version: gr.Number
    node_id: gr.Number
    node_version: gr.Number
    message: gr.HTML
    reload_btn: gr.Button
    import_title: gr.Textbox
    import_text: gr.Textbox
    import_file: gr.File
    import_btn: gr.Button
    new_btn: gr.Button
    title_box: gr.Textbox
    rename_btn: gr.Button
    delete_doc_btn: gr.Button
    confirm_row: gr.Row
    confirm_delete_btn: gr.Button
    keep_doc_btn: gr.Button
    export_format: gr.Radio
    export_btn: gr.Button
    export_file: gr.File
    undo_btn: gr.Button
    redo_btn: gr.Button
    view_lang: gr.Dropdown
    doc_header: gr.HTML
    tree: gr.HTML
    expand_all_n: gr.Slider
    expand_all_btn: gr.Button
    cancel_btn: gr.Button
    reading: gr.HTML
    show_plan: gr.Checkbox
    node_info: gr.HTML
    node_text: gr.Textbox
    save_btn: gr.Button
    lock_btn: gr.Button
    delete_btn: gr.Button
    up_btn: gr.Button
    down_btn: gr.Button
    outdent_btn: gr.Button
    indent_btn: gr.Button
    k_slider: gr.Slider
    temperature_slider: gr.Slider | None  # None: the LCM has no temperature (diffusion)
    regen_btn: gr.Button
    alternatives: gr.Radio
    chosen_variant: gr.Number  # the picked alternative's id, copied in the browser
    shelf: gr.HTML
    accept_btn: gr.Button
    keep_btn: gr.Button
    expand_n: gr.Slider
    expand_btn: gr.Button
    continue_btn: gr.Button
    new_kind: gr.Radio
    new_text: gr.Textbox
    insert_btn: gr.Button
    translate_lang: gr.Dropdown
    translate_btn: gr.Button
    translation: gr.Textbox
    replace_btn: gr.Button
    history: gr.HTML

    @property
    def editor(self) -> list[gr.components.Component]:
        """What every change refreshes, in the order of EDITOR_FIELDS."""
        return [
            self.library, self.doc_id, self.title_box, self.doc_header, self.tree,
            self.reading, self.doc_version, self.node_id, self.node_version, self.node_info,
            self.node_text, self.lock_btn, self.undo_btn, self.redo_btn, self.history,
            self.alternatives, self.deleted, self.message, self.reload_btn, self.shelf,
        ]  # fmt: skip


def build_layout(
    codec_name: str,
    codec_languages: Sequence[str],
    max_upload_mb: int,
    temperature: float | None = None,
) -> Page:
    """The page for this codec; `temperature`: the LCM's default, None when it has none
    (a diffusion LCM), which leaves out the Temperature slider."""
    choices = language_choices(codec_languages)
    with gr.Row(equal_height=False):
        gr.Markdown("# LCM Writer", elem_id="app-title")
        gr.Markdown(
            f"Concepts by **{views.markdown_text(codec_name)}** · an outline editor on a Large "
            "Concept Model. Select a sentence, then edit, regenerate, translate or continue it.",
            elem_id="app-subtitle",
        )
    doc_id = gr.Number(visible=False, precision=0, elem_id="doc-id")
    doc_version = gr.Number(visible=False, precision=0, elem_id="doc-version")
    node_id = gr.Number(visible=False, precision=0, elem_id="node-id")
    node_version = gr.Number(visible=False, precision=0, elem_id="node-version")
    with gr.Row(equal_height=True):
        message = gr.HTML("", elem_id="messages", padding=False)
        reload_btn = gr.Button(
            "Reload document", size="sm", interactive=False, elem_id="reload-btn", scale=0
        )

    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=240):
            library = clickable_list(LOADING, elem_id="library")
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
                    label=f"…or upload .txt, .md or .json (≤ {max_upload_mb} MB)",
                    file_types=[".txt", ".md", ".json"],
                    type="filepath",
                    height=170,
                    elem_id="import-file",
                )
                with gr.Row():
                    import_btn = gr.Button("Import", variant="primary", elem_id="import-btn")
                    new_btn = gr.Button("New empty", elem_id="new-btn")
            with gr.Accordion("Document", open=False):
                title_box = gr.Textbox(label="Title", elem_id="title-box")
                with gr.Row():
                    rename_btn = gr.Button("Rename", size="sm")
                    delete_doc_btn = gr.Button(
                        "Delete…", size="sm", variant="stop", elem_id="delete-doc-btn"
                    )
                with gr.Row(visible=False, elem_id="confirm-delete") as confirm_row:
                    confirm_delete_btn = gr.Button(
                        "Delete this document", size="sm", variant="stop", elem_id="confirm-btn"
                    )
                    keep_doc_btn = gr.Button("Keep it", size="sm", elem_id="keep-doc-btn")
                export_format = gr.Radio(list(EXPORTS), value="Markdown", label="Export as")
                export_btn = gr.Button("Export", size="sm", elem_id="export-btn")
                export_file = gr.File(label="Download", elem_id="export-file", interactive=False)
            with gr.Accordion("Recently deleted", open=False, elem_id="recently-deleted"):
                deleted = clickable_list(views.deleted_html([]), elem_id="deleted")

        with gr.Column(scale=3, min_width=320):
            with gr.Row():
                undo_btn = gr.Button("↶ Undo", size="sm", elem_id="undo-btn")
                redo_btn = gr.Button("↷ Redo", size="sm", elem_id="redo-btn")
                view_lang = gr.Dropdown(
                    choices,
                    value=codec_languages[0],
                    label="View in",
                    info="This codec's languages first; type to filter",
                    filterable=True,
                    elem_id="view-lang",
                    scale=2,
                    min_width=140,
                )
            doc_header = gr.HTML("", elem_id="doc-header", padding=False)
            tree = outline_tree(
                views.outline_html([]), elem_id="outline", max_height=640, padding=True
            )
            with gr.Row():
                expand_all_n = gr.Slider(
                    1,
                    10,
                    value=3,
                    step=1,
                    label="Sentences per outline item",
                    scale=2,
                    min_width=200,
                )
                expand_all_btn = gr.Button("Expand whole outline", elem_id="expand-all-btn")
                cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel-btn")
            with gr.Accordion("Read", open=False):
                show_plan = gr.Checkbox(  # CSS alone hides the plan lines: no event, so
                    value=True,  # Gradio needs telling that it is interactive
                    interactive=True,
                    label="Show the outline's plan lines",
                    elem_id="show-plan",
                )
                reading = gr.HTML("", elem_id="reading")

        with gr.Column(scale=2, min_width=300):
            node_info = gr.HTML(views.NO_NODE, elem_id="node-info", padding=False)
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
                delete_btn = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-btn")
            with gr.Row():
                up_btn = gr.Button("↑", size="sm", min_width=40, elem_id="up-btn")
                down_btn = gr.Button("↓", size="sm", min_width=40, elem_id="down-btn")
                outdent_btn = gr.Button("⇤", size="sm", min_width=40, elem_id="outdent-btn")
                indent_btn = gr.Button("⇥", size="sm", min_width=40, elem_id="indent-btn")
            with gr.Tab("Regenerate"):
                with gr.Row():
                    k_slider = gr.Slider(2, 8, value=4, step=1, label="Alternatives (K)")
                    regen_btn = gr.Button("Regenerate", variant="primary", elem_id="regen-btn")
                temperature_slider = None
                if temperature is not None:
                    temperature_slider = gr.Slider(
                        0,
                        2,
                        value=temperature,
                        step=0.05,
                        label="Temperature",
                        info="0: the most likely concept every time; higher: more varied",
                        elem_id="temperature",
                    )
                alternatives = gr.Radio(
                    [],
                    label="Alternatives (leads on · follows · similarity · text)",
                    info="Leads on: how well the sentence after it follows from it; follows: "
                    "how well it fits what comes before",
                    elem_id="alternatives",
                )
                chosen_variant = gr.Number(None, visible=False, precision=0)
                with gr.Row():
                    accept_btn = gr.Button("Accept", size="sm", elem_id="accept-btn")
                    keep_btn = gr.Button("Keep current", size="sm", elem_id="keep-btn")
                with gr.Accordion("Alternatives shelf: every one generated here", open=False):
                    shelf = clickable_list(views.shelf_html([]), elem_id="shelf")
            with gr.Tab("Write"):
                with gr.Row():
                    expand_n = gr.Slider(1, 10, value=5, step=1, label="Sentences")
                    expand_btn = gr.Button("Expand under", elem_id="expand-btn")
                continue_btn = gr.Button("Continue after this", elem_id="continue-btn")
                new_kind = gr.Radio(list(NEW_KINDS), value="Sentence", label="Insert after")
                new_text = gr.Textbox(label="New text", lines=2, elem_id="new-text")
                insert_btn = gr.Button("Insert", size="sm", elem_id="insert-btn")
            with gr.Tab("Translate"):
                translate_lang = gr.Dropdown(choices, value=codec_languages[0], label="Language")
                translate_btn = gr.Button("Translate", elem_id="translate-btn")
                translation = gr.Textbox(label="Translation", interactive=False, lines=2)
                replace_btn = gr.Button("Replace with translation", size="sm")
            with gr.Tab("History"):
                history = gr.HTML("", elem_id="history")
    return Page(**{k: v for k, v in locals().items() if k in Page.__dataclass_fields__})


def language_choices(readable: Sequence[str]) -> list[tuple[str, str]]:
    """(name, code) for every language the codec family knows, the codec's own first, so
    picking one the loaded codec lacks explains how to get it."""
    table = {code: lang.name for code, lang in languages().items()}
    known = list(dict.fromkeys([*readable, *table]))
    return [(table.get(code, code), code) for code in known]
