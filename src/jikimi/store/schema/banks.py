"""Hash banks: named lists of known content (hashes + metadata) that uploads and scans are matched against.

An entry holds the signals of one piece of content (PDQ + quality, MD5, SHA-256, vPDQ frames) and what is
known about it (source, case reference, labels, note, original URI, ids in exchanges: StopNCII, NCMEC...).
``signature`` (a digest of the signals) makes adding the same content to a bank twice a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jikimi.signals.pdq import MATCH_THRESHOLD
from jikimi.store.schema.base import Base, UTCDateTime, utcnow

#: 64-bit ids on PostgreSQL (banks of many millions of hashes); SQLite's INTEGER PRIMARY KEY is 64-bit.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Bank(Base):
    """A named list of entries, matched with its own PDQ threshold while enabled."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    pdq_threshold: Mapped[int] = mapped_column(Integer, nullable=False, default=MATCH_THRESHOLD)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )

    entries: Mapped[list[BankEntry]] = relationship(
        back_populates="bank", cascade="all, delete-orphan", passive_deletes=True
    )


class BankEntry(Base):
    """One piece of content in a bank: its signals and metadata."""

    __tablename__ = "bank_entries"
    __table_args__ = (UniqueConstraint("bank_id", "signature", name="uq_bank_entries_bank_signature"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    signature: Mapped[str] = mapped_column(String(64), nullable=False)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    pdq_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    #: vPDQ frames: ``[{"hash", "quality", "timestamp"}, ...]`` (``jikimi.signals.vpdq`` output).
    vpdq: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    case_ref: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    labels: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    content_uri: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: Ids of this content in hash exchanges, e.g. ``{"stopncii": ["case-1"], "ncmec": ["123"]}``.
    exchange_ids: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    added_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")

    bank: Mapped[Bank] = relationship(back_populates="entries")
