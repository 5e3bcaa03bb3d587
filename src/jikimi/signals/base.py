"""The plug-in interface every signal implements (hashes and analysers alike).

A signal has a ``name``, the content ``kinds`` it applies to ("image", "video") and ``extract(media)``, which
returns a JSON-able result computed from the already decoded ``Media`` (decode once; every signal sees the
same pixels). Hash signals add what banks and matching need, in the spirit of python-threatexchange's
``SignalType``: ``validate``, ``distance``, ``default_threshold``, ``trusted``, ``values_of`` and an index
class (see ``HashSignal``). Nothing outside a signal's module knows these for that signal.

Adding a signal = one module with a ``Signal`` subclass + one line in ``jikimi.signals.registry.SIGNALS``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jikimi.errors import ValidationError
from jikimi.media import Media

#: What ``extract`` returns: built from dict, list, str, int, float, bool and None only.
JSON = Any

IMAGE = "image"
VIDEO = "video"


class Signal(ABC):
    """A feature computed from one ``Media``.

    Subclasses set the class attributes and implement ``extract``. Options (thresholds, sampling rates) go
    in ``__init__`` keyword arguments with defaults, so ``SignalClass()`` is the registered default.
    """

    #: Unique short name, used as the key in results, in the database and on the command line.
    name: ClassVar[str]
    #: Content kinds this signal applies to: a subset of {"image", "video"}.
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE})
    #: Bump when the output for the same input changes (stored results of another version are stale).
    version: ClassVar[int] = 1
    #: One line for ``jikimi signals`` listings and reports.
    description: ClassVar[str] = ""

    def applies_to(self, media: Media) -> bool:
        return media.kind in self.kinds

    @abstractmethod
    def extract(self, media: Media) -> JSON:
        """Compute this signal for ``media``; raise ``MediaError`` or ``JikimiError`` with a reason."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"


