"""Abuse contacts of unknown hosts from RDAP, served by a local server in RDAP's JSON format (RFC 9083)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jikimi.errors import ValidationError
from jikimi.takedown.abuse import find_abuse_contacts

IP_ANSWER = {
    "objectClassName": "ip network",
    "handle": "NET-203-0-113-0-1",
    "entities": [
        {
            "objectClassName": "entity",
            "roles": ["registrant"],
            "vcardArray": [
                "vcard",
                [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Hosting Ltd"]],
            ],
            "entities": [
                {
                    "objectClassName": "entity",
                    "roles": ["abuse"],
                    "vcardArray": [
                        "vcard",
                        [["version", {}, "text", "4.0"], ["email", {}, "text", "abuse@hosting.example"]],
                    ],
                }
            ],
        },
        {
            "objectClassName": "entity",
            "roles": ["technical"],
            "vcardArray": ["vcard", [["email", {}, "text", "noc@hosting.example"]]],
        },
    ],
}
DOMAIN_ANSWER = {
    "objectClassName": "domain",
    "ldhName": "files-host.example",
    "entities": [
        {
            "roles": ["registrar"],
            "vcardArray": ["vcard", [["fn", {}, "text", "Registrar Inc"]]],
            "entities": [
                {
                    "roles": ["abuse"],
                    "vcardArray": ["vcard", [["email", {}, "text", "abuse@registrar.example"]]],
                }
            ],
        }
    ],
}


@pytest.fixture
def rdap() -> Iterator[str]:
    routes = {"/ip/203.0.113.5": IP_ANSWER, "/domain/files-host.example": DOMAIN_ANSWER}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(routes[self.path]).encode() if self.path in routes else b'{"errorCode": 404}'
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", "application/rdap+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ip_network_abuse_contact_first_then_registrar(rdap: str) -> None:
    contacts = find_abuse_contacts(
        "https://cdn.files-host.example/a.jpg",
        rdap_base=rdap,
        resolve=lambda host: ["203.0.113.5"],
        allow_hosts=frozenset({"127.0.0.1"}),
    )
    assert [(c.email, c.source, c.holder) for c in contacts] == [
        ("abuse@hosting.example", "ip", "Example Hosting Ltd"),
        ("abuse@registrar.example", "domain", "Registrar Inc"),
    ]


def test_no_answer_gives_no_contact(rdap: str) -> None:
    assert (
        find_abuse_contacts(
            "https://nothing.invalid/x",
            rdap_base=rdap,
            resolve=lambda h: [],
            allow_hosts=frozenset({"127.0.0.1"}),
        )
        == []
    )
    with pytest.raises(ValidationError):
        find_abuse_contacts("https:///nohost", rdap_base=rdap)
