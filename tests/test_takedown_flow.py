"""The takedown flow on both databases: draft → approve → send over SMTP (STARTTLS + login, a local aiosmtpd
server) → acknowledged → removed; audit entries; unreachable SMTP; the state machine; web-form notices."""

from __future__ import annotations

import datetime as dt
import email
import socket
import ssl
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from certs import self_signed
from jikimi.errors import ConfigError, NotFoundError, ValidationError
from jikimi.store import audit, open_store
from jikimi.store.db import Store
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.schema.takedown import TakedownItem
from jikimi.takedown import service, tracking
from jikimi.takedown.settings import SmtpSettings, load_smtp

SHA = "ab" * 32


@pytest.fixture
def org_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "takedown@centre.example")


@pytest.fixture
def store(db_url: str, org_env: None) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.dispose()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[_Inbox, SmtpSettings]]:
    cert, key = self_signed(tmp_path, "127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"centre", b"s3cret")
        return AuthResult(success=ok, handled=False)

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
    )
    controller.start()
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        user="centre",
        password="s3cret",
        starttls=True,
        sender="takedown@centre.example",
        cafile=str(cert),
        timeout=10,
    )
    try:
        yield inbox, settings
    finally:
        controller.stop()


def _add(s: Any, case: str, url: str, **kw: Any) -> TakedownItem:
    ref = service.FindingRef(case_id=case, url=url, sha256=SHA, md5="cd" * 16, **kw)
    return service.add_item(s, ref, actor="test")[0]


