"""The plug-in interface every signal implements (hashes and analysers alike).

A signal has a ``name``, the content ``kinds`` it applies to ("image", "video") and ``extract(media)``, which
returns a JSON-able result computed from the already decoded ``Media`` (decode once; every signal sees the
same pixels). Hash signals add what matching needs, in the spirit of python-threatexchange's ``SignalType``:
``distance``, ``default_threshold``, ``validate`` (normalise a hash string or raise) and ``matches``.

Adding a signal = one module with a ``Signal`` subclass + one line in ``jikimi.signals.registry.SIGNALS``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
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
    """A signal whose value is a hash string that can be compared by distance and exchanged with others."""

    #: Distance at or below which two hashes are a match by default.
    default_threshold: ClassVar[int] = 0
    #: Hex digits in one hash (0 = not a fixed-length hex hash).
    hex_length: ClassVar[int] = 0
    #: Hashes (or video frames) with a quality below this are not trusted for matching (0 = no quality).
    min_quality: ClassVar[int] = 0

    @classmethod
    def trusted(cls, quality: int | None) -> bool:
        """Whether a hash of this quality may be used for matching."""
        return cls.min_quality == 0 or (quality is not None and quality >= cls.min_quality)

    @classmethod
    def validate(cls, value: str) -> str:
        """Return the normalised hash (lower-case hex) or raise ``ValidationError`` with the reason."""
        v = value.strip().lower()
        if cls.hex_length and not re.fullmatch(rf"[0-9a-f]{{{cls.hex_length}}}", v):
            raise ValidationError(
                f"not a valid {cls.name} hash: expected {cls.hex_length} hex digits, got {value!r:.80}",
            )
        return v

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Distance between two hashes; exact hashes: 0 when equal, 1 otherwise."""
        return 0 if cls.validate(a) == cls.validate(b) else 1

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        t = cls.default_threshold if threshold is None else threshold
        return cls.distance(a, b) <= t

    @staticmethod
    def hashes_of(result: JSON) -> list[str]:
        """The hash strings in one ``extract`` result (used by indexes); override for structured results."""
        return [result] if isinstance(result, str) else []


def hamming_hex(a: str, b: str) -> int:
    """Hamming distance of two equal-length hex strings."""
    if len(a) != len(b):
        raise ValidationError(f"hashes differ in length ({len(a)} and {len(b)} hex digits)")
    return (int(a, 16) ^ int(b, 16)).bit_count()
