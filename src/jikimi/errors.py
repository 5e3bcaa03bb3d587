"""Errors and reasons as data: a stable code, a catalogued message with named parameters, a hint per surface.

A raise site names its message in English with ``{named}`` fields and passes the values; the English text is
the message id (the gettext ``msgid``) and ``locale/ko/LC_MESSAGES/errors*.po`` hold the Korean. Nothing here
translates: the edges (web pages, JSON API, command line) render a :class:`Message` in the user's language
with ``jikimi.web.i18n``. ``tests/test_error_catalogue.py`` fails when a raise site's message or hint is not
in the catalogue, lacks Korean, or its fields do not match the parameters passed.

    raise MediaError(
        "file is {size}, over the {limit} limit",
        code="media.file_too_large",
        hint="ask an administrator to raise the file size limit",
        cli_hint="raise JIKIMI_MEDIA_MAX_FILE_BYTES to accept it",
        size=human_size(n), limit=human_size(limits.max_file_bytes),
    )

``hint`` is for every surface (web pages and the JSON API: no shell commands); ``cli_hint`` replaces it on the
command line. A parameter may itself be a :class:`Message` or a ``JikimiError`` (rendered in the same
language) or a :class:`Text` (a catalogued word or phrase); anything else is shown with ``format``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

Gettext = Callable[[str], str]


def _same(text: str) -> str:
    return text


class Text(str):
    """A parameter value that is catalogued text itself (a kind of file, a state), translated when shown."""

    __slots__ = ()


def fields_of(template: str) -> set[str]:
    """The ``{named}`` fields of a message template (none when it is not a valid template)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return set()
    return {name.split(".")[0].split("[")[0].split("!")[0] for _, name, _, _ in parsed if name}


class _Fields(dict[str, Any]):
    """Values for ``format_map``: a field nobody passed stays visible as ``{name}`` instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Message:
    """A catalogued message: ``id`` is the English template (the msgid), ``params`` its fields' values."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, gettext: Gettext = _same) -> str:
        """The message in the language of ``gettext`` (English by default), its parameters rendered too."""
        template = gettext(self.id)
        if not self.params:  # nothing to fill in (and a value already inside may hold braces)
            return template
        values = _Fields({k: _render_value(v, gettext) for k, v in self.params.items()})
        for text in (template, self.id):  # a translation with a broken field falls back to the English
            try:
                return text.format_map(values)
            except (IndexError, ValueError, AttributeError, TypeError):
                continue
        return self.id

    def __str__(self) -> str:
        return self.render()

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (kept in the database, sent in the API); :meth:`from_json` reads it back."""
        return {"id": self.id, "params": {k: _json_value(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: object) -> Message:
        """A message from :meth:`to_json` (a dict or its JSON text); other text is kept as it is."""
        if isinstance(data, str):
            try:
                parsed = json.loads(data)
            except ValueError:
                return cls(data)
            if not isinstance(parsed, dict):
                return cls(data)
            data = parsed
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            raw = data.get("params") or {}
            params = {k: _from_json_value(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
            return cls(data["id"], params)
        return cls("" if data is None else str(data))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)


def _render_value(value: Any, gettext: Gettext) -> Any:
    if isinstance(value, JikimiError):
        return value.text(gettext)
    if isinstance(value, Message):
        return value.render(gettext)
    if isinstance(value, Text):
        return gettext(str(value))
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, JikimiError):
        return {"message": value.message.to_json()}
    if isinstance(value, Message):
        return {"message": value.to_json()}
    if isinstance(value, Text):
        return {"text": str(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _from_json_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "message" in value:
            return Message.from_json(value["message"])
        if "text" in value:
            return Text(str(value["text"]))
    return value


class Explained:
    """What went wrong and what to do next, as catalogued messages (errors, and records of one failed item
    such as a photo that could not be enrolled); ``reason``, ``hint`` and ``cli_hint`` are the English."""

    message: Message
    hint_message: Message | None
    cli_hint_message: Message | None

    @property
    def reason(self) -> str:
        """What went wrong, in English."""
        return self.message.render()

    @property
    def hint(self) -> str | None:
        """What to do next, in English, for any surface (web, API)."""
        return self.hint_message.render() if self.hint_message else None

    @property
    def cli_hint(self) -> str | None:
        """What to do next on the command line, in English (the hint when it says nothing else)."""
        m = self.hint_for(cli=True)
        return m.render() if m else None

    def hint_for(self, *, cli: bool = False) -> Message | None:
        """What to do next: the command line's own hint there when there is one, else the shared hint."""
        return (self.cli_hint_message or self.hint_message) if cli else self.hint_message

    def with_hint(self, *, cli: bool = False) -> Message:
        """The reason and what to do next as one message, ``reason (hint)`` as ``str(exc)`` writes it (a
        failed item's reason, kept or printed on its own)."""
        hint = self.hint_for(cli=cli)
        return Message("{reason} ({hint})", {"reason": self.message, "hint": hint}) if hint else self.message


class JikimiError(Explained, Exception):
    """Base class of the errors a person can act on.

    ``code`` is stable (API clients and tests key on it); ``message``, ``hint_message`` and
    ``cli_hint_message`` are catalogued; ``reason`` and ``hint`` are their English renderings.
    """

    #: The family of the error; the edges map it to an HTTP status and an exit code.
    kind: ClassVar[str] = "error"

    def __init__(
        self,
        message: str | Message,
        hint: str | Message | None = None,
        /,
        *,
        code: str | None = None,
        cli_hint: str | Message | None = None,
        **params: Any,
    ) -> None:
        if hint is None:
            hint = params.pop("hint", None)
        self.message = message if isinstance(message, Message) else Message(message, params)
        params = dict(self.message.params)
        self.hint_message = _as_message(hint, params)
        self.cli_hint_message = _as_message(cli_hint, params)
        self.code = code or self.kind
        super().__init__(self.reason)

    @property
    def params(self) -> Mapping[str, Any]:
        return self.message.params

    def text(self, gettext: Gettext = _same) -> str:
        return self.message.render(gettext)

    def hint_text(self, gettext: Gettext = _same, *, cli: bool = False) -> str | None:
        m = self.hint_for(cli=cli)
        return m.render(gettext) if m else None

    def to_json(self, gettext: Gettext = _same) -> dict[str, Any]:
        """The JSON API's error shape: ``{"code", "detail", "hint", "params"}`` in one language."""
        return {
            "code": self.code,
            "detail": self.text(gettext),
            "hint": self.hint_text(gettext),
            "params": {k: _json_value(v) for k, v in self.params.items()},
        }

    def __str__(self) -> str:
        return f"{self.reason} ({self.hint})" if self.hint else self.reason

    def __reduce__(
        self,
    ) -> tuple[Any, ...]:  # picklable across process pools and Ray workers, extras included
        return (_rebuild, (type(self),), dict(self.__dict__))


def _as_message(value: str | Message | None, params: dict[str, Any]) -> Message | None:
    if value is None or isinstance(value, Message):
        return value
    return Message(value, {k: v for k, v in params.items() if k in fields_of(value)})


def _rebuild(cls: type[JikimiError]) -> JikimiError:
    return cls.__new__(cls)


class ConfigError(JikimiError):
    """The configuration or environment is wrong."""

    kind: ClassVar[str] = "config"


class NotFoundError(JikimiError):
    """A named object (bank, person, case, notice...) does not exist."""

    kind: ClassVar[str] = "not_found"


class ValidationError(JikimiError):
    """User input (a hash, a name, a date...) is malformed."""

    kind: ClassVar[str] = "validation"
