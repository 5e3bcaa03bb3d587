"""Safe media decoding: recognise images and videos from their bytes, enforce limits, decode once.

``load(path_or_bytes) -> Media``; every failure is a ``MediaError`` whose ``reason`` a person understands.
"""

from __future__ import annotations

from jikimi.media.core import Media, load
from jikimi.media.sniff import Sniffed, sniff
from jikimi.media.types import Frame, Limits, MediaError

__all__ = ["Frame", "Limits", "Media", "MediaError", "Sniffed", "load", "sniff"]
