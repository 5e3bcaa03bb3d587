"""The abuse contact of an unknown host, from RDAP (the registries' public WHOIS successor).

For a URL that matches no platform, the request goes to whoever hosts it: the ``abuse`` entity of the IP
network (from the regional internet registry) and, as a second choice, the domain registrar's abuse contact.
Lookups go through ``safe_fetch`` (``rdap.org`` redirects to the authoritative server). The answer is a
suggestion: the officer checks it before sending (``--to``).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jikimi.errors import ValidationError

RDAP_BASE = "https://rdap.org"


@dataclass(frozen=True)
class AbuseContact:
    email: str
    source: str  # "ip" | "domain"
    holder: str | None
    rdap_url: str


Resolve = Callable[[str], list[str]]


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(i[4][0]) for i in infos))


def _fetch_json(url: str, allow_hosts: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    from jikimi.sources.urls import safe_fetch

    r = safe_fetch(url, max_bytes=2_000_000, timeout=20, allow_hosts=allow_hosts or None)
    if not r.ok or not r.content:
        return None
    try:
        data = json.loads(r.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _vcard(entity: dict[str, Any]) -> tuple[str | None, list[str]]:
    name, emails = None, []
    card = entity.get("vcardArray")
    if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
        for prop in card[1]:
            if not isinstance(prop, list) or len(prop) < 4:
                continue
            if prop[0] == "fn" and isinstance(prop[3], str):
                name = prop[3]
            elif prop[0] == "email" and isinstance(prop[3], str) and "@" in prop[3]:
                emails.append(prop[3].strip())
    return name, emails


def _entities(
    obj: dict[str, Any], parent_holder: str | None = None
) -> Iterator[tuple[list[str], str | None, list[str]]]:
    for ent in obj.get("entities") or []:
        if not isinstance(ent, dict):
            continue
        name, emails = _vcard(ent)
        roles = [str(r).lower() for r in ent.get("roles") or []]
        yield roles, name or parent_holder, emails
        yield from _entities(ent, name or parent_holder)


def _abuse_emails(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for roles, holder, emails in _entities(data):
        if "abuse" in roles:
            out.extend((e, holder) for e in emails)
    return list(dict.fromkeys(out))


def _registrable(host: str) -> str:
    parts = host.split(".")
    # a rough registrable domain: the last two labels, three for two-letter country second levels (co.kr)
    second_levels = ("co", "or", "go", "ac", "ne", "com", "net", "org")
    if len(parts) >= 3 and len(parts[-1]) == 2 and parts[-2] in second_levels:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def find_abuse_contacts(
    url: str,
    *,
    rdap_base: str = RDAP_BASE,
    resolve: Resolve | None = None,
    allow_hosts: frozenset[str] = frozenset(),
) -> list[AbuseContact]:
    """Abuse e-mail addresses for the host of ``url``: the IP network's first, then the registrar's.

    ``resolve`` (host → addresses) and ``allow_hosts`` (passed to ``safe_fetch``) exist for tests.
    """
    host = (urlsplit(url if "://" in url else "https://" + url).hostname or "").lower()
    if not host:
        raise ValidationError(
            "no host in {url!r}",
            "give the full link, e.g. https://example.com/post/1",
            code="takedown.url_no_host",
            url=url,
        )
    resolve = resolve or _resolve
    out: list[AbuseContact] = []
    try:
        ips = [str(ipaddress.ip_address(host.strip("[]")))]
        is_name = False
    except ValueError:
        ips = resolve(host)
        is_name = True

    def fetch_json(u: str) -> dict[str, Any] | None:
        return _fetch_json(u, allow_hosts)

    base = rdap_base.rstrip("/")
    for ip in ips[:2]:
        rdap_url = f"{base}/ip/{ip}"
        data = fetch_json(rdap_url)
        if data:
            out.extend(AbuseContact(e, "ip", h, rdap_url) for e, h in _abuse_emails(data))
        if out:
            break
    if is_name and "." in host:
        rdap_url = f"{base}/domain/{_registrable(host)}"
        data = fetch_json(rdap_url)
        if data:
            out.extend(AbuseContact(e, "domain", h, rdap_url) for e, h in _abuse_emails(data))
    seen: set[str] = set()
    unique = []
    for c in out:
        if c.email.lower() not in seen:
            seen.add(c.email.lower())
            unique.append(c)
    return unique
