"""Placeholder page until the writer UI lands (issue 8)."""

from __future__ import annotations

import gradio as gr

from app.config import Settings


class StartupError(Exception):
    """A model or the database could not be opened; the message says what to do."""


def create_app(settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="LCM Writer") as demo:
        gr.Markdown("# LCM Writer")
    return demo
