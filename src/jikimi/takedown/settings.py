"""Takedown settings: the requesting organisation and the SMTP server.

Read from ``JIKIMI_HOME/takedown.yaml`` (sections ``organisation:`` and ``smtp:``), overridden by environment
variables: ``JIKIMI_ORG_NAME/EMAIL/PHONE/ADDRESS/WEBSITE``, ``JIKIMI_INCLUDE_VICTIM_NAME``,
``JIKIMI_FOUR_EYES`` (``four_eyes: true``: a notice is approved by another person than its drafter), and
``JIKIMI_SMTP_HOST/PORT/USER/PASSWORD/STARTTLS/SSL/FROM/CAFILE/TIMEOUT``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jikimi.config import get_settings
from jikimi.errors import ConfigError

CONFIG_NAME = "takedown.yaml"
EXAMPLE = """organisation:
  name: Seoul Digital Sex Crime Support Centre
  email: takedown@example.org
  phone: +82-2-000-0000
smtp:
  host: smtp.example.org
  port: 587
  starttls: true
  user: takedown@example.org
  password: ...
  from: takedown@example.org"""


def config_path() -> Path:
    return get_settings().home / CONFIG_NAME


def _file_section(name: str) -> dict[str, Any]:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", f"it should look like:\n{EXAMPLE}") from exc
    section = data.get(name) if isinstance(data, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: '{name}' must be a mapping", f"it should look like:\n{EXAMPLE}")
    return section


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{what} must be true or false, not {value!r}")


def _pick(env: str, section: dict[str, Any], key: str, default: Any = None) -> Any:
    value = os.environ.get(env)
    if value is not None and value != "":
        return value
    return section.get(key, default)


@dataclass(frozen=True)
class Organisation:
    """The organisation that sends the requests (named in every notice)."""

    name: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    website: str | None = None
    include_victim_name: bool = False
    four_eyes: bool = False
    """Four eyes: a notice must be approved by a different person from the one(s) who drafted it."""


def load_organisation(*, required: bool = True) -> Organisation:
    """The requesting organisation; with ``required`` a missing name is a ``ConfigError``."""
    sec = _file_section("organisation")
    org = Organisation(
        name=str(_pick("JIKIMI_ORG_NAME", sec, "name", "") or "").strip(),
        email=_pick("JIKIMI_ORG_EMAIL", sec, "email"),
        phone=_pick("JIKIMI_ORG_PHONE", sec, "phone"),
        address=_pick("JIKIMI_ORG_ADDRESS", sec, "address"),
        website=_pick("JIKIMI_ORG_WEBSITE", sec, "website"),
        include_victim_name=_bool(
            _pick("JIKIMI_INCLUDE_VICTIM_NAME", sec, "include_victim_name", False), "include_victim_name"
        ),
        four_eyes=_bool(_pick("JIKIMI_FOUR_EYES", sec, "four_eyes", False), "four_eyes"),
    )
    if required and not org.name:
        raise ConfigError(
            "the requesting organisation is not configured (every notice names it)",
            f"set JIKIMI_ORG_NAME and JIKIMI_ORG_EMAIL, or write {config_path()} like:\n{EXAMPLE}",
        )
    return org


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the outgoing mail server."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    sender: str = ""
    cafile: str | None = None
    timeout: float = 30.0


def load_smtp() -> SmtpSettings:
    """The SMTP settings; a ``ConfigError`` says what is missing."""
    sec = _file_section("smtp")
    host = str(_pick("JIKIMI_SMTP_HOST", sec, "host", "") or "").strip()
    if not host:
        raise ConfigError(
            "no SMTP server configured for sending notices",
            f"set JIKIMI_SMTP_HOST (and PORT, USER, PASSWORD, STARTTLS, FROM) or the smtp: section of "
            f"{config_path()}",
        )
    ssl = _bool(_pick("JIKIMI_SMTP_SSL", sec, "ssl", False), "JIKIMI_SMTP_SSL")
    try:
        port = int(_pick("JIKIMI_SMTP_PORT", sec, "port", 465 if ssl else 587))
        timeout = float(_pick("JIKIMI_SMTP_TIMEOUT", sec, "timeout", 30))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"JIKIMI_SMTP_PORT/TIMEOUT must be numbers ({exc})") from exc
    user = _pick("JIKIMI_SMTP_USER", sec, "user")
    sender = str(_pick("JIKIMI_SMTP_FROM", sec, "from", "") or user or "").strip()
    if not sender:
        raise ConfigError(
            "no sender address for notices", "set JIKIMI_SMTP_FROM (or smtp: from: in the file)"
        )
    return SmtpSettings(
        host=host,
        port=port,
        user=user or None,
        password=_pick("JIKIMI_SMTP_PASSWORD", sec, "password"),
        starttls=_bool(_pick("JIKIMI_SMTP_STARTTLS", sec, "starttls", not ssl), "JIKIMI_SMTP_STARTTLS"),
        ssl=ssl,
        sender=sender,
        cafile=_pick("JIKIMI_SMTP_CAFILE", sec, "cafile"),
        timeout=timeout,
    )
