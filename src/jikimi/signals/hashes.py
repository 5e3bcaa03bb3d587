"""Exact cryptographic hashes of the file bytes: MD5 (what most hash lists use) and SHA-256 (evidence).

Exact values have no in-memory index: banks look them up in the store by (signal, value).
python-threatexchange names them ``video_md5``/``video_sha256`` (it has no photo MD5 type); ``md5``/``sha256``
and ``photo_md5`` are accepted on import."""

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
    label: ClassVar[str] = "MD5"
    pytx_name: ClassVar[str] = "video_md5"
    aliases: ClassVar[tuple[str, ...]] = ("photo_md5",)
    pytx_kinds: ClassVar[frozenset[str] | None] = frozenset({VIDEO})

    def extract(self, media: Media) -> str:
        return media.md5


class SHA256Signal(HashSignal):
    """SHA-256 of the file bytes (computed while loading, so free)."""

    name: ClassVar[str] = "sha256"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    description: ClassVar[str] = "SHA-256 of the exact file bytes (evidence integrity, exact matches)"
    hex_length: ClassVar[int] = 64
    label: ClassVar[str] = "SHA-256"
    pytx_name: ClassVar[str] = "video_sha256"
    pytx_kinds: ClassVar[frozenset[str] | None] = frozenset({VIDEO})

    def extract(self, media: Media) -> str:
        return media.sha256
