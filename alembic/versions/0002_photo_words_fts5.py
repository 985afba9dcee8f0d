"""Words packed one row per photo; the full-text index moves from Whoosh into an FTS5 table.

Writing a row per word and a Whoosh document per photo capped indexing near 200 photos/s; one
`photo_words` row and one FTS5 row per photo, in the same transaction, pass 1,000 (issue #2). The
Whoosh folder DIR/index is no longer read; it is left in place (delete it to free the space).

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-02
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The table's definition is fixed here rather than imported, so this migration keeps creating the
# table it created when it was written; the rows are packed and tokenized by the app's own functions
# (ocrsearch.words / ocrsearch.index), which later versions must keep able to do this.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* N* Co M*' tokenchars '''\u2019_'"


def upgrade() -> None:
    op.create_table(
        "photo_words",
        sa.Column("photo_id", sa.Integer(),
                  sa.ForeignKey("photos.id", ondelete="CASCADE", name="fk_photo_words_photo_id"), primary_key=True),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("texts", sa.Text(), nullable=False),
        sa.Column("confidences", sa.LargeBinary(), nullable=False),
        sa.Column("boxes", sa.LargeBinary(), nullable=False),
        sa.Column("quads", sa.LargeBinary(), nullable=False),
        sa.Column("alternates", sa.Text(), nullable=False),
    )
    op.execute(f"CREATE VIRTUAL TABLE photo_text USING fts5(text, alt, tokenize=\"{FTS_TOKENIZER}\")")
    op.execute("CREATE VIRTUAL TABLE photo_text_vocab USING fts5vocab(photo_text, 'col')")
    _copy_words()
    op.drop_index("ix_words_photo_id", table_name="words")
    op.drop_table("words")


def _copy_words() -> None:
    """Pack the word rows of every indexed photo and index them (the Whoosh index is not read)."""
    import json

    from ocrsearch.index import document_row
    from ocrsearch.types import Word
    from ocrsearch.words import pack_words

    conn = op.get_bind().connection.dbapi_connection
    rows = conn.execute("SELECT p.id, w.text, w.confidence, w.x0, w.y0, w.x1, w.y1, w.quad, w.alternates "
                        "FROM photos p LEFT JOIN words w ON w.photo_id = p.id WHERE p.status = 'indexed' "
                        "ORDER BY p.id, w.id")
    for photo_id, group in itertools.groupby(rows, key=lambda r: r[0]):
        words = [Word(text, confidence, (x0, y0, x1, y1), json.loads(quad),
                      [(a["text"], a["confidence"]) for a in json.loads(alternates)])
                 for _, text, confidence, x0, y0, x1, y1, quad, alternates in group if text is not None]
        conn.execute("INSERT INTO photo_words VALUES (?, ?, ?, ?, ?, ?, ?)", (photo_id, *pack_words(words)))
        conn.execute("INSERT INTO photo_text (rowid, text, alt) VALUES (?, ?, ?)",
                     document_row(photo_id, [w.text for w in words], [t for w in words for t, _ in w.alternates]))


def downgrade() -> None:
    raise NotImplementedError("0002 packs words one row per photo; restore a backup to go back to 0001")
