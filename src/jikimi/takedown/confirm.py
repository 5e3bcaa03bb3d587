"""Confirming a finding, and what follows: ``confirm_finding`` is the one call the web API and the CLI make.

In the confirming transaction it:

1. confirms the finding (``jikimi.cases.review.confirm_finding``: state, audit log, case priority);
2. adds the finding's hashes to the ``jikimi-confirmed`` bank (``jikimi.takedown.findings.bank_finding``),
   so later scans flag copies, near copies and re-encoded or cut videos, raised as re-upload alerts on the
   original case;
3. registers the finding's URLs as takedown items and drafts one notice per platform (waiting for approval);
   while the case already has a draft to that platform that is not approved yet, the items join it, so
   confirming findings one by one makes one notice per platform, not one per finding.

Drafting runs in a savepoint: if it cannot (no organisation configured, a malformed URL...), the confirmation
still stands, the items stay ``found`` for ``jikimi takedown draft``, and the reason is in the audit log.
Confirming a finding that is already confirmed changes nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from jikimi.cases import review
from jikimi.errors import JikimiError, Message
from jikimi.store import audit
from jikimi.store.schema.scans import Finding
from jikimi.takedown import tracking
from jikimi.takedown.findings import bank_finding, refs_for_finding
from jikimi.takedown.items import add_items
from jikimi.takedown.service import DraftResult, draft_case


def draft_for_finding(session: Session, finding_id: int, *, actor: str) -> DraftResult:
    """Items for a confirmed finding's URLs, one drafted notice per platform (each waits for a person's
    approval), or added to the case's open draft to that platform."""
    refs = refs_for_finding(session, finding_id)
    if not refs:
        return DraftResult(
            messages=[
                Message(
                    "finding {id} was not seen at any URL: nothing to take down by link", {"id": finding_id}
                )
            ]
        )
    ids = [item.id for item, _ in add_items(session, refs, actor=actor) if item.state in tracking.DRAFTABLE]
    if not ids:
        return DraftResult(
            messages=[Message("finding {id}: its URLs already have notices", {"id": finding_id})]
        )
    return draft_case(session, refs[0].case_id, actor=actor, item_ids=ids)


def take_down_confirmed(session: Session, finding: Finding, *, actor: str) -> DraftResult | None:
    """Bank a just-confirmed finding's content, register its URLs and draft the notices (``None`` if drafting
    was not possible: the reason is in the audit log and the items wait for ``jikimi takedown draft``)."""
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
            details={"reason": exc.reason, "hint": exc.hint, "code": exc.code},
        )
        try:
            with session.begin_nested():
                add_items(session, refs_for_finding(session, finding.id), actor=actor)
        except JikimiError:
            pass  # nothing usable to register; the reason above is in the audit log
        return None


def confirm_finding(session: Session, finding_id: int, *, actor: str, note: str | None = None) -> Finding:
    """A reviewer confirms the finding (new → confirmed); its content is banked and its notices drafted."""
    before = review.get_finding(session, finding_id).status
    finding = review.confirm_finding(session, finding_id, actor=actor, note=note)
    if before != finding.status:
        take_down_confirmed(session, finding, actor=actor)
    return finding
