"""Upgrade a database made before bank entries were signal-typed: keeps every entry and its hashes.

Until then an entry held its hashes in fixed columns of ``bank_entries`` (``pdq``, ``pdq_quality``, ``md5``,
``sha256``, ``vpdq``); now they are ``bank_signals`` rows. The single pre-release migration was regenerated
with the same revision, so a database stamped with the old one is brought up to date here, once: the rows are
copied through each hash signal's own ``values_of``/``validate_value``, signatures are recomputed, and the
old columns (and their indexes) dropped. A database without those columns is left as it is. A value that no
longer validates is left out (logged) rather than stopping the upgrade: the entry and its other hashes stay.

``add_missing_columns`` does the same for the other columns the regenerated migration added (nullable ones,
such as ``scan_items.reason_message``), so an older database opens and keeps working.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Column, Connection, column, inspect, select, table, update

from jikimi.signals import registry
from jikimi.signals.base import SignalValue
from jikimi.store.schema.banks import BankEntry, BankSignal, signature_of
from jikimi.store.schema.base import Base

log = logging.getLogger("jikimi.store")

#: The old columns, as ``{column: signal}`` (the quality column goes with ``pdq``).
LEGACY_COLUMNS = {"pdq": "pdq", "md5": "md5", "sha256": "sha256", "vpdq": "vpdq"}
_QUALITY = "pdq_quality"


def upgrade_bank_columns(conn: Connection) -> int:
    """Move hashes from the old ``bank_entries`` columns into ``bank_signals``; returns the entries moved."""
    insp = inspect(conn)
    if "bank_entries" not in insp.get_table_names():
        return 0
    have = {c["name"] for c in insp.get_columns("bank_entries")}
    old = [c for c in [*LEGACY_COLUMNS, _QUALITY] if c in have]
    if not old:
        return 0
    BankSignal.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    legacy = table("bank_entries", column("id"), *(column(c) for c in old))
    moved = 0
    for row in conn.execute(select(legacy).order_by(legacy.c.id)).mappings():
        signals: dict[str, list[SignalValue]] = {}
        for col, name in LEGACY_COLUMNS.items():
            raw: Any = row.get(col)
            if isinstance(raw, str) and col == "vpdq":
                try:
                    raw = json.loads(raw)
                except ValueError:
                    log.warning("bank entry %s: its old vPDQ frames are not JSON; left out", row["id"])
                    continue
            if not raw:
                continue
            sig = registry.hash_signal(name)
            quality = row.get(_QUALITY) if name == "pdq" else None
            try:
                signals[name] = [sig.validate_value(v) for v in sig.values_of(raw, quality)]
            except Exception as exc:  # one bad old value must not stop the database from opening
                log.warning("bank entry %s: its old %s value is left out (%s)", row["id"], name, exc)
        if not signals:
            continue
        conn.execute(
            BankSignal.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "entry_id": row["id"],
                    "signal": n,
                    "value": v.value,
                    "quality": v.quality,
                    "metadata": v.metadata,
                }
                for n, vs in signals.items()
                for v in vs
            ],
        )
        conn.execute(
            update(BankEntry).where(BankEntry.id == row["id"]).values(signature=signature_of(signals))
        )
        moved += 1
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    ops = Operations(MigrationContext.configure(conn))
    for ix in insp.get_indexes("bank_entries"):
        if ix["name"] and set(ix["column_names"]) & set(old):
            ops.drop_index(ix["name"], table_name="bank_entries")
    for col in old:
        ops.drop_column("bank_entries", col)
    return moved


def add_missing_columns(conn: Connection) -> list[str]:
    """Add the nullable columns of the models that an existing table lacks (a database made with an earlier
    pre-release migration); returns ``table.column`` for each one added."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    insp = inspect(conn)
    present = set(insp.get_table_names())
    ops = Operations(MigrationContext.configure(conn))
    added: list[str] = []
    for tbl in Base.metadata.sorted_tables:
        if tbl.name not in present:
            continue
        have = {c["name"] for c in insp.get_columns(tbl.name)}
        for col in tbl.columns:
            if col.name in have or not col.nullable or col.primary_key:
                continue
            ops.add_column(tbl.name, Column(col.name, col.type, nullable=True))
            added.append(f"{tbl.name}.{col.name}")
    return added
