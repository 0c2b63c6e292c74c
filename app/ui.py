"""The writer's page for an already loaded `WriterService`: layout (`app.layout`), handlers
and wiring (`app.handlers`), screen model (`app.screen`), messages (`app.messages`).
Loading models and the database is `app.serve`'s job."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from app.handlers import Handlers, wire  # noqa: E402
from app.layout import CSS, build_layout  # noqa: E402
from app.service import WriterService  # noqa: E402


def create_app_from(service: WriterService, *, max_upload_mb: int = 5) -> gr.Blocks:
    with gr.Blocks(title="LCM Writer") as demo:
        page = build_layout(
            service.codec.name, service.codec.languages, max_upload_mb, service.default_temperature
        )
        wire(page, Handlers(service, page, max_upload_mb), demo)
    return demo


def launch_options() -> dict[str, Any]:
    """Options for `Blocks.launch` that belong to the page (Gradio 6 takes them there)."""
    fonts = ("ui-sans-serif", "system-ui", "Segoe UI", "DejaVu Sans", "sans-serif")
    mono = ("ui-monospace", "DejaVu Sans Mono", "monospace")
    return {"css": CSS, "theme": gr.themes.Soft(font=fonts, font_mono=mono)}
