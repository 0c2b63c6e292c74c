"""The one place where the engine and the store meet: one method per user action.

Import: paragraphs -> sentences -> language -> concepts -> a stored tree. Edit:
re-encode. Regenerate: the preceding concepts -> `lcm.sample_next` -> decode -> stored
variants scored by cosine similarity to the current concept. Translate: decode in another
language through the store's translation cache. Expand, continue: `lcm.generate` after the
right context. Everything else is passed to `DocumentStore` as is.

No SQL and no model code here; torch tensors from the codec only pass through.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

from engine.codec import ConceptCodec
from engine.lang import detect_language
from engine.segment import heading_level, split_paragraphs, split_sentences
from storage import (
    DocumentStore,
    DocumentView,
    Kind,
    NewNode,
    NewVariant,
    NodeView,
    Origin,
)

Progress = Callable[[float, str], None]
DECODE_BATCH = 16
MAX_CONTINUE = 32
NEVER = 2.0  # a cosine threshold no pair of concepts reaches
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.+)$")


class ServiceError(Exception):
    """An action the writer asked for that cannot be done; the message says why and how."""


class TranslationUnavailableError(ServiceError):
    """The loaded codec cannot write the requested language."""


class LCM(Protocol):
    dim: int

    def sample_next(
        self, context: torch.Tensor, num_samples: int, seed: int, **options
    ) -> torch.Tensor: ...

    def generate(
        self, context: torch.Tensor, max_concepts: int, seed: int, **options
    ) -> torch.Tensor: ...


@dataclass(frozen=True)
class Alternative:
    """One proposal from "regenerate" with its cosine similarity to the current concept."""

    variant_id: int
    text: str
    similarity: float | None


@dataclass
class WriterService:
    codec: ConceptCodec
    lcm: LCM
    store: DocumentStore
    rng: random.Random = field(default_factory=random.Random)

    def warm_up(self) -> None:
        """Load the segmenter and run each model once, so the first writer does not wait."""
        split_sentences("Warm up. Twice.", lang=self.codec.languages[0])
        concepts = self._encode(["Warm up."], self.codec.languages[0])
        self.codec.decode(self.lcm.sample_next(concepts, num_samples=1, seed=0))

    # -- documents ------------------------------------------------------------------------

    def import_text(self, text: str, title: str = "") -> DocumentView:
        """A new document from pasted or uploaded text: Markdown headings become sections,
        list items outline items, other blocks paragraphs of sentences."""
        if not text.strip():
            raise ServiceError("There is nothing to import: paste some text or choose a file.")
        language = self._language_of(text, fallback=self.codec.languages[0])
        tree = self._build_tree(text, language)
        title = title.strip() or _title_from(text)
        return self.store.create_document(
            title, tree, language=language, codec_name=self.codec.name, codec_dim=self.codec.dim
        )

    def new_document(self, title: str) -> DocumentView:
        title = title.strip() or "Untitled"
        language = self.codec.languages[0]
        item = NewNode(Kind.OUTLINE, title, self._encode([title], language)[0], language)
        return self.store.create_document(
            title, [item], language=language, codec_name=self.codec.name, codec_dim=self.codec.dim
        )

    def export(self, document_id: int, fmt: str) -> tuple[str, str]:
        """(file name, content) for "md", "txt" or "json"."""
        exporters = {
            "md": self.store.export_markdown,
            "txt": self.store.export_text,
            "json": self.store.export_json,
        }
        if fmt not in exporters:
            raise ServiceError(f"Unknown export format {fmt!r}: choose md, txt or json.")
        title = self.store.get_document(document_id).title
        stem = re.sub(r"[^\w-]+", "-", title).strip("-")[:60] or "document"
        return f"{stem}.{fmt}", exporters[fmt](document_id)

    # -- content --------------------------------------------------------------------------

    def edit(self, node_id: int, document_id: int, text: str, expected_version: int) -> NodeView:
        """A person's new text: detect its language, re-encode it, store both."""
        node = self.store.get_document(document_id).node(node_id)
        if node.kind is Kind.PARAGRAPH:
            raise ServiceError("A paragraph is a container: select one of its sentences to edit.")
        text = text.strip()
        if not text:
            raise ServiceError("The text is empty: type something, or delete the node instead.")
        language = self._language_of(text, fallback=node.language)
        embedding = self._encode([text], language)[0]
        return self.store.edit_text(
            node_id, text, expected_version=expected_version, embedding=embedding, language=language
        )

    def regenerate(self, document_id: int, node_id: int, k: int) -> list[Alternative]:
        """K alternatives for a node, sampled from the concepts before it, kept as variants."""
        doc = self.store.get_document(document_id)
        node = doc.node(node_id)
        if node.embedding is None:
            raise ServiceError("Only sentences, outline items and headings can be regenerated.")
        samples = self.lcm.sample_next(
            self._context_before(doc, node), num_samples=k, seed=self._seed()
        )
        texts = self.codec.decode(samples, lang=node.language)
        scores = _cosine(samples, torch.tensor(node.embedding, dtype=samples.dtype)).tolist()
        stored = self.store.add_variants(
            node_id,
            [
                NewVariant(text=t, embedding=e.numpy(), language=node.language, score=s)
                for t, e, s in zip(texts, samples, scores, strict=True)
            ],
        )
        return [Alternative(v.id, v.text, v.score) for v in stored]

    def expand(self, document_id: int, node_id: int, count: int) -> list[NodeView]:
        """`count` new sentences under a section, outline item or paragraph, planned from
        everything before it, the item itself and what is already under it."""
        doc = self.store.get_document(document_id)
        node = doc.node(node_id)
        if node.kind is Kind.SENTENCE:
            raise ServiceError("Expand works on outline items and headings; use Continue here.")
        context = self._context_through(doc, node)
        # The writer asked for `count` sentences: do not stop early at end-of-text.
        concepts = self.lcm.generate(
            context, max_concepts=count, seed=self._seed(), eot_threshold=NEVER
        )
        return self._insert_generated(doc, concepts, node.language, parent_id=node.id)

    def continue_after(self, document_id: int, node_id: int) -> list[NodeView]:
        """New sentences after a sentence (or at the end of a section, outline item or
        paragraph), until the LCM predicts the end of the text."""
        doc = self.store.get_document(document_id)
        node = doc.node(node_id)
        concepts = self.lcm.generate(
            self._context_through(doc, node), max_concepts=MAX_CONTINUE, seed=self._seed()
        )
        if node.kind is Kind.SENTENCE:
            parent_id, position = node.parent_id, node.position + 1
        else:
            parent_id, position = node.id, None
        return self._insert_generated(
            doc, concepts, node.language, parent_id=parent_id, position=position
        )

    def expand_outline(self, document_id: int, count: int) -> Iterator[tuple[int, int]]:
        """Expand every outline item that has no sentences yet; yields (done, total) after
        each one, so the caller can report progress and stop between items."""
        doc = self.store.get_document(document_id)
        empty = [
            n.id
            for n in doc.nodes
            if n.kind is Kind.OUTLINE
            and not any(c.kind is Kind.SENTENCE for c in doc.children(n.id))
        ]
        if not empty:
            raise ServiceError("Every outline item already has sentences: nothing to expand.")
        for done, item_id in enumerate(empty, start=1):
            self.expand(document_id, item_id, count)
            yield done, len(empty)

    def insert(self, document_id: int, after_id: int | None, kind: Kind, text: str) -> NodeView:
        """A new typed node after `after_id` (None: at the end of the document)."""
        doc = self.store.get_document(document_id)
        text = text.strip()
        if kind is not Kind.PARAGRAPH and not text:
            raise ServiceError(f"Type the text of the new {kind.value} first.")
        language = self._language_of(text, fallback=doc.language) if text else doc.language
        embedding = self._encode([text], language)[0] if kind is not Kind.PARAGRAPH else None
        new = NewNode(kind, text, embedding, language, Origin.TYPED)
        if after_id is None:
            return self.store.insert_node(document_id, new)
        after = doc.node(after_id)
        return self.store.insert_node(
            document_id, new, parent_id=after.parent_id, position=after.position + 1
        )

    # -- translation ----------------------------------------------------------------------

    def translate(self, node_id: int, document_id: int, language: str) -> str:
        """The node's concept decoded in `language`, from the cache when possible."""
        self._check_can_write(language)
        node = self.store.get_document(document_id).node(node_id)
        if node.embedding is None:
            raise ServiceError("This node has no concept to translate: select a sentence.")
        cached = self.store.get_translation(node_id, language)
        if cached is not None:
            return cached
        text = self.codec.decode(_tensor([node.embedding]), lang=language)[0]
        self.store.put_translation(node_id, language, text, expected_version=node.version)
        return text

    def translate_document(
        self, document_id: int, language: str, progress: Progress | None = None
    ) -> dict[int, str]:
        """Every concept of the document decoded in `language`; cached per node revision."""
        doc = self.store.get_document(document_id)
        if language == doc.language:
            return {}
        self._check_can_write(language)
        texts = self.store.get_translations(document_id, language)
        missing = [n for n in doc.nodes if n.embedding is not None and n.id not in texts]
        for start in range(0, len(missing), DECODE_BATCH):
            if progress:
                progress(start / len(missing), f"Translating {start}/{len(missing)} sentences")
            batch = missing[start : start + DECODE_BATCH]
            decoded = self.codec.decode(_tensor([n.embedding for n in batch]), lang=language)
            for node, text in zip(batch, decoded, strict=True):
                self.store.put_translation(node.id, language, text, expected_version=node.version)
                texts[node.id] = text
        return texts

    # -- helpers --------------------------------------------------------------------------

    def _build_tree(self, text: str, language: str) -> list[NewNode]:
        """The outline of `text` with every concept encoded in one batch."""
        drafts = _outline_of(text, language)
        texts = [d.text for d in _walk(drafts) if d.kind is not Kind.PARAGRAPH]
        concepts = iter(self._encode(texts, language)) if texts else iter(())

        def build(draft: _Draft) -> NewNode:
            embedding = None if draft.kind is Kind.PARAGRAPH else next(concepts).numpy()
            children = [build(c) for c in draft.children]
            return NewNode(draft.kind, draft.text, embedding, language, Origin.IMPORTED, children)

        return [build(d) for d in drafts]

    def _insert_generated(
        self,
        doc: DocumentView,
        concepts: torch.Tensor,
        language: str,
        *,
        parent_id: int | None,
        position: int | None = None,
    ) -> list[NodeView]:
        if len(concepts) == 0:
            raise ServiceError("The model ended the text right away: nothing was added.")
        texts = self.codec.decode(concepts, lang=language)
        nodes = [
            NewNode(Kind.SENTENCE, t, c.numpy(), language, Origin.GENERATED)
            for t, c in zip(texts, concepts, strict=True)
        ]
        return self.store.insert_nodes(doc.id, nodes, parent_id=parent_id, position=position)

    def _context_before(self, doc: DocumentView, node: NodeView) -> torch.Tensor:
        """The sentence concepts that precede `node` in reading order."""
        before = []
        for n in doc.nodes:
            if n.id == node.id:
                break
            if n.kind is Kind.SENTENCE and n.embedding is not None:
                before.append(n.embedding)
        return _tensor(before, self.codec.dim)

    def _context_through(self, doc: DocumentView, node: NodeView) -> torch.Tensor:
        """The sentence concepts before `node`, its own concept (a plan, for an outline item
        or heading) and the sentences already under it: what generation continues from."""
        inside = {node.id}
        concepts = []
        seen = False
        for n in doc.nodes:
            seen = seen or n.id == node.id
            if seen and n.id != node.id and n.parent_id not in inside:
                break
            if seen:
                inside.add(n.id)
            if n.embedding is not None and (n.kind is Kind.SENTENCE or n.id == node.id):
                concepts.append(n.embedding)
        return _tensor(concepts, self.codec.dim)

    def _language_of(self, text: str, fallback: str) -> str:
        """The detected language when the codec reads it; otherwise the fallback (a codec
        with one language, such as the demo codec, always gets that one)."""
        if len(self.codec.languages) == 1:
            return self.codec.languages[0]
        language = detect_language(text, fallback=fallback)
        return language if language in self.codec.languages else fallback

    def _check_can_write(self, language: str) -> None:
        if language not in self.codec.languages:
            only = ", ".join(self.codec.languages[:4]) + (
                ", ..." if len(self.codec.languages) > 4 else ""
            )
            raise TranslationUnavailableError(
                f"The {self.codec.name} codec writes only {only}, not {language}. Translation "
                "needs the SONAR codec (200 languages): start the app with `--codec sonar` "
                "(or LCMW_CODEC=sonar), ideally on a GPU."
            )

    def _encode(self, texts: list[str], language: str) -> torch.Tensor:
        return self.codec.encode(texts, lang=language)

    def _seed(self) -> int:
        return self.rng.randrange(2**31)


