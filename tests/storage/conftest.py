"""Storage fixtures: a fresh database per test, a real SQLite file, and the same tests on
PostgreSQL when `LCMW_TEST_POSTGRES_URL` names a reachable server (`.ci/postgres.sh`
starts one); each PostgreSQL test gets its own schema, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from storage import DocumentStore

POSTGRES_URL = os.environ.get("LCMW_TEST_POSTGRES_URL")


def _postgres_url_for_schema(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


def _postgres_schema() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set LCMW_TEST_POSTGRES_URL (.ci/postgres.sh)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL at LCMW_TEST_POSTGRES_URL is not reachable: {error.orig}")
    try:
        yield _postgres_url_for_schema(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    else:
        yield from _postgres_schema()


@pytest.fixture
def store(db_url: str) -> Iterator[DocumentStore]:
    documents = DocumentStore(db_url)
    yield documents
    documents.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    return f"sqlite:///{tmp_path / 'documents.sqlite3'}"
