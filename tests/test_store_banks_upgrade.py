"""A database from before signal-typed banks (hashes in fixed ``bank_entries`` columns) keeps its entries."""

from __future__ import annotations

import json

import sqlalchemy as sa

from jikimi.store import open_store
from jikimi.store.banks import BankMatcher, EntryInput, add_entry, create_bank, find_entries

PDQ, MD5, SHA = "f" * 64, "a" * 32, "b" * 64
FRAMES = [
    {"hash": "0" * 63 + "1", "quality": 80, "timestamp": 0.0},
    {"hash": "0" * 62 + "11", "quality": 70, "timestamp": 1.0},
]


def _make_legacy(db_url: str) -> None:
    """The old schema: the fixed hash columns and their indexes, two entries written the old way."""
    store = open_store(db_url)
    with store.session() as s:
        bank_id = create_bank(s, "old").id
    with store.engine.begin() as conn:
        for col, kind in [("pdq", "VARCHAR(64)"), ("pdq_quality", "INTEGER"), ("md5", "VARCHAR(32)"),
                          ("sha256", "VARCHAR(64)"), ("vpdq", "JSON")]:  # fmt: skip
            conn.execute(sa.text(f"ALTER TABLE bank_entries ADD COLUMN {col} {kind}"))
        for col in ("pdq", "md5", "sha256"):
            conn.execute(sa.text(f"CREATE INDEX ix_bank_entries_{col} ON bank_entries ({col})"))
        conn.execute(
            sa.text(
                "INSERT INTO bank_entries (bank_id, signature, pdq, pdq_quality, md5, sha256, source,"
                " case_ref, labels, note, content_uri, exchange_ids, enabled, added_at, added_by) VALUES"
                " (:b, 'sig-1', :p, 90, :m, :s, '', 'C-1', '[\"x\"]', '', '', '{}', :t,"
                " CURRENT_TIMESTAMP, 'old')"
            ),
            {"b": bank_id, "p": PDQ, "m": MD5, "s": SHA, "t": True},
        )
        conn.execute(
            sa.text(
                "INSERT INTO bank_entries (bank_id, signature, md5, vpdq, source, case_ref, labels, note,"
                " content_uri, exchange_ids, enabled, added_at, added_by) VALUES (:b, 'sig-2', :m, :v, '',"
                " '', '[]', '', '', '{}', :t, CURRENT_TIMESTAMP, 'old')"
            ),
            {"b": bank_id, "m": "c" * 32, "v": json.dumps(FRAMES), "t": True},
        )
        # a value that no longer validates must not stop the database from opening
        conn.execute(
            sa.text(
                "INSERT INTO bank_entries (bank_id, signature, pdq, md5, source, case_ref, labels, note,"
                " content_uri, exchange_ids, enabled, added_at, added_by) VALUES (:b, 'sig-3', 'zz', :m, '',"
                " '', '[]', '', '', '{}', :t, CURRENT_TIMESTAMP, 'old')"
            ),
            {"b": bank_id, "m": "d" * 32, "t": True},
        )
        # a column the regenerated migration added elsewhere, missing in the old schema
        conn.execute(sa.text("ALTER TABLE scan_items DROP COLUMN reason_message"))
    store.dispose()


def test_old_bank_columns_become_signal_rows(db_url: str) -> None:
    _make_legacy(db_url)
    store = open_store(db_url)  # upgrades
    try:
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("bank_entries")}
        assert not columns & {"pdq", "pdq_quality", "md5", "sha256", "vpdq"}
        with store.session() as s:
            (e,) = find_entries(s, "old", signal="md5", value=MD5)
            assert (e.hashes()["pdq"], e.hashes()["pdq_quality"], e.hashes()["sha256"]) == (PDQ, 90, SHA)
            assert e.labels == ["x"] and e.case_ref == "C-1"
            (v,) = find_entries(s, "old", signal="md5", value="c" * 32)
            frames = v.values()["vpdq"]
            assert [(f.value, f.quality, f.metadata["timestamp"]) for f in frames] == [
                (f["hash"], f["quality"], f["timestamp"]) for f in FRAMES
            ]
            # Signatures were recomputed: the same hashes added again are the same entry.
            again = add_entry(
                s, "old", EntryInput.from_hashes({"pdq": PDQ, "md5": MD5, "sha256": SHA}, quality={"pdq": 90})
            )
            assert not again.created and again.entry_id == e.id
        m = BankMatcher.load(store)
        assert [x.entry_id for x in m.match_pdq(PDQ)] == [e.id]
        assert [x.entry_id for x in m.match_video(FRAMES, images=False)] == [v.id]
        with store.session() as s:  # the bad old PDQ is left out; the entry and its MD5 stay
            (bad,) = find_entries(s, "old", signal="md5", value="d" * 32)
            assert "pdq" not in bad.values() and bad.values()["md5"][0].value == "d" * 32
        assert "reason_message" in {c["name"] for c in sa.inspect(store.engine).get_columns("scan_items")}
        open_store(db_url).dispose()  # upgrading again is a no-op
    finally:
        store.dispose()
