"""Evidence tables: the hash-chained audit log, its head, and the vault's objects and their captures."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jikimi.store.schema.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One entry of the append-only audit log.

    ``id`` is the position in the chain (1, 2, 3...). ``hash`` = SHA-256 over ``prev_hash`` followed by the
    canonical JSON of the entry (``jikimi.store.audit.entry_payload``). ``details_json`` holds the canonical
    JSON text exactly as hashed, so verification never depends on how a backend stores JSON.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(300), nullable=False, index=True)
    details_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)

    @property
    def details(self) -> dict[str, Any]:
        value = json.loads(self.details_json)
        return value if isinstance(value, dict) else {"value": value}

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id}, actor={self.actor!r}, action={self.action!r})"


class AuditHead(Base):
    """The newest entry of the chain (one row). Appends lock it, so the chain cannot fork; verification
    compares it with the log, so entries cut off the end are detected too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class VaultObject(Base):
    """An original kept in the evidence vault, addressed by the SHA-256 of its plaintext."""

    __tablename__ = "vault_objects"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Capture(Base):
    """Where and when one copy of a vault object was collected (one object may be captured many times)."""

    __tablename__ = "vault_captures"
    __table_args__ = (UniqueConstraint("sha256", "capture_key", name="uq_vault_captures_object_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(
        ForeignKey("vault_objects.sha256", ondelete="RESTRICT"), nullable=False, index=True
    )
    capture_key: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(Text, nullable=True)
    retrieved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    captured_by: Mapped[str] = mapped_column(String(200), nullable=False, default="system")
    details_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")

    @property
    def details(self) -> dict[str, Any]:
        value = json.loads(self.details_json)
        return value if isinstance(value, dict) else {"value": value}
