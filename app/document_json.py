"""Reading back the JSON export (`storage.export.to_json`, format "lcm-writer-document/1"),
so a document moves between installations with its concepts bit-exact: each embedding is
rebuilt from its base64 bytes in its own dtype, never re-encoded from the text."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import numpy as np

from app.errors import ServiceError
from storage import Kind, NewNode, Origin

FORMAT = "lcm-writer-document/1"


@dataclass(frozen=True)
class ExportedDocument:
    title: str
    language: str
    codec_name: str
    codec_dim: int
    nodes: tuple[NewNode, ...]


def read_document_json(text: str) -> ExportedDocument:
    """The document in a JSON export; ServiceError saying what is wrong otherwise."""
    try:
        payload = json.loads(text)
        if payload.get("format") != FORMAT:
            raise ServiceError(
                f"This JSON is not an LCM Writer export (expected format {FORMAT!r})."
            )
        return ExportedDocument(
            title=str(payload["title"]),
            language=str(payload["language"]),
            codec_name=str(payload["codec"]["name"]),
            codec_dim=int(payload["codec"]["dim"]),
            nodes=tuple(_node(n) for n in payload["nodes"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
        raise ServiceError(
            f"This JSON export is damaged ({type(error).__name__} near {error}): export the "
            "document again."
        ) from None


def _node(data: dict) -> NewNode:
    embedding = data["embedding"]
    if embedding is not None:
        raw = base64.b64decode(embedding["base64"], validate=True)
        embedding = np.frombuffer(raw, dtype=np.dtype(embedding["dtype"]))
    return NewNode(
        Kind(data["kind"]),
        data["text"],
        embedding,
        data["language"],
        Origin(data["origin"]),
        tuple(_node(c) for c in data["children"]),
    )
