"""Shared fixtures: an isolated JIKIMI_HOME, the shared material, and the real database servers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jikimi.config import SHARED_DIR

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("JIKIMI_LANG", "en")  # the command line prints English in tests unless a test asks

SHARED = SHARED_DIR
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return True
        time.sleep(0.3)
    return False


def ensure_postgres() -> None:
    """Start the machine's PostgreSQL cluster when it is not running (never skip silently in CI)."""
    if _port_open(5432):
        return
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        pytest.fail("PostgreSQL is not running and not installed (apt-get install postgresql)")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
    if not _wait_port(5432):
        pytest.fail("PostgreSQL did not start on 127.0.0.1:5432")


def ensure_redis() -> None:
    if _port_open(6379):
        return
    subprocess.run(
        "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no "
        "--dir /var/lib/redis --logfile /var/log/redis/ci.log",
        shell=True,
        check=False,
    )
    if not _wait_port(6379):
        pytest.fail("Redis did not start on 127.0.0.1:6379")


@pytest.fixture(autouse=True)
def jikimi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory and SQLite database."""
    home = tmp_path / "jikimi-home"
    monkeypatch.setenv("JIKIMI_HOME", str(home))
    monkeypatch.delenv("JIKIMI_DATABASE_URL", raising=False)
    monkeypatch.delenv("JIKIMI_FACE_MODEL", raising=False)  # the built-in dlib face model unless a test asks
    monkeypatch.setenv("JIKIMI_RECHECK_MINUTES", "0")  # servers in tests start no takedown job unless asked
    return home


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def portraits(shared: Path) -> Path:
    """Ordinary portrait photos of public figures (``../shared/faces/portraits``)."""
    folder = shared / "faces" / "portraits"
    if not folder.is_dir():
        pytest.skip(f"portraits not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def postgres_server() -> str:
    ensure_postgres()
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty schema in the `test` database for one test, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{postgres_server}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a store test on both backends: the embedded SQLite default and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def redis_server() -> str:
    ensure_redis()
    return "redis://127.0.0.1:6379/0"
