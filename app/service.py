"""The one place where the engine and the store meet: one method per user action, and the
page's only door to both.

Import: paragraphs -> sentences -> language -> concepts -> round trips -> a stored tree.
Edit: re-encode and read back. Regenerate: the preceding concepts -> `lcm.sample_next`
-> the candidates that best lead on to the next sentence (engine.lcm.scoring) -> decode
-> stored variants with their fit and their cosine similarity to the current concept.
Translate: decode in another language through the store's translation cache. Expand,
continue: new sentences after the right context (engine.writing: concepts drawn and
decoded, a sentence that repeats a phrase drawn again). `workspace` is the one read the page
renders after any action.

Every method checks its arguments (the document exists and is not deleted, the node is in
it, counts are in range) and raises `ServiceError` subclasses (app/errors.py) whose
messages are for the writer. No SQL and no model code here.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, Protocol

import torch

from app.document_json import read_document_json
from app.errors import (
    ChangedElsewhereError,
    DocumentMissingError,
    ForeignNodeError,
    NodeMissingError,
    OutOfRangeError,
    ServiceError,
    StaleViewError,
    TranslationUnavailableError,
    refusals,
)
from engine.codec import ConceptCodec
from engine.codec.round_trip import round_trips
from engine.lang import detect_language
from engine.lcm.quant_lcm import QuantLCM
from engine.lcm.scoring import DRAWN_PER_SHOWN, Scored, best_fitting
from engine.segment import heading_level, split_paragraphs, split_sentences
from engine.writing import Written, write_after
from storage import (
    ChangeView,
    DocumentStore,
    DocumentSummary,
    DocumentView,
    Fidelity,
    Fill,
    Kind,
    NewNode,
    NewVariant,
    NodeView,
    NotFoundError,
    Origin,
    RevisionView,
    UnreadNode,
    VariantView,
    decode_import,
)

__all__ = [
    "Alternative",
    "ChangedElsewhereError",
    "DocumentMissingError",
    "Expansion",
    "ForeignNodeError",
    "NodeMissingError",
    "OutOfRangeError",
    "Regeneration",
    "ServiceError",
    "StaleViewError",
    "TranslationUnavailableError",
    "Workspace",
    "WriterService",
]

Progress = Callable[[float, str], None]
Move = Literal["move_up", "move_down", "indent", "outdent"]
DECODE_BATCH = 16
IMPORT_BATCH = 256  # sentences encoded at once: bounded memory, progress between batches
# An import reads back (decodes) its first sentences itself, so a document of a few pages
# opens with every concept check in place; the rest, 6 ms a sentence on this CPU (a 5 MB
# novel: 8 minutes), are read back in the background (`read_back_unread`,
# app/read_back.py) and their checks appear as they are done.
READ_BACK_AT_IMPORT = 200
READ_BACK_BATCH = 64  # sentences the background reads back per transaction
MAX_CONTINUE = 32
MAX_EXPAND = 10  # sentences per expansion: a paragraph; more is a job for several items
MAX_ALTERNATIVES = 8  # each one is decoded and shown: more do not fit a screen
# Generation reads at most this many concepts before the point it writes at: the LCMs are
# trained on windows of 128 concepts (engine/train/config.py `max_len`; the paper's models
# are trained on bounded windows too), so more is out of distribution, and attention time
# grows with the context on every call.
CONTEXT_WINDOW = 128
# A quantized LCM's temperature divides the logits over each codebook's units: at 5 they
# are five times flatter than the model learnt, past any useful variety (the page offers
# 0 to 2), so a larger value is refused as a slip rather than sampled as noise.
MAX_TEMPERATURE = 5.0
# A sentence is flagged "the model may misread this" when its concept decodes to a reading
# that shares less than half of its character n-grams (chrF < 50 on 0-100: a different
# sentence, not a rewording) or whose own concept lies farther than cosine 0.9 from it.
MISREAD_CHRF = 50.0
MISREAD_COSINE = 0.9
# Two sentences of a document this close in concept space (cosine) say the same thing:
# set for the bundled codec on held-out paraphrase pairs against each document sentence's
# nearest other sentence, which is what the badge compares (assets/demo/codec/README.md,
# "Repeated meaning threshold": the small codec flags a third of real sentences even so);
# another codec needs its own.
REPEAT_COSINE = 0.79
# Regenerate draws DRAWN_PER_SHOWN x K candidates a round; the tuned sampler's draws are
# close, and the small codec decodes close concepts alike: up to this many rounds, until
# K of them read differently.
REGENERATE_ROUNDS = 3
TEXT_TRUTH = (Origin.TYPED, Origin.IMPORTED)  # origins whose text, not concept, is the truth
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.+)$")
EXPORT_FORMATS = ("md", "txt", "json")


class LCM(Protocol):
    dim: int

    def sample_next(
        self, context: torch.Tensor, num_samples: int, seed: int, **options
    ) -> torch.Tensor: ...

    def generate_batch(
        self, contexts: list[torch.Tensor], max_concepts: int, seed: int, **options
    ) -> list[torch.Tensor]: ...


@dataclass(frozen=True)
class Alternative:
    """One proposal from "regenerate": its cosine similarity to the current concept, how
    well it follows what comes before and leads on to what comes after (None at the end of
    a text: nothing follows)."""

    variant_id: int
    text: str
    similarity: float | None
    follows: float | None = None
    leads_on: float | None = None


@dataclass(frozen=True)
class Regeneration:
    """What one regenerate proposed (best first) and the node's shelf after it: every
    variant ever generated for the node, newest first, these included, so the page shows
    both from the one call that made them."""

    alternatives: tuple[Alternative, ...]
    shelf: tuple[VariantView, ...]


@dataclass(frozen=True)
class Expansion:
    """What one expand or continue added, and why it added fewer than asked (or None)."""

    node: NodeView  # the item expanded, or the node continued from
    added: tuple[NodeView, ...]
    requested: int
    shortfall: str | None = None


@dataclass(frozen=True)
class Workspace:
    """Everything the page shows, from one read without embeddings: the library, the open
    document (None: none open, or it was deleted), the selected node and its history, and
    the document's text in the view language when that is not its own; the concept checks:
    sentences the codec may misread, sentences that repeat another one's meaning (by id,
    the other's id), how far each revision moved the concept, and every variant ever
    generated for the selected node (newest first)."""

    documents: tuple[DocumentSummary, ...]
    deleted: tuple[DocumentSummary, ...]
    document: DocumentView | None = None
    node: NodeView | None = None
    history: tuple[RevisionView, ...] = ()
    translations: dict[int, str] = field(default_factory=dict)
    language: str | None = None  # the language shown; None: the document's own
    misread: frozenset[int] = frozenset()
    repeats: dict[int, int] = field(default_factory=dict)
    moves: tuple[float | None, ...] = ()  # per revision: 1 - cosine to the previous concept
    variants: tuple[VariantView, ...] = ()
    unread: int = 0  # the document's sentences whose round trip is still being read back


@dataclass
class WriterService:
    codec: ConceptCodec
    lcm: LCM
    store: DocumentStore
    rng: random.Random = field(default_factory=random.Random)
    misread_chrf: float = MISREAD_CHRF
    misread_cosine: float = MISREAD_COSINE
    repeat_cosine: float = REPEAT_COSINE
    read_back_at_import: int = READ_BACK_AT_IMPORT
    # Set when an import leaves round trips to the background, which waits on it.
    unread: threading.Event = field(default_factory=threading.Event)

    @property
    def default_temperature(self) -> float | None:
        """The loaded LCM's sampling temperature when none is asked for; None for a
        diffusion LCM, whose variety comes from its noise, not from a temperature."""
        return self.lcm.config.sampler.temperature if isinstance(self.lcm, QuantLCM) else None

    def warm_up(self) -> None:
        """Load the segmenter and run each model once, so the first writer does not wait."""
        split_sentences("Warm up. Twice.", lang=self.codec.languages[0])
        concepts = self._encode(["Warm up."], self.codec.languages[0])
        self.codec.decode(self.lcm.sample_next(concepts, num_samples=1, seed=0))

    # -- what the page shows ------------------------------------------------------------------

    @refusals
    def workspace(
        self,
        document_id: int | None,
        node_id: int | None = None,
        language: str | None = None,
        *,
        select_first: bool = False,
    ) -> Workspace:
        """The page after any action (`select_first`: with no `node_id`, the first sentence
        is selected). A deleted or unknown document, node or language is not an error
        here: the page then shows less (nothing open, nothing selected, the document's own
        language)."""
        documents = self.store.list_documents(include_deleted=True)
        live = tuple(d for d in documents if not d.deleted)
        deleted = tuple(d for d in documents if d.deleted)
        if document_id is None or int(document_id) not in {d.id for d in live}:
            return Workspace(live, deleted)
        doc = self.store.get_document(int(document_id), with_embeddings=False)
        node = _find(doc, node_id)
        if node is None and node_id is None and select_first:
            node = next(doc.sentences(), None)
        history = tuple(self.store.node_history(node.id)) if node else ()
        shown = language if language in self.codec.languages and language != doc.language else None
        translations = self.translate_document(doc.id, shown) if shown else {}
        misread = frozenset(
            n.id
            for n in doc.nodes
            if n.fidelity
            and (n.fidelity.chrf < self.misread_chrf or n.fidelity.cosine < self.misread_cosine)
        )
        repeats = {
            n.id: n.nearest_id
            for n in doc.sentences()
            if n.nearest_id is not None and n.nearest_cosine >= self.repeat_cosine
        }
        variants = self._shelf(node.id) if node else ()
        unread = self.store.count_unread(doc.id, TEXT_TRUTH, self.codec.languages)
        return Workspace(
            live, deleted, doc, node, history, translations, shown,
            misread, repeats, _moves(history), variants, unread,
        )  # fmt: skip

    # -- documents ------------------------------------------------------------------------

    @refusals
    def import_text(
        self, text: str, title: str = "", progress: Progress | None = None
    ) -> DocumentView:
        """A new document from pasted or uploaded text: Markdown headings become sections,
        list items outline items, other blocks paragraphs of sentences. `progress` hears
        about each batch of sentences encoded. The document comes back without its
        concepts (`store.get_document` reads them)."""
        _check_writable(text, "The text")
        if not _visible(text):
            raise ServiceError(
                "There is nothing to import: paste some text or choose a file "
                "(this text has no visible characters)."
            )
        language = self._language_of(text, fallback=self.codec.languages[0])
        tree, sentences = _import_tree(text, language)
        if not tree:
            raise ServiceError("There is nothing to import: the text has no sentences.")
        doc = self.store.create_document(
            title.strip() or _title_from(text), tree,
            language=language, codec_name=self.codec.name, codec_dim=self.codec.dim,
            with_embeddings=False, fill=self._filler(language, progress, sentences),
        )  # fmt: skip
        self.unread.set()  # the background reads back what the import left
        return doc

    @refusals
    def import_file(
        self, path: str, title: str = "", progress: Progress | None = None
    ) -> DocumentView:
        """`import_text` for an uploaded UTF-8 .txt or .md file (the title defaults to the
        file's name); a .json export comes back as it was, concepts bit-exact."""
        file = Path(path)
        text = decode_import(file.read_bytes(), name=f"“{file.name}”")
        if file.suffix.lower() != ".json":
            return self.import_text(text, title.strip() or file.stem, progress)
        exported = read_document_json(text)
        if (exported.codec_name, exported.codec_dim) != (self.codec.name, self.codec.dim):
            raise ServiceError(
                f"This export holds concepts of the {exported.codec_name} codec "
                f"({exported.codec_dim}-d); this app runs {self.codec.name} ({self.codec.dim}-d). "
                "Import its Markdown export instead, or start the app with that codec."
            )
        doc = self.store.create_document(
            title.strip() or exported.title,
            exported.nodes,
            language=exported.language,
            codec_name=exported.codec_name,
            codec_dim=exported.codec_dim,
            with_embeddings=False,
            fill=self._filler(exported.language, progress),
        )
        self.unread.set()
        return doc

    @refusals
    def new_document(self, title: str) -> DocumentView:
        title = title.strip() or "Untitled"
        _check_writable(title, "The title")
        language = self.codec.languages[0]
        concept = self._encode([title], language)[0]
        item = NewNode(
            Kind.OUTLINE,
            title,
            concept,
            language,
            fidelity=self._fidelity(title, concept, language),
        )
        return self.store.create_document(
            title, [item], language=language, codec_name=self.codec.name, codec_dim=self.codec.dim
        )

    @refusals
    def rename_document(
        self, document_id: int, title: str, expected_version: int | None
    ) -> DocumentSummary:
        doc = self._document(document_id, with_embeddings=False)
        return self.store.rename_document(doc.id, title, expected_version=expected_version)

    @refusals
    def delete_document(self, document_id: int) -> DocumentSummary:
        """Soft delete: listed under "Recently deleted" until restored."""
        return self.store.delete_document(self._document(document_id, with_embeddings=False).id)

    @refusals
    def restore_document(self, document_id: int) -> DocumentSummary:
        return self.store.restore_document(_id(document_id, "document"))

    @refusals
    def export(self, document_id: int, fmt: str) -> tuple[str, str]:
        """(file name, content) for "md", "txt" or "json"."""
        if fmt not in EXPORT_FORMATS:
            raise ServiceError(f"Unknown export format {fmt!r}: choose md, txt or json.")
        document_id = _id(document_id, "document")
        title = self.store.get_document(document_id, with_embeddings=False).title
        exporters = {
            "md": self.store.export_markdown,
            "txt": self.store.export_text,
            "json": self.store.export_json,
        }
        stem = re.sub(r"[^\w-]+", "-", title).strip("-")[:60] or "document"
        return f"{stem}.{fmt}", exporters[fmt](document_id)

    # -- content --------------------------------------------------------------------------

    @refusals
    def edit(self, node_id: int, document_id: int, text: str, expected_version: int) -> NodeView:
        """A person's new text: detect its language, re-encode it, store both."""
        node = self._node(self._document(document_id, with_embeddings=False), node_id)
        if node.kind is Kind.PARAGRAPH:
            raise ServiceError("A paragraph is a container: select one of its sentences to edit.")
        text = text.strip()
        _check_writable(text, "The text")
        if not _visible(text):
            raise ServiceError("The text is empty: type something, or delete the node instead.")
        language = self._language_of(text, fallback=node.language)
        embedding = self._encode([text], language)[0]
        return self.store.edit_text(
            node.id,
            text,
            expected_version=expected_version,
            embedding=embedding,
            language=language,
            fidelity=self._fidelity(text, embedding, language),
        )

    @refusals
    def regenerate(
        self, document_id: int, node_id: int, k: int, temperature: float | None = None
    ) -> Regeneration:
        """K alternatives for a node that fit both of its sides: of `DRAWN_PER_SHOWN` x K
        draws from the concepts before it, the K that best lead on to the sentence after
        it, best first (at the end of the text, the first K draws); kept as variants with
        the temperature they were drawn at (`temperature`: a quantized LCM's, None its
        default). Draws that read the same are listed once, the next best taking their
        place (up to REGENERATE_ROUNDS rounds of draws), so fewer than K come back only
        when the model keeps writing one sentence (a round that reads nothing new ends
        the search: at temperature 0 every round draws the same). The node's shelf comes
        with them."""
        k = _check_count(k, 1, MAX_ALTERNATIVES, "alternatives")
        options = {}
        if temperature is not None:
            options["temperature"] = self._check_temperature(temperature)
        node, context, after = self._window(document_id, node_id)
        if node.embedding is None:
            raise ServiceError("Only sentences, outline items and headings can be regenerated.")
        drawn = DRAWN_PER_SHOWN * k
        rounds: list[Scored] = []  # each round's draws, best first
        decoded: list[str] = []  # their texts, round after round
        keep: list[int] = []
        for _ in range(REGENERATE_ROUNDS):  # another round while fewer than K read differently
            scored = best_fitting(
                self.lcm, context, after, shown=drawn, drawn=drawn, seed=self._seed(), **options
            )
            rounds.append(scored)
            decoded += self.codec.decode(scored.candidates, lang=node.language)
            found = _first_of_each(decoded)[:k]
            done = len(found) == k or len(found) == len(keep)  # K, or a round with none new
            keep = found
            if done:
                break
        samples = torch.cat([s.candidates for s in rounds])[keep]
        fits = torch.cat([s.follows for s in rounds])[keep].tolist()
        ahead = (
            [None] * len(keep)
            if after is None
            else torch.cat([s.leads_on for s in rounds])[keep].tolist()
        )
        texts = [decoded[i] for i in keep]
        scores = _cosine(samples, torch.tensor(node.embedding, dtype=samples.dtype)).tolist()
        drawn_at = options.get("temperature", self.default_temperature)
        stored = self.store.add_variants(
            node.id,
            [
                NewVariant(t, e.numpy(), node.language, s, f, a, drawn_at)
                for t, e, s, f, a in zip(texts, samples, scores, fits, ahead, strict=True)
            ],
        )
        alternatives = tuple(
            Alternative(v.id, v.text, v.score, v.follows, v.leads_on) for v in stored
        )
        return Regeneration(alternatives, self._shelf(node.id))

    @refusals
    def accept_variant(
        self, document_id: int, node_id: int, variant_id: int | None, expected_version: int | None
    ) -> NodeView:
        node = self._node(self._document(document_id, with_embeddings=False), node_id)
        if variant_id is None:
            raise ServiceError("Choose one of the alternatives first (or keep the current text).")
        return self.store.accept_variant(
            node.id, int(variant_id), expected_version=expected_version
        )

    @refusals
    def expand(self, document_id: int, node_id: int, count: int) -> Expansion:
        """Exactly `count` new sentences under a section, outline item or paragraph, planned
        from everything before it, the item itself and what is already under it."""
        count = _check_count(count, 1, MAX_EXPAND, "sentences")
        doc = self._document(document_id)
        node = self._node(doc, node_id)
        if node.kind is Kind.SENTENCE:
            raise ServiceError("Expand works on outline items and headings; use Continue here.")
        # The writer asked for `count` sentences: neither end-of-text nor a repeat (drawn
        # again, the least repetitive draw kept) stops early.
        (written,) = write_after(
            self.lcm, self.codec, [self._context_through(doc, node)], count, node.language,
            seed=self._seed(),
        )  # fmt: skip
        added = self._insert_generated(doc, written, node.language, parent_id=node.id)
        return Expansion(node, tuple(added), count)

    @refusals
    def continue_after(self, document_id: int, node_id: int) -> Expansion:
        """New sentences right after a sentence (or at the end of a section, outline item
        or paragraph): at least one, then more until the LCM predicts the end of the text."""
        doc = self._document(document_id)
        node = self._node(doc, node_id)
        (written,) = write_after(
            self.lcm, self.codec, [self._context_through(doc, node)], MAX_CONTINUE,
            node.language, seed=self._seed(), until_end=True,
        )  # fmt: skip
        if node.kind is Kind.SENTENCE:
            parent_id, position = node.parent_id, node.position + 1
        else:
            parent_id, position = node.id, None
        added = self._insert_generated(
            doc, written, node.language, parent_id=parent_id, position=position
        )
        if len(added) == MAX_CONTINUE:
            reason = f"stopped at {MAX_CONTINUE} sentences: continue again for more"
        else:
            reason = "the model ended the text there or began repeating itself"
        return Expansion(node, tuple(added), MAX_CONTINUE, reason)

    @refusals
    def expand_outline(self, document_id: int, count: int) -> Iterator[Expansion]:
        """Expand every outline item that has no sentences yet, one item per step (each
        one whole, in one transaction), so the caller can report progress and stop
        between items."""
        count = _check_count(count, 1, MAX_EXPAND, "sentences")
        empty = _unexpanded(self._document(document_id, with_embeddings=False))
        if not empty:
            raise ServiceError("Every outline item already has sentences: nothing to expand.")
        for item_id in empty:
            yield self.expand(document_id, item_id, count)

    @refusals
    def outline_items_to_expand(self, document_id: int) -> int:
        """How many outline items `expand_outline` would expand."""
        return len(_unexpanded(self._document(document_id, with_embeddings=False)))

    @refusals
    def insert(self, document_id: int, after_id: int | None, kind: Kind, text: str) -> NodeView:
        """A new typed node after `after_id` (None: at the end of the document)."""
        doc = self._document(document_id, with_embeddings=False)
        after = None if after_id is None else self._node(doc, after_id)
        text = text.strip()
        _check_writable(text, "The text")
        if kind is not Kind.PARAGRAPH and not _visible(text):
            raise ServiceError(f"Type the text of the new {kind.value} first.")
        language = self._language_of(text, fallback=doc.language) if text else doc.language
        embedding, fidelity = None, None
        if kind is not Kind.PARAGRAPH:
            embedding = self._encode([text], language)[0]
            fidelity = self._fidelity(text, embedding, language)
        new = NewNode(kind, text, embedding, language, Origin.TYPED, fidelity=fidelity)
        if after is None:
            return self.store.insert_node(doc.id, new)
        return self.store.insert_node(
            doc.id, new, parent_id=after.parent_id, position=after.position + 1
        )

    # -- structure and history --------------------------------------------------------------

    @refusals
    def toggle_lock(self, document_id: int, node_id: int, expected_version: int | None) -> NodeView:
        node = self._node(self._document(document_id, with_embeddings=False), node_id)
        toggle = self.store.unlock_node if node.locked else self.store.lock_node
        return toggle(node.id, expected_version=expected_version)

    @refusals
    def delete_node(
        self, document_id: int, node_id: int, expected_version: int | None
    ) -> int | None:
        """Delete a node with its subtree (undo brings it back); returns the node to select
        next: the previous one, else the next one outside its subtree."""
        doc = self._document(document_id, with_embeddings=False)
        node = self._node(doc, node_id)
        self.store.delete_node(node.id, expected_version=expected_version)
        at = doc.nodes.index(node)
        if at > 0:
            return doc.nodes[at - 1].id
        return next((n.id for n in doc.nodes[at + 1 :] if n.depth <= node.depth), None)

    @refusals
    def move(
        self, document_id: int, node_id: int, how: Move, expected_version: int | None
    ) -> NodeView:
        """Move up or down among siblings, indent under the previous sibling, or outdent."""
        if how not in ("move_up", "move_down", "indent", "outdent"):
            raise ServiceError(f"Unknown move {how!r}.")
        node = self._node(self._document(document_id, with_embeddings=False), node_id)
        return getattr(self.store, how)(node.id, expected_version=expected_version)

    @refusals
    def undo(self, document_id: int, expected_version: int | None) -> ChangeView:
        doc = self._document(document_id, with_embeddings=False)
        return self.store.undo(doc.id, expected_version=expected_version)

    @refusals
    def redo(self, document_id: int, expected_version: int | None) -> ChangeView:
        doc = self._document(document_id, with_embeddings=False)
        return self.store.redo(doc.id, expected_version=expected_version)

    # -- translation ----------------------------------------------------------------------

    @refusals
    def translate(self, node_id: int, document_id: int, language: str) -> str:
        """The node's concept decoded in `language`, from the cache when possible."""
        self._check_can_write(language)
        node = self._node(self._document(document_id), node_id)
        if node.embedding is None:
            raise ServiceError("This node has no concept to translate: select a sentence.")
        cached = self.store.get_translation(node.id, language)
        if cached is not None:
            return cached
        text = self.codec.decode(_tensor([node.embedding]), lang=language)[0]
        self.store.put_translation(node.id, language, text, expected_version=node.version)
        return text

    @refusals
    def replace_with_translation(
        self, document_id: int, node_id: int, language: str, expected_version: int | None
    ) -> NodeView:
        """The node's text becomes its decoding in `language` (the concept stays)."""
        text = self.translate(node_id, document_id, language)
        return self.store.replace_with_translation(
            _id(node_id, "node"), text, language=language, expected_version=expected_version
        )

    @refusals
    def translate_document(
        self, document_id: int, language: str, progress: Progress | None = None
    ) -> dict[int, str]:
        """Every concept of the document decoded in `language`; cached per node revision."""
        doc = self._document(document_id, with_embeddings=False)
        if language == doc.language:
            return {}
        self._check_can_write(language)
        texts = self.store.get_translations(doc.id, language)
        concept_kinds = (Kind.SENTENCE, Kind.OUTLINE, Kind.SECTION)
        if all(n.id in texts for n in doc.nodes if n.kind in concept_kinds):
            return texts
        doc = self.store.get_document(doc.id)
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

    # -- checks ---------------------------------------------------------------------------

    def _document(self, document_id: int, *, with_embeddings: bool = True) -> DocumentView:
        """The live document, or DocumentMissingError saying whether it was deleted."""
        document_id = _id(document_id, "document")
        with _document_must_exist():
            doc = self.store.get_document(document_id, with_embeddings=with_embeddings)
        _check_live(doc)
        return doc

    def _window(
        self, document_id: int, node_id: int
    ) -> tuple[NodeView, torch.Tensor, torch.Tensor | None]:
        """The live node, the last `CONTEXT_WINDOW` sentence concepts before it in reading
        order and the next sentence's concept (None at the end), read without the rest of
        the document (a regenerate deep in a 10,000-sentence text reads 129 concepts)."""
        document_id, node_id = _id(document_id, "document"), _id(node_id, "node")
        with _document_must_exist():
            window = self.store.reading_window(document_id, node_id, CONTEXT_WINDOW)
        _check_live(window.document)
        if window.node is None:
            self._missing_node(window.document, node_id)
        after = None if window.after is None else torch.tensor(window.after, dtype=torch.float32)
        return window.node, _tensor(window.concepts, self.codec.dim), after

    def _shelf(self, node_id: int) -> tuple[VariantView, ...]:
        """Every variant generated for the node, newest first."""
        return tuple(reversed(self.store.list_variants(node_id)))

    def _node(self, doc: DocumentView, node_id: int) -> NodeView:
        """The live node of `doc`; otherwise say whether it was deleted or is foreign."""
        node_id = _id(node_id, "node")
        node = _find(doc, node_id)
        if node is None:
            self._missing_node(doc, node_id)
        return node

    def _missing_node(self, doc: DocumentSummary | DocumentView, node_id: int) -> NoReturn:
        """Raise the error that says why `node_id` is not a live node of `doc`."""
        try:
            owner = self.store.node_document(node_id)
        except NotFoundError:
            raise NodeMissingError(
                f"There is no node {node_id}: select a node in the outline."
            ) from None
        if owner != doc.id:
            raise ForeignNodeError(
                f"Node {node_id} belongs to another document, not to “{doc.title}”."
            )
        raise NodeMissingError(
            "The selected node was deleted (perhaps in another tab). Reload to see the "
            "document as it is now."
        )

    # -- helpers --------------------------------------------------------------------------

    def read_back_unread(self, after: int = 0, limit: int = READ_BACK_BATCH) -> int | None:
        """Read back up to `limit` stored nodes (by id after `after`) whose round trip an
        import left to the background, and store them; the last id read, or None when none
        is left. Text in a language the codec cannot write has no reading: it is left out."""
        nodes = self.store.unread_nodes(TEXT_TRUTH, self.codec.languages, after=after, limit=limit)
        if not nodes:
            return None
        by_language: dict[str, list[UnreadNode]] = {}
        for node in nodes:
            by_language.setdefault(node.language, []).append(node)
        for language, group in by_language.items():
            concepts = _tensor([n.embedding for n in group], self.codec.dim)
            trips = round_trips(self.codec, [n.text for n in group], concepts, language)
            self.store.fill_round_trips(
                [
                    (n, Fidelity(t.reading, t.cosine, t.chrf))
                    for n, t in zip(group, trips, strict=True)
                ]
            )
        return nodes[-1].id

    def _filler(self, language: str, progress: Progress | None, sentences: int = 0) -> Fill:
        """What completes each chunk of an import just before it is written: the concepts
        its nodes lack (all but paragraphs), encoded `IMPORT_BATCH` at a time, shortest
        first within the chunk (a batch of sentences of one length pads nothing), and
        the round trips of the first `read_back_at_import` nodes whose text is the truth;
        the background reads back the rest. `sentences`: how many concepts it encodes (0: the
        nodes bring their own, as a JSON export does)."""
        encoded = 0
        unread = self.read_back_at_import

        def encode(chunk: list[NewNode]) -> list[NewNode]:
            nonlocal encoded
            if not sentences:
                return chunk
            missing = [
                i for i, n in enumerate(chunk) if n.embedding is None and n.kind != Kind.PARAGRAPH
            ]
            missing.sort(key=lambda i: len(chunk[i].text))
            chunk = list(chunk)
            for start in range(0, len(missing), IMPORT_BATCH):
                if progress:
                    progress(
                        encoded / sentences, f"Encoding {encoded:,} of {sentences:,} sentences"
                    )
                batch = missing[start : start + IMPORT_BATCH]
                concepts = self._encode([chunk[i].text for i in batch], language).numpy()
                for i, concept in zip(batch, concepts, strict=True):
                    chunk[i] = dataclasses.replace(chunk[i], embedding=concept)
                encoded += len(batch)
            if progress and missing and encoded == sentences:  # what is left: writing it all
                progress(1.0, f"Saving {sentences:,} sentences")
            return chunk

        def read_back(chunk: list[NewNode]) -> list[NewNode]:
            nonlocal unread
            truths = [
                i for i, n in enumerate(chunk) if n.embedding is not None and n.origin in TEXT_TRUTH
            ]
            by_language: dict[str, list[int]] = {}
            for i in truths[:unread]:
                by_language.setdefault(chunk[i].language or language, []).append(i)
            unread -= min(unread, len(truths))
            for lang, group in by_language.items():
                texts = [chunk[i].text for i in group]
                trips = round_trips(
                    self.codec, texts, _tensor([chunk[i].embedding for i in group]), lang
                )
                for i, t in zip(group, trips, strict=True):
                    chunk[i] = dataclasses.replace(
                        chunk[i], fidelity=Fidelity(t.reading, t.cosine, t.chrf)
                    )
            return chunk

        return lambda chunk: read_back(encode(chunk))

    def _fidelity(self, text: str, concept: torch.Tensor, language: str) -> Fidelity:
        """The round trip of one text with its concept."""
        (trip,) = round_trips(self.codec, [text], concept[None], language)
        return Fidelity(trip.reading, trip.cosine, trip.chrf)

    def _insert_generated(
        self,
        doc: DocumentView,
        written: Written,
        language: str,
        *,
        parent_id: int | None,
        position: int | None = None,
    ) -> list[NodeView]:
        if not written.texts:
            return []
        nodes = [
            NewNode(Kind.SENTENCE, t, c.numpy(), language, Origin.GENERATED)
            for t, c in zip(written.texts, written.concepts, strict=True)
        ]
        return self.store.insert_nodes(doc.id, nodes, parent_id=parent_id, position=position)

    def _context_through(self, doc: DocumentView, node: NodeView) -> torch.Tensor:
        """The sentence concepts before `node`, its own concept (a plan, for an outline item
        or heading) and the sentences already under it, the last `CONTEXT_WINDOW` of them:
        what generation continues from."""
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
        return _tensor(concepts[-CONTEXT_WINDOW:], self.codec.dim)

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

    def _check_temperature(self, value: object) -> float:
        """A temperature the loaded LCM can sample at, else a refusal saying why."""
        if self.default_temperature is None:
            raise ServiceError(
                "The loaded LCM is a diffusion model: it has no temperature (its variety "
                "comes from the diffusion noise). Regenerate without one, or start the app "
                "with a quantized LCM (`--lcm demo-quant`, or a Quant-LCM checkpoint folder)."
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OutOfRangeError(
                f"The temperature must be a number from 0 to {MAX_TEMPERATURE:g}, not {value!r}."
            )
        if not 0 <= value <= MAX_TEMPERATURE:  # NaN fails this too
            raise OutOfRangeError(
                f"The temperature must be from 0 (always the most likely concept) to "
                f"{MAX_TEMPERATURE:g}, not {value:g}."
            )
        return float(value)

    def _encode(self, texts: list[str], language: str) -> torch.Tensor:
        return self.codec.encode(texts, lang=language)

    def _seed(self) -> int:
        return self.rng.randrange(2**31)


@contextmanager
def _document_must_exist() -> Iterator[None]:
    try:
        yield
    except NotFoundError:
        raise DocumentMissingError(
            "This document does not exist (any more). Pick one from the list."
        ) from None


def _check_live(doc: DocumentSummary | DocumentView) -> None:
    if doc.deleted:
        raise DocumentMissingError(
            f"“{doc.title}” was deleted (perhaps in another tab): restore it from "
            "“Recently deleted”, or pick another document."
        )


def _id(value: object, what: str) -> int:
    """An id from the page or an API client: a whole number, else a clear refusal."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ServiceError(
            "Open or import a document first."
            if what == "document"
            else "Select a node in the outline first."
        )
    return int(value)


def _check_count(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise OutOfRangeError(f"The number of {what} must be a whole number from {low} to {high}.")
    if not low <= value <= high:
        raise OutOfRangeError(
            f"The number of {what} must be from {low} to {high}, not {int(value)}."
        )
    return int(value)


def _first_of_each(texts: Sequence[str]) -> list[int]:
    """The indices of the texts unlike every earlier one: a quantized LCM at a low
    temperature draws the same concept again and again, a small codec decodes nearby
    concepts alike, and a writer needs each suggestion once."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(texts):
        if text not in seen:
            seen.add(text)
            keep.append(i)
    return keep


def _check_writable(text: str, what: str) -> None:
    """Refuse text no codec or database can hold (lone surrogates, NUL)."""
    if "\x00" in text:
        raise ServiceError(f"{what} contains a NUL character: remove it (binary or UTF-16 file?).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ServiceError(
            f"{what} contains an unpaired surrogate at position {error.start:,}: it is not "
            "valid Unicode text (was it cut from a longer emoji or a UTF-16 file?)."
        ) from None


def _visible(text: str) -> str:
    """`text` without whitespace and invisible format characters (zero-width space,
    joiners, BOM, direction marks): what a reader would actually see."""
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cf")


def _find(doc: DocumentView, node_id: int | None) -> NodeView | None:
    try:
        return None if node_id is None else doc.node(int(node_id))
    except KeyError:
        return None


def _unexpanded(doc: DocumentView) -> list[int]:
    """The outline items without sentences, in reading order."""
    return [
        n.id
        for n in doc.nodes
        if n.kind is Kind.OUTLINE and not any(c.kind is Kind.SENTENCE for c in doc.children(n.id))
    ]


def _moves(history: Sequence[RevisionView]) -> tuple[float | None, ...]:
    """For each revision, 1 - cosine of its concept to the previous revision's concept
    (None for the first, or where either has no concept): "reworded" moves little,
    "changed what it says" far."""
    moves: list[float | None] = []
    previous = None
    for revision in history:
        current = None if revision.embedding is None else _tensor([revision.embedding])[0]
        if current is None or previous is None:
            moves.append(None)
        else:
            moves.append(1.0 - float(_cosine(current[None], previous)[0]))
        previous = current if current is not None else previous
    return tuple(moves)


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
        sentences = [s for s in sentences if _visible(s)]
        if sentences:
            children = [_Draft(Kind.SENTENCE, s) for s in sentences]
            siblings.append(_Draft(Kind.PARAGRAPH, "", children=children))
    return roots


def _walk(drafts: Sequence[_Draft]) -> Iterator[_Draft]:
    for draft in drafts:
        yield draft
        yield from _walk(draft.children)


def _import_tree(text: str, language: str) -> tuple[list[NewNode], int]:
    """The outline of `text` as nodes to store, their concepts still to be encoded, and how
    many concepts that is (all nodes but paragraphs)."""
    drafts = _outline_of(text, language)
    sentences = sum(d.kind is not Kind.PARAGRAPH for d in _walk(drafts))
    return [_new_node(d, language) for d in drafts], sentences


def _new_node(draft: _Draft, language: str) -> NewNode:
    """The draft as a node to store, its concept still to be encoded."""
    children = [_new_node(c, language) for c in draft.children]
    return NewNode(draft.kind, draft.text, None, language, Origin.IMPORTED, children)


def _title_from(text: str) -> str:
    first = next(line.strip("# ").strip() for line in text.splitlines() if line.strip())
    return first[:80]
