"""The takedown state machine of an item, with its history (time and actor of every change).

found → drafted → approved → sent → acknowledged → removed | refused | reappeared.
An item that is already gone before a notice went out may go straight to ``removed``; a refused item may be
drafted again (for example to the KCSC); a removed item that comes back is ``reappeared`` and drafted again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from jikimi.errors import ValidationError
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.takedown import TakedownEvent, TakedownItem

STATES = ("found", "drafted", "approved", "sent", "acknowledged", "removed", "refused", "reappeared")

TRANSITIONS: dict[str, frozenset[str]] = {
    "found": frozenset({"drafted", "removed"}),
    "drafted": frozenset({"approved", "found", "removed"}),
    "approved": frozenset({"sent", "drafted", "removed"}),
    "sent": frozenset({"acknowledged", "removed", "refused"}),
    "acknowledged": frozenset({"removed", "refused"}),
    "removed": frozenset({"reappeared"}),
    "refused": frozenset({"drafted", "removed"}),
    "reappeared": frozenset({"drafted", "removed"}),
}
"""Allowed next states. ``drafted → found`` and ``approved → drafted`` happen when a notice is withdrawn."""

DRAFTABLE = frozenset({"found", "refused", "reappeared"})
OPEN = frozenset({"sent", "acknowledged"})
"""Items waiting for the platform: re-checked on schedule until removed or refused."""


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def move(
    session: Session,
    item: TakedownItem,
    new: str,
    *,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
) -> TakedownEvent:
    """Move ``item`` to ``new`` (raises ``ValidationError`` for an invalid transition) and record it."""
    if new not in STATES:
        raise ValidationError(f"unknown takedown state {new!r}", f"states: {', '.join(STATES)}")
    if not can_move(item.state, new):
        allowed = ", ".join(sorted(TRANSITIONS.get(item.state, ()))) or "none"
        raise ValidationError(
            f"item {item.id} is {item.state}; it cannot become {new}",
            f"from {item.state} it can become: {allowed}",
        )
    when = at or utcnow()
    event = TakedownEvent(
        item_id=item.id, from_state=item.state, to_state=new, at=when, actor=actor, note=note
    )
    item.state = new
    if new == "removed":
        item.removed_at = when
        item.redirected_to = None
    elif new == "reappeared":
        item.reappeared_at = when
        item.removed_at = None
    session.add(event)
    return event


def first_event(item: TakedownItem, *, actor: str, note: str | None = None) -> TakedownEvent:
    """The first history entry (``found``) of a new item; append it to ``item.events``."""
    return TakedownEvent(
        from_state=None, to_state="found", at=item.found_at or utcnow(), actor=actor, note=note
    )
