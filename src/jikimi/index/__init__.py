"""Hash search: exact PDQ range search over millions of hashes (``PDQIndex``) and vPDQ video matching
(``VideoIndex``). No database here: ``jikimi.store.banks`` loads these from the banks and keeps them
current."""

from jikimi.index.pdq_index import (
    DEFAULT_THRESHOLD,
    QUALITY_TRUSTED,
    PDQIndex,
    PDQMatch,
    brute_force,
    codes_to_hex,
    hamming,
    hex_to_codes,
    normalize_pdq_hex,
)
from jikimi.index.video import VideoFrame, VideoHit, VideoIndex

__all__ = [
    "DEFAULT_THRESHOLD",
    "QUALITY_TRUSTED",
    "PDQIndex",
    "PDQMatch",
    "VideoFrame",
    "VideoHit",
    "VideoIndex",
    "brute_force",
    "codes_to_hex",
    "hamming",
    "hex_to_codes",
    "normalize_pdq_hex",
]
