"""Persisting scan results: media (one per SHA-256), sightings, near-duplicate clusters, findings, cases,
personal-data hits and per-item checkpoints. Every function works inside the caller's transaction and is
idempotent (get-or-create on the unique keys), so a resumed or repeated scan adds nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.errors import Message
from jikimi.scan.decide import Decision
from jikimi.scan.pipeline import Analysis
from jikimi.signals.pdq import MATCH_THRESHOLD
from jikimi.sources.base import Item, Sighting
from jikimi.store import audit
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.scans import (
    Case,
    Finding,
    MediaCluster,
    MediaRecord,
    PersonalDataRecord,
    ScanItem,
    SightingRecord,
)

UNIDENTIFIED = "unidentified"
PDQ_MIN_QUALITY = 50


def _json(value: Any) -> str:
    return audit.canonical_json(value)


def _cut(value: str | None, n: int) -> str | None:
    return None if value is None else str(value)[:n]


def queue_key(person_id: int | None) -> str:
    return UNIDENTIFIED if person_id is None else f"person:{person_id}"


def case_for(session: Session, person_id: int | None, *, actor: str = "system") -> tuple[Case, bool]:
    """The case of an enrolled person (or the unidentified queue), created on first use (audited)."""
    key = queue_key(person_id)
    case = session.execute(select(Case).where(Case.queue_key == key)).scalar_one_or_none()
    if case is not None:
        return case, False
    title, minor = "Unidentified", False
    if person_id is not None:
        title, minor = f"person {person_id}", False
        try:
            from jikimi.store.people import get_person

            info = get_person(session, person_id)
            title, minor = info.name, bool(info.minor)
        except Exception:  # person removed since the match: keep the id as the title
            pass
    case = Case(queue_key=key, person_id=person_id, title=title, minor=minor)
    session.add(case)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="case.create",
        subject=f"case:{case.id}",
        details={"queue": key, "minor": minor},
    )
    return case, True


def upsert_media(session: Session, analysis: Analysis) -> tuple[MediaRecord, bool]:
    """The media record for an analysed item (created the first time its SHA-256 is seen)."""
    assert analysis.sha256 is not None
    row = session.execute(
        select(MediaRecord).where(MediaRecord.sha256 == analysis.sha256)
    ).scalar_one_or_none()
    if row is not None:
        return row, False
    pdq = analysis.signals.get("pdq")
    row = MediaRecord(
        sha256=analysis.sha256,
        md5=analysis.md5 or "",
        size=analysis.size or 0,
        kind=analysis.kind or "image",
        format=_cut(analysis.format, 40),
        width=analysis.width,
        height=analysis.height,
        duration=analysis.duration,
        pdq=pdq.get("hash") if isinstance(pdq, Mapping) else None,
        pdq_quality=pdq.get("quality") if isinstance(pdq, Mapping) else None,
        analysis_json=_json({"signals": analysis.public_signals(), "errors": analysis.signal_errors}),
    )
    session.add(row)
    session.flush()
    return row, True


def add_sighting(
    session: Session, media: MediaRecord, item_key: str, s: Sighting, run_id: int | None
) -> tuple[SightingRecord, bool]:
    """Record that ``media`` was seen as source item ``item_key`` (once per media and item)."""
    row = session.execute(
        select(SightingRecord).where(SightingRecord.media_id == media.id, SightingRecord.item_key == item_key)
    ).scalar_one_or_none()
    if row is not None:
        return row, False
    row = SightingRecord(
        media_id=media.id,
        item_key=item_key,
        run_id=run_id,
        source_kind=s.source_kind,
        location=s.location,
        container=s.container,
        chat_name=s.chat_name,
        chat_type=_cut(s.chat_type, 40),
        chat_id=_cut(s.chat_id, 100),
        message_id=s.message_id,
        posted_at=s.date,
        posted_local=_cut(s.date_local, 60),
        sender=s.sender,
        sender_id=_cut(s.sender_id, 100),
        forwarded_from=s.forwarded_from,
        forwarded_from_id=_cut(s.forwarded_from_id, 100),
        text=s.text or "",
        link=s.link,
        media_type=_cut(s.media_type, 40),
    )
    session.add(row)
    session.flush()
    return row, True


def record_item(
    session: Session,
    run_id: int,
    item: Item,
    status: str,
    *,
    reason: str | Message | None = None,
    media_id: int | None = None,
) -> ScanItem:
    """The checkpoint of one item in one run (``done``, ``failed`` or ``unresolved``). ``reason`` is kept in
    English and, when it is a catalogued message, as that message too (shown in the reader's language)."""
    row = session.execute(
        select(ScanItem).where(ScanItem.run_id == run_id, ScanItem.item_key == item.key)
    ).scalar_one_or_none()
    if row is None:
        row = ScanItem(run_id=run_id, item_key=item.key)
        session.add(row)
    row.name = item.name or ""
    row.location = item.sighting.location
    row.status = status
    row.reason = reason.render() if isinstance(reason, Message) else reason
    row.reason_message = reason.dumps() if isinstance(reason, Message) else None
    row.media_id = media_id
    row.sighting_json = None if status == "done" else _json(item.sighting.to_dict())
    row.processed_at = utcnow()
    return row


def done_keys(session: Session, run_id: int) -> set[str]:
    """Item keys already checkpointed in a run (skipped when it resumes)."""
    return set(session.execute(select(ScanItem.item_key).where(ScanItem.run_id == run_id)).scalars())


def upsert_finding(
    session: Session,
    media: MediaRecord,
    case: Case,
    decision: Decision,
    *,
    person_id: int | None,
    run_id: int | None,
    actor: str = "system",
) -> tuple[Finding, bool]:
    """The finding for ``media`` in ``case``; a later scan adds new reasons and bank matches to it."""
    row = session.execute(
        select(Finding).where(Finding.media_id == media.id, Finding.case_id == case.id)
    ).scalar_one_or_none()
    person = next((p for p in decision.people if p.person_id == person_id), None)
    derived = next((m for m in decision.sources if m.person_id == person_id), None)
    scores: dict[str, Any] = {k: v for k, v in decision.scores.items() if v is not None}
    if decision.synthetic_evidence:
        scores["synthetic_evidence"] = decision.synthetic_evidence
    scores.pop("face_distance", None)
    scores.pop("source_inliers", None)
    if person is not None:
        scores["face_distance"] = round(person.distance, 4)
        scores["face_score"] = round(person.score, 4)
    if derived is not None:
        scores["source_inliers"] = derived.inliers
    from jikimi.store.source_photos import person_names

    people = decision.people_json(person_names(session, decision.person_ids))
    if row is None:
        row = Finding(
            media_id=media.id,
            case_id=case.id,
            person_id=person_id,
            status="new",
            reasons_json=_json(decision.reasons),
            scores_json=_json(scores),
            bank_matches_json=_json(decision.bank_matches),
            people_json=_json(people),
            first_run_id=run_id,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            actor=actor,
            action="finding.create",
            subject=f"finding:{row.id}",
            details={"media": media.sha256, "case": case.id, "reasons": decision.reasons, "run": run_id},
        )
        return row, True
    reasons = sorted(set(row.reasons) | set(decision.reasons), key=_reason_order)
    known = {_json(m) for m in row.bank_matches}
    banks = row.bank_matches + [m for m in decision.bank_matches if _json(m) not in known]
    merged = _merge_people(row.people, people)
    if reasons != row.reasons or len(banks) != len(row.bank_matches) or merged != row.people:
        row.reasons_json = _json(reasons)
        row.bank_matches_json = _json(banks)
        row.people_json = _json(merged)
        row.scores_json = _json({**row.scores, **scores})
        row.updated_at = utcnow()
    return row, False


def _merge_people(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A later scan's ``people`` entries over the earlier ones (per person; ``by`` is the union)."""
    out = {int(e["id"]): dict(e) for e in old if isinstance(e, dict) and "id" in e}
    for e in new:
        prev = out.get(int(e["id"]))
        merged = {**(prev or {}), **e}
        merged["by"] = [b for b in ("face", "source_photo") if b in (prev or {}).get("by", []) + e["by"]]
        merged["score"] = max(float((prev or {}).get("score", 0.0)), float(e["score"]))
        out[int(e["id"])] = merged
    return sorted(out.values(), key=lambda e: (-float(e.get("score", 0.0)), int(e["id"])))


def _reason_order(reason: str) -> tuple[int, str]:
    order = {"bank_match": 0, "enrolled_face": 1, "source_photo": 2, "explicit_synthetic": 3}
    return (order.get(reason, 9), reason)


def add_personal_data(session: Session, finding: Finding, sighting: SightingRecord, s: Sighting) -> int:
    """Store the personal data posted with (or next to) a finding's media: masked, plus the full value
    encrypted with the vault key. Returns how many new hits were stored."""
    from jikimi.sources import find_personal_data
    from jikimi.store.vault import seal

    added = 0
    for field, text in (("text", s.text), ("nearby_text", s.nearby_text)):
        for hit in find_personal_data(text or ""):
            digest = hashlib.sha256(f"{hit.type}\x1f{hit.text}".encode()).hexdigest()
            exists = session.execute(
                select(PersonalDataRecord.id).where(
                    PersonalDataRecord.finding_id == finding.id,
                    PersonalDataRecord.sighting_id == sighting.id,
                    PersonalDataRecord.kind == hit.type,
                    PersonalDataRecord.value_digest == digest,
                )
            ).scalar()
            if exists is not None:
                continue
            session.add(
                PersonalDataRecord(
                    finding_id=finding.id,
                    sighting_id=sighting.id,
                    kind=hit.type,
                    field=field,
                    confidence=float(hit.confidence),
                    masked=hit.masked,
                    value_digest=digest,
                    value_enc=seal(hit.text.encode("utf-8"), purpose="personal-data"),
                )
            )
            added += 1
    if added:
        session.flush()
    return added


class Clusterer:
    """Groups near-duplicate images: a new media joins the cluster of any earlier media within PDQ distance
    ``jikimi.signals.pdq.MATCH_THRESHOLD`` (quality >= 50), otherwise starts its own. Holds a PDQ index of
    clustered media in memory."""

    def __init__(self, threshold: int = MATCH_THRESHOLD) -> None:
        from jikimi.index.pdq_index import PDQIndex

        self.threshold = threshold
        self.index = PDQIndex()

    @classmethod
    def load(cls, session: Session) -> Clusterer:
        c = cls()
        rows = session.execute(
            select(MediaRecord.pdq, MediaRecord.cluster_id).where(
                MediaRecord.cluster_id.is_not(None), MediaRecord.pdq.is_not(None)
            )
        ).all()
        if rows:
            c.index.add([str(r[0]) for r in rows], np.array([r[1] for r in rows], dtype=np.int64))
        return c

    def assign(self, session: Session, media: MediaRecord) -> int | None:
        if media.cluster_id is not None or not media.pdq or (media.pdq_quality or 0) < PDQ_MIN_QUALITY:
            return media.cluster_id
        hits = self.index.search(media.pdq, self.threshold)
        if hits:
            cluster_id = min(hits, key=lambda h: (h.distance, h.label)).label
        else:
            cluster = MediaCluster(representative_id=media.id)
            session.add(cluster)
            session.flush()
            cluster_id = cluster.id
        media.cluster_id = cluster_id
        self.index.add([media.pdq], np.array([cluster_id], dtype=np.int64))
        return cluster_id


def finding_json(session: Session, finding: Finding) -> dict[str, Any]:
    """The ``--json`` line of one finding: media, reasons, person, ``people`` (everyone found in the media and
    how: ``[{"id", "name", "by": ["face"|"source_photo"], "score", ...}]``), bank matches and sightings."""
    media = session.get(MediaRecord, finding.media_id)
    case = session.get(Case, finding.case_id)
    sightings = session.execute(
        select(SightingRecord).where(SightingRecord.media_id == finding.media_id).order_by(SightingRecord.id)
    ).scalars()
    return {
        "finding_id": finding.id,
        "case_id": finding.case_id,
        "status": finding.status,
        "media_sha256": media.sha256 if media else None,
        "reasons": finding.reasons,
        "scores": finding.scores,
        "person": None
        if finding.person_id is None
        else {
            "id": finding.person_id,
            "name": case.title if case else None,
            "minor": bool(case.minor) if case else None,
        },
        "people": finding.people,
        "bank_matches": finding.bank_matches,
        "sightings": [sighting_json(s) for s in sightings],
    }


def sighting_json(s: SightingRecord, *, mask: bool = True) -> dict[str, Any]:
    """A sighting as JSON; the text is masked for personal data unless ``mask=False``."""
    text = s.text
    if mask and text:
        from jikimi.sources import mask_text

        text = mask_text(text)
    return {
        "source_kind": s.source_kind,
        "location": s.location,
        "container": s.container,
        "chat_name": s.chat_name,
        "chat_id": s.chat_id,
        "message_id": s.message_id,
        "date": s.posted_at.isoformat() if s.posted_at else s.posted_local,
        "sender": s.sender,
        "forwarded_from": s.forwarded_from,
        "text": text,
        "link": s.link,
    }


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
