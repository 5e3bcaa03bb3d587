"""The safe URL fetcher against a real HTTP server on 127.0.0.1, and its address policy."""

from __future__ import annotations

import io
import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from certs import self_signed
from jikimi.sources import UrlSource, ip_problem, open_source, safe_check, safe_fetch, url_problem
from jikimi.sources.urls import _GuardedBackend, _Refused

LOOPBACK = frozenset({"127.0.0.1"})


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 255)).save(buf, format="PNG")
    return buf.getvalue()


PNG = _png()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: list[str] = []  # noqa: RUF012 - shared on purpose: the tests read it

    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str = "application/octet-stream", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        if self.path == "/nohead":
            self._send(405, b"")
        else:
            self.do_GET()

    def do_GET(self) -> None:
        Handler.hits.append(f"{self.command} {self.path}")
        path = self.path
        if path == "/img.png":
            self._send(200, PNG, "text/plain")  # the server lies about the type; the bytes decide
        elif path == "/nohead":
            self._send(200, PNG, "image/png")
        elif path == "/redirect":
            self._send(302, b"", Location="/img.png")
        elif path == "/redirect-abs":
            port = self.server.server_address[1]
            self._send(301, b"", Location=f"http://127.0.0.1:{port}/redirect")
        elif path == "/to-private":
            self._send(302, b"", Location="http://10.0.0.1/secret")
        elif path == "/to-metadata":
            self._send(302, b"", Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/to-file":
            self._send(302, b"", Location="file:///etc/passwd")
        elif path == "/loop":
            self._send(302, b"", Location="/loop")
        elif path == "/page":
            self._send(200, b"<html><body><img src='/img.png'></body></html>", "text/html")
        elif path == "/big":
            self._send(200, PNG + bytes(200_000), "image/png")
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(50):
                chunk = bytes(10_000)
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/slow":
            time.sleep(3)
            self._send(200, PNG, "image/png")
        elif path == "/gone":
            self._send(404, b"not here", "text/plain")
        else:
            self._send(410, b"", "text/plain")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the fetcher hangs up on oversized bodies on purpose


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_default_refuses_loopback(server: str) -> None:
    Handler.hits.clear()
    res = safe_fetch(f"{server}/img.png")
    assert res.error is not None and "loopback" in res.error and not res.ok
    assert res.content is None and Handler.hits == []  # refused before any connection


def test_fetch_with_test_allow_list(server: str) -> None:
    res = safe_fetch(f"{server}/img.png", allow_hosts=LOOPBACK)
    assert res.ok and res.status == 200 and res.content == PNG
    assert res.sniffed_type == "image/png" and res.content_type == "text/plain"
    assert res.peer_ip == "127.0.0.1" and res.final_url == f"{server}/img.png" and res.redirects == []


def test_redirects_followed_and_recorded(server: str) -> None:
    res = safe_fetch(f"{server}/redirect-abs", allow_hosts=LOOPBACK)
    assert res.ok and res.content == PNG
    assert res.redirects == [f"{server}/redirect-abs", f"{server}/redirect"]
    assert res.final_url == f"{server}/img.png"
    loop = safe_fetch(f"{server}/loop", allow_hosts=LOOPBACK, max_redirects=3)
    assert loop.error == "more than 3 redirects"


@pytest.mark.parametrize(
    ("path", "word"), [("/to-private", "private"), ("/to-metadata", "metadata"), ("/to-file", "only http")]
)
def test_redirect_to_refused_target(server: str, path: str, word: str) -> None:
    res = safe_fetch(f"{server}{path}", allow_hosts=LOOPBACK)
    assert res.error is not None and res.error.startswith("refused") and word in res.error
    assert res.content is None and res.redirects == [f"{server}{path}"]


def test_size_and_time_limits(server: str) -> None:
    big = safe_fetch(f"{server}/big", allow_hosts=LOOPBACK, max_bytes=50_000)
    assert big.error is not None and "limit" in big.error and big.content is None
    chunked = safe_fetch(f"{server}/big-chunked", allow_hosts=LOOPBACK, max_bytes=100_000)
    assert chunked.error is not None and "limit" in chunked.error
    slow = safe_fetch(f"{server}/slow", allow_hosts=LOOPBACK, timeout=0.5)
    assert slow.error is not None and "timed out" in slow.error and slow.elapsed < 2.5


def test_check_mode_does_not_download(server: str) -> None:
    Handler.hits.clear()
    res = safe_check(f"{server}/img.png", allow_hosts=LOOPBACK)
    assert res.status == 200 and res.content is None and res.content_length == len(PNG)
    assert Handler.hits == ["HEAD /img.png"]
    gone = safe_check(f"{server}/gone", allow_hosts=LOOPBACK)
    assert gone.error is None and gone.status == 404 and not gone.ok and gone.gone
    assert not res.gone and not safe_check(f"{server}/gone").gone  # refused is not "gone"
    fallback = safe_check(f"{server}/nohead", allow_hosts=LOOPBACK)
    assert fallback.status == 200 and fallback.content is None


def test_dns_answers_are_checked() -> None:
    backend = _GuardedBackend(frozenset())
    with pytest.raises(_Refused, match="resolves to a refused address"):
        backend.connect_tcp("localhost", 9)


REFUSED = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://127.1/",
    "http://017700000001/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://[ff02::1]/",
    "http://[::]/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://100.100.100.200/",
    "http://169.254.169.254/latest/meta-data/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",
    "http://localhost:8080/",
    "http://printer.local/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "ftp://example.com/a.jpg",
    "file:///etc/passwd",
    "gopher://example.com/",
    "http://user:pass@example.com/",
    "http:///nohost",
    "http://example.com:99999/",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", REFUSED)
def test_url_policy_refuses(url: str) -> None:
    assert url_problem(url) is not None
    res = safe_fetch(url, timeout=2)
    assert res.error is not None and not res.ok


@pytest.mark.parametrize(
    "url", ["https://example.com/a.jpg", "http://8.8.8.8/x", "https://[2606:4700::1111]/"]
)
def test_url_policy_accepts_public(url: str) -> None:
    assert url_problem(url) is None


def test_ip_problem_reasons() -> None:
    assert "metadata" in (ip_problem(ipaddress.ip_address("169.254.169.254")) or "")
    assert "loopback" in (ip_problem(ipaddress.ip_address("::ffff:127.0.0.1")) or "")
    assert ip_problem(ipaddress.ip_address("1.1.1.1")) is None


def test_url_source_and_links_file(server: str, tmp_path: Path) -> None:
    links = tmp_path / "links.txt"
    links.write_text(
        f"# reported links\n{server}/redirect\n\n{server}/page\n{server}/gone\nhttp://10.0.0.1/x\n{server}/redirect\n",
        encoding="utf-8",
    )
    src = open_source(f"@{links}", allow_hosts=LOOPBACK)
    assert isinstance(src, UrlSource)
    items = list(src)
    assert [i.status for i in items] == ["media", "failed", "failed", "failed", "media"]
    first = items[0]
    assert first.read() == PNG and first.sighting.link == f"{server}/img.png"
    assert first.sighting.extra["fetch"]["redirects"] == [f"{server}/redirect"]
    assert "not an image or video" in (items[1].reason or "") and "text/html" in (items[1].reason or "")
    assert items[2].reason == "HTTP 404"
    assert "private" in (items[3].reason or "")
    assert items[0].key != items[4].key
    assert [i.key for i in items] == [i.key for i in open_source(links, urls_file=True, allow_hosts=LOOPBACK)]
    single = list(open_source(f"{server}/img.png"))
    assert single[0].status == "failed" and "loopback" in (single[0].reason or "")


def test_tls_keeps_host_and_sni_while_connecting_to_the_checked_ip(tmp_path: Path) -> None:
    import ssl

    cert_path, key_path = self_signed(tmp_path, "localhost")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    seen_sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: seen_sni.append(name)  # type: ignore[assignment]
    seen_host: list[str | None] = []

    class TLSHandler(Handler):
        def do_GET(self) -> None:
            seen_host.append(self.headers.get("Host"))
            self._send(200, PNG, "image/png")

    httpd = QuietServer(("127.0.0.1", 0), TLSHandler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert_path))  # verifies the name "localhost"
        url = f"https://localhost:{port}/img.png"
        res = safe_fetch(url, allow_hosts={"localhost"}, verify=client_ctx)
        assert res.ok and res.content == PNG, res.error
        assert res.peer_ip == "127.0.0.1"
        assert seen_sni == ["localhost"] and seen_host == [f"localhost:{port}"]
        # Without the test allow-list the same URL is refused by name before any connection.
        assert "local" in (safe_fetch(url, verify=client_ctx).error or "")
        # The certificate is still checked: the system CAs do not trust this self-signed one.
        assert "network error" in (safe_fetch(url, allow_hosts={"localhost"}).error or "")
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    "url",
    ["http://example.com/\x00", "http://[1.2.3]/", "http://1.1.1.1:0/", "https://", "http://example.com:0/"],
)
def test_malformed_urls_are_an_error_not_an_exception(url: str) -> None:
    # Each fails before any network access (tests contact loopback only).
    res = safe_fetch(url, timeout=2)
    assert res.error is not None and not res.ok


@settings(max_examples=300, deadline=None)
@given(rest=st.text(max_size=60), scheme=st.sampled_from(["http://", "https://", "", "HTTP://", "ftp://"]))
def test_url_policy_never_raises(scheme: str, rest: str) -> None:
    problem = url_problem(scheme + rest)
    assert problem is None or isinstance(problem, str)
