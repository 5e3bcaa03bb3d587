"""The partner feed: which banks are shared with which platform, and an append-only log of bank changes.

``feed_changes`` gets a row, with a strictly increasing ``seq``, whenever an entry of a bank is added,
changes (metadata, enabled), is deleted, or its bank is disabled, enabled, shared, unshared or deleted
(``jikimi.store.feed`` writes them on every flush). The feed serves each changed entry's *current* state
for a partner, or a withdrawal, in ``seq`` order; a subscriber's checkpoint is the last ``seq`` it saw.
No foreign keys on the log: it outlives the entries and banks it mentions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jikimi.store.schema.banks import BigId
from jikimi.store.schema.base import Base, UTCDateTime, utcnow


class BankShare(Base):
    """Bank ``bank_id`` is shared with platform ``platform`` (a partner account's ``partner`` name)."""

    __tablename__ = "bank_shares"

    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class FeedChange(Base):
    """Entry ``entry_id`` of bank ``bank_id`` may have changed for subscribers."""

    __tablename__ = "feed_changes"
    # Never reuse a seq, even if the log were pruned from the end.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(Integer, nullable=False)
    entry_id: Mapped[int] = mapped_column(BigId, nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
