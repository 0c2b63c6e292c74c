"""Typed storage errors. Every message says what went wrong and how to fix it, so the app
can show it to the writer as is."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of everything `DocumentStore` raises on purpose."""


class NotFoundError(StorageError, LookupError):
    """A document, node or variant id that does not exist (or was permanently deleted)."""

    def __init__(self, what: str, ident: int) -> None:
        self.what, self.ident = what, ident
        super().__init__(f"{what} {ident} does not exist (it may have been deleted permanently)")


class ConflictError(StorageError):
    """Someone else changed the object since the caller read it (another tab, another user).

    Nothing was written. Reload, look at the new version, and apply the change again."""

    def __init__(self, what: str, ident: int, expected: int, actual: int) -> None:
        self.what, self.ident, self.expected, self.actual = what, ident, expected, actual
        super().__init__(
            f"{what} {ident} was changed elsewhere (you had version {expected}, it is now at "
            f"version {actual}); nothing was saved: reload it and apply your change again"
        )


class StorageBusyError(StorageError):
    """The database stayed locked by other writers through every retry (minutes of waiting)."""


class InvalidInputError(StorageError, ValueError):
    """Input the store refuses to save; nothing was written."""


class EmptyTextError(InvalidInputError):
    """A sentence, outline item or heading with no visible text."""


class TextTooLongError(InvalidInputError):
    """More characters than one node may hold (`MAX_NODE_TEXT_CHARS`)."""


class InvalidTextError(InvalidInputError):
    """Text with characters a database cannot store (NUL, unpaired surrogates)."""


class ImportDecodeError(InvalidInputError):
    """Imported bytes that are not valid UTF-8."""


class EmbeddingError(InvalidInputError):
    """An embedding of the wrong shape, dtype or dimension, or with NaN/inf values."""


class WrongDocumentError(InvalidInputError):
    """A node id that belongs to a different document than the one being changed."""


class InvalidMoveError(InvalidInputError):
    """A move, insert or restore that the tree cannot take (into itself, past the end...)."""


class LockedError(StorageError):
    """A change to a locked node's content; unlock it first."""


class NothingToUndoError(StorageError):
    """Undo with an empty undo history (or redo with nothing undone)."""
