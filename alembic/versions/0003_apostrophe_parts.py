"""Re-tokenize the full-text index: apostrophe tokens also index their parts ("boston's" -> "boston").

Only the FTS5 rows change (`ocrsearch.index.document_tokens`); they are refilled from the stored
words, as `ocrsearch reindex` does. Downgrading leaves the extra tokens in place: older versions
search them harmlessly.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = "photo_text"


def upgrade() -> None:
    from ocrsearch.index import document_row
    from ocrsearch.words import unpack_texts

    conn = op.get_bind()
    rows = conn.exec_driver_sql(
        "SELECT p.id, w.texts, w.alternates FROM photos p JOIN photo_words w ON w.photo_id = p.id "
        "WHERE p.status = 'indexed'").all()
    conn.exec_driver_sql(f"DELETE FROM {FTS_TABLE}")
    documents = [document_row(photo_id, *unpack_texts(texts, alternates)) for photo_id, texts, alternates in rows]
    if documents:
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE} (rowid, text, alt) VALUES (?, ?, ?)", documents)


def downgrade() -> None:
    pass
