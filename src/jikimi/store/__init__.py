"""The database (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL by URL) and the evidence vault."""

from jikimi.store.db import Store, open_store

__all__ = ["Store", "open_store"]
