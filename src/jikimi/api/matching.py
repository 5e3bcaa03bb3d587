"""The app's one ``BankMatcher`` (PDQ index in memory), built on first use and shared by all requests."""

from __future__ import annotations

import threading

from fastapi import Request

from jikimi.store.banks import BankMatcher

_LOCK = threading.Lock()


def matcher(request: Request) -> BankMatcher:
    state = request.app.state
    found: BankMatcher | None = getattr(state, "matcher", None)
    if found is not None:
        return found
    with _LOCK:
        found = getattr(state, "matcher", None)
        if found is None:
            found = BankMatcher.load(state.store)
            state.matcher = found
    return found
