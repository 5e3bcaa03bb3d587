"""Safe URL fetching (http/https only, public addresses only, checked again after every redirect and DNS
answer, bounded size, time and redirects) and the URL-list source built on it.

The connection goes to the very address that was checked (a guarded network backend under httpx), so DNS
rebinding cannot swap it, while the Host header, SNI and certificate check keep the URL's host name.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from jikimi.errors import Message, Text
from jikimi.sources.base import (
    DEFAULT_LIMITS,
    Item,
    Sighting,
    Source,
    SourceError,
    SourceLimits,
    describe_bytes,
    failed_item,
    is_visual_mime,
    make_key,
    sniff_mime,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

USER_AGENT = "Jikimi/0.1 (+evidence capture; abuse-imagery takedown)"
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

_METADATA_IPS = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
_BLOCKED_NAMES = ("localhost", "metadata", "metadata.google.internal", "instance-data")
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def ip_problem(ip: IPAddress) -> str | None:
    """:func:`ip_message` in English."""
    problem = ip_message(ip)
    return problem.render() if problem else None


def ip_message(ip: IPAddress) -> Message | None:
    """Why connecting to ``ip`` is refused (loopback, private, link-local, multicast, reserved, metadata...),
    or None for a public address. IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are
    judged by the embedded address too."""
    if ip in _METADATA_IPS:
        return Message("{ip} is a cloud metadata address", {"ip": str(ip)})
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for v4 in embedded:
            inner = ip_message(v4)
            if inner:
                return Message(
                    "{ip} embeds a refused IPv4 address ({inner})", {"ip": str(ip), "inner": inner}
                )
    checks = (
        (ip.is_unspecified, Text("unspecified")),
        (ip.is_loopback, Text("loopback")),
        (ip.is_link_local, Text("link-local")),
        (ip.is_multicast, Text("multicast")),
        (ip.is_private, Text("private")),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, Text("shared (carrier-grade NAT)")),
        (ip.is_reserved, Text("reserved")),
    )
    for hit, label in checks:
        if hit:
            return Message("{ip} is a {label} address", {"ip": str(ip), "label": label})
    if not ip.is_global:
        return Message("{ip} is not a public address", {"ip": str(ip)})
    return None


def _is_allowed(host: str, allow_hosts: frozenset[str]) -> bool:
    return host.lower().strip("[]") in allow_hosts


def url_problem(url: str, allow_hosts: Iterable[str] | None = None) -> str | None:
    """:func:`url_message` in English."""
    problem = url_message(url, allow_hosts)
    return problem.render() if problem else None


def url_message(url: str, allow_hosts: Iterable[str] | None = None) -> Message | None:
    """Why ``url`` is refused before any network access, or None. Addresses written in decimal, octal or hex
    (``http://2130706433/``, ``http://0177.0.0.1/``) are refused outright."""
    allow = frozenset(h.lower() for h in (allow_hosts or ()))
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        return Message("malformed URL: {detail}", {"detail": str(exc)})
    if parts.scheme.lower() not in ("http", "https"):
        if not parts.scheme:
            return Message("only http and https URLs are fetched, not 'a bare path'")
        return Message("only http and https URLs are fetched, not {scheme!r}", {"scheme": parts.scheme})
    if not host:
        return Message("URL has no host")
    if port == 0:
        return Message("port 0 is not a valid port")
    if parts.username is not None or parts.password is not None:
        return Message("URLs with credentials are refused")
    if _is_allowed(host, allow):
        return None
    host = host.rstrip(".")
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        ip = None
    if ip is not None:
        return ip_message(ip)
    if all(c in "0123456789abcdefxABCDEFX." for c in host) and any(c.isdigit() for c in host):
        try:
            packed = socket.inet_aton(host)
        except OSError:
            packed = None
        if packed is not None:
            return Message(
                "address written in a non-standard numeric form refused: {host} ({ip})",
                {"host": host, "ip": socket.inet_ntoa(packed)},
            )
    lowered = host.lower()
    if lowered in _BLOCKED_NAMES or lowered.endswith(_BLOCKED_SUFFIXES):
        return Message("host {host!r} names a local or internal service", {"host": host})
    return None


class _Refused(SourceError):
    """A connection refused by the address checks, with why (caught inside :func:`safe_fetch`)."""


class _GuardedBackend(httpcore.SyncBackend):
    """Resolve the host itself, refuse if any answer is not public, then connect to the checked address."""

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self.allow_hosts = allow_hosts
        self.peers: list[str] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Refused(
                "cannot resolve {host}: {detail}", code="sources.url_refused", host=host, detail=str(exc)
            ) from exc
        addresses: list[str] = []
        for info in infos:
            addr = str(info[4][0]).split("%", 1)[0]
            if addr not in addresses:
                addresses.append(addr)
        host_allowed = _is_allowed(host, self.allow_hosts)
        for addr in addresses:
            if host_allowed or _is_allowed(addr, self.allow_hosts):
                continue
            problem = ip_message(ipaddress.ip_address(addr))
            if problem:
                raise _Refused(
                    "{host} resolves to a refused address: {problem}",
                    code="sources.url_refused",
                    host=host,
                    problem=problem,
                )
        last: Exception | None = None
        for addr in addresses:
            try:
                stream = super().connect_tcp(addr, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            self.peers.append(addr)
            return stream
        if last is not None:
            raise last
        raise _Refused("{host} has no address", code="sources.url_refused", host=host)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _GuardedBackend, ssl_context: ssl.SSLContext) -> None:
        # HTTPTransport.__init__ is skipped on purpose: it would build (and throw away) its own pool and SSL
        # context; handle_request and close only use ``_pool``.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=backend, max_connections=4, retries=0
        )


