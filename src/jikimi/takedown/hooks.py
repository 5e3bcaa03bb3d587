"""What happens when a person confirms a finding (``jikimi.cases.review.confirm_finding``).

``install()`` registers ``on_finding_confirmed`` with ``jikimi.cases.on_confirm``; the web app calls it at
start-up (and any command that confirms findings). In the confirming transaction it then:

1. adds the finding's hashes (SHA-256, MD5, PDQ for an image, the vPDQ frame hashes for a video) to the
   ``jikimi-confirmed`` bank (``jikimi.store.banks``), so later scans flag copies, near copies and
   re-encoded or cut videos as findings, and ``reupload.scan_new_sightings`` raises a re-upload alert on
   the original case;
2. registers the finding's URLs as takedown items and drafts one notice per platform (waiting for approval);
   while the case already has a draft to that platform that is not approved yet, the items join it, so
   confirming findings one by one makes one notice per platform, not one per finding.

Drafting runs in a savepoint: if it cannot (no organisation configured, a malformed URL...), the confirmation
still stands, the items stay ``found`` for ``jikimi takedown draft``, and the reason is in the audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jikimi.errors import JikimiError
from jikimi.store import audit
from jikimi.store.schema.scans import Finding, MediaRecord

CONFIRMED_BANK = "jikimi-confirmed"
_installed = False


def video_frames(media: MediaRecord) -> list[dict[str, Any]] | None:
    """The vPDQ frame hashes the scan stored for a video (``None`` for an image or a video without them)."""
    if media.kind != "video":
        return None
    frames = (media.analysis.get("signals") or {}).get("vpdq")
    return list(frames) if isinstance(frames, list) and frames else None


def bank_findings(session: Session, findings: list[Finding], *, actor: str) -> list[int]:
    """Add the findings' media hashes to the ``jikimi-confirmed`` bank (one audit entry for the batch);
    returns the entry ids. The same content added again is the same entry."""
    from sqlalchemy import select

    from jikimi.store.banks import EntryInput, add_entry, create_bank

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


def on_finding_confirmed(session: Session, finding: Finding, actor: str) -> Any:
    """The ``jikimi.cases`` confirm hook: bank the content, register its URLs, draft the notices."""
    from jikimi.takedown.reupload import draft_for_finding

    bank_finding(session, finding, actor=actor)
    try:
        with session.begin_nested():
            return draft_for_finding(session, finding.id, actor=actor)
    except JikimiError as exc:
        audit.append(
            session,
            actor=actor,
            action="takedown.draft_skipped",
            subject=f"finding:{finding.id}",
            details={"reason": exc.reason, "hint": exc.hint},
        )
        from jikimi.takedown.reupload import refs_for_finding
        from jikimi.takedown.service import add_items

        try:
            with session.begin_nested():
                add_items(session, refs_for_finding(session, finding.id), actor=actor)
        except JikimiError:
            pass  # nothing usable to register; the reason above is in the audit log
        return None


def install() -> None:
    """Register the confirm hook with ``jikimi.cases`` (idempotent)."""
    global _installed
    if _installed:
        return
    from jikimi.cases.review import on_confirm

    on_confirm(on_finding_confirmed)
    _installed = True


def uninstall() -> None:
    """Remove the confirm hook again (tests, or a process that must not draft)."""
    global _installed
    from jikimi.cases import review

    if on_finding_confirmed in review._CONFIRM_HOOKS:
        review._CONFIRM_HOOKS.remove(on_finding_confirmed)
    _installed = False
