"""Platforms' answers by e-mail: a reply to a sent notice marks its items ``acknowledged``.

A reply is matched to its notice by the notice's Message-ID in ``In-Reply-To`` / ``References`` (what mail
clients and ticket systems write) or, failing that, by the notice reference ``JKM-<case>-<notice>`` quoted in
the subject or the text (every notice asks for it). Only the items still ``sent`` move; whether the content
is removed or refused is for a person to read and record (``takedown mark``), or for the scheduled re-check to
find. Each reply is recorded in the audit chain (its Message-ID, sender, subject and SHA-256), once.

Replies come from ``.eml`` files, Maildir folders or mbox files (``read_mail``): what a mail client exports or
a mail server delivers; or straight from the centre's mailbox over IMAP (``read_imap``, configured by
``JIKIMI_IMAP_URL`` = ``imaps://user@host[:port]/MAILBOX`` or ``imap://...`` with STARTTLS, the password in
``JIKIMI_IMAP_PASSWORD``): only messages not read before (a UID cursor per mailbox), never marked or moved.
A file or message that is not mail is reported, and the others go on.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import json
import mailbox
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.errors import ConfigError, ValidationError
from jikimi.store import audit
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.schema.takedown import TakedownCursor, TakedownNotice
from jikimi.takedown import service

REFERENCE = re.compile(r"\bJKM-(?P<case>[A-Za-z0-9_.:-]+?)-(?P<notice>\d+)\b")
MAX_MAIL_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Mail:
    """One message read from a file, folder or mailbox (``source`` says where), or why it could not be."""

    source: str
    raw: bytes | None = None
    error: str | None = None

    def message(self) -> EmailMessage:
        assert self.raw is not None
        msg = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass(frozen=True)
class ReplyOutcome:
    """What one message did: ``acknowledged`` (items moved), ``already`` (seen before or nothing left to
    move), ``unmatched`` (no notice of ours) or ``error`` (not readable as mail)."""

    source: str
    outcome: str
    notice_id: int | None = None
    items: tuple[int, ...] = ()
    detail: str = ""


def _read_file(path: Path) -> Iterator[Mail]:
    size = path.stat().st_size
    if size > MAX_MAIL_BYTES:
        yield Mail(str(path), error=f"{path.name} is {size} bytes, over the {MAX_MAIL_BYTES}-byte limit")
        return
    data = path.read_bytes()
    if data.startswith(b"From "):  # an mbox file: several messages
        box = mailbox.mbox(str(path), create=False)
        try:
            for key, msg in box.iteritems():
                yield Mail(f"{path}#{key}", raw=msg.as_bytes())
        finally:
            box.close()
        return
    yield Mail(str(path), raw=data)


def read_mail(paths: Iterable[Path]) -> Iterator[Mail]:
    """Every message in ``paths``: ``.eml`` files, mbox files and Maildir folders (``cur`` and ``new``)."""
    for path in paths:
        try:
            if path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir():
                box = mailbox.Maildir(str(path), factory=None, create=False)
                for key in sorted(box.iterkeys()):
                    yield Mail(f"{path}#{key}", raw=box.get_bytes(key))
            elif path.is_dir():
                yield from read_mail(sorted(p for p in path.iterdir() if p.is_file()))
            elif path.is_file():
                yield from _read_file(path)
            else:
                yield Mail(str(path), error="no such file or folder")
        except (OSError, mailbox.Error, ValueError) as exc:
            yield Mail(str(path), error=f"cannot read mail: {exc}")


@dataclass(frozen=True)
class ImapSettings:
    """Where the centre's replies arrive (``JIKIMI_IMAP_URL``, ``JIKIMI_IMAP_PASSWORD``,
    ``JIKIMI_IMAP_CAFILE``)."""

    host: str
    port: int
    user: str
    password: str
    mailbox: str = "INBOX"
    implicit_tls: bool = True  # imaps:// (port 993); imap:// always upgrades with STARTTLS
    cafile: str | None = None
    timeout: float = 30.0

    @property
    def label(self) -> str:
        return (
            f"{'imaps' if self.implicit_tls else 'imap'}://{self.user}@{self.host}:{self.port}/{self.mailbox}"
        )


def load_imap(env: Mapping[str, str] | None = None) -> ImapSettings | None:
    """The IMAP settings from the environment (or the ``imap:`` section of ``takedown.yaml``, edited on the
    settings page), or ``None`` when no mailbox is configured."""
    if env is None:
        from jikimi.takedown.settings import imap_values

        env = imap_values()
    url = (env.get("JIKIMI_IMAP_URL") or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ConfigError(
            "the mailbox address must look like imaps://user@host/INBOX, got {url!r}",
            "imaps:// for TLS from the start (port 993), imap:// for STARTTLS (port 143)",
            code="takedown.imap_url_invalid",
            cli_hint="set JIKIMI_IMAP_URL like imaps://user@host/INBOX "
            "(imaps:// for TLS from the start, port 993; imap:// for STARTTLS, port 143)",
            url=url,
        )
    password = env.get("JIKIMI_IMAP_PASSWORD") or unquote(parts.password or "")
    if not password:
        raise ConfigError(
            "no mailbox password is set",
            "give the mailbox password on the settings page",
            code="takedown.imap_no_password",
            cli_hint="give the mailbox password in JIKIMI_IMAP_PASSWORD",
        )
    implicit = parts.scheme == "imaps"
    return ImapSettings(
        host=parts.hostname,
        port=parts.port or (993 if implicit else 143),
        user=unquote(parts.username),
        password=password,
        mailbox=unquote(parts.path.strip("/")) or "INBOX",
        implicit_tls=implicit,
        cafile=env.get("JIKIMI_IMAP_CAFILE") or None,
    )


def _cursor_name(settings: ImapSettings, uidvalidity: str) -> str:
    digest = hashlib.sha256(f"{settings.label}|{uidvalidity}".encode()).hexdigest()[:24]
    return f"replies.imap:{digest}"


def read_imap(session: Session, settings: ImapSettings, *, limit: int = 500) -> Iterator[Mail]:
    """The messages that arrived in the mailbox since the last call (read-only; the cursor moves as each
    message is handed over). Connection and login failures raise ``ConfigError`` with what to check."""
    import imaplib
    import ssl

    context = (
        ssl.create_default_context(cafile=settings.cafile)
        if settings.cafile
        else ssl.create_default_context()
    )
    try:
        if settings.implicit_tls:
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=settings.timeout
            )
        else:
            client = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
            client.starttls(context)
        client.login(settings.user, settings.password)
        status, _ = client.select(_quoted(settings.mailbox), readonly=True)
        if status != "OK":
            raise ConfigError(
                "no mailbox {mailbox!r} on {host}",
                "check the mailbox address",
                code="takedown.imap_no_mailbox",
                cli_hint="check JIKIMI_IMAP_URL",
                mailbox=settings.mailbox,
                host=settings.host,
            )
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise ConfigError(
            "cannot read the mailbox {mailbox}: {detail}",
            "check the mailbox address, its password and that the server is reachable",
            code="takedown.imap_unreachable",
            cli_hint="check JIKIMI_IMAP_URL, JIKIMI_IMAP_PASSWORD and that the server is reachable",
            mailbox=settings.label,
            detail=str(exc),
        ) from exc
    try:
        uidvalidity = str((client.response("UIDVALIDITY")[1] or [b"0"])[0], "ascii", "replace")
        name = _cursor_name(settings, uidvalidity)
        cursor = session.get(TakedownCursor, name)
        if cursor is None:
            cursor = TakedownCursor(name=name, value=0)
            session.add(cursor)
            session.flush()
        status, data = client.uid("SEARCH", f"UID {int(cursor.value) + 1}:*")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > int(cursor.value))[:limit]
        for uid in uids:
            status, parts = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or [] if isinstance(p, tuple) and len(p) == 2), None)
            if status != "OK" or not isinstance(raw, bytes):
                yield Mail(f"{settings.label}#{uid}", error=f"the server did not return message {uid}")
            elif len(raw) > MAX_MAIL_BYTES:
                yield Mail(f"{settings.label}#{uid}", error=f"message {uid} is over {MAX_MAIL_BYTES} bytes")
            else:
                yield Mail(f"{settings.label}#{uid}", raw=raw)
            cursor.value = uid
            cursor.updated_at = utcnow()
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _message_ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _text(msg: EmailMessage) -> str:
    parts: list[str] = []
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.is_attachment():
            try:
                parts.append(str(part.get_content()))
            except (LookupError, ValueError):
                continue
    return "\n".join(parts)[:200_000]


def find_notice(session: Session, msg: EmailMessage) -> TakedownNotice | None:
    """The sent notice this message answers, by Message-ID first, then by the quoted reference."""
    ids = _message_ids(str(msg.get("In-Reply-To") or "")) + _message_ids(str(msg.get("References") or ""))
    if ids:
        found = session.execute(
            select(TakedownNotice).where(TakedownNotice.message_id.in_(ids)).order_by(TakedownNotice.id)
        ).scalar()
        if found is not None:
            return found
    for text in (str(msg.get("Subject") or ""), _text(msg)):
        for m in REFERENCE.finditer(text):
            notice = session.get(TakedownNotice, int(m.group("notice")))
            if notice is not None and service.reference(notice) == m.group(0):
                return notice
    return None


def _seen(session: Session, notice_id: int, digest: str) -> bool:
    """Whether this exact message was recorded for the notice before (its SHA-256 in the audit entry)."""
    rows = session.execute(
        select(AuditEntry.details_json).where(
            AuditEntry.action == "takedown.reply",
            AuditEntry.subject == f"takedown_notice:{notice_id}",
            AuditEntry.details_json.contains(digest),
        )
    ).scalars()
    return any(json.loads(r or "{}").get("sha256") == digest for r in rows)


def apply_reply(session: Session, mail: Mail, *, actor: str) -> ReplyOutcome:
    """Match one message to its notice and mark the notice's sent items acknowledged (audited once)."""
    if mail.raw is None:
        return ReplyOutcome(mail.source, "error", detail=mail.error or "unreadable")
    msg = mail.message()
    notice = find_notice(session, msg)
    if notice is None:
        return ReplyOutcome(mail.source, "unmatched", detail=str(msg.get("Subject") or ""))
    digest = hashlib.sha256(mail.raw).hexdigest()
    if _seen(session, notice.id, digest):
        return ReplyOutcome(mail.source, "already", notice.id, detail="this reply was read before")
    sender, subject = str(msg.get("From") or ""), str(msg.get("Subject") or "")
    audit.append(
        session,
        actor=actor,
        action="takedown.reply",
        subject=f"takedown_notice:{notice.id}",
        details={
            "message_id": str(msg.get("Message-ID") or ""),
            "from": sender,
            "subject": subject[:300],
            "sha256": digest,
        },
    )
    if not any(it.state == "sent" for it in notice.items):
        return ReplyOutcome(mail.source, "already", notice.id, detail="no item is waiting for an answer")
    try:
        moved = service.mark(
            session,
            notice.id,
            "acknowledged",
            actor=actor,
            note=f"reply from {sender}: {subject}"[:500],
        )
    except ValidationError as exc:
        return ReplyOutcome(mail.source, "already", notice.id, detail=exc.reason)
    return ReplyOutcome(mail.source, "acknowledged", notice.id, tuple(it.id for it in moved), subject)


def apply_replies(session: Session, mails: Iterable[Mail], *, actor: str) -> list[ReplyOutcome]:
    """``apply_reply`` for each message, each in a savepoint (one bad message never undoes the others)."""
    out = []
    for mail in mails:
        try:
            with session.begin_nested():
                out.append(apply_reply(session, mail, actor=actor))
        except Exception as exc:  # a hostile message fails alone, with the reason
            out.append(ReplyOutcome(mail.source, "error", detail=f"{type(exc).__name__}: {exc}"))
    return out


__all__ = [
    "ImapSettings",
    "Mail",
    "ReplyOutcome",
    "apply_replies",
    "apply_reply",
    "find_notice",
    "load_imap",
    "read_imap",
    "read_mail",
]
