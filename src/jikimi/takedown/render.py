"""Notice rendering: Jinja2 templates per platform, translated with gettext (ko, en, ja).

The ``.po`` catalogues in ``takedown/locale`` are compiled in memory on first use (no build step, so a clean
clone works). A template's first line is the subject; the body follows a blank line.
"""

from __future__ import annotations

import gettext
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from jikimi.errors import ValidationError
from jikimi.takedown.directory import Platform
from jikimi.takedown.settings import Organisation

TEMPLATES_DIR = Path(__file__).with_name("templates")
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "jikimi_takedown"
LANGUAGES = ("ko", "en", "ja")
KST = timezone(timedelta(hours=9), "KST")
JST = timezone(timedelta(hours=9), "JST")


@lru_cache(maxsize=8)
def translations(lang: str) -> gettext.NullTranslations:
    """The gettext catalogue for ``lang`` (English is the source language)."""
    if lang not in LANGUAGES:
        raise ValidationError(
            "unsupported notice language {lang!r}",
            "use one of {langs}",
            code="takedown.language_unsupported",
            lang=lang,
            langs=", ".join(LANGUAGES),
        )
    if lang == "en":
        return gettext.NullTranslations()
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _when_filter(lang: str) -> Any:
    def when(value: datetime | None) -> str:
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        local = {"ko": KST, "ja": JST}.get(lang)
        if local is None:
            return utc
        return f"{utc} ({value.astimezone(local).strftime('%Y-%m-%d %H:%M')} {local.tzname(None)})"

    return when


@lru_cache(maxsize=8)
def environment(lang: str) -> jinja2.Environment:
    """A Jinja2 environment with the gettext catalogue of ``lang`` installed (cached per language)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # plain-text e-mail and PDF, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = _when_filter(lang)
    return env


@dataclass(frozen=True)
class NoticeItem:
    """What a notice says about one item."""

    url: str
    chat: str | None = None
    message_link: str | None = None
    media_url: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    captured_at: datetime | None = None
    sha256: str | None = None
    md5: str | None = None
    pdq: str | None = None


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    body: str

    @property
    def text(self) -> str:
        return f"Subject: {self.subject}\n\n{self.body}"

    @property
    def sha256(self) -> str:
        """The content hash logged when the notice is approved and sent."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def content_sha256(subject: str, body: str) -> str:
    return RenderedNotice(subject, body).sha256


def template_name(platform: Platform) -> str:
    name = f"{platform.template}.txt.j2"
    return name if (TEMPLATES_DIR / name).is_file() else "generic_host.txt.j2"


def render_notice(
    platform: Platform,
    items: list[NoticeItem],
    *,
    lang: str,
    org: Organisation,
    ref: str,
    host: str | None = None,
    victim_name: str | None = None,
    now: datetime | None = None,
) -> RenderedNotice:
    """Render the subject and body of a notice to ``platform`` listing ``items`` in ``lang``.

    The victim's name appears only when the organisation enabled ``include_victim_name`` and a name is given.
    """
    if not items:
        raise ValidationError("a notice needs at least one item", code="takedown.notice_empty")
    env = environment(lang)
    ctx = {
        "platform": platform,
        "items": items,
        "org": org,
        "ref": ref,
        "host": host,
        "victim_name": victim_name if org.include_victim_name and victim_name else None,
        "now": now or datetime.now(UTC),
        "approver": None,  # named only once a second person approved it (``with_footer``)
    }
    text = env.get_template(template_name(platform)).render(ctx)
    subject, _, body = text.partition("\n")
    body = body.lstrip("\n")
    while "\n\n\n" in body:
        body = body.replace("\n\n\n", "\n\n")
    return RenderedNotice(subject.strip(), body.rstrip() + "\n")


SIGNATURE = "\n-- \n"
"""The line that separates a notice's body from its footer (``footer.txt.j2``)."""


def footer(lang: str, approver: str | None = None) -> str:
    """The notice's footer in ``lang``; it names ``approver`` (a second person, not the drafter) if given."""
    text = environment(lang).get_template("footer.txt.j2").render(approver=approver or None)
    return text.strip() + "\n"


def with_footer(body: str, lang: str, approver: str | None) -> str:
    """``body`` with its footer rendered again (for ``approver``); everything above the signature is kept."""
    head, sep, _old = body.rpartition(SIGNATURE)
    if not sep:
        raise ValidationError(
            "the notice has no footer to sign", "withdraw it and draft it again", code="takedown.no_footer"
        )
    return head + SIGNATURE + footer(lang, approver)


def victim_name_in(body: str, lang: str) -> str | None:
    """The victim's name as a rendered notice states it, or None (to keep it when the notice is re-rendered
    with more items)."""
    line = translations(lang).gettext("The person depicted, who asked us to act: %(name)s.")
    before, sep, after = line.partition("%(name)s")
    if not sep:
        return None
    for text in body.splitlines():
        text = text.strip()
        if before and text.startswith(before) and text.endswith(after) and len(text) > len(before + after):
            return text[len(before) : len(text) - len(after)] if after else text[len(before) :]
    return None