def _cosine(rows: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    norms = torch.linalg.vector_norm(rows, dim=-1) * torch.linalg.vector_norm(vector)
    return rows @ vector / norms.clamp_min(1e-12)


def _tensor(rows: Sequence, dim: int | None = None) -> torch.Tensor:
    if not rows:
        return torch.zeros(0, dim or 0)
    return torch.stack([torch.tensor(r, dtype=torch.float32) for r in rows])


@dataclass
class _Draft:
    """A node of an imported outline before its concept is known."""

    kind: Kind
    text: str
    level: int = 0  # Markdown heading level, for sections
    children: list[_Draft] = field(default_factory=list)


def _outline_of(text: str, language: str) -> list[_Draft]:
    """Headings open sections (nested by level), list blocks become outline items, other
    blocks paragraphs of sentences."""
    roots: list[_Draft] = []
    sections: list[_Draft] = []  # the open sections, outermost first
    for block in split_paragraphs(text):
        level = heading_level(block)
        if level:
            while sections and sections[-1].level >= level:
                sections.pop()
            section = _Draft(Kind.SECTION, block.strip().strip("#").strip(), level)
            (sections[-1].children if sections else roots).append(section)
            sections.append(section)
            continue
        siblings = sections[-1].children if sections else roots
        items = [LIST_ITEM.match(line) for line in block.splitlines()]
        if all(items):
            siblings.extend(_Draft(Kind.OUTLINE, m.group(1).strip()) for m in items if m)
            continue
        sentences = [s.strip() for s in split_sentences(" ".join(block.split()), lang=language)]
        sentences = [s for s in sentences if s]
        if sentences:
            children = [_Draft(Kind.SENTENCE, s) for s in sentences]
            siblings.append(_Draft(Kind.PARAGRAPH, "", children=children))
    return roots


def _walk(drafts: Sequence[_Draft]) -> Iterator[_Draft]:
    for draft in drafts:
        yield draft
        yield from _walk(draft.children)


def _title_from(text: str) -> str:
    first = next(line.strip("# ").strip() for line in text.splitlines() if line.strip())
    return first[:80]
