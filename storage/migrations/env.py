"""Alembic environment. `DocumentStore.upgrade()` passes its open connection in
`config.attributes["connection"]`; the `alembic` command line uses `sqlalchemy.url`."""

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base


def run(connection) -> None:  # noqa: ANN001 (a SQLAlchemy Connection)
    # render_as_batch: SQLite can only ALTER tables by copying them; Alembic does that.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as conn:
        run(conn)
        conn.commit()
