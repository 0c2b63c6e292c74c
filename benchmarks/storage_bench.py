"""Storage speed: opening (loading) a 10,000-node document and applying one edit.

The document is 1,000 paragraphs x 9 sentences with 1024-d float32 embeddings (SONAR's
size), in a SQLite file (WAL, synchronous=FULL: every edit is durable when it returns).
Run: `.venv/bin/python -m benchmarks.storage_bench` (results in results/storage.json)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import measure, write_results
from storage import DocumentStore, NewNode


def build_tree(paragraphs: int, sentences: int, dim: int) -> list[NewNode]:
    vectors = np.random.default_rng(0).standard_normal((paragraphs * sentences, dim))
    vectors = vectors.astype(np.float32)
    return [
        NewNode(
            "paragraph",
            "",
            children=[
                NewNode(
                    "sentence", f"Sentence {p}.{s} of the benchmark.", vectors[p * sentences + s]
                )
                for s in range(sentences)
            ],
        )
        for p in range(paragraphs)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        store = DocumentStore(url)
        tree = build_tree(1000, 9, args.dim)
        nodes = 1000 * 10
        results = [
            measure(
                "create_document",
                lambda: store.create_document(
                    "Bench", tree, language="eng_Latn", codec_name="bench", codec_dim=args.dim
                ),
                repeats=1,
                warmup=0,
                nodes=nodes,
                dim=args.dim,
            )
        ]
        doc_id = store.list_documents()[0].id
        results.append(
            measure(
                "load_document",
                lambda: store.get_document(doc_id),
                repeats=args.repeats,
                nodes=nodes,
                dim=args.dim,
            )
        )
        results.append(
            measure(
                "load_document_text_only",
                lambda: store.get_document(doc_id, with_embeddings=False),
                repeats=args.repeats,
                nodes=nodes,
            )
        )
        target = store.get_document(doc_id).nodes[5001]
        vector = np.random.default_rng(1).standard_normal(args.dim).astype(np.float32)
        counter = iter(range(10**9))
        results.append(
            measure(
                "edit_text",
                lambda: store.edit_text(
                    target.id, f"Edit {next(counter)}.", expected_version=None, embedding=vector
                ),
                repeats=max(args.repeats, 20),
                nodes=nodes,
                dim=args.dim,
            )
        )
        results.append(
            measure("undo", lambda: store.undo(doc_id), repeats=args.repeats, nodes=nodes)
        )
        results.append(
            measure(
                "export_markdown",
                lambda: store.export_markdown(doc_id),
                repeats=args.repeats,
                nodes=nodes,
            )
        )
        store.close()
    path = write_results("storage", results, {"database": args.db or "sqlite (temp file)"})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
