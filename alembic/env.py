"""Alembic environment for the ocrsearch store.

Two ways in:
- ocrsearch itself (ocrsearch.store.Store.open) passes an open connection in
  `config.attributes["connection"]`;
- the `alembic` command line takes the database from `-x db=PATH` or $OCRSEARCH_DB, where PATH is an
  ocrsearch database folder (DIR/ocrsearch.sqlite3) or an SQLite file.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool

from ocrsearch.models import Base

config = context.config
target_metadata = Base.metadata

SQLITE_NAME = "ocrsearch.sqlite3"


def database_url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    db = x_args.get("db") or os.environ.get("OCRSEARCH_DB")
    if db:
        path = Path(db).expanduser()
        is_sqlite_file = path.is_file() or (path.suffix in (".sqlite3", ".sqlite") and not path.is_dir())
        if not is_sqlite_file:  # an ocrsearch database folder, as the CLI's --db takes it
            path.mkdir(parents=True, exist_ok=True)
            path = path / SQLITE_NAME
        return f"sqlite:///{path.absolute()}"
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x db=DIR or set OCRSEARCH_DB")
    return url


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_migrations(connection)
        connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
