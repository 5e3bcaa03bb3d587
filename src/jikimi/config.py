"""Settings shared by every package: the data directory and the database URL, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "jikimi"


@dataclass(frozen=True)
class Settings:
    """Where Jikimi keeps its data. ``JIKIMI_HOME`` and ``JIKIMI_DATABASE_URL`` override the defaults."""

    home: Path
    database_url: str

    @property
    def vault_dir(self) -> Path:
        return self.home / "vault"

    @property
    def key_file(self) -> Path:
        return self.home / "vault.key"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    def ensure(self) -> Settings:
        """Create the data directory on first use (private to the user)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def get_settings() -> Settings:
    """Read the settings from the environment and create the data directory."""
    home = Path(os.environ.get("JIKIMI_HOME") or _default_home()).expanduser()
    url = os.environ.get("JIKIMI_DATABASE_URL") or f"sqlite:///{home / 'jikimi.db'}"
    return Settings(home=home, database_url=url).ensure()


SHARED_DIR = Path(os.environ.get("JIKIMI_SHARED") or Path(__file__).resolve().parents[3] / "shared").resolve()
"""The read-only shared material (`../shared` beside the repository), used by the demo and benchmarks."""


def org_timezone() -> str:
    """The organisation's time zone for what people read and type (``JIKIMI_TIMEZONE``, Asia/Seoul by
    default; an unknown name falls back to Asia/Seoul)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = os.environ.get("JIKIMI_TIMEZONE", "").strip() or "Asia/Seoul"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "Asia/Seoul"
    return name
