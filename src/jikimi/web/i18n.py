"""Korean and English. Source strings are English; ``locale/ko/LC_MESSAGES/messages.po`` has the Korean of the
pages, ``errors.po`` that of the errors and reasons the lower layers raise (``jikimi.errors.Message``).

The catalogue is read from the shipped ``.po`` with Babel (no compile step); a missing Korean string falls
back to English, and ``tests/test_web_i18n.py`` fails when a string in the templates or pages is untranslated.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from jikimi.errors import JikimiError, Message

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES: dict[str, str] = {"ko": "한국어", "en": "English"}
DEFAULT_LANGUAGE = "ko"


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is shown."""
    return message


class Translator:
    """``gettext``/``ngettext`` for one language (English is the identity)."""

    def __init__(self, lang: str, catalogue: dict[str, str | tuple[str, ...]]) -> None:
        self.lang = lang
        self._cat = catalogue

    def gettext(self, message: str) -> str:
        found = self._cat.get(message)
        if isinstance(found, str) and found:
            return found
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self._cat.get(singular)
        if isinstance(found, tuple) and found:
            # Korean has one plural form.
            return found[0] if len(found) == 1 or n == 1 else found[1]
        return singular if n == 1 else plural

    def __call__(self, message: str, **params: object) -> str:
        text = self.gettext(message)
        return text % params if params else text

    def message(self, message: Message | JikimiError | dict[str, object] | str | None) -> str:
        """A lower layer's reason in this language: a ``Message``, an error (its message), the JSON form of a
        message (as kept in the database), or text, which is shown as it is."""
        if message is None:
            return ""
        if isinstance(message, JikimiError):
            return message.text(self.gettext)
        if isinstance(message, Message):
            return message.render(self.gettext)
        if isinstance(message, dict):
            return Message.from_json(message).render(self.gettext)
        return str(message)

    def hint(self, exc: JikimiError, *, cli: bool = False) -> str | None:
        """What to do next after ``exc`` in this language, written for the command line or for the others."""
        return exc.hint_text(self.gettext, cli=cli)


#: The catalogue's files: the pages' strings, then the errors' messages (``errors.po`` and one file per area,
#: ``errors-<area>.po``, so that areas change their messages without touching each other's).
DOMAINS = ("messages.po", "errors*.po")


def load_catalogue(lang: str, domains: tuple[str, ...] = DOMAINS) -> dict[str, str | tuple[str, ...]]:
    out: dict[str, str | tuple[str, ...]] = {}
    for pattern in domains:
        for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob(pattern)):
            out.update(_read(path, lang))
    return out


def _read(path: Path, lang: str) -> dict[str, str | tuple[str, ...]]:
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    out: dict[str, str | tuple[str, ...]] = {}
    for msg in cat:
        if not msg.id or msg.fuzzy:
            continue
        if isinstance(msg.id, tuple | list):
            out[str(msg.id[0])] = tuple(str(x) for x in (msg.string or ()))
        else:
            out[str(msg.id)] = str(msg.string or "")
    return out


@cache
def translator(lang: str) -> Translator:
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    return Translator(lang, load_catalogue(lang) if lang != "en" else {})


def negotiate(accept_language: str | None) -> str | None:
    """The first supported language in an ``Accept-Language`` header, or None."""
    if not accept_language:
        return None
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(",")[:20]:
        bits = part.strip().split(";")
        code = bits[0].strip().lower().split("-")[0]
        q = 1.0
        for b in bits[1:]:
            b = b.strip()
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if code in LANGUAGES:
            ranked.append((q, code))
    ranked.sort(key=lambda x: -x[0])
    return ranked[0][1] if ranked else None
