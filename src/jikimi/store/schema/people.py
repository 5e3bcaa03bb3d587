"""People enrolled for face search, their consent records, face embeddings and (optional) encrypted photos.

A person is searchable only while ``status == "active"`` and a consent record is neither revoked nor expired.
Withdrawal deletes the embeddings and photos (rows cascade) and keeps the person row as a tombstone for the
audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jikimi.store.schema.base import Base, UTCDateTime, utcnow


class Person(Base):
    """Someone who asked (or whose guardian asked) to be searched for by face."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    minor: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active", index=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    consents: Mapped[list[Consent]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Consent.id"
    )
    faces: Mapped[list[PersonFace]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True, order_by="PersonFace.id"
    )
    photos: Mapped[list[PersonPhoto]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True, order_by="PersonPhoto.id"
    )


class Consent(Base):
    """Who consented to face search for this person, for what, recorded when and by whom, valid until when."""

    __tablename__ = "person_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True
    )
    given_by: Mapped[str] = mapped_column(String(200), nullable=False)
    scope: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    person: Mapped[Person] = relationship(back_populates="consents")


class PersonFace(Base):
    """One enrolled face: the 128-d float32 embedding (512 bytes) and where it came from."""

    __tablename__ = "person_faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True
    )
    embedding: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    source_name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    box_left: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_top: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_right: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_bottom: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    detector: Mapped[str] = mapped_column(String(8), nullable=False, default="hog")
    confidence: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    person: Mapped[Person] = relationship(back_populates="faces")


class PersonPhoto(Base):
    """A reference photo kept on request (``--keep-photos``), AES-256-GCM encrypted with the vault key."""

    __tablename__ = "person_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    person: Mapped[Person] = relationship(back_populates="photos")


class PersonSource(Base):
    """One of her own public photos she fears were taken (a *source photo*): the photo and its ORB features
    (``jikimi.index.source_photos``), both AES-256-GCM encrypted with the vault key, and her face box in it.
    Deleted with the person's other data on withdrawal."""

    __tablename__ = "person_sources"
    __table_args__ = (UniqueConstraint("person_id", "sha256", name="uq_person_sources_person_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    width: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    height: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_left: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_top: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_right: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    box_bottom: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    features_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    features_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")

    @staticmethod
    def photo_aad(sha256: str) -> bytes:
        """What the photo's encryption is bound to (given again to decrypt)."""
        return f"jikimi-person-source:{sha256}".encode()

    @staticmethod
    def features_aad(sha256: str) -> bytes:
        return f"jikimi-person-source-features:{sha256}".encode()
