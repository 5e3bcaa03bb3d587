"""Reviewing findings: new → confirmed | dismissed (and back to new with ``reopen_finding``), each audited.

``confirm_finding(session, finding_id, actor=..., note=...)`` and ``dismiss_finding(...)`` change the state
in the caller's transaction, append ``finding.confirm`` / ``finding.dismiss`` to the audit log and recompute
the case priority. What follows a confirmation (banking the content, drafting the takedown notices) is
``jikimi.takedown.confirm.confirm_finding``, which calls this one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from jikimi.errors import NotFoundError, Text, ValidationError
from jikimi.store import audit
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.scans import Finding

STATES = ("new", "confirmed", "dismissed")
#: The states as the pages name them (catalogued), for reasons.
_STATE_TEXT = {"new": Text("new"), "confirmed": Text("confirmed"), "dismissed": Text("dismissed")}


def get_finding(session: Session, finding_id: int) -> Finding:
    f = session.get(Finding, finding_id)
    if f is None:
        raise NotFoundError(
            "no finding {id}",
            code="cases.no_finding",
            hint="see the findings listed on the case's page",
            cli_hint="list them with: jikimi case show CASE_ID",
            id=finding_id,
        )
    return f


def _change(
    session: Session, finding_id: int, new: str, *, actor: str, note: str | None, allowed: tuple[str, ...]
) -> Finding:
    from jikimi.cases.priority import update_priority

    f = get_finding(session, finding_id)
    if f.status == new:
        return f
    if f.status not in allowed:
        if f.status != "new":
            raise ValidationError(
                "finding {id} is {state}; it cannot become {state_new}",
                code="cases.finding_state",
                hint="reopen it first",
                cli_hint="reopen it first (jikimi case reopen FINDING_ID)",
                id=finding_id,
                state=_STATE_TEXT.get(f.status, f.status),
                state_new=_STATE_TEXT.get(new, new),
            )
        raise ValidationError(
            "finding {id} is {state}; it cannot become {state_new}",
            code="cases.finding_state",
            id=finding_id,
            state=_STATE_TEXT.get(f.status, f.status),
            state_new=_STATE_TEXT.get(new, new),
        )
    old = f.status
    f.status = new
    f.reviewed_by = actor
    f.reviewed_at = utcnow()
    f.review_note = note
    f.updated_at = utcnow()
    session.flush()
    action = {"confirmed": "finding.confirm", "dismissed": "finding.dismiss", "new": "finding.reopen"}[new]
    audit.append(
        session,
        actor=actor,
        action=action,
        subject=f"finding:{f.id}",
        details={"from": old, "to": new, "case": f.case_id, "note": note},
    )
    update_priority(session, f.case_id)
    return f


def confirm_finding(session: Session, finding_id: int, *, actor: str, note: str | None = None) -> Finding:
    """A reviewer confirms the finding is abuse material about its case (new → confirmed)."""
    return _change(session, finding_id, "confirmed", actor=actor, note=note, allowed=("new",))


def dismiss_finding(session: Session, finding_id: int, *, actor: str, note: str | None = None) -> Finding:
    """A reviewer dismisses the finding (new → dismissed); it no longer counts toward the case priority."""
    return _change(session, finding_id, "dismissed", actor=actor, note=note, allowed=("new",))


def reopen_finding(session: Session, finding_id: int, *, actor: str, note: str | None = None) -> Finding:
    """Undo a review decision (confirmed | dismissed → new), audited like the decision itself."""
    return _change(session, finding_id, "new", actor=actor, note=note, allowed=("confirmed", "dismissed"))
