"""Sending a notice by e-mail over SMTP (STARTTLS or implicit TLS, optional login)."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from jikimi.errors import JikimiError
from jikimi.takedown.settings import SmtpSettings

SMTP_HINT = "check the mail server settings; the notice stays approved and Jikimi retries it later"
SMTP_CLI_HINT = (
    "check JIKIMI_SMTP_HOST/PORT/STARTTLS/USER/PASSWORD; the notice stays approved and "
    "`jikimi takedown send --due` retries it"
)


class SmtpError(JikimiError):
    """The mail server could not be reached or refused the message."""


@dataclass(frozen=True)
class SentMail:
    message_id: str
    raw_sha256: str
    """SHA-256 of the message as handed to the server (headers and body)."""


def build_message(
    settings: SmtpSettings,
    *,
    to: str,
    subject: str,
    body: str,
    ref: str,
    reply_to: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    domain = settings.sender.rpartition("@")[2] or "jikimi.invalid"
    msg["Message-ID"] = make_msgid(idstring=ref, domain=domain)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["X-Jikimi-Reference"] = ref
    msg.set_content(body, charset="utf-8")
    if attachment:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return (
        ssl.create_default_context(cafile=settings.cafile)
        if settings.cafile
        else ssl.create_default_context()
    )


def send_message(settings: SmtpSettings, msg: EmailMessage) -> SentMail:
    """Deliver ``msg`` to the configured server; raises ``SmtpError`` with the reason and what to check."""
    where = f"{settings.host}:{settings.port}"
    try:
        smtp: smtplib.SMTP
        if settings.ssl:
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=_tls_context(settings)
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
            smtp.ehlo()
            if settings.starttls and not settings.ssl:
                smtp.starttls(context=_tls_context(settings))
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            refused = smtp.send_message(msg)
            if refused:
                raise SmtpError(
                    "the server at {where} refused recipients: {refused}",
                    code="takedown.smtp_refused_recipients",
                    where=where,
                    refused=str(refused),
                    hint=SMTP_HINT,
                    cli_hint=SMTP_CLI_HINT,
                )
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpError(
            "the server at {where} refused the login ({smtp_code})",
            code="takedown.smtp_login_refused",
            where=where,
            smtp_code=str(exc.smtp_code),
            hint=SMTP_HINT,
            cli_hint=SMTP_CLI_HINT,
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpError(
            "the server at {where} does not offer STARTTLS; not sending in clear text",
            code="takedown.smtp_no_starttls",
            where=where,
            hint=SMTP_HINT,
            cli_hint=SMTP_CLI_HINT,
        ) from exc
    except smtplib.SMTPException as exc:
        raise SmtpError(
            "sending through {where} failed: {detail}",
            code="takedown.smtp_failed",
            where=where,
            detail=str(exc),
            hint=SMTP_HINT,
            cli_hint=SMTP_CLI_HINT,
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise SmtpError(
            "cannot reach the mail server at {where}: {detail}",
            code="takedown.smtp_unreachable",
            where=where,
            detail=str(exc),
            hint=SMTP_HINT,
            cli_hint=SMTP_CLI_HINT,
        ) from exc
    raw = msg.as_bytes()
    return SentMail(message_id=str(msg["Message-ID"]), raw_sha256=hashlib.sha256(raw).hexdigest())