def _audit(s: Any, action: str) -> list[AuditEntry]:
    return list(s.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


def test_draft_approve_send_over_starttls_and_track(store: Store, smtp_server: Any) -> None:
    inbox, smtp = smtp_server
    with store.session() as s:
        for i in range(5):
            _add(s, "c1", f"https://t.me/room/{i}", first_seen=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
        _add(s, "c1", "https://x.com/u/status/9")
        res = service.draft_case(s, "c1", actor="officer")
        by_platform = {n.platform: n for n in res.notices}
        assert set(by_platform) == {"telegram", "x"}
        tg = by_platform["telegram"]
        assert len(tg.items) == 5  # one bulk notice for the platform
        assert tg.recipient == "abuse@telegram.org" and tg.status == "drafted"
        assert all(it.state == "drafted" for it in tg.items)
        tg_id = tg.id
        # not sent before a person approves it
        with pytest.raises(ValidationError, match="approve"):
            service.send(s, tg_id, actor="officer", smtp=smtp)
    with store.session() as s:
        service.approve(s, tg_id, actor="officer")
        # the test inbox stands in for Telegram's address
        service.set_recipient(s, tg_id, "abuse@platform.test", actor="officer")
        r = service.send(s, tg_id, actor="officer", smtp=smtp)
        assert r.ok and r.message_id
    assert len(inbox.messages) == 1
    sender, rcpts, raw = inbox.messages[0]
    assert sender == "takedown@centre.example" and rcpts == ["abuse@platform.test"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Message-ID"] == r.message_id
    assert "JKM-c1-" in str(msg["Subject"]) and "https://t.me/room/4" in msg.get_content()  # type: ignore[attr-defined]
    with store.session() as s:
        n = service.get_notice(s, tg_id)
        assert n.status == "sent" and n.message_id == r.message_id
        assert all(it.state == "sent" and it.next_check_at is not None for it in n.items)
        sent = _audit(s, "takedown.send")
        assert len(sent) == 1
        assert sent[0].details["message_id"] == r.message_id
        assert sent[0].details["content_sha256"] == n.content_sha256
        assert audit.verify(s).ok
        service.mark(s, tg_id, "acknowledged", actor="officer")
        first = n.items[0].id
        service.mark(s, tg_id, "removed", actor="officer", item_id=first)
        service.mark(s, tg_id, "refused", actor="officer", item_id=n.items[1].id)
    with store.session() as s:
        item = service.get_item(s, first)
        assert item.state == "removed" and item.removed_at is not None
        states = ["found", "drafted", "approved", "sent", "acknowledged", "removed"]
        assert [e.to_state for e in item.events] == states
        assert all(e.actor for e in item.events) and all(e.at for e in item.events)
        # a refused item can be escalated to the KCSC (which takes items hosted anywhere)
        res = service.draft_case(s, "c1", platform="kcsc", actor="officer")
        assert len(res.notices) == 1 and res.notices[0].lang == "ko"
        assert [it.id for it in res.notices[0].items] == [n.items[1].id]
        assert res.notices[0].items[0].state == "drafted"


def test_unreachable_smtp_keeps_the_notice_approved_and_retries(store: Store, smtp_server: Any) -> None:
    inbox, good = smtp_server
    dead = SmtpSettings(
        host="127.0.0.1", port=_free_port(), sender="a@centre.example", starttls=False, timeout=3
    )
    with store.session() as s:
        _add(s, "c2", "https://files.example.net/a.jpg")
        res = service.draft_case(s, "c2", recipient="abuse@host.test", actor="officer")
        nid = res.notices[0].id
        assert any("unknown platform" in note for note in res.notes)
        service.approve(s, nid, actor="officer")
    with store.session() as s:
        r = service.send(s, nid, actor="officer", smtp=dead)
        assert not r.ok and "cannot reach" in (r.error or "") and "retries" in (r.hint or "")
    with store.session() as s:
        n = service.get_notice(s, nid)
        assert n.status == "approved" and n.send_attempts == 1 and n.last_error
        assert n.next_attempt_at is not None and n.items[0].state == "approved"
        assert service.send_due(s, actor="officer", smtp=good) == []  # not due yet (back-off)
        later = n.next_attempt_at + dt.timedelta(seconds=1)
        results = service.send_due(s, actor="officer", smtp=good, now=later)
        assert [x.ok for x in results] == [True]
    assert len(inbox.messages) == 1

    # a server without STARTTLS: nothing is sent in clear text; a refused login: still approved
    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    port = _free_port()
    plain = Controller(_Inbox(), hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False)
    plain.start()
    try:
        with store.session() as s:
            _add(s, "c3", "https://files.example.net/b.jpg")
            nid3 = service.draft_case(s, "c3", recipient="abuse@host.test", actor="o").notices[0].id
            service.approve(s, nid3, actor="o")
            no_tls = SmtpSettings(
                host="127.0.0.1", port=port, sender="a@centre.example", starttls=True, timeout=5
            )
            r = service.send(s, nid3, actor="o", smtp=no_tls)
            assert not r.ok and "STARTTLS" in (r.error or "")
            bad_login = SmtpSettings(
                host="127.0.0.1",
                port=port,
                sender="a@c.example",
                starttls=False,
                user="u",
                password="x",
                timeout=5,
            )
            r = service.send(s, nid3, actor="o", smtp=bad_login)
            assert not r.ok and "login" in (r.error or "")
            n3 = service.get_notice(s, nid3)
            assert n3.status == "approved" and n3.send_attempts == 2
            assert len(_audit(s, "takedown.send_failed")) == 3
    finally:
        plain.stop()


def test_state_machine_rejects_invalid_moves(store: Store) -> None:
    with store.session() as s:
        item = _add(s, "c4", "https://t.me/room/1")
        with pytest.raises(ValidationError, match="cannot become sent"):
            tracking.move(s, item, "sent", actor="t")
        with pytest.raises(ValidationError, match="unknown takedown state"):
            tracking.move(s, item, "deleted", actor="t")
        tracking.move(s, item, "drafted", actor="t")
        with pytest.raises(ValidationError):
            tracking.move(s, item, "reappeared", actor="t")
    for state, nexts in tracking.TRANSITIONS.items():
        assert state in tracking.STATES and nexts <= set(tracking.STATES)


def test_web_form_notice_is_submitted_by_a_person(store: Store) -> None:
    with store.session() as s:
        _add(s, "c5", "https://www.tiktok.com/@u/video/1")
        n = service.draft_case(s, "c5", lang="ko", actor="o").notices[0]
        assert n.channel == "web_form" and n.form_url and n.lang == "ko"
        service.approve(s, n.id, actor="o")
        with pytest.raises(ValidationError, match="web form") as err:
            service.send(s, n.id, actor="o")
        assert "--submitted" in (err.value.cli_hint or "")  # the option is for the command line
        pdf = service.notice_pdf_bytes(s, n.id)
        assert pdf.startswith(b"%PDF")
        r = service.send(s, n.id, actor="o", submitted_ref="TT-12345")
        assert r.ok and r.message_id == "form:TT-12345"
        assert service.get_notice(s, n.id).items[0].state == "sent"


def test_edited_notice_is_refused_and_withdraw_returns_items(store: Store) -> None:
    with store.session() as s:
        _add(s, "c6", "https://x.com/u/status/1")
        n = service.draft_case(s, "c6", actor="o").notices[0]
        n.body += "\nsomething added behind the officer's back"
        with pytest.raises(ValidationError, match="changed"):
            service.approve(s, n.id, actor="o")
        service.withdraw(s, n.id, actor="o")
        assert n.status == "withdrawn" and n.items[0].state == "found"
        again = service.draft_case(s, "c6", actor="o").notices
        assert len(again) == 1 and again[0].id != n.id
    with store.session() as s, pytest.raises(NotFoundError):
        service.draft_case(s, "c6", actor="o")  # nothing left to draft


def test_confirmed_finding_drafts_at_once(store: Store) -> None:
    from jikimi.store.schema.scans import Case, Finding, MediaRecord, SightingRecord
    from jikimi.takedown.confirm import draft_for_finding

    with store.session() as s:
        case = Case(queue_key="person:7", person_id=7, title="case 7")
        media = MediaRecord(sha256=SHA, md5=SHA[:32], size=100, kind="image")
        s.add_all([case, media])
        s.flush()
        url = "https://t.me/room/77"
        s.add(SightingRecord(media_id=media.id, item_key="k77", source_kind="url", location=url, link=url))
        finding = Finding(media_id=media.id, case_id=case.id, status="confirmed")
        s.add(finding)
        s.flush()
        res = draft_for_finding(s, finding.id, actor="officer")
        assert len(res.notices) == 1 and res.notices[0].status == "drafted"
        again = draft_for_finding(s, finding.id, actor="officer")
        assert again.notices == [] and "already have notices" in again.notes[0]


def test_smtp_settings_from_environment(monkeypatch: pytest.MonkeyPatch, jikimi_home: Path) -> None:
    with pytest.raises(ConfigError, match="SMTP"):
        load_smtp()
    jikimi_home.mkdir(parents=True, exist_ok=True)
    (jikimi_home / "takedown.yaml").write_text(
        "smtp:\n  host: mail.centre.example\n  port: 2525\n  from: t@centre.example\n", encoding="utf-8"
    )
    s = load_smtp()
    assert (s.host, s.port, s.starttls, s.sender) == ("mail.centre.example", 2525, True, "t@centre.example")
    monkeypatch.setenv("JIKIMI_SMTP_HOST", "smtp.other.example")
    monkeypatch.setenv("JIKIMI_SMTP_STARTTLS", "false")
    monkeypatch.setenv("JIKIMI_SMTP_USER", "u")
    monkeypatch.setenv("JIKIMI_SMTP_PASSWORD", "p")
    s = load_smtp()
    assert (s.host, s.starttls, s.user, s.password) == ("smtp.other.example", False, "u", "p")
    monkeypatch.setenv("JIKIMI_SMTP_STARTTLS", "maybe")
    with pytest.raises(ConfigError, match="true or false"):
        load_smtp()


def _send_notices(
    store: Store, smtp_server: tuple[_Inbox, SmtpSettings], urls: dict[str, str]
) -> tuple[dict[str, email.message.EmailMessage], dict[str, int]]:
    """One notice per case (its URL), drafted, approved and really sent through the test SMTP server; the
    e-mails as received and the notice ids, by case."""
    inbox, smtp = smtp_server
    sent: dict[str, email.message.EmailMessage] = {}
    ids: dict[str, int] = {}
    with store.session() as s:
        for case, url in urls.items():
            _add(s, case, url)
            (notice,) = service.draft_case(s, case, actor="officer").notices
            service.approve(s, notice.id, actor="officer")
            service.set_recipient(s, notice.id, "abuse@platform.test", actor="officer")
            assert service.send(s, notice.id, actor="officer", smtp=smtp).ok
            msg = email.message_from_bytes(inbox.messages[-1][2], policy=policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            sent[case], ids[case] = msg, notice.id
    return sent, ids


def _reply(to_notice: email.message.EmailMessage, *, body: str, **headers: str) -> bytes:
    """A platform's reply as a mail client writes it (In-Reply-To / References unless overridden)."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    msg = EmailMessage()
    msg["From"] = "abuse@platform.test"
    msg["To"] = "takedown@centre.example"
    msg["Subject"] = headers.pop("Subject", f"Re: {to_notice['Subject']}")
    msg["Message-ID"] = make_msgid(domain="platform.test")
    for name in ("In-Reply-To", "References"):
        value = headers.pop(name, str(to_notice["Message-ID"]))
        if value:
            msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_platform_replies_mark_the_notice_acknowledged(
    store: Store, smtp_server: Any, tmp_path: Path
) -> None:
    """Replies read from a Maildir, an mbox and .eml files: matched by Message-ID or by the quoted reference;
    each recorded once in the audit chain; unrelated and broken mail reported, the rest goes on."""
    import mailbox

    from jikimi.takedown.replies import apply_replies, read_mail

    sent, ids = _send_notices(
        store, smtp_server, {"c7": "https://t.me/room/70", "c8": "https://x.com/u/status/80"}
    )
    with store.session() as s:
        ref8 = service.reference(service.get_notice(s, ids["c8"]))

    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    maildir.add(_reply(sent["c7"], body="We received your report and are looking into it."))
    maildir.add(b"this is not an e-mail at all")
    # a ticket system that drops the threading headers but quotes the reference in the subject
    no_thread = {"In-Reply-To": "", "References": ""}
    quoted = _reply(sent["c8"], body="Ticket opened.", Subject=f"[Ticket 5521] {ref8}", **no_thread)
    (tmp_path / "quoted.eml").write_bytes(quoted)
    box = mailbox.mbox(str(tmp_path / "more.mbox"))
    elsewhere = {"In-Reply-To": "<x@y>", "References": ""}
    box.add(_reply(sent["c7"], body="news", Subject="Weekly digest", **elsewhere))
    box.add(_reply(sent["c7"], body="The content has been removed."))  # a follow-up on the same notice
    box.flush()
    box.close()

    paths = [tmp_path / "Maildir", tmp_path / "quoted.eml", tmp_path / "more.mbox", tmp_path / "missing"]
    with store.session() as s:
        results = apply_replies(s, read_mail(paths), actor="cli:officer")
    assert sorted((r.outcome, r.notice_id or 0) for r in results) == sorted(
        [
            ("acknowledged", ids["c7"]),
            ("unmatched", 0),  # the Maildir entry that is no e-mail
            ("acknowledged", ids["c8"]),  # by the reference in the subject
            ("unmatched", 0),  # the digest
            ("already", ids["c7"]),  # the follow-up: recorded, nothing left to move (removal: a person)
            ("error", 0),  # the missing path
        ]
    )
    with store.session() as s:
        for case in ("c7", "c8"):
            notice = service.get_notice(s, ids[case])
            assert [it.state for it in notice.items] == ["acknowledged"]
        assert len(_audit(s, "takedown.reply")) == 3 and audit.verify(s).ok
    with store.session() as s:  # reading the same mail again changes nothing and records nothing
        again = apply_replies(s, read_mail(paths[:2]), actor="cli:officer")
        assert sorted(r.outcome for r in again) == ["already", "already", "unmatched"]
        assert len(_audit(s, "takedown.reply")) == 3


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real IMAP server (pymap, in-memory mailboxes) on loopback with STARTTLS; user centre / s3cret."""
    import subprocess
    import sys
    import time

    folder = tmp_path / "imap-tls"
    folder.mkdir()
    cert, key = self_signed(folder, "127.0.0.1")
    port = _free_port()
    pymap = Path(sys.executable).with_name("pymap")
    args = [str(pymap), "--host", "127.0.0.1", "--port", str(port), "--cert", str(cert), "--key", str(key)]
    proc = subprocess.Popen(
        [*args, "dict", "--demo-data", "--demo-user", "centre", "--demo-password", "s3cret"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("the IMAP test server (pymap) did not start")
                time.sleep(0.1)
        yield port, cert
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _deliver(port: int, cafile: Path, raw: bytes) -> None:
    """Put a message into the centre's INBOX the way a mail server delivers it (IMAP APPEND)."""
    import imaplib

    client = imaplib.IMAP4("127.0.0.1", port)
    client.starttls(ssl.create_default_context(cafile=str(cafile)))
    client.login("centre", "s3cret")
    assert client.append("INBOX", None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))[0] == "OK"
    client.logout()


def test_the_takedown_job_reads_replies_from_the_mailbox(
    store: Store, smtp_server: Any, imap_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With JIKIMI_IMAP_URL set, every pass of the takedown job (the hourly job of `jikimi serve`) reads the
    new messages of the mailbox over IMAP with STARTTLS, read-only, each message once."""
    from jikimi.takedown.scheduler import run_job

    port, cafile = imap_server
    sent, ids = _send_notices(
        store, smtp_server, {"c5": "https://t.me/room/50", "c6": "https://t.me/room/60"}
    )
    monkeypatch.setenv("JIKIMI_IMAP_URL", f"imap://centre@127.0.0.1:{port}/INBOX")
    monkeypatch.setenv("JIKIMI_IMAP_PASSWORD", "s3cret")
    monkeypatch.setenv("JIKIMI_IMAP_CAFILE", str(cafile))

    def states(case: str) -> list[str]:
        with store.session() as s:
            return [it.state for it in service.get_notice(s, ids[case]).items]

    _deliver(port, cafile, _reply(sent["c5"], body="Received, we are looking into it."))
    first = run_job(store, fetch=_no_fetch, actor="system:scheduler")
    assert [(r.outcome, r.notice_id) for r in first.replies if r.outcome != "unmatched"] == [
        ("acknowledged", ids["c5"])
    ]
    assert states("c5") == ["acknowledged"] and states("c6") == ["sent"]
    _deliver(port, cafile, _reply(sent["c6"], body="Ticket 8841 opened."))
    second = run_job(store, fetch=_no_fetch, actor="system:scheduler")
    assert [(r.outcome, r.notice_id) for r in second.replies] == [("acknowledged", ids["c6"])]  # only the new
    assert states("c6") == ["acknowledged"]
    assert run_job(store, fetch=_no_fetch).replies == []  # nothing new

    monkeypatch.setenv("JIKIMI_IMAP_PASSWORD", "wrong")  # a broken mailbox is a note, not a failed pass
    failed = run_job(store, fetch=_no_fetch)
    assert failed.replies == []
    assert any("replies not read: cannot read the mailbox" in n for n in failed.notes), failed.notes


def _no_fetch(url: str) -> Any:
    """The re-check's fetcher for this test: the items' t.me URLs are not fetched (no network here); the
    re-check records an error and retries later, as it does for an unreachable site."""
    from jikimi.takedown.recheck import Fetched

    return Fetched(None, None, [], None, None, "not fetched in this test")
