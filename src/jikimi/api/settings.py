"""Settings of the web server: cookies, session lengths, upload limits, lockout policy, the takedown job."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from jikimi.store.accounts import LockoutPolicy


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def split_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")`` (comma-separated settings)."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _env_list(name: str) -> tuple[str, ...]:
    return split_list(os.environ.get(name, ""))


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        raise ValueError(f"{name} must be a number of minutes, got {value!r}") from None


@dataclass(frozen=True)
class ApiSettings:
    """``secure_cookies`` marks cookies Secure (browsers accept them over HTTPS and on localhost).

    ``JIKIMI_INSECURE_COOKIES=1`` turns that off for a plain-HTTP deployment behind a trusted network only.
    """

    secure_cookies: bool = field(default_factory=lambda: not _env_bool("JIKIMI_INSECURE_COOKIES", False))
    session_hours: float = 12.0
    idle_minutes: float = 60.0
    max_upload_bytes: int = 512 * 1024 * 1024
    max_file_bytes: int = 200 * 1024 * 1024
    max_files_per_scan: int = 1000
    # Scans started from the web: worker processes (0 = analyse in the server process, in a thread).
    scan_workers: int = 0
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Show /api/docs (a server-rendered list of the operations) and /api/v1/openapi.json.
    docs: bool = True
    # Reverse proxies whose X-Forwarded-For / -Proto are believed (JIKIMI_TRUSTED_PROXIES, comma-separated
    # addresses or networks); empty: the client address is the connecting address.
    trusted_proxies: tuple[str, ...] = field(default_factory=lambda: _env_list("JIKIMI_TRUSTED_PROXIES"))
    # The takedown job (draft confirmed findings, re-check reported URLs, re-upload alerts) runs in the
    # server every this many minutes (JIKIMI_RECHECK_MINUTES; 0 = off, e.g. when cron runs
    # `jikimi takedown recheck` instead).
    recheck_minutes: float = field(default_factory=lambda: _env_float("JIKIMI_RECHECK_MINUTES", 60.0))


SESSION_COOKIE = "jikimi_session"
LANG_COOKIE = "jikimi_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
