"""Where the writer reads what happened: one message area above the page (`#messages`).

A handler that fails changes nothing but that area (and enables "Reload document" when the
page is out of date), so an error never replaces or covers the document, the outline or
the text being edited. No toasts and no `gr.Error`: Gradio renders those as HTML over the
page. Every message is escaped here, whatever it quotes (titles, file names, languages).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import gradio as gr

from app.errors import ServiceError, StaleViewError

if TYPE_CHECKING:
    from app.layout import Page

log = logging.getLogger(__name__)
TITLES = {
    StaleViewError: "Out of date",
    ServiceError: "Cannot do that",
}
UNEXPECTED = (
    "Something went wrong on the server. Your document is saved; the details are in the server log."
)


def info(text: str) -> str:
    """A message saying what an action did."""
    return f'<div class="message info" role="status">{escape(text)}</div>'


def problem(title: str, text: str) -> str:
    """A message saying why an action did not happen and what to do."""
    return (
        f'<div class="message error" role="alert"><strong>{escape(title)}</strong>'
        f"{escape(text)}</div>"
    )


def refusal(page: Page, error: Exception) -> dict[Any, Any]:
    """The only change a failed action makes: the message, and Reload when stale."""
    if isinstance(error, ServiceError):
        title = next(t for cls, t in TITLES.items() if isinstance(error, cls))
        text = str(error)
        if isinstance(error, StaleViewError):
            text += " Your text is still in the editor."
    else:
        title, text = "Something went wrong", UNEXPECTED
    stale = isinstance(error, StaleViewError)
    return {page.message: problem(title, text), page.reload_btn: gr.Button(interactive=stale)}


def shown(handler: Callable) -> Callable:
    """Decorate a handler method (of an object with a `page`) so that any error becomes a
    message in the message area, never an exception's repr and never an overlay."""

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(self, *args, **kwargs):
            try:
                yield from handler(self, *args, **kwargs)
            except Exception as error:
                yield _report(self.page, handler.__name__, error)

        return stream

    @functools.wraps(handler)
    def call(self, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except Exception as error:
            return _report(self.page, handler.__name__, error)

    return call


def _report(page: Page, name: str, error: Exception) -> dict[Any, Any]:
    if not isinstance(error, ServiceError):
        log.exception("handler %s failed", name, exc_info=error)
    return refusal(page, error)
