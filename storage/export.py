"""Exports of a document view: Markdown, plain text, and JSON with the embeddings.

Markdown layout (what import reads back): a section is a heading (`#` per section level,
at most six), a paragraph is its sentences joined by single spaces, consecutive loose
sentences form one paragraph, an outline item is a `- ` bullet (indented per outline
level) followed by its sentences as an indented continuation paragraph. Blocks are
separated by blank lines. Plain text is the same without heading marks."""

from __future__ import annotations

import base64
import json
from collections import defaultdict

from storage.types import DocumentView, Kind, NodeView

JSON_FORMAT = "lcm-writer-document/1"


def to_markdown(doc: DocumentView) -> str:
    return _render(doc, markdown=True)


def to_text(doc: DocumentView) -> str:
    return _render(doc, markdown=False)


def _render(doc: DocumentView, *, markdown: bool) -> str:
    children: dict[int | None, list[NodeView]] = defaultdict(list)
    for node in doc.nodes:
        children[node.parent_id].append(node)
    blocks: list[str] = []

    def sentences_under(node: NodeView) -> list[str]:
        found, stack = [], list(reversed(children[node.id]))
        while stack:
            child = stack.pop()
            if child.kind is Kind.SENTENCE:
                found.append(child.text)
            stack.extend(reversed(children[child.id]))
        return found

    def walk(parent_id: int | None, section_level: int, indent: str) -> None:
        run: list[str] = []
        for node in children[parent_id]:
            if node.kind is Kind.SENTENCE:
                run.append(node.text)
                continue
            if run:
                blocks.append(indent + " ".join(run))
                run = []
            if node.kind is Kind.SECTION:
                mark = "#" * min(section_level, 6) + " " if markdown else ""
                blocks.append(indent + mark + node.text)
                walk(node.id, section_level + 1, indent)
            elif node.kind is Kind.PARAGRAPH:
                blocks.append(indent + (" ".join(sentences_under(node)) or node.text))
            else:  # an outline item: the plan, then its expansion, then sub-items
                blocks.append(indent + "- " + node.text)
                walk(node.id, section_level, indent + "  ")
        if run:
            blocks.append(indent + " ".join(run))

    walk(None, 1, "")
    return "\n\n".join(block for block in blocks if block.strip()) + "\n"


def to_json(doc: DocumentView) -> str:
    """The whole document as JSON; embeddings are base64 little-endian bytes + a NumPy dtype
    string, bit-exact: `numpy.frombuffer(base64.b64decode(e["base64"]), e["dtype"])`."""
    children: dict[int | None, list[NodeView]] = defaultdict(list)
    for node in doc.nodes:
        children[node.parent_id].append(node)

    def encode(node: NodeView) -> dict[str, object]:
        embedding = None
        if node.embedding is not None:
            embedding = {
                "dtype": node.embedding.dtype.newbyteorder("<").str,  # e.g. "<f4"
                "dim": int(node.embedding.shape[0]),
                "base64": base64.b64encode(node.embedding.tobytes()).decode("ascii"),
            }
        return {
            "id": node.id,
            "kind": node.kind.value,
            "text": node.text,
            "language": node.language,
            "origin": node.origin.value,
            "state": node.state.value,
            "edited": node.edited,
            "embedding": embedding,
            "children": [encode(child) for child in children[node.id]],
        }

    payload = {
        "format": JSON_FORMAT,
        "id": doc.id,
        "title": doc.title,
        "language": doc.language,
        "codec": {"name": doc.codec_name, "dim": doc.codec_dim},
        "created_at": doc.created_at.isoformat(),
        "updated_at": doc.updated_at.isoformat(),
        "version": doc.version,
        "nodes": [encode(node) for node in children[None]],
    }
    return json.dumps(payload, ensure_ascii=False, indent=1)