@dataclass
class FetchResult:
    """What a fetch found. ``error`` is None when the exchange completed (whatever the HTTP status);
    ``ok`` means completed with a 2xx status. ``content`` is None in check mode (``head=True``)."""

    url: str
    final_url: str | None = None
    status: int | None = None
    redirects: list[str] = field(default_factory=list)
    """The URLs that answered with a redirect, in order (the final URL is not in it)."""
    content: bytes | None = None
    content_type: str | None = None
    """As the server declared it."""
    sniffed_type: str | None = None
    """As told by the bytes (images, videos, archives); None when unknown or not read."""
    content_length: int | None = None
    peer_ip: str | None = None
    error: str | None = None
    """Why the fetch did not complete, in English; ``error_message`` keeps it as a catalogued message."""
    elapsed: float = 0.0
    error_message: Message | None = None

    def fail(self, message: Message) -> None:
        """Record why the fetch did not complete."""
        self.error_message = message
        self.error = message.render()

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """The server answered that the content is not there (404 Not Found, 410 Gone, 451 legal block):
        what a takedown re-check looks for. A refused or failed fetch is not "gone"."""
        return self.error is None and self.status in (404, 410, 451)

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("content", "error_message")
        }
        out["size"] = None if self.content is None else len(self.content)
        return out


