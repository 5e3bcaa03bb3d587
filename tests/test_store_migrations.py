"""The migration builds every table on an empty database, and the models and the migration agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from jikimi.store import open_store
from jikimi.store.schema import Base


def test_migration_upgrades_empty_database_and_matches_models(db_url: str) -> None:
    store = open_store(db_url)  # runs `alembic upgrade head` on the empty database
    try:
        with store.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            assert "alembic_version" in tables
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == [], f"models and migration differ; run `make migration`: {diff}"
        # Upgrading again is a no-op.
        open_store(db_url).dispose()
    finally:
        store.dispose()
