"""The platform directory: who to ask for a removal, how, in which languages; and which platform a URL is on.

Each platform is one YAML file in ``takedown/platforms/`` (extensible without code). Extra directories can
be added with ``JIKIMI_PLATFORMS_DIR`` (YAML files; a file with the same ``key`` replaces the built-in).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from jikimi.errors import ConfigError, Message, ValidationError

BUILTIN_DIR = Path(__file__).with_name("platforms")
GENERIC = "generic_host"
CHANNELS = ("email", "web_form", "api")


@dataclass(frozen=True)
class Contact:
    purpose: str
    channel: str
    address: str | None
    verify_before_use: bool
    note: str | None = None


@dataclass(frozen=True)
class Platform:
    """One entry of the directory (see the YAML files for the meaning of each field)."""

    key: str
    name: str
    kind: str
    channel: str
    contacts: tuple[Contact, ...]
    languages: tuple[str, ...]
    default_lang: str
    required_fields: tuple[str, ...]
    batching: bool
    max_items_per_notice: int
    expected_response_hours: int
    recheck_hours: int
    template: str
    policy_name: str
    policy_url: str | None
    verify_before_use: bool
    domains: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    url_patterns: tuple[re.Pattern[str], ...] = ()
    removed_markers: tuple[str, ...] = ()
    scope: str = "own"  # "any": takes items hosted anywhere (a regulator)

    @property
    def primary_contact(self) -> Contact | None:
        """The first contact on the platform's main channel."""
        for c in self.contacts:
            if c.channel == self.channel:
                return c
        return None

    @property
    def recipient(self) -> str | None:
        c = self.primary_contact
        return c.address if c and c.channel == "email" else None

    @property
    def form_url(self) -> str | None:
        c = self.primary_contact
        return c.address if c and c.channel == "web_form" else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "kind": self.kind,
            "channel": self.channel,
            "contacts": [c.__dict__ for c in self.contacts],
            "languages": list(self.languages),
            "default_lang": self.default_lang,
            "required_fields": list(self.required_fields),
            "batching": self.batching,
            "max_items_per_notice": self.max_items_per_notice,
            "expected_response_hours": self.expected_response_hours,
            "policy": {"name": self.policy_name, "url": self.policy_url},
            "verify_before_use": self.verify_before_use,
            "domains": list(self.domains),
        }


@dataclass(frozen=True)
class Resolution:
    """Which platform a URL is on; ``fallback`` says the URL matched no known platform."""

    platform: Platform
    host: str
    fallback: bool
    chat: str | None = None
    post: str | None = None

    @property
    def note(self) -> str | None:
        if not self.fallback:
            return None
        return (
            f"unknown platform for host {self.host or '?'}: using the generic hosting-provider template; "
            "find the host's abuse contact (`jikimi takedown contact URL`) and set it with --to"
        )


def _platform(data: dict[str, Any], source: Path) -> Platform:
    try:
        contacts = tuple(
            Contact(
                purpose=str(c["purpose"]),
                channel=str(c["channel"]),
                address=None if c.get("address") is None else str(c["address"]),
                verify_before_use=bool(c.get("verify_before_use", True)),
                note=c.get("note"),
            )
            for c in data.get("contacts") or []
        )
        policy = data.get("policy") or {}
        p = Platform(
            key=str(data["key"]),
            name=str(data["name"]),
            kind=str(data.get("kind", "host")),
            channel=str(data["channel"]),
            contacts=contacts,
            languages=tuple(data.get("languages") or ["en"]),
            default_lang=str(data.get("default_lang", "en")),
            required_fields=tuple(data.get("required_fields") or ["url"]),
            batching=bool(data.get("batching", True)),
            max_items_per_notice=int(data.get("max_items_per_notice", 100)),
            expected_response_hours=int(data.get("expected_response_hours", 72)),
            recheck_hours=int(data.get("recheck_hours", 24)),
            template=str(data.get("template", data["key"])),
            policy_name=str(policy.get("name") or ""),
            policy_url=policy.get("url"),
            verify_before_use=bool(data.get("verify_before_use", True)),
            domains=tuple(str(d).lower() for d in data.get("domains") or []),
            schemes=tuple(str(s).lower() for s in data.get("schemes") or []),
            url_patterns=tuple(re.compile(p, re.I) for p in data.get("url_patterns") or []),
            removed_markers=tuple(str(m) for m in data.get("removed_markers") or []),
            scope=str(data.get("scope", "own")),
        )
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise ConfigError(
            "platform file {source} is malformed: {detail}",
            "compare it with the built-in platform files",
            code="takedown.platform_file_invalid",
            source=str(source),
            detail=repr(exc),
        ) from exc
    if p.channel not in CHANNELS:
        raise ConfigError(
            "platform file {source}: channel must be one of {channels}",
            "compare it with the built-in platform files",
            code="takedown.platform_file_invalid",
            source=str(source),
            channels=", ".join(CHANNELS),
        )
    return p


