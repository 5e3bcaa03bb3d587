"""``jikimi takedown``: add, draft, list, show, approve, send (local SMTP), mark, pdf, recheck; exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from jikimi.cli import app


class _Inbox:
    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content)
        return "250 OK"


def test_takedown_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "takedown@centre.example")
    run = CliRunner().invoke
    sha = "ab" * 32
    assert run(app, ["takedown", "add", "42", "https://t.me/room/7", "--sha256", sha]).exit_code == 0
    res = run(app, ["takedown", "add", "42", "https://files.example.net/a.jpg", "--first-seen", "2026-11-01"])
    assert res.exit_code == 0 and json.loads(res.stdout)["platform"] == "generic_host"
    assert run(app, ["takedown", "add", "42", "ftp://x/y"]).exit_code == 2
    res = run(app, ["takedown", "draft", "42", "--json"])
    assert res.exit_code == 0, res.output
    notices = {n["platform"]: n for n in map(json.loads, res.stdout.splitlines())}
    assert set(notices) == {"telegram", "generic_host"}
    assert "unknown platform" in res.stderr
    nid = notices["generic_host"]["id"]
    shown = json.loads(run(app, ["takedown", "show", str(nid), "--json"]).stdout)
    assert "https://files.example.net/a.jpg" in shown["body"] and shown["status"] == "drafted"
    assert run(app, ["takedown", "send", str(nid)]).exit_code == 2  # not approved
    assert run(app, ["takedown", "approve", str(nid)]).exit_code == 0
    # SMTP unreachable: error shown, exit 1, notice stays approved
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    monkeypatch.setenv("JIKIMI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("JIKIMI_SMTP_PORT", str(dead))
    monkeypatch.setenv("JIKIMI_SMTP_STARTTLS", "false")
    monkeypatch.setenv("JIKIMI_SMTP_FROM", "takedown@centre.example")
    res = run(app, ["takedown", "send", str(nid), "--to", "abuse@host.test"])
    assert res.exit_code == 1 and "cannot reach" in res.stderr
    listed = [json.loads(line) for line in run(app, ["takedown", "list", "--json"]).stdout.splitlines()]
    assert {n["id"]: n["status"] for n in listed}[nid] == "approved"
    # a working server
    inbox = _Inbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("JIKIMI_SMTP_PORT", str(port))
        res = run(app, ["takedown", "send", str(nid)])
        assert res.exit_code == 0, res.output
    finally:
        controller.stop()
    assert len(inbox.raw) == 1 and b"abuse@host.test" in inbox.raw[0]
    assert run(app, ["takedown", "mark", str(nid), "removed"]).exit_code == 0
    assert run(app, ["takedown", "mark", str(nid), "deleted"]).exit_code == 2
    item_id = shown["items"][0]["id"]
    hist = json.loads(run(app, ["takedown", "item", str(item_id), "--json"]).stdout)
    assert [h["to"] for h in hist["history"]] == ["found", "drafted", "approved", "sent", "removed"]
    assert all(h["actor"] and h["at"] for h in hist["history"])
    out = tmp_path / "n.pdf"
    res = run(app, ["takedown", "pdf", str(notices["telegram"]["id"]), "--out", str(out)])
    assert res.exit_code == 0 and out.read_bytes().startswith(b"%PDF")
    assert run(app, ["takedown", "show", "999"]).exit_code == 1
    res = run(app, ["takedown", "recheck", "--json"])
    assert res.exit_code == 0, res.output
    res = run(app, ["takedown", "draft", "42", "--platform", "telgram"])
    assert res.exit_code == 1 and "no items" in res.stderr  # nothing left to draft


def test_takedown_replies_command(tmp_path: Path) -> None:
    run = CliRunner().invoke
    (tmp_path / "digest.eml").write_bytes(b"From: news@example.org\nSubject: Weekly digest\n\nhello\n")
    res = run(app, ["takedown", "replies", str(tmp_path / "digest.eml"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["outcome"] == "unmatched"
    res = run(app, ["takedown", "replies", str(tmp_path / "digest.eml"), str(tmp_path / "missing.eml")])
    assert res.exit_code == 1 and "no such file or folder" in res.stdout
    assert run(app, ["takedown", "replies"]).exit_code == 2  # nothing to read
    res = run(app, ["takedown", "replies", "--imap"])
    assert res.exit_code == 2 and "JIKIMI_IMAP_URL is not set" in res.stderr  # configuration
