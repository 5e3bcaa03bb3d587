"""Reading cases: the list by priority, and one case with its findings, sightings and personal-data hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jikimi.errors import NotFoundError
from jikimi.store.findings import sighting_json
from jikimi.store.schema.scans import Case, Finding, MediaRecord, PersonalDataRecord, SightingRecord


@dataclass
class CaseSummary:
    id: int
    title: str
    queue: str
    person_id: int | None
    minor: bool
    status: str
    priority: float
    findings: int
    new: int
    confirmed: int
    dismissed: int
    factors: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "queue": self.queue,
            "person_id": self.person_id,
            "minor": self.minor,
            "status": self.status,
            "priority": self.priority,
            "findings": self.findings,
            "new": self.new,
            "confirmed": self.confirmed,
            "dismissed": self.dismissed,
            "priority_factors": self.factors,
        }


def list_cases(session: Session, *, status: str | None = None) -> list[CaseSummary]:
    """Every case, highest priority first (the unidentified queue included)."""
    counts: dict[int, dict[str, int]] = {}
    for case_id, st, k in session.execute(
        select(Finding.case_id, Finding.status, func.count()).group_by(Finding.case_id, Finding.status)
    ):
        counts.setdefault(case_id, {})[st] = k
    q = select(Case).order_by(Case.priority.desc(), Case.id)
    if status:
        q = q.where(Case.status == status)
    out = []
    for c in session.execute(q).scalars():
        n = counts.get(c.id, {})
        out.append(
            CaseSummary(
                c.id,
                c.title,
                c.queue_key,
                c.person_id,
                c.minor,
                c.status,
                c.priority,
                sum(n.values()),
                n.get("new", 0),
                n.get("confirmed", 0),
                n.get("dismissed", 0),
                c.priority_factors,
            )
        )
    return out


def get_case(session: Session, case_id: int) -> Case:
    c = session.get(Case, case_id)
    if c is None:
        raise NotFoundError(
            "no case {id}",
            code="cases.no_case",
            hint="see the list of cases",
            cli_hint="list cases with: jikimi case list",
            id=case_id,
        )
    return c


def finding_fields(f: Finding) -> dict[str, Any]:
    """A finding's reasons, scores, matches and review, as case views and exports show them."""
    return {
        "reasons": f.reasons,
        "scores": f.scores,
        "person_id": f.person_id,
        "people": f.people,
        "bank_matches": f.bank_matches,
        "created_at": f.created_at.isoformat(),
        "reviewed_by": f.reviewed_by,
        "reviewed_at": f.reviewed_at.isoformat() if f.reviewed_at else None,
        "review_note": f.review_note,
    }


def case_detail(session: Session, case_id: int, *, mask: bool = True) -> dict[str, Any]:
    """One case as JSON: summary, and each finding with its media, reasons, scores, sightings and the
    personal data posted next to it (masked)."""
    c = get_case(session, case_id)
    summary = next(s for s in list_cases(session) if s.id == c.id)
    items = []
    rows = session.execute(
        select(Finding, MediaRecord)
        .join(MediaRecord, MediaRecord.id == Finding.media_id)
        .where(Finding.case_id == case_id)
        .order_by(Finding.id)
    ).all()
    for f, m in rows:
        sightings = session.execute(
            select(SightingRecord).where(SightingRecord.media_id == m.id).order_by(SightingRecord.id)
        ).scalars()
        pii = session.execute(
            select(PersonalDataRecord)
            .where(PersonalDataRecord.finding_id == f.id)
            .order_by(PersonalDataRecord.id)
        ).scalars()
        items.append(
            {
                "finding_id": f.id,
                "status": f.status,
                "media_sha256": m.sha256,
                "md5": m.md5,
                "kind": m.kind,
                "format": m.format,
                "size": m.size,
                "cluster_id": m.cluster_id,
                "in_vault": m.in_vault,
                **finding_fields(f),
                "sightings": [sighting_json(s, mask=mask) for s in sightings],
                "personal_data": [
                    {"type": p.kind, "masked": p.masked, "where": p.field, "confidence": p.confidence}
                    for p in pii
                ],
            }
        )
    return {**summary.to_dict(), "created_at": c.created_at.isoformat(), "findings_detail": items}
