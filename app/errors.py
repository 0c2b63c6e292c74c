"""What `WriterService` raises when it cannot do what the writer asked: one class per
reason, each message written for the writer (what happened, what to do), never a repr.

`StaleViewError` marks the reasons that mean "what you see is out of date" (another tab
changed or deleted it, the server restarted): the page keeps the writer's text and
offers a reload. `refusals` turns the store's errors into these at the service's door.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import TypeVar

import storage

F = TypeVar("F", bound=Callable)


class ServiceError(Exception):
    """An action the writer asked for that cannot be done; the message says why and how."""


class TranslationUnavailableError(ServiceError):
    """The loaded codec cannot write the requested language."""


class OutOfRangeError(ServiceError):
    """A count (sentences, alternatives) outside what the action allows."""


class ForeignNodeError(ServiceError):
    """A node id that belongs to another document than the one named."""


class StaleViewError(ServiceError):
    """The writer's view is out of date; reloading the document shows the current state."""


class ChangedElsewhereError(StaleViewError):
    """The node or document changed since the writer's page read it (another tab)."""


class NodeMissingError(StaleViewError):
    """The node was deleted (perhaps in another tab) or never existed."""


class DocumentMissingError(StaleViewError):
    """The document was deleted (restorable) or never existed."""


def refusals(method: F) -> F:
    """Decorate a service method so that the store's errors reach the caller as
    `ServiceError`s with a message for the writer (generators included)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(*args, **kwargs):
            with _translated():
                yield from method(*args, **kwargs)

        return stream  # type: ignore[return-value]

    @functools.wraps(method)
    def call(*args, **kwargs):
        with _translated():
            return method(*args, **kwargs)

    return call  # type: ignore[return-value]


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except storage.ConflictError as error:
        raise ChangedElsewhereError(
            f"This {error.what} was changed elsewhere (in another tab?) since your page read "
            "it; nothing was saved. Reload to see the current version, then apply your "
            "change again."
        ) from error
    except storage.NotFoundError as error:
        missing = DocumentMissingError if error.what == "document" else NodeMissingError
        raise missing(
            f"This {error.what} no longer exists (it was deleted, perhaps in another tab). "
            "Reload to see the current state."
        ) from error
    except storage.StorageError as error:
        message = str(error)
        raise ServiceError(message[:1].upper() + message[1:] + ".") from error
