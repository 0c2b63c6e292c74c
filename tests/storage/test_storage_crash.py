"""Crash safety: a child process streams edits into a SQLite file and is killed with
SIGKILL at random moments. After every kill the file passes `PRAGMA integrity_check`, every
change the child reported as committed is there, and no transaction is half-applied."""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import time

import pytest
from storage_helpers import DIM, emb

from storage import DocumentStore, NewNode

KILLS = 50
BATCH_NODES = 40  # each "doc" operation creates a document of this many nodes at once


def stream_edits(url: str, document_id: int, node_ids: list[int], seed: int, out: int) -> None:
    """The child: edit, insert and create documents forever, reporting each commit."""
    store = DocumentStore(url, upgrade=False)
    rng = random.Random(seed)
    os.write(out, b"ready\n")
    for step in range(1_000_000):
        choice = rng.random()
        if choice < 0.6:
            node_id = rng.choice(node_ids)
            text = f"{seed}-{step} edit."
            store.edit_text(node_id, text, expected_version=None, embedding=emb(step))
            report = f"edit {node_id} {text}"
        elif choice < 0.85:
            text = f"{seed}-{step} insert."
            node = store.insert_node(document_id, NewNode("sentence", text, emb(step)))
            report = f"insert {node.id} {text}"
        else:
            nodes = [NewNode("sentence", f"{seed}-{step} {i}.") for i in range(BATCH_NODES)]
            doc = store.create_document(
                f"batch {seed}-{step}", nodes, language="eng_Latn", codec_name="t", codec_dim=DIM
            )
            report = f"doc {doc.id}"
        os.write(out, (report + "\n").encode())  # only after the commit returned


def run_child_and_kill(url: str, document_id: int, node_ids: list[int], seed: int) -> list[str]:
    """Fork the child and SIGKILL it after 0-2 reported commits plus 0-30 ms (so mostly
    in the middle of its next transaction); returns its reported commits."""
    rng = random.Random(seed)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(read_end)
            stream_edits(url, document_id, node_ids, seed, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    received = b""
    wanted = 1 + rng.randrange(3)  # "ready" + 0-2 commits
    while received.count(b"\n") < wanted:
        ready, _, _ = select.select([read_end], [], [], 60)
        assert ready, "the child reported nothing for 60 s"
        received += os.read(read_end, 65536)
    time.sleep(rng.uniform(0, 0.03))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    while chunk := os.read(read_end, 65536):
        received += chunk
    os.close(read_end)
    lines = received.decode().splitlines()
    assert lines[0] == "ready"
    return lines[1:]


def test_sigkill_at_random_moments_loses_no_reported_commit(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    store = DocumentStore(sqlite_url)
    main = store.create_document(
        "Main",
        [NewNode("sentence", f"Start {i}.", emb(i)) for i in range(5)],
        language="eng_Latn",
        codec_name="t",
        codec_dim=DIM,
    )
    node_ids = [n.id for n in main.nodes]
    store.close()  # no open connection crosses a fork
    last_edit: dict[int, str] = {}
    inserted: dict[int, str] = {}
    batches: set[int] = set()
    total_reports = 0
    for kill in range(KILLS):
        reports = run_child_and_kill(sqlite_url, main.id, node_ids, seed=kill)
        total_reports += len(reports)
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        store = DocumentStore(sqlite_url, upgrade=False)
        edited_now: dict[int, str] = {}
        for report in reports:
            kind, ident, *rest = report.split(" ", 2)
            if kind == "edit":
                edited_now[int(ident)] = rest[0]
            elif kind == "insert":
                inserted[int(ident)] = rest[0]
            else:
                batches.add(int(ident))
        doc = store.get_document(main.id)
        for node_id, text in edited_now.items():
            assert text in [r.text for r in store.node_history(node_id)]
        last_edit.update(edited_now)
        for node_id, text in last_edit.items():
            current = doc.node(node_id).text
            # the reported text, or one a later unreported commit of this very child wrote
            assert current == text or current.startswith(f"{kill}-"), (node_id, current, text)
            last_edit[node_id] = current  # an unreported commit that survived is the new state
        assert all(doc.node(node_id).text == text for node_id, text in inserted.items())
        summaries = {d.id: d for d in store.list_documents()}
        assert batches <= summaries.keys()
        for doc_id, summary in summaries.items():  # all-or-nothing, reported or not
            assert doc_id == main.id or summary.node_count == BATCH_NODES
        store.close()
    assert total_reports >= KILLS // 2  # the children committed work between the kills


@pytest.fixture(autouse=True)
def _fork_is_available() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork (POSIX)")
