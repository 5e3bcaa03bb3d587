"""The hash-chained audit log: appends chain, and verify finds edited, removed and reordered entries."""

from __future__ import annotations

import hashlib
import itertools
import threading

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from jikimi.store import open_store
from jikimi.store.audit import GENESIS, append, canonical_json, entry_payload, verify
from jikimi.store.schema.evidence import AuditEntry


def _fill(store, n: int = 5) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with store.session() as s:
            append(
                s,
                actor="test:alice",
                action="vault.view",
                subject=f"media:{i:064x}",
                details={"i": i, "purpose": "review", "이름": "검토"},
            )


def test_chain_links_and_verifies(db_url: str) -> None:
    store = open_store(db_url)
    with store.session() as s:
        assert verify(s).ok and verify(s).count == 0
    _fill(store, 5)
    with store.session() as s:
        rows = s.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        assert [r.id for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == GENESIS
        for a, b in itertools.pairwise(rows):
            assert b.prev_hash == a.hash
        # The documented formula, recomputed independently of entry_hash().
        r = rows[2]
        payload = entry_payload(r.at, r.actor, r.action, r.subject, r.details_json)
        assert hashlib.sha256((r.prev_hash + payload).encode()).hexdigest() == r.hash
        assert r.details["이름"] == "검토"
        result = verify(s)
    assert result.ok and result.count == 5 and result.head_hash == rows[-1].hash
    store.dispose()


def test_rolled_back_append_leaves_no_trace(db_url: str) -> None:
    store = open_store(db_url)
    _fill(store, 2)
    with pytest.raises(RuntimeError), store.session() as s:
        append(s, actor="test", action="x", subject="y", details={})
        raise RuntimeError("caller failed")
    _fill(store, 1)
    with store.session() as s:
        assert verify(s).ok and verify(s).count == 3
    store.dispose()


def test_detects_edited_entry(db_url: str) -> None:
    store = open_store(db_url)
    _fill(store)
    with store.session() as s:
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == 3).values(actor="test:mallory"))
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "edited" and r.bad_entry_id == 3
    store.dispose()


def test_detects_edited_details(db_url: str) -> None:
    store = open_store(db_url)
    _fill(store)
    with store.session() as s:
        s.execute(
            sa.update(AuditEntry).where(AuditEntry.id == 2).values(details_json=canonical_json({"i": 99}))
        )
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "edited" and r.bad_entry_id == 2
    store.dispose()


def test_detects_rewritten_and_rehashed_entry(db_url: str) -> None:
    """An attacker who edits an entry and recomputes its own hash still breaks the next link."""
    store = open_store(db_url)
    _fill(store)
    with store.session() as s:
        e = s.get(AuditEntry, 2)
        assert e is not None
        e.subject = "media:forged"
        payload = entry_payload(e.at, e.actor, e.action, e.subject, e.details_json)
        e.hash = hashlib.sha256((e.prev_hash + payload).encode()).hexdigest()
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "edited" and r.bad_entry_id == 2
    store.dispose()


def test_detects_removed_entry(db_url: str) -> None:
    store = open_store(db_url)
    _fill(store)
    with store.session() as s:
        s.execute(sa.delete(AuditEntry).where(AuditEntry.id == 3))
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "removed" and r.bad_entry_id == 3
    store.dispose()


def test_detects_removed_first_and_last_entries(db_url: str) -> None:
    store = open_store(db_url)
    _fill(store)
    with store.session() as s:
        s.execute(sa.delete(AuditEntry).where(AuditEntry.id == 5))
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "removed" and r.bad_entry_id == 5
    with store.session() as s:
        s.execute(sa.delete(AuditEntry).where(AuditEntry.id == 1))
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "removed" and r.bad_entry_id == 1
    store.dispose()


def test_detects_reordered_entries(db_url: str) -> None:
    store = open_store(db_url)
    _fill(store)
    with store.session() as s:  # swap the positions of entries 2 and 3
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == 2).values(id=1000))
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == 3).values(id=2))
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == 1000).values(id=3))
    with store.session() as s:
        r = verify(s)
    assert not r.ok and r.problem == "reordered" and r.bad_entry_id == 2
    store.dispose()


def test_concurrent_appends_never_fork(db_url: str) -> None:
    """Writers in parallel threads, each with its own connection: one unbroken chain, nothing lost."""
    store = open_store(db_url)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(8):
                with store.session() as s:
                    s.execute(sa.select(sa.literal(1)))
                    append(s, actor=f"test:w{w}", action="case.update", subject=f"case:{i}", details={"w": w})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with store.session() as s:
        r = verify(s)
    assert r.ok and r.count == 32
    store.dispose()


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=12),
            st.booleans(),
            st.none(),
        ),
        max_size=5,
    )
)
def test_canonical_details_round_trip(details: dict) -> None:  # type: ignore[type-arg]
    import json

    text = canonical_json(details)
    assert canonical_json(json.loads(text)) == text
