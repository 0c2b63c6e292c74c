"""Engine set-up and transactions with retries.

SQLite: WAL (readers never block the writer), foreign keys on, synchronous=FULL (a
committed change survives a crash or power cut), a busy timeout, and write transactions
that start with BEGIN IMMEDIATE so two writers queue for the lock up front instead of
failing half-way. Whatever "database is locked" or serialization failure still happens is
retried here with back-off; callers only ever see StorageBusyError after minutes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.errors import StorageBusyError

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
RETRY_FOR_S = 120.0
# PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock detected.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


def make_engines(url: str, *, echo: bool = False) -> tuple[Engine, Engine]:
    """(read engine, write engine) sharing one connection pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_S})
        _configure_sqlite(engine)
    elif parsed.get_backend_name() == "postgresql":
        # Reads see one snapshot; writes lock the document row first (SELECT ... FOR UPDATE)
        # and, in READ COMMITTED, then see everything committed before the lock was granted.
        engine = create_engine(parsed, echo=echo, isolation_level="REPEATABLE READ")
        return engine, engine.execution_options(isolation_level="READ COMMITTED")
    else:
        engine = create_engine(parsed, echo=echo)
    return engine, engine.execution_options(lcmw_write=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API object)
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        write = connection.get_execution_options().get("lcmw_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_retryable(error: DBAPIError) -> bool:
    """Lock contention or a serialization failure: the transaction can simply run again."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database table is locked" in message


def with_retries(attempt: Callable[[], T]) -> T:
    """Call `attempt` (one whole transaction) again with back-off while the database is
    busy; StorageBusyError if that lasts `RETRY_FOR_S` seconds."""
    deadline = time.monotonic() + RETRY_FOR_S
    delay = 0.005
    while True:
        try:
            return attempt()
        except DBAPIError as error:
            if not is_retryable(error):
                raise
            if time.monotonic() > deadline:
                raise StorageBusyError(
                    f"the database stayed busy for {RETRY_FOR_S:.0f} s (other writers hold "
                    "it); nothing was saved: try again in a moment"
                ) from error
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)


def run_transaction(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction (commit on return, roll back on error), from the
    start again on lock contention."""

    def attempt() -> T:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            return work(session)

    return with_retries(attempt)