def safe_fetch(
    url: str,
    *,
    max_bytes: int = DEFAULT_LIMITS.url_max_bytes,
    timeout: float = DEFAULT_LIMITS.url_timeout,
    allow_hosts: Iterable[str] | None = None,
    max_redirects: int = DEFAULT_LIMITS.url_max_redirects,
    head: bool = False,
    verify: bool | ssl.SSLContext = True,
) -> FetchResult:
    """Fetch ``url`` safely; never raises for network trouble, a refused address or a limit: see ``error``.

    Only http/https; every hop's host is checked by name and by every address DNS gives, and the socket
    goes to the checked address. ``timeout`` bounds the whole fetch (all hops and the body), ``max_bytes``
    the body, ``max_redirects`` the hops. ``head=True`` checks without downloading the body (HEAD, falling
    back to a GET whose body is not read when the server refuses HEAD): to re-check whether a URL is gone.
    ``allow_hosts`` lists host names or addresses exempt from the address checks; it exists for tests on
    127.0.0.1 and must stay empty in production. ``verify`` may be an SSL context (tests with their own CA).
    """
    allow = frozenset(h.lower() for h in (allow_hosts or ()))
    result = FetchResult(url=url)
    start = time.monotonic()
    deadline = start + timeout
    backend = _GuardedBackend(allow)
    problem = url_message(url, allow)
    if problem:
        result.fail(Message("refused: {problem}", {"problem": problem}))
        return result
    ctx = verify if isinstance(verify, ssl.SSLContext) else _ssl_context(verify)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "image/*,video/*,*/*;q=0.5"}
    current = url.strip()
    try:
        with httpx.Client(
            transport=_GuardedTransport(backend, ctx),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout),
            headers=headers,
        ) as client:
            for _hop in range(max_redirects + 1):
                if time.monotonic() > deadline:
                    result.fail(Message("timed out after {seconds} s", {"seconds": f"{timeout:g}"}))
                    return result
                problem = url_message(current, allow)
                if problem:
                    result.fail(Message("refused: {problem}", {"problem": problem}))
                    return result
                method = "HEAD" if head else "GET"
                with client.stream(method, current) as resp:
                    if head and resp.status_code in (405, 501):
                        resp.close()
                        with client.stream("GET", current) as get_resp:
                            nxt = _finish(
                                result, get_resp, current, read_body=False, **_lim(max_bytes, deadline)
                            )
                    else:
                        nxt = _finish(result, resp, current, read_body=not head, **_lim(max_bytes, deadline))
                if nxt is None:
                    return result
                result.redirects.append(current)
                current = nxt
            result.fail(Message("more than {n} redirects", {"n": max_redirects}))
            return result
    except _Refused as exc:
        result.fail(Message("refused: {problem}", {"problem": exc}))
    except httpx.TimeoutException:
        result.fail(Message("timed out after {seconds} s", {"seconds": f"{timeout:g}"}))
    except httpx.InvalidURL as exc:
        result.fail(Message("malformed URL: {detail}", {"detail": str(exc)}))
    except (httpx.HTTPError, httpcore.ProtocolError, ssl.SSLError, OSError, ValueError) as exc:
        result.fail(
            Message("network error: {kind}: {detail}", {"kind": type(exc).__name__, "detail": str(exc)})
        )
    finally:
        result.elapsed = time.monotonic() - start
        result.peer_ip = backend.peers[-1] if backend.peers else None
    return result