class HashSignal(Signal):
    """A signal whose values are hashes that can be stored in banks, compared by distance and exchanged.

    A hash signal owns everything the rest of Jikimi knows about its hashes: how to validate one
    (``validate``), how far apart two are (``distance``) and when that is a match (``default_threshold``,
    ``matches``), which qualities are trusted (``trusted``), how its values come out of an ``extract`` result
    (``values_of``) and how a query is made of one (``queries_of``), how it is written in exchange formats
    (``pytx_name``, ``format_values``/``parse_values``) and which in-memory index finds near values
    (``index_class``, a dotted path into ``jikimi.index``; empty: exact values, looked up in the store).
    """

    #: Distance at or below which two hashes are a match by default.
    default_threshold: ClassVar[float] = 0
    #: The bank's own threshold (``Bank.pdq_threshold``) applies to this signal instead of the default.
    bank_threshold: ClassVar[bool] = False
    #: Hex digits in one hash (0 = not a fixed-length hex hash).
    hex_length: ClassVar[int] = 0
    #: Hashes (or video frames) with a quality below this are not trusted for matching (0 = no quality).
    min_quality: ClassVar[int] = 0
    #: How people call it in messages ("PDQ", "SHA-256").
    label: ClassVar[str] = ""
    #: python-threatexchange's ``SignalType`` name (exchange formats, HMA API); aliases accepted on import.
    pytx_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Content kinds python-threatexchange's type of that name covers (None: ``kinds``); a partner's feed
    #: offers an entry's hash under that name only for content of these kinds.
    pytx_kinds: ClassVar[frozenset[str] | None] = None
    #: One value per piece of content (False: many, such as a video's frames).
    single: ClassVar[bool] = True
    #: ``"module:Class"`` of the ``jikimi.index.signals.SignalIndex`` for near matches ("" = exact values).
    index_class: ClassVar[str] = ""

    @classmethod
    def display(cls) -> str:
        return cls.label or cls.name

    @classmethod
    def exchange_name(cls) -> str:
        return cls.pytx_name or cls.name

    @classmethod
    def exchanged_for(cls, kind: str) -> bool:
        """Whether python-threatexchange's type of ``exchange_name()`` covers content of ``kind``."""
        return kind in (cls.kinds if cls.pytx_kinds is None else cls.pytx_kinds)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every name this signal is known by: ours, python-threatexchange's and the aliases."""
        return tuple(dict.fromkeys((cls.name, cls.exchange_name(), *cls.aliases)))

    @classmethod
    def trusted(cls, quality: int | None) -> bool:
        """Whether a hash of this quality may be used for matching."""
        return cls.min_quality == 0 or (quality is not None and quality >= cls.min_quality)

    @classmethod
    def low_quality(cls, quality: int | None) -> bool:
        """A known quality below the trusted one: the hash is kept, and its matches flagged for a person
        (an unknown quality, as hash lists often have, is not low)."""
        return quality is not None and not cls.trusted(quality)

    @classmethod
    def validate(cls, value: str) -> str:
        """Return the normalised hash (lower-case hex) or raise ``ValidationError`` with the reason."""
        v = str(value).strip().lower()
        if cls.hex_length:
            if len(v) != cls.hex_length:
                raise ValidationError(
                    "not a valid {kind} hash: expected {n} hex digits, got {got}",
                    code="signals.hash_invalid",
                    hint="a {kind} hash looks like 00000000... ({n} characters 0-9 a-f)",
                    kind=cls.display(),
                    n=cls.hex_length,
                    got=len(v),
                )
            if not re.fullmatch(r"[0-9a-f]*", v):
                raise ValidationError(
                    "not a valid {kind} hash: only the hex digits 0-9 and a-f are allowed",
                    code="signals.hash_invalid",
                    kind=cls.display(),
                )
        elif not v:
            raise ValidationError(
                "not a valid {kind} hash: it is empty", code="signals.hash_empty", kind=cls.display()
            )
        return v

    @classmethod
    def validate_quality(cls, quality: Any) -> int | None:
        """A quality of 0-100 (or None) or ``ValidationError``."""
        if quality is None or quality == "":
            return None
        try:
            q = int(quality)
        except (TypeError, ValueError):
            raise ValidationError(
                "{kind} quality must be a whole number, got {value}",
                code="signals.quality_invalid",
                kind=cls.display(),
                value=repr(quality)[:40],
            ) from None
        if not 0 <= q <= 100:
            raise ValidationError(
                "{kind} quality must be between 0 and 100, got {value}",
                code="signals.quality_invalid",
                kind=cls.display(),
                value=q,
            )
        return q

    @classmethod
    def validate_value(cls, value: SignalValue) -> SignalValue:
        return SignalValue(
            cls.validate(value.value), cls.validate_quality(value.quality), dict(value.metadata)
        )

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        """Distance between two hashes; exact hashes: 0 when equal, 1 otherwise."""
        return 0 if cls.validate(a) == cls.validate(b) else 1

    @classmethod
    def matches(cls, a: str, b: str, threshold: float | None = None) -> bool:
        t = cls.default_threshold if threshold is None else threshold
        return cls.distance(a, b) <= t

    @classmethod
    def values_of(cls, result: JSON, quality: int | None = None) -> list[SignalValue]:
        """The values to store for one ``extract`` result (or a bare hash string, with its ``quality``)."""
        if isinstance(result, SignalValue):
            return [result]
        if isinstance(result, str):
            return [SignalValue(result, quality)]
        if isinstance(result, dict) and "hash" in result:
            q = result.get("quality", quality)
            meta = {k: v for k, v in result.items() if k not in ("hash", "quality", "dihedral")}
            return [SignalValue(str(result["hash"]), None if q is None else int(q), meta)]
        if isinstance(result, list) and not cls.single:
            return [v for item in result for v in cls.values_of(item)]
        return []

    @classmethod
    def queries_of(cls, result: JSON) -> dict[str, list[SignalValue]]:
        """What to look up for one ``extract`` result: ``{signal name: values}`` (a signal may search another
        signal's index too, as video frames search the image hashes)."""
        values = cls.values_of(result)
        return {cls.name: values} if values else {}

    @staticmethod
    def hashes_of(result: JSON) -> list[str]:
        """The hash strings in one ``extract`` result (used by indexes); override for structured results."""
        return [result] if isinstance(result, str) else []

    @classmethod
    def format_values(cls, values: Sequence[SignalValue]) -> str:
        """One value as exchange files write it (``signal_str``)."""
        return values[0].value if values else ""

    @classmethod
    def parse_values(cls, text: str, quality: int | None = None) -> list[SignalValue]:
        """The inverse of ``format_values``."""
        return [SignalValue(text.strip(), quality)]

    @classmethod
    def signature(cls, values: Sequence[SignalValue]) -> str:
        """The part of an entry's identity these values make (the same content added twice is one entry)."""
        return ",".join(v.value for v in values)


@dataclass(frozen=True)
class SignalValue:
    """One stored value of a hash signal: the hash, its quality (0-100 or None) and JSON-able metadata (a
    video frame's timestamp, a dihedral variant's name)."""

    value: str
    quality: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def hamming_hex(a: str, b: str) -> int:
    """Hamming distance of two equal-length hex strings."""
    if len(a) != len(b):
        raise ValidationError(
            "hashes differ in length ({a} and {b} hex digits)", code="signals.hash_length", a=len(a), b=len(b)
        )
    return (int(a, 16) ^ int(b, 16)).bit_count()
