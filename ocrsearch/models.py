"""SQLAlchemy models of the store. Every change here needs an Alembic migration in alembic/versions/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

PHOTO_STATUS_INDEXED = "indexed"
PHOTO_STATUS_FAILED = "failed"


class Base(DeclarativeBase):
    pass


class PhotoRow(Base):
    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("path", name="uq_photos_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 hex of the file
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)  # bytes
    # the file's modification time (ns) when it was read: with `size`, how ingest tells it unchanged
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # 'indexed' or 'failed'
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    words: Mapped[PhotoWordsRow | None] = relationship(back_populates="photo", cascade="all, delete-orphan",
                                                       passive_deletes=True)


class PhotoWordsRow(Base):
    """All the words of one photo in one row (see ocrsearch/words.py for the packing and why).

    The full-text index is the FTS5 table `photo_text` (rowid = photos.id), created by the
    migrations with raw SQL: SQLAlchemy has no model for virtual tables.
    """

    __tablename__ = "photo_words"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE", name="fk_photo_words_photo_id"),
                                          primary_key=True)
    word_count: Mapped[int] = mapped_column(Integer, nullable=False)
    texts: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of the 1-best texts, in reading order
    confidences: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # float64 little-endian, one per word
    boxes: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # int32 x0 y0 x1 y1 per word
    quads: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # float64 x y of 4 corners per word
    alternates: Mapped[str] = mapped_column(Text, nullable=False)  # JSON [[word index, [[text, confidence], ...]], ...]

    photo: Mapped[PhotoRow] = relationship(back_populates="words")
