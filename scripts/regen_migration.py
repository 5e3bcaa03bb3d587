"""Regenerate the single pre-release migration ``0001_initial`` from the current models.

Run with ``make migration`` after adding or changing a table. Safe to run concurrently with edits:
it builds the migration against an empty temporary SQLite database.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from jikimi.store.db import MIGRATIONS_DIR, alembic_config

VERSIONS = MIGRATIONS_DIR / "versions"


def main() -> None:
    for old in VERSIONS.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'empty.db'}")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    ruff = Path(sys.executable).with_name("ruff")
    for new in VERSIONS.glob("0001_*.py"):
        # Generated code follows the project style too (ruff check + format run in CI).
        subprocess.run([str(ruff), "check", "--fix", "--quiet", str(new)], check=False)
        subprocess.run([str(ruff), "format", "--quiet", str(new)], check=True)
        print(f"wrote {new}")


if __name__ == "__main__":
    main()
