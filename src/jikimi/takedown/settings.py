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
    section = _read_file().get(name)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(
            "{path}: '{name}' must be a mapping",
            "it should look like:\n{example}",
            code="takedown.settings_invalid",
            path=str(path),
            name=name,
            example=EXAMPLE,
        )
    return section


def _bool(value: Any, what: str, env: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(
        "the setting {what} must be true or false, not {value!r}",
        code="takedown.setting_not_bool",
        cli_hint="set {env} (or {what} in the settings file) to true or false",
        what=what,
        env=env,
        value=value,
    )


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
            _pick("JIKIMI_INCLUDE_VICTIM_NAME", sec, "include_victim_name", False),
            "include_victim_name",
            "JIKIMI_INCLUDE_VICTIM_NAME",
        ),
        four_eyes=_bool(_pick("JIKIMI_FOUR_EYES", sec, "four_eyes", False), "four_eyes", "JIKIMI_FOUR_EYES"),
    )
    if required and not org.name:
        raise ConfigError(
            "the requesting organisation is not configured (every notice names it)",
            "an administrator sets the organisation's name and e-mail on the settings page",
            code="takedown.organisation_missing",
            cli_hint="set JIKIMI_ORG_NAME and JIKIMI_ORG_EMAIL, or write {path} like:\n{example}",
            path=str(config_path()),
            example=EXAMPLE,
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
            "an administrator sets the mail server on the settings page",
            code="takedown.smtp_missing",
            cli_hint="set JIKIMI_SMTP_HOST (and PORT, USER, PASSWORD, STARTTLS, FROM) "
            "or the smtp: section of {path}",
            path=str(config_path()),
        )
    ssl = _bool(_pick("JIKIMI_SMTP_SSL", sec, "ssl", False), "ssl", "JIKIMI_SMTP_SSL")
    try:
        port = int(_pick("JIKIMI_SMTP_PORT", sec, "port", 465 if ssl else 587))
        timeout = float(_pick("JIKIMI_SMTP_TIMEOUT", sec, "timeout", 30))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            "the mail server's port and timeout must be numbers ({detail})",
            "give the mail server's port and timeout as numbers",
            code="takedown.smtp_not_number",
            cli_hint="give JIKIMI_SMTP_PORT and JIKIMI_SMTP_TIMEOUT as numbers",
            detail=str(exc),
        ) from exc
    user = _pick("JIKIMI_SMTP_USER", sec, "user")
    sender = str(_pick("JIKIMI_SMTP_FROM", sec, "from", "") or user or "").strip()
    if not sender:
        raise ConfigError(
            "no sender address for notices",
            "an administrator sets the sender address on the settings page",
            code="takedown.smtp_no_sender",
            cli_hint="set JIKIMI_SMTP_FROM (or smtp: from: in the file)",
        )
    return SmtpSettings(
        host=host,
        port=port,
        user=user or None,
        password=_pick("JIKIMI_SMTP_PASSWORD", sec, "password"),
        starttls=_bool(
            _pick("JIKIMI_SMTP_STARTTLS", sec, "starttls", not ssl), "starttls", "JIKIMI_SMTP_STARTTLS"
        ),
        ssl=ssl,
        sender=sender,
        cafile=_pick("JIKIMI_SMTP_CAFILE", sec, "cafile"),
        timeout=timeout,
    )


# -- editing (the web app's settings page; the command line reads the same file) ---------------------------

SECTIONS: dict[str, tuple[str, ...]] = {
    "organisation": ("name", "email", "phone", "address", "website", "include_victim_name", "four_eyes"),
    "smtp": ("host", "port", "user", "password", "starttls", "ssl", "from", "cafile", "timeout"),
    "imap": ("url", "password", "cafile"),
}
SECRETS = {("smtp", "password"), ("imap", "password")}
"""Write-only fields: stored, never shown, logged or returned (only whether one is set)."""

