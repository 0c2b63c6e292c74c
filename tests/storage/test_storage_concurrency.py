"""Many writers on one document, in threads and processes: no lost update, and lock
contention never reaches the caller as "database is locked"."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time

from storage_helpers import DIM

from storage import ConflictError, DocumentStore, NewNode

THREADS, PROCESSES, ROUNDS = 4, 4, 3


def writer(url: str, document_id: int, counter_id: int, name: str, barrier, results) -> None:  # noqa: ANN001
    """Increment the counter node ROUNDS times (re-reading after a conflict, as the app does
    after telling the user) and insert one node per round; report "ok" or the error."""
    try:
        store = DocumentStore(url, upgrade=False)
        barrier.wait(timeout=60)
        for i in range(ROUNDS):
            while True:
                node = store.get_document(document_id).node(counter_id)
                try:
                    text = str(int(node.text) + 1)
                    store.edit_text(counter_id, text, expected_version=node.version)
                    break
                except ConflictError:
                    continue
            store.insert_node(document_id, NewNode("sentence", f"{name} {i}."))
        store.close()
        results.put((name, "ok"))
    except BaseException as error:  # reported to the test, which fails with it
        results.put((name, f"{type(error).__name__}: {error}"))


def test_threads_and_processes_writing_one_document_lose_nothing(db_url: str) -> None:
    store = DocumentStore(db_url)
    doc = store.create_document(
        "Shared", [NewNode("outline", "0")], language="eng_Latn", codec_name="t", codec_dim=DIM
    )
    counter = doc.nodes[0].id
    context = multiprocessing.get_context("fork")  # children inherit the barrier and queue
    barrier, results = context.Barrier(THREADS + PROCESSES), context.Queue()
    names = [f"process {p}" for p in range(PROCESSES)] + [f"thread {t}" for t in range(THREADS)]
    workers = [
        (context.Process if name.startswith("process") else threading.Thread)(
            target=writer, args=(db_url, doc.id, counter, name, barrier, results)
        )
        for name in names
    ]
    for worker in workers:
        worker.start()
    reports = dict(results.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert reports == {name: "ok" for name in names}  # nothing escaped, no "locked"
    final = store.get_document(doc.id)
    writes = len(names) * ROUNDS
    assert final.node(counter).text == str(writes)  # every increment landed exactly once
    inserted = {n.text for n in final.nodes[1:]}
    assert inserted == {f"{name} {i}." for name in names for i in range(ROUNDS)}
    assert [n.position for n in final.nodes] == list(range(len(final.nodes)))
    history = store.node_history(counter)
    assert [r.text for r in history] == [str(i) for i in range(writes + 1)]
    store.close()


def test_a_long_foreign_write_lock_makes_the_store_wait_not_fail(sqlite_url: str) -> None:
    store = DocumentStore(sqlite_url)
    doc = store.create_document(
        "Doc", [NewNode("sentence", "Before.")], language="eng_Latn", codec_name="t", codec_dim=DIM
    )
    node = doc.nodes[0]
    path = sqlite_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    released = threading.Event()

    def release_later() -> None:
        time.sleep(1.0)
        blocker.execute("COMMIT")
        released.set()

    threading.Thread(target=release_later).start()
    edited = store.edit_text(node.id, "After.", expected_version=node.version)
    assert released.is_set() and edited.text == "After."
    blocker.close()
    store.close()


def open_store(url: str, barrier, results) -> None:  # noqa: ANN001
    try:
        barrier.wait(timeout=60)
        store = DocumentStore(url)  # all upgrade the same fresh database at once
        results.put(len(store.list_documents()))
        store.close()
    except BaseException as error:
        results.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_fresh_database_at_once_all_succeed(db_url: str) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [
        context.Process(target=open_store, args=(db_url, barrier, results)) for _ in "1234"
    ]
    for process in processes:
        process.start()
    assert [results.get(timeout=120) for _ in processes] == [0, 0, 0, 0]
    for process in processes:
        process.join(timeout=60)
