"""Exact cryptographic hashes of the file bytes: MD5 (what most hash lists use) and SHA-256 (evidence)."""

from __future__ import annotations

from typing import ClassVar

from jikimi.media import Media
from jikimi.signals.base import IMAGE, VIDEO, HashSignal


class MD5Signal(HashSignal):
    """MD5 of the file bytes (computed while loading, so free)."""

    name: ClassVar[str] = "md5"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    description: ClassVar[str] = "MD5 of the exact file bytes (matches only identical files)"
    hex_length: ClassVar[int] = 32

    def extract(self, media: Media) -> str:
        return media.md5


class SHA256Signal(HashSignal):
    """SHA-256 of the file bytes (computed while loading, so free)."""

    name: ClassVar[str] = "sha256"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    description: ClassVar[str] = "SHA-256 of the exact file bytes (evidence integrity, exact matches)"
    hex_length: ClassVar[int] = 64

    def extract(self, media: Media) -> str:
        return media.sha256
