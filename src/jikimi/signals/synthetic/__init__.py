"""The ``synthetic`` analyser: positive evidence that content was generated or edited, each item saying what
was found and where.

Sources: C2PA manifests (:mod:`.manifest`), generator metadata (:mod:`.metadata`, names listed in
``generators.yaml``) and generators' invisible DWT-DCT watermarks (:mod:`.watermark`, lossless images only).
The face-swap detector joins through :func:`combine` when its score reaches its calibrated threshold. Finding
nothing is reported as "no evidence found", never as "authentic": metadata is easily stripped and marks do not
survive re-encoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from jikimi.errors import JikimiError
from jikimi.signals.base import IMAGE, JSON, VIDEO, Signal

if TYPE_CHECKING:
    from jikimi.media import Media

EVIDENCE = "evidence of generation or editing"
NO_EVIDENCE = "no evidence found"
NOTE = "Absence of evidence does not show that content is authentic."
LOSSLESS = {"PNG", "BMP", "TIFF"}


def is_lossless(media: Media) -> bool:
    """Whether the image is stored losslessly (where DWT-DCT watermarks can survive)."""
    if media.format in LOSSLESS:
        return True
    if media.format == "WEBP":
        head = media.data()[: 1 << 20]
        return b"VP8L" in head and b"VP8 " not in head
    return False


def _verdict(evidence: list[dict[str, Any]]) -> str:
    return EVIDENCE if evidence else NO_EVIDENCE


class SyntheticSignal(Signal):
    """C2PA claims, generator metadata and invisible generator watermarks."""

    name: ClassVar[str] = "synthetic"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    version: ClassVar[int] = 1
    description: ClassVar[str] = "evidence of generation/editing: C2PA, generator metadata, SD watermarks"

    def __init__(self, *, c2pa: bool = True, metadata: bool = True, watermarks: bool = True) -> None:
        self.use_c2pa = c2pa
        self.use_metadata = metadata
        self.use_watermarks = watermarks

    def analyse(self, media: Media, rgb: np.ndarray | None = None) -> dict[str, Any]:
        """The result for ``media``; ``rgb`` are its already decoded pixels (images), to decode only once."""
        evidence: list[dict[str, Any]] = []
        checks: dict[str, str] = {}
        result: dict[str, Any] = {}
        if self.use_c2pa:
            from jikimi.signals.synthetic import manifest

            try:
                data = None if media.kind == VIDEO and media.path is not None else media.data()
                store = manifest.read_store(media.format, data=data, path=media.path)
            except Exception as exc:  # a damaged manifest is itself worth reporting, not a failure
                checks["c2pa"] = f"manifest present but unreadable ({exc})"
                result["c2pa"] = None
            else:
                if store is None:
                    checks["c2pa"] = "no C2PA manifest"
                    result["c2pa"] = None
                else:
                    summary, found = manifest.summarise(store)
                    checks["c2pa"] = f"C2PA manifest, validation state {summary['validation_state']}"
                    result["c2pa"] = summary
                    evidence += found
        if self.use_metadata:
            if media.kind == IMAGE:
                from jikimi.signals.synthetic.metadata import metadata_findings

                found, summary = metadata_findings(media.data())
                evidence += found
                result["metadata"] = summary
                checks["metadata"] = "checked"
            else:
                checks["metadata"] = "not checked for videos"
        if self.use_watermarks:
            if media.kind != IMAGE:
                checks["watermark"] = "not checked for videos"
            elif not is_lossless(media):
                checks["watermark"] = f"not checked: {media.format} is lossy (these marks do not survive it)"
            else:
                from jikimi.signals.synthetic.watermark import MIN_PIXELS, find_marks

                pixels = np.asarray(media.image) if rgb is None else rgb
                if pixels.shape[0] * pixels.shape[1] < MIN_PIXELS:
                    checks["watermark"] = "not checked: smaller than 256x256 pixels"
                else:
                    for mark in find_marks(pixels):
                        evidence.append(
                            {
                                "kind": "watermark",
                                "source": "invisible DWT-DCT watermark",
                                "finding": f"{mark['name']} watermark of {mark['generator']}",
                                "detail": mark,
                            }
                        )
                    checks["watermark"] = "checked (Stable Diffusion v1/v2, SDXL)"
        return {
            "conclusion": _verdict(evidence),
            "evidence": evidence,
            "checks": checks,
            "note": NOTE,
            **result,
        }

    def extract(self, media: Media) -> JSON:
        try:
            return self.analyse(media)
        except JikimiError:
            raise
        except (OSError, ValueError) as exc:
            raise JikimiError(
                "could not look for synthetic-media evidence: {detail}",
                code="synthetic.failed",
                detail=str(exc),
            ) from exc


def combine(results: dict[str, Any]) -> dict[str, Any]:
    """Join the synthetic evidence with the face-swap detector's, when its score reaches its threshold.

    ``results`` maps signal names to their results (``synthetic``, ``faceswap``). A face-swap score below the
    threshold adds nothing and never makes content "authentic".
    """
    syn = results.get("synthetic") or {}
    evidence = list(syn.get("evidence") or [])
    fs = results.get("faceswap") or {}
    score, threshold = fs.get("score"), fs.get("threshold")
    if isinstance(score, int | float) and isinstance(threshold, int | float) and score >= threshold:
        evidence.append(
            {
                "kind": "faceswap",
                "source": "face-swap detector (self-blended images CNN)",
                "finding": f"face-swap score {score:.2f} reaches the calibrated threshold {threshold:.2f}",
                "detail": {"score": score, "threshold": threshold, "model": fs.get("model")},
            }
        )
    return {"conclusion": _verdict(evidence), "evidence": evidence, "note": NOTE}
