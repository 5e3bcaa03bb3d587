"""The takedown state machine of an item, with its history (time and actor of every change).

found → drafted → approved → sent → acknowledged → removed | refused | reappeared.
An item that is already gone before a notice went out may go straight to ``removed``; a refused item may be
drafted again (for example to the KCSC); a removed item that comes back is ``reappeared`` and drafted again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from jikimi.errors import Message, Text, ValidationError
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


#: The states (of items and notices) as messages name them: catalogued words, shown with the pages' labels.
STATE_WORDS: dict[str, Text] = {
    "found": Text("found"),
    "drafted": Text("drafted"),
    "approved": Text("approved"),
    "sent": Text("sent"),
    "acknowledged": Text("acknowledged"),
    "removed": Text("removed"),
    "refused": Text("refused"),
    "reappeared": Text("reappeared"),
    "closed": Text("closed"),
    "withdrawn": Text("withdrawn"),
    "none": Text("none"),
}


def state_word(state: str) -> Text | str:
    """A state as a message parameter: the catalogued word (translated where it is shown), else the text."""
    return STATE_WORDS.get(state, state)


def state_words(states: list[str] | tuple[str, ...]) -> Message | Text | str:
    """``a, b, c`` of several states as one message parameter, each state translated where it is shown."""
    if not states:
        return STATE_WORDS["none"]
    out: Message | Text | str = state_word(states[-1])
    for s in reversed(states[:-1]):
        out = Message("{first}, {rest}", {"first": state_word(s), "rest": out})
    return out


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
        raise ValidationError(
            "unknown takedown state {state!r}",
            "states: {states}",
            code="takedown.state_unknown",
            state=new,
            states=", ".join(STATES),
        )
    if not can_move(item.state, new):
        raise ValidationError(
            "item {id} is {state}; it cannot become {state_new}",
            "from {state} it can become: {states}",
            code="takedown.item_transition",
            id=item.id,
            state=state_word(item.state),
            state_new=state_word(new),
            states=state_words(sorted(TRANSITIONS.get(item.state, ()))),
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
