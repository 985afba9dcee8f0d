"""SQLAlchemy models of the store. Every change here needs an Alembic migration in alembic/versions/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # 'indexed' or 'failed'
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    words: Mapped[list[WordRow]] = relationship(back_populates="photo", cascade="all, delete-orphan",
                                                passive_deletes=True, order_by="WordRow.id")


class WordRow(Base):
    __tablename__ = "words"
    __table_args__ = (Index("ix_words_photo_id", "photo_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE", name="fk_words_photo_id"),
                                          nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    x0: Mapped[int] = mapped_column(Integer, nullable=False)
    y0: Mapped[int] = mapped_column(Integer, nullable=False)
    x1: Mapped[int] = mapped_column(Integer, nullable=False)
    y1: Mapped[int] = mapped_column(Integer, nullable=False)
    # JSON text: [[x, y] x 4] and [{"text": str, "confidence": float}, ...]. Stored as text we encode
    # ourselves because the bulk path writes hundreds of thousands of rows per second.
    quad: Mapped[str] = mapped_column(Text, nullable=False)
    alternates: Mapped[str] = mapped_column(Text, nullable=False, default="[]")

    photo: Mapped[PhotoRow] = relationship(back_populates="words")
