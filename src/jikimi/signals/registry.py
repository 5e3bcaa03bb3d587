"""The registry of signals (one line each) and ``compute``: run all or selected signals on one ``Media``.

Signal classes are imported lazily by dotted path, so listing the registry does not load heavy models.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache

from jikimi.errors import JikimiError, NotFoundError
from jikimi.media import Media
from jikimi.signals.base import JSON, HashSignal, Signal

# name -> "module:Class". One line per signal; the order is the order results are computed and shown.
#: Hash signals (``HashSignal``): what ``jikimi hash`` computes, banks store and scans match.
HASH_SIGNALS: dict[str, str] = {
    "md5": "jikimi.signals.hashes:MD5Signal",
    "sha256": "jikimi.signals.hashes:SHA256Signal",
    "pdq": "jikimi.signals.pdq:PDQSignal",
    "vpdq": "jikimi.signals.vpdq:VPDQSignal",
    "tmk": "jikimi.signals.tmk:TMKSignal",
}
#: Analysers: faces, nudity, synthetic-media evidence.
ANALYSERS: dict[str, str] = {
    "face": "jikimi.signals.face:FaceSignal",
    "nudity": "jikimi.signals.nudity:NuditySignal",
    "synthetic": "jikimi.signals.synthetic:SyntheticSignal",
    "faceswap": "jikimi.signals.faceswap:FaceSwapSignal",
}
SIGNALS: dict[str, str] = {**HASH_SIGNALS, **ANALYSERS}


def names() -> list[str]:
    """All registered signal names."""
    return list(SIGNALS)


def signal_class(name: str) -> type[Signal]:
    """The ``Signal`` subclass registered as ``name``."""
    try:
        target = SIGNALS[name]
    except KeyError:
        raise NotFoundError(
            "no signal named {name}",
            code="signals.unknown",
            hint="known signals: {known}",
            name=repr(name),
            known=", ".join(SIGNALS),
        ) from None
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Signal)):
        raise TypeError(f"{target} is not a Signal subclass")
    return cls


@cache
def get(name: str) -> Signal:
    """The default (shared) instance of the signal ``name``."""
    return signal_class(name)()


def hash_signal(name: str) -> HashSignal:
    sig = get(name)
    if not isinstance(sig, HashSignal):
        raise NotFoundError("{name} is not a hash signal", code="signals.not_a_hash", name=repr(name))
    return sig


def hash_signals() -> list[HashSignal]:
    """Every registered hash signal, in registry order."""
    return [hash_signal(n) for n in HASH_SIGNALS]


def hash_signal_named(name: str) -> HashSignal | None:
    """The hash signal known as ``name``: ours or python-threatexchange's name, or an alias (None if none)."""
    key = name.strip().lower()
    for sig in hash_signals():
        if key in sig.names():
            return sig
    return None


def _resolve(signals: Iterable[str | Signal] | None) -> list[Signal]:
    if signals is None:
        return [get(n) for n in SIGNALS]
    return [get(s) if isinstance(s, str) else s for s in signals]


def compute(media: Media, signals: Iterable[str | Signal] | None = None) -> dict[str, JSON]:
    """Run the given signals (names or configured instances; default: all registered) on ``media``.

    Signals that do not apply to the media's kind (``pdq`` on a video, ``vpdq`` on an image) are skipped.
    Returns ``{name: result}``; the first failure raises (see ``compute_each`` to keep going).
    """
    return {s.name: s.extract(media) for s in _resolve(signals) if s.applies_to(media)}


def compute_each(
    media: Media, signals: Iterable[str | Signal] | None = None
) -> tuple[dict[str, JSON], dict[str, str]]:
    """Like ``compute`` but a failing signal does not stop the others: returns ``(results, errors)`` with
    ``errors[name]`` the reason a person can read."""
    results: dict[str, JSON] = {}
    errors: dict[str, str] = {}
    for s in _resolve(signals):
        if not s.applies_to(media):
            continue
        try:
            results[s.name] = s.extract(media)
        except JikimiError as exc:
            errors[s.name] = str(exc)
    return results, errors
