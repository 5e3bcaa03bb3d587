"""Takedown tables: items to remove (one per URL), notices per platform, state history, re-checks, alerts.

Items refer to the cases/findings of ``jikimi.cases`` by id (``case_id``, ``finding_id``) and keep their
own copy of what a notice needs (URL, hashes, times), so a notice can be rendered and re-checked on its own.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jikimi.errors import Message
from jikimi.store.schema.base import Base, UTCDateTime, utcnow


class TakedownNotice(Base):
    """One request to one platform, listing one or more items. Status: drafted → approved → sent → closed."""

    __tablename__ = "takedown_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    platform: Mapped[str] = mapped_column(String(64), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))  # email | web_form | api
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    form_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="drafted", index=True)
    # the drafting notes (e.g. "unknown platform: generic template"): JSON messages, see ``note_messages``
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    items: Mapped[list[TakedownItem]] = relationship(
        secondary="takedown_notice_items", back_populates="notices", order_by="TakedownItem.id"
    )

    @property
    def note_messages(self) -> list[Message]:
        """The notes kept in ``note``: a JSON list of catalogued messages (shown in the reader's language);
        a note written as plain lines is read one message per line, as it is."""
        return note_messages(self.note)

    @property
    def note_text(self) -> str | None:
        """The notes in English, one per line."""
        return "\n".join(m.render() for m in self.note_messages) or None


def note_messages(note: str | None) -> list[Message]:
    """The messages of a ``note`` column (see ``TakedownNotice.note_messages``)."""
    if not note:
        return []
    try:
        data = json.loads(note)
    except ValueError:
        data = None
    if isinstance(data, list):
        return [Message.from_json(m) for m in data]
    return [Message.from_json(line) for line in note.splitlines() if line.strip()]  # plain text: as it is


def note_json(messages: list[Message]) -> str | None:
    """The ``note`` column for ``messages`` (``None`` for none)."""
    return json.dumps([m.to_json() for m in messages], ensure_ascii=False) if messages else None


class TakedownItem(Base):
    """One URL (a post, a message link, a file) to be removed, with its state in the takedown flow."""

    __tablename__ = "takedown_items"
    __table_args__ = (UniqueConstraint("case_id", "url", name="case_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    finding_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    url: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(64), index=True)
    chat: Mapped[str | None] = mapped_column(String(400), nullable=True)
    message_link: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="found", index=True)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reappeared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_check_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    redirected_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    notices: Mapped[list[TakedownNotice]] = relationship(
        secondary="takedown_notice_items", back_populates="items", order_by="TakedownNotice.id"
    )
    events: Mapped[list[TakedownEvent]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="TakedownEvent.id"
    )


class TakedownNoticeItem(Base):
    """Which items a notice lists (an item may be listed again after it reappeared)."""

    __tablename__ = "takedown_notice_items"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_notices.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_items.id", ondelete="CASCADE"), primary_key=True
    )


class TakedownEvent(Base):
    """The history of an item: every state change with its time and who made it."""

    __tablename__ = "takedown_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("takedown_items.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    item: Mapped[TakedownItem] = relationship(back_populates="events")


class TakedownCheck(Base):
    """One re-check of an item's URL: what came back and what it means."""

    __tablename__ = "takedown_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("takedown_items.id", ondelete="CASCADE"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    final_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # removed | online | redirected | error
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReuploadAlert(Base):
    """Content of a case seen again (a later scan matched its hash): raised on the original case."""

    __tablename__ = "takedown_reupload_alerts"
    __table_args__ = (Index("ix_takedown_reupload_alerts_case_open", "case_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(ForeignKey("takedown_items.id", ondelete="CASCADE"), index=True)
    new_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_finding_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    matched_by: Mapped[str] = mapped_column(String(16))  # sha256 | md5 | pdq | url
    distance: Mapped[int] = mapped_column(Integer, default=0)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class TakedownCursor(Base):
    """How far a background job has read another table (e.g. the last sighting id checked for re-uploads)."""

    __tablename__ = "takedown_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)  # also IMAP UIDs (unsigned 32-bit)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
