"""Scan tables: runs and their per-item checkpoints, media (one per SHA-256) and their sightings,
near-duplicate clusters, findings with their personal-data hits, and the cases findings are grouped in.

Unique constraints make a re-run idempotent: one media per SHA-256, one sighting per (media, source item),
one checkpoint per (run, item), one finding per (media, case), one case per queue (an enrolled person or
"unidentified")."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jikimi.store.schema.base import Base, UTCDateTime, utcnow


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


class ScanRun(Base):
    """One run of ``jikimi scan`` over a list of sources. ``fingerprint`` identifies the source list, so an
    interrupted run of the same sources is resumed rather than started again."""

    __tablename__ = "scan_runs"
    __table_args__ = (Index("ix_scan_runs_fingerprint_status", "fingerprint", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    sources_json: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    """running, completed, failed (stopped by an error that is not an item's)."""
    actor: Mapped[str] = mapped_column(String(200), nullable=False, default="system")
    executor: Mapped[str] = mapped_column(String(20), nullable=False, default="local")
    workers: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    counts_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")

    @property
    def sources(self) -> list[str]:
        return list(_loads(self.sources_json) or [])

    @property
    def counts(self) -> dict[str, int]:
        return dict(_loads(self.counts_json) or {})


class ScanItem(Base):
    """The checkpoint of one source item in one run: done (with its media), failed (with why) or unresolved
    (the source says media was posted but its bytes are not there). Written in the same transaction as the
    item's media, sightings and findings, so a killed run resumes exactly where its last commit ended."""

    __tablename__ = "scan_items"
    __table_args__ = (UniqueConstraint("run_id", "item_key", name="uq_scan_items_run_item"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scan_runs.id", ondelete="CASCADE"), nullable=False)
    item_key: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    location: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    """done, failed, unresolved."""
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why the item failed or is unresolved, in English."""
    reason_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The same reason as a catalogued message (``jikimi.errors.Message`` JSON), shown in the reader's
    language; None for reasons that are not catalogued."""
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"), nullable=True)
    sighting_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    """For unresolved and failed items: the sighting context (chat, message, date...) as JSON."""
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class MediaCluster(Base):
    """Near-duplicates (PDQ within the match threshold) grouped around the first media seen."""

    __tablename__ = "media_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    representative_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class MediaRecord(Base):
    """One piece of content, however many places it was seen in (identified by its SHA-256)."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    md5: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    format: Mapped[str | None] = mapped_column(String(40), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    pdq_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_clusters.id", ondelete="SET NULL"), nullable=True, index=True
    )
    analysis_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    """Scores and facts from the analysers (nudity, synthetic, faceswap, faces...), never pixels."""
    in_vault: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    @property
    def analysis(self) -> dict[str, Any]:
        return dict(_loads(self.analysis_json) or {})


class SightingRecord(Base):
    """Where one media was seen: the source item, chat, message, date, sender, forwarded-from and text."""

    __tablename__ = "sightings"
    __table_args__ = (
        UniqueConstraint("media_id", "item_key", name="uq_sightings_media_item"),
        Index("ix_sightings_chat", "chat_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), nullable=False, index=True
    )
    item_key: Mapped[str] = mapped_column(String(100), nullable=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id", ondelete="SET NULL"), nullable=True)
    source_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    location: Mapped[str] = mapped_column(Text, nullable=False)
    container: Mapped[str | None] = mapped_column(Text, nullable=True)
    chat_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    chat_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    posted_local: Mapped[str | None] = mapped_column(String(60), nullable=True)
    sender: Mapped[str | None] = mapped_column(Text, nullable=True)
    sender_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    forwarded_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    forwarded_from_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    link: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Case(Base):
    """The findings about one enrolled person (``queue_key`` ``person:<id>``), or the unidentified queue."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue_key: Mapped[str] = mapped_column(String(60), nullable=False, unique=True)
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    minor: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    priority: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    priority_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    """The factors behind ``priority`` (minor, explicitness, sightings, chats, members, recency)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    @property
    def priority_factors(self) -> dict[str, Any]:
        return dict(_loads(self.priority_json) or {})


class Finding(Base):
    """One media that is (probably) abuse material about one case: why (reasons and scores) and its review.

    ``status``: new → confirmed | dismissed (``jikimi.cases.review``)."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("media_id", "case_id", name="uq_findings_media_case"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), nullable=False, index=True
    )
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="new", index=True)
    reasons_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    scores_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    bank_matches_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    people_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    """Who was found in the media and how: ``[{"id", "name", "by": ["face"|"source_photo"], ...}]``."""
    first_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("scan_runs.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def reasons(self) -> list[str]:
        return list(_loads(self.reasons_json) or [])

    @property
    def scores(self) -> dict[str, Any]:
        return dict(_loads(self.scores_json) or {})

    @property
    def bank_matches(self) -> list[dict[str, Any]]:
        return list(_loads(self.bank_matches_json) or [])

    @property
    def people(self) -> list[dict[str, Any]]:
        return list(_loads(self.people_json) or [])


class PersonalDataRecord(Base):
    """Personal data (phone, e-mail, ID number, address...) posted next to a finding's media.

    ``masked`` is safe to show and log; ``value_enc`` is the full value encrypted with the vault key."""

    __tablename__ = "personal_data_hits"
    __table_args__ = (
        UniqueConstraint(
            "finding_id", "sighting_id", "kind", "value_digest", name="uq_personal_data_hits_hit"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sighting_id: Mapped[int | None] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    field: Mapped[str] = mapped_column(String(20), nullable=False, default="text")
    """Where it was posted: ``text`` (with the media) or ``nearby_text`` (neighbouring messages)."""
    confidence: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)
    masked: Mapped[str] = mapped_column(Text, nullable=False)
    value_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    value_enc: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