@functools.lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One verifying context (certifi's CA bundle) shared by every fetch: building one costs ~0.1 s."""
    return httpx.create_ssl_context(verify=verify)


def safe_check(url: str, **kwargs: Any) -> FetchResult:
    """``safe_fetch(url, head=True, ...)``: status, final URL and redirects without the body."""
    return safe_fetch(url, head=True, **kwargs)


def _lim(max_bytes: int, deadline: float) -> dict[str, Any]:
    return {"max_bytes": max_bytes, "deadline": deadline}


def _finish(
    result: FetchResult,
    resp: httpx.Response,
    current: str,
    *,
    read_body: bool,
    max_bytes: int,
    deadline: float,
) -> str | None:
    """Record the response; return the next URL for a redirect, else None."""
    result.status = resp.status_code
    result.final_url = current
    location = resp.headers.get("location")
    if resp.status_code in _REDIRECT_CODES and location:
        return urljoin(current, location.strip())
    result.content_type = resp.headers.get("content-type")
    length = resp.headers.get("content-length")
    if length and length.isdigit():
        result.content_length = int(length)
    if not read_body:
        return None
    if result.content_length is not None and result.content_length > max_bytes:
        result.fail(
            Message(
                "response is {size} bytes, over the {limit}-byte limit",
                {"size": result.content_length, "limit": max_bytes},
            )
        )
        return None
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_bytes(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            result.fail(Message("response is over the {limit}-byte limit", {"limit": max_bytes}))
            return None
        if time.monotonic() > deadline:
            result.fail(Message("timed out while downloading the body"))
            return None
        chunks.append(chunk)
    result.content = b"".join(chunks)
    result.sniffed_type = sniff_mime(result.content[:512])
    return None


#: What :func:`describe_bytes` says, catalogued (shown in the reason of a link that is not an image).
_BYTES_KINDS = {
    "empty": Text("empty"),
    "looks like HTML/XML text": Text("looks like HTML/XML text"),
    "looks like a PDF document": Text("looks like a PDF document"),
    "looks like a ZIP archive": Text("looks like a ZIP archive"),
    "looks like text": Text("looks like text"),
    "unrecognised binary data": Text("unrecognised binary data"),
}


def _bytes_kind(head: bytes) -> str:
    described = describe_bytes(head)
    return _BYTES_KINDS.get(described, described)


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def read_url_list(path: Path, limits: SourceLimits | None = None) -> list[str]:
    """The links in a text file: one per line; blank lines and lines starting with ``#`` are ignored."""
    limits = limits or DEFAULT_LIMITS
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise SourceError(
            "cannot read the list of links {path}: {detail}",
            code="sources.unreadable",
            hint="check the path",
            path=str(path),
            detail=str(exc.strerror or exc),
        ) from exc
    urls = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(urls) > limits.max_urls:
        raise SourceError(
            "{path} lists {n} links, over the limit of {limit}",
            code="sources.too_many_entries",
            hint="split the list",
            path=str(path),
            n=len(urls),
            limit=limits.max_urls,
        )
    return urls


class UrlSource(Source):
    """Fetch each URL (safely, one after another) and yield it as a media item, or a failed item with the
    reason: refused address, network error, HTTP status, size or time limit, or bytes that are not an image or
    video (a web page is not crawled for the images on it)."""

    kind = "url"

    def __init__(
        self,
        urls: Sequence[str],
        limits: SourceLimits | None = None,
        *,
        container: str | None = None,
        allow_hosts: Iterable[str] | None = None,
    ) -> None:
        super().__init__(container or "urls", limits)
        self.urls = list(urls)
        self.container = container
        self.allow_hosts = frozenset(allow_hosts or ())

    def _items(self) -> Iterator[Item]:
        seen: dict[str, int] = {}
        for url in self.urls:
            occurrence = seen.get(url, 0)
            seen[url] = occurrence + 1
            key = make_key("url", url, occurrence)
            res = safe_fetch(
                url,
                max_bytes=self.limits.url_max_bytes,
                timeout=self.limits.url_timeout,
                max_redirects=self.limits.url_max_redirects,
                allow_hosts=self.allow_hosts,
            )
            name = urlsplit(res.final_url or url).path.rsplit("/", 1)[-1] or url
            sighting = Sighting(
                source_kind="url",
                location=url,
                container=self.container,
                link=res.final_url or url,
                mime_type=res.sniffed_type,
                declared_size=res.content_length,
                extra={"fetch": res.to_dict()},
            )
            if not res.ok or res.content is None:
                reason = res.error_message or Message("HTTP {status}", {"status": res.status})
                yield failed_item(key, name, sighting, reason)
                continue
            if not is_visual_mime(res.sniffed_type):
                why = Message(
                    "not an image or video (bytes: {kind}, server: {server})",
                    {
                        "kind": res.sniffed_type or _bytes_kind(res.content[:512]),
                        "server": str(res.content_type),
                    },
                )
                yield failed_item(key, name, sighting, why)
                continue
            content = res.content
            yield Item(key=key, name=name, sighting=sighting, size=len(content), opener=_constant(content))
