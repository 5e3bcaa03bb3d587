"""Confirmed findings (``jikimi.cases`` tables) as takedown material: their URLs, and their content banked.

- ``refs_for_finding``: the takedown references of a finding, one per URL it was seen at;
- ``items_for_confirmed``: register every URL of every confirmed finding that has no takedown item yet (and
  bank the content of those findings);
- ``bank_findings``: add the findings' hashes (SHA-256, MD5, PDQ for an image, the vPDQ frame hashes for a
  video) to the ``jikimi-confirmed`` bank (``jikimi.store.banks``), so later scans flag copies, near copies
  and re-encoded or cut videos as findings, and ``reupload.scan_new_sightings`` raises a re-upload alert on
  the original case.

What happens when a person confirms a finding is ``jikimi.takedown.confirm.confirm_finding``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from jikimi.errors import NotFoundError
from jikimi.store import audit
from jikimi.store.banks import EntryInput, add_entry, create_bank
from jikimi.store.schema.scans import Finding, MediaRecord, SightingRecord
from jikimi.store.schema.takedown import TakedownItem
from jikimi.takedown.items import FindingRef, add_items

CONFIRMED_BANK = "jikimi-confirmed"


def video_frames(media: MediaRecord) -> list[dict[str, Any]] | None:
    """The vPDQ frame hashes the scan stored for a video (``None`` for an image or a video without them)."""
    if media.kind != "video":
        return None
    frames = (media.analysis.get("signals") or {}).get("vpdq")
    return list(frames) if isinstance(frames, list) and frames else None


def bank_findings(session: Session, findings: list[Finding], *, actor: str) -> list[int]:
    """Add the findings' media hashes to the ``jikimi-confirmed`` bank (one audit entry for the batch);
    returns the entry ids. The same content added again is the same entry."""
    if not findings:
        return []
    media_ids = {f.media_id for f in findings}
    media = {
        m.id: m for m in session.execute(select(MediaRecord).where(MediaRecord.id.in_(media_ids))).scalars()
    }
    bank = create_bank(
        session,
        CONFIRMED_BANK,
        exist_ok=True,
        description="Content confirmed by a reviewer; matches are re-uploads (raised on the original case).",
        actor=actor,
    )
    ids: list[int] = []
    for f in findings:
        m = media.get(f.media_id)
        if m is None:
            continue
        entry = EntryInput(
            sha256=m.sha256,
            md5=m.md5,
            pdq=m.pdq,
            pdq_quality=m.pdq_quality,
            vpdq=video_frames(m),
            source="jikimi confirmed finding",
            case_ref=f"case:{f.case_id}",
            labels=["confirmed"],
            note=f"finding:{f.id}",
        )
        ids.append(add_entry(session, bank, entry, actor=actor, audit_each=False).entry_id)
    audit.append(
        session,
        actor=actor,
        action="bank.entry.add",
        subject=f"bank:{CONFIRMED_BANK}",
        details={"entries": ids, "findings": [f.id for f in findings], "by": "takedown"},
    )
    return ids


def bank_finding(session: Session, finding: Finding, *, actor: str) -> int | None:
    """Add one finding's media hashes to the ``jikimi-confirmed`` bank; returns the entry id."""
    ids = bank_findings(session, [finding], actor=actor)
    return ids[0] if ids else None


def _looks_like_url(text: str | None) -> bool:
    return bool(text) and str(text).lower().startswith(
        ("http://", "https://", "tg://", "t.me/", "telegram.me/")
    )


def sighting_url(s: SightingRecord) -> str | None:
    """Where a sighting can be taken down: its link, or its location if that is a web address."""
    for cand in (s.link, s.location):
        if _looks_like_url(cand):
            return str(cand)
    return None


def _refs(rows: Any) -> list[FindingRef]:
    refs = []
    for finding, media, s in rows:
        url = sighting_url(s)
        if url is None:
            continue
        refs.append(
            FindingRef(
                case_id=str(finding.case_id),
                url=url,
                finding_id=str(finding.id),
                sha256=media.sha256,
                md5=media.md5,
                pdq=media.pdq,
                chat=s.chat_name,
                message_link=s.link if s.link and s.link != url else None,
                media_kind=media.kind,
                first_seen=s.posted_at or s.seen_at,
                last_seen=s.seen_at,
                captured_at=s.seen_at,
                found_at=finding.created_at,
            )
        )
    return refs


def _finding_rows() -> Select[Finding, MediaRecord, SightingRecord]:
    return (
        select(Finding, MediaRecord, SightingRecord)
        .join(MediaRecord, MediaRecord.id == Finding.media_id)
        .join(SightingRecord, SightingRecord.media_id == MediaRecord.id)
        .order_by(Finding.id, SightingRecord.id)
    )


def refs_for_finding(session: Session, finding_id: int) -> list[FindingRef]:
    """The takedown references (one per URL it was seen at) of a finding."""
    if session.get(Finding, finding_id) is None:
        raise NotFoundError(
            "no finding {id}",
            "see the findings of the case",
            code="cases.finding_not_found",
            cli_hint="list them with: jikimi case show CASE_ID",
            id=finding_id,
        )
    return _refs(session.execute(_finding_rows().where(Finding.id == finding_id)).all())


def items_for_confirmed(
    session: Session, case_id: str | None = None, *, actor: str = "system"
) -> list[TakedownItem]:
    """Register every URL of every confirmed finding (of one case, or all) that has no takedown item yet."""
    q = _finding_rows().where(Finding.status == "confirmed")
    if case_id is not None:
        try:
            q = q.where(Finding.case_id == int(case_id))
        except ValueError:
            return []
    rows = session.execute(q).all()
    created = [item for item, new in add_items(session, _refs(rows), actor=actor) if new]
    if created:
        new_findings = {it.finding_id for it in created}
        findings = {f.id: f for f, _m, _s in rows if str(f.id) in new_findings}
        bank_findings(session, list(findings.values()), actor=actor)  # the same content is one entry
    return created
