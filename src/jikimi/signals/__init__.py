"""Signals computed from decoded media: exact and perceptual hashes (md5, sha256, pdq, vpdq) and analysers.

The plug-in interface is ``jikimi.signals.base``; the registry and ``compute`` are in
``jikimi.signals.registry``.
"""

from __future__ import annotations

from jikimi.signals.base import JSON, HashSignal, Signal
from jikimi.signals.registry import SIGNALS, compute, compute_each, get, hash_signal, names, signal_class

__all__ = [
    "JSON",
    "SIGNALS",
    "HashSignal",
    "Signal",
    "compute",
    "compute_each",
    "get",
    "hash_signal",
    "names",
    "signal_class",
]
