"""A finding's evidence in words, for the review card: how like her enrolled photo the face is, which bank
or source photo it matches, whether it is explicit, and what the generation signals say.

No raw keys (``face_score``, ``jikimi-confirmed``) and no score that reads like a verdict ("53% deepfake"):
the face-swap detector is a weak, supporting signal and is worded so. Each line is an English source string
(translated where it is shown) and its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jikimi.web import N_

CONFIRMED_BANK = "jikimi-confirmed"  # the bank of this centre's confirmed findings (jikimi.takedown.hooks)
VERY_SIMILAR_FAR = 1e-4
SIMILAR_FAR = 1e-3
EXPLICIT = 0.6
FACESWAP_LEANS = 0.7
FACESWAP_UNSURE = 0.4
MANY_POINTS = 60


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _face_line(p: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    far = _number(p.get("far"))
    name = str(p.get("name") or "")
    if far is None or far <= VERY_SIMILAR_FAR:
        return N_("%(name)s: her face is very like her enrolled photo"), {"name": name}, False
    if far <= SIMILAR_FAR:
        return N_("%(name)s: her face is like her enrolled photo"), {"name": name}, False
    return (
        N_("%(name)s: her face is somewhat like her enrolled photo; compare them closely"),
        {"name": name},
        True,
    )


def lines(
    *,
    reasons: Sequence[str],
    scores: Mapping[str, Any],
    people: Sequence[Mapping[str, Any]],
    banks: Sequence[str],
) -> list[dict[str, Any]]:
    """``[{"text": English source string, "params": {...}, "weak": bool}]``, strongest evidence first."""
    out: list[dict[str, Any]] = []

    def add(text: str, params: dict[str, Any] | None = None, weak: bool = False) -> None:
        out.append({"text": text, "params": params or {}, "weak": weak})

    for bank in banks:
        if bank == CONFIRMED_BANK:
            add(N_("The same image as one this centre confirmed before"))
        else:
            add(N_("Matches an image in the hash bank %(bank)s"), {"bank": bank})
    if "bank_match" in reasons and not banks:
        add(N_("Matches an image in a hash bank"))
    for p in people:
        by = p.get("by") or []
        if "face" in by:
            text, params, weak = _face_line(p)
            add(text, params, weak)
        if "source_photo" in by:
            inliers = _number(p.get("inliers")) or 0
            params = {"name": str(p.get("name") or ""), "source": p.get("source_id") or ""}
            if inliers >= MANY_POINTS:
                add(N_("%(name)s: made from her source photo no. %(source)s (closely matching)"), params)
            else:
                add(N_("%(name)s: made from her source photo no. %(source)s"), params)
    nudity = _number(scores.get("nudity"))
    if nudity is not None and nudity >= EXPLICIT:
        add(N_("Likely explicit"))
    synthetic = _number(scores.get("synthetic"))
    if synthetic is not None and synthetic >= 1:
        add(
            N_("The file carries signs of generation or editing (metadata, watermark or content credentials)")
        )
    faceswap = _number(scores.get("faceswap"))
    leans = N_(
        "The face-swap detector leans towards a swapped face (a weak signal that proves nothing alone)"
    )
    if faceswap is not None and faceswap >= FACESWAP_LEANS:
        add(leans, weak=True)
    elif faceswap is not None and faceswap >= FACESWAP_UNSURE:
        add(N_("The face-swap detector is unsure (a weak signal)"), weak=True)
    return out
