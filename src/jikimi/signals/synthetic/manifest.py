"""C2PA Content Credentials (``c2pa-python``): what a manifest says about how the content was made.

Read offline (no remote manifests, no OCSP). A manifest's claims are the signer's own statements: they count
as evidence of generation or editing whatever the trust state, and the validation state is reported beside
them.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

from jikimi.signals.synthetic.metadata import AI_SOURCE_TYPES, name_tools

#: Media formats (``Media.format``) to the MIME type c2pa reads them as.
MIME: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
    "MP4": "video/mp4",
    "MOV": "video/quicktime",
    "AVI": "video/avi",
    "3GP": "video/mp4",
}
#: Actions that change the content (c2pa.actions), shown as editing evidence.
EDIT_ACTIONS = {
    "c2pa.edited",
    "c2pa.color_adjustments",
    "c2pa.cropped",
    "c2pa.drawing",
    "c2pa.filtered",
    "c2pa.resized",
    "c2pa.transcoded",
    "c2pa.converted",
    "c2pa.placed",
    "c2pa.removed",
}

_local = threading.local()


def _context() -> Any:
    """A c2pa Context (one per thread) that never fetches remote manifests or certificate status."""
    ctx = getattr(_local, "context", None)
    if ctx is None:
        import c2pa

        settings = c2pa.Settings.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
        ctx = _local.context = c2pa.Context(settings=settings)
    return ctx


def read_store(fmt: str, *, data: bytes | None = None, path: Path | None = None) -> dict[str, Any] | None:
    """The manifest store as a dict, or None when the file carries none (or its format cannot)."""
    mime = MIME.get(fmt.upper())
    if mime is None:
        return None
    import c2pa

    stream: Any = io.BytesIO(data) if data is not None else (path.open("rb") if path is not None else None)
    if stream is None:
        return None
    try:
        reader = c2pa.Reader.try_create(mime, stream, None, _context())
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
        return store if isinstance(store, dict) else None
    finally:
        stream.close()


def _source_type(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.rstrip("/").rsplit("/", 1)[-1]


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, dict):
        name = agent.get("name")
        return f"{name} {agent.get('version', '')}".strip() if name else None
    return agent if isinstance(agent, str) else None


def summarise(store: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, findings) of a manifest store: generators, actions, digital source types, validation."""
    manifests: dict[str, Any] = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(str(active_label)) or {}
    results = store.get("validation_results") or {}
    failures = [f.get("code") for f in (results.get("activeManifest") or {}).get("failure", [])]
    summary: dict[str, Any] = {
        "validation_state": store.get("validation_state"),
        "validation_failures": failures,
        "manifests": len(manifests),
        "claim_generator": None,
        "signer": (active.get("signature_info") or {}).get("common_name"),
        "issuer": (active.get("signature_info") or {}).get("issuer"),
        "actions": [],
        "digital_source_types": [],
    }
    findings: list[dict[str, Any]] = []
    for label, manifest in manifests.items():
        where = "active manifest" if label == active_label else "ingredient manifest"
        gens = [
            _agent_name(g) for g in (manifest.get("claim_generator_info") or []) if _agent_name(g) is not None
        ]
        if manifest.get("claim_generator"):
            gens.append(str(manifest["claim_generator"]))
        if label == active_label:
            summary["claim_generator"] = ", ".join(g for g in gens if g) or None
        for gen in gens:
            named = name_tools(gen or "")
            if named:
                findings.append(
                    {
                        "kind": "c2pa",
                        "source": f"C2PA {where} claim generator",
                        "finding": "made with " + ", ".join(f"{t.name} ({t.kind})" for t in named),
                        "detail": {"claim_generator": gen},
                    }
                )
        for assertion in manifest.get("assertions") or []:
            if not str(assertion.get("label", "")).startswith("c2pa.actions"):
                continue
            for action in (assertion.get("data") or {}).get("actions") or []:
                name = str(action.get("action", ""))
                dst = _source_type(action.get("digitalSourceType"))
                agent = _agent_name(action.get("softwareAgent"))
                if label == active_label:
                    summary["actions"].append(
                        {
                            k: v
                            for k, v in {"action": name, "software": agent, "source_type": dst}.items()
                            if v
                        }
                    )
                if dst and dst not in summary["digital_source_types"]:
                    summary["digital_source_types"].append(dst)
                if dst in AI_SOURCE_TYPES:
                    findings.append(
                        {
                            "kind": "c2pa",
                            "source": f"C2PA {where}, action {name}",
                            "finding": AI_SOURCE_TYPES[dst],
                            "detail": {"action": name, "digitalSourceType": dst, "software": agent},
                        }
                    )
                elif name in EDIT_ACTIONS and label == active_label:
                    findings.append(
                        {
                            "kind": "c2pa",
                            "source": f"C2PA {where}",
                            "finding": f"declares an edit ({name})" + (f" with {agent}" if agent else ""),
                            "detail": {"action": name, "software": agent},
                        }
                    )
                named = name_tools(agent or "")
                if named:
                    findings.append(
                        {
                            "kind": "c2pa",
                            "source": f"C2PA {where}, action {name}",
                            "finding": "software agent " + ", ".join(f"{t.name} ({t.kind})" for t in named),
                            "detail": {"software": agent},
                        }
                    )
    state = summary["validation_state"]
    for f in findings:
        f["detail"]["validation_state"] = state
    return summary, findings
