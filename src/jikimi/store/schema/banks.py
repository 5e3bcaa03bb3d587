"""Hash banks: named lists of known content (hashes + metadata) that uploads and scans are matched against.

An entry holds what is known about one piece of content (source, case reference, labels, note, original URI,
ids in exchanges: StopNCII, NCMEC...); its hashes are rows of ``bank_signals``: (signal, value, quality,
metadata), one per value (a vPDQ video has one per frame), for any registered hash signal
(``jikimi.signals.registry.HASH_SIGNALS``): adding a signal needs no new column.
``signature`` (a digest of the signals) makes adding the same content to a bank twice a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jikimi.signals import registry
from jikimi.signals.base import VIDEO, SignalValue
from jikimi.signals.pdq import MATCH_THRESHOLD
from jikimi.store.schema.base import Base, UTCDateTime, utcnow


def signature_of(signals: Mapping[str, Sequence[SignalValue]]) -> str:
    """Digest of an entry's hashes (``{signal: values}``): the same content added twice is one entry."""
    text = ";".join(
        f"{name}={registry.hash_signal(name).signature(values)}" for name, values in sorted(signals.items())
    )
    return hashlib.sha256(text.encode()).hexdigest()


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
    signals: Mapped[list[BankSignal]] = relationship(
        back_populates="entry",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BankSignal.id",
        lazy="selectin",
    )

    def values(self) -> dict[str, list[SignalValue]]:
        """The entry's hashes, ``{signal: [SignalValue]}`` in registry order."""
        out: dict[str, list[SignalValue]] = {}
        for r in self.signals:
            out.setdefault(r.signal, []).append(SignalValue(r.value, r.quality, dict(r.meta or {})))
        return {n: out[n] for n in dict.fromkeys([*registry.HASH_SIGNALS, *sorted(out)]) if n in out}

    def hashes(self) -> dict[str, Any]:
        """The entry's single hashes by signal name (None where it has none), and ``<signal>_quality`` for
        signals that have a quality (``pdq_quality``): the shape API answers and match metadata show."""
        values = self.values()
        out: dict[str, Any] = {}
        for sig in registry.hash_signals():
            if not sig.single:
                continue
            got = values.get(sig.name)
            first = got[0] if got else None
            out[sig.name] = first.value if first else None
            if sig.min_quality:
                out[f"{sig.name}_quality"] = first.quality if first else None
        return out

    def is_video(self) -> bool:
        """Whether the entry holds a hash only videos have (vPDQ...)."""
        return any(
            registry.hash_signal(n).kinds == {VIDEO} for n in self.values() if n in registry.HASH_SIGNALS
        )


class BankSignal(Base):
    """One hash of an entry: ``signal`` (a registered hash signal's name), its ``value`` as that signal writes
    it, the ``quality`` (0-100) where the signal has one, and ``meta`` (a vPDQ frame's timestamp...)."""

    __tablename__ = "bank_signals"
    __table_args__ = (Index("ix_bank_signals_signal_value", "signal", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("bank_entries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    signal: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, nullable=False, default=dict)

    entry: Mapped[BankEntry] = relationship(back_populates="signals")