ENV_OF: dict[tuple[str, str], str] = {
    ("organisation", "name"): "JIKIMI_ORG_NAME",
    ("organisation", "email"): "JIKIMI_ORG_EMAIL",
    ("organisation", "phone"): "JIKIMI_ORG_PHONE",
    ("organisation", "address"): "JIKIMI_ORG_ADDRESS",
    ("organisation", "website"): "JIKIMI_ORG_WEBSITE",
    ("organisation", "include_victim_name"): "JIKIMI_INCLUDE_VICTIM_NAME",
    ("organisation", "four_eyes"): "JIKIMI_FOUR_EYES",
    ("smtp", "host"): "JIKIMI_SMTP_HOST",
    ("smtp", "port"): "JIKIMI_SMTP_PORT",
    ("smtp", "user"): "JIKIMI_SMTP_USER",
    ("smtp", "password"): "JIKIMI_SMTP_PASSWORD",
    ("smtp", "starttls"): "JIKIMI_SMTP_STARTTLS",
    ("smtp", "ssl"): "JIKIMI_SMTP_SSL",
    ("smtp", "from"): "JIKIMI_SMTP_FROM",
    ("smtp", "cafile"): "JIKIMI_SMTP_CAFILE",
    ("smtp", "timeout"): "JIKIMI_SMTP_TIMEOUT",
    ("imap", "url"): "JIKIMI_IMAP_URL",
    ("imap", "password"): "JIKIMI_IMAP_PASSWORD",
    ("imap", "cafile"): "JIKIMI_IMAP_CAFILE",
}


def _read_file() -> dict[str, Any]:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            "{path} is not valid YAML: {detail}",
            "it should look like:\n{example}",
            code="takedown.settings_invalid",
            path=str(path),
            detail=str(exc),
            example=EXAMPLE,
        ) from exc
    return data if isinstance(data, dict) else {}


def stored_settings() -> dict[str, dict[str, Any]]:
    """What the file holds, section by section; a secret is replaced by ``<key>_set: true|false``."""
    data = _read_file()
    out: dict[str, dict[str, Any]] = {}
    for section, keys in SECTIONS.items():
        raw = data.get(section)
        sec: dict[str, Any] = raw if isinstance(raw, dict) else {}
        shown: dict[str, Any] = {}
        for key in keys:
            if (section, key) in SECRETS:
                shown[f"{key}_set"] = bool(sec.get(key))
            else:
                shown[key] = sec.get(key)
        out[section] = shown
    return out


def env_overrides() -> list[str]:
    """The environment variables that are set and win over the file (a page says so next to the form)."""
    return [env for env in ENV_OF.values() if os.environ.get(env)]


def save_settings(changes: dict[str, dict[str, Any]]) -> list[str]:
    """Update ``takedown.yaml``: each ``changes[section][key]`` replaces the stored value (``None`` or ``""``
    removes it). A secret left ``None`` or ``""`` keeps the stored one; ``clear_password: true`` removes it.
    The file is written atomically, readable by its owner only. Returns the changed ``section.key`` names
    (for the audit log: names only, never values of secrets)."""
    data = _read_file()
    changed: list[str] = []
    for section, values in changes.items():
        if section not in SECTIONS:
            raise ConfigError(
                "unknown settings section {section!r}",
                "use {sections}",
                code="takedown.settings_unknown",
                section=section,
                sections=", ".join(SECTIONS),
            )
        sec = data.get(section)
        sec = dict(sec) if isinstance(sec, dict) else {}
        for key, value in values.items():
            if key == "clear_password":
                if value and "password" in sec:
                    del sec["password"]
                    changed.append(f"{section}.password")
                continue
            if key not in SECTIONS[section]:
                raise ConfigError(
                    "unknown setting {section}.{key}",
                    code="takedown.settings_unknown",
                    section=section,
                    key=key,
                )
            if isinstance(value, str):
                value = value.strip()
            if (section, key) in SECRETS and value in (None, ""):
                continue  # write-only: an empty field keeps the stored secret
            if value in (None, ""):
                if key in sec:
                    del sec[key]
                    changed.append(f"{section}.{key}")
                continue
            if sec.get(key) != value:
                sec[key] = value
                changed.append(f"{section}.{key}")
        data[section] = sec
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)
    os.replace(tmp, path)
    return changed


def imap_values() -> dict[str, str]:
    """``JIKIMI_IMAP_URL/PASSWORD/CAFILE`` from the environment, else from the file's ``imap:`` section."""
    sec = _file_section("imap")
    out: dict[str, str] = {}
    for key in SECTIONS["imap"]:
        env = ENV_OF[("imap", key)]
        value = _pick(env, sec, key)
        if value not in (None, ""):
            out[env] = str(value)
    return out