def _load_dir(folder: Path) -> dict[str, Platform]:
    out: dict[str, Platform] = {}
    for f in sorted(folder.glob("*.y*ml")):
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(
                "platform file {source} is not valid YAML: {detail}",
                "compare it with the built-in platform files",
                code="takedown.platform_file_invalid",
                source=str(f),
                detail=str(exc),
            ) from exc
        p = _platform(data or {}, f)
        out[p.key] = p
    return out


@lru_cache(maxsize=8)
def _directory(extra: str | None) -> dict[str, Platform]:
    platforms = _load_dir(BUILTIN_DIR)
    if extra:
        folder = Path(extra).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                "the extra platforms folder {path} is not a folder",
                "ask an administrator to check the platform folder setting",
                code="takedown.platforms_dir_missing",
                cli_hint="give an existing folder in JIKIMI_PLATFORMS_DIR, or unset it",
                path=extra,
            )
        platforms.update(_load_dir(folder))
    if GENERIC not in platforms:
        raise ConfigError(
            "the platform directory has no generic_host entry",
            "ask an administrator to restore the built-in platform files",
            code="takedown.platforms_no_generic",
        )
    return platforms


def load_directory() -> dict[str, Platform]:
    """All platforms by key (built-in plus ``JIKIMI_PLATFORMS_DIR``)."""
    return _directory(os.environ.get("JIKIMI_PLATFORMS_DIR") or None)


def get_platform(key: str) -> Platform:
    """The platform with this key; raises ``ValidationError`` naming the known keys."""
    d = load_directory()
    if key not in d:
        raise ValidationError(
            "unknown platform {key!r}",
            "known platforms: {known}",
            code="takedown.platform_unknown",
            key=key,
            known=", ".join(sorted(d)),
        )
    return d[key]


def platform_or_generic_note(key: str) -> tuple[Platform, Message | None]:
    """The platform with this key, or the generic host with a note (a catalogued message) saying so."""
    d = load_directory()
    if key in d:
        return d[key], None
    return d[GENERIC], Message(
        "unknown platform {key!r} (known: {known}): using the generic hosting-provider template",
        {"key": key, "known": ", ".join(sorted(d))},
    )


def platform_or_generic(key: str) -> tuple[Platform, str | None]:
    """The platform with this key, or the generic host with a note saying so (in English)."""
    platform, note = platform_or_generic_note(key)
    return platform, note.render() if note else None


def _host_matches(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


_TME_PATH = re.compile(r"^/(?:s/)?(c/\d+|[A-Za-z0-9_+\-]+)(?:/(\d+))?")


def _telegram_parts(scheme: str, host: str, path: str, query: str) -> tuple[str | None, str | None]:
    if scheme == "tg":
        q = parse_qs(query)
        chat = (q.get("domain") or q.get("channel") or [""])[0] or None
        post = (q.get("post") or [""])[0] or None
        return chat, post
    m = _TME_PATH.match(path)
    if not m:
        return None, None
    return m.group(1), m.group(2)


def resolve_url(url: str) -> Resolution:
    """The platform of a URL (https://..., t.me/..., telegram.me/..., tg://...); generic host if unknown."""
    raw = (url or "").strip()
    if not raw:
        raise ValidationError(
            "empty URL",
            "give the full link, e.g. {eg}",
            code="takedown.url_empty",
            eg="https://t.me/channel/123",
        )
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError as exc:
        raise ValidationError(
            "not a URL: {url!r} ({detail})",
            "give the full link, e.g. {eg}",
            code="takedown.url_invalid",
            url=url,
            detail=str(exc),
            eg="https://example.com/post/1",
        ) from exc
    if host.startswith("www."):
        host = host[4:]
    d = load_directory()
    for p in d.values():
        if scheme in p.schemes or any(_host_matches(host, dom) for dom in p.domains):
            chat = post = None
            if p.key == "telegram":
                chat, post = _telegram_parts(scheme, host, unquote(parts.path), parts.query)
            return Resolution(p, host, False, chat, post)
        if any(rx.search(raw) for rx in p.url_patterns):
            return Resolution(p, host, False)
    if scheme not in ("http", "https"):
        raise ValidationError(
            "unsupported link scheme {scheme!r} in {url!r}",
            "give an http(s) or tg:// link",
            code="takedown.url_scheme",
            scheme=scheme,
            url=url,
        )
    return Resolution(d[GENERIC], host, True)
