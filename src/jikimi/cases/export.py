"""Evidence packages: one zip per case that can be checked offline, by Jikimi or by ``sha256sum``.

Layout (everything under one folder ``jikimi-case-<ID>/``)::

README.txt       how to verify manifest.json    case, findings (reasons, scores, review), media (hashes),
sightings, captures, personal data (masked), the audit chain head at export time custody.jsonl    the
chain-of-custody: every audit entry about the case, its findings and its media, with ``prev_hash`` and
``hash`` (hash = SHA-256(prev_hash + canonical JSON of the entry)) originals/<sha256>.<ext>   the originals,
decrypted from the vault SHA256SUMS       ``sha256sum -c`` list of every other file

``jikimi evidence verify FILE.zip`` checks every file's hash, that each original's name is its SHA-256, that
the manifest and the originals agree and that every custody entry's hash is correct. Without Jikimi::

    unzip FILE.zip && cd jikimi-case-ID && sha256sum -c SHA256SUMS

The export itself is audited twice: ``evidence.export`` (included in the package) before writing, and
``evidence.export.sealed`` with the SHA-256 of the finished zip (in the live log only), so the live log can
later prove which package was produced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi import __version__
from jikimi.errors import JikimiError, ValidationError
from jikimi.store import audit, vault
from jikimi.store.findings import sighting_json
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.schema.scans import Finding, MediaRecord, PersonalDataRecord, SightingRecord

_EXT = {
    "JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif",
    "HEIF": ".heic", "HEIC": ".heic", "AVIF": ".avif", "MP4": ".mp4", "MOV": ".mov", "WEBM": ".webm",
    "MATROSKA": ".mkv", "MKV": ".mkv", "AVI": ".avi",
}  # fmt: skip

README = """Jikimi evidence package for case {case_id} ({created})

Check it with Jikimi:      jikimi evidence verify {zip_name}
Check it without Jikimi:   cd {folder} && sha256sum -c SHA256SUMS

Every file in originals/ is named by the SHA-256 of its bytes. manifest.json lists the findings, the
sightings (where and when each original was seen) and the captures (when it was collected). custody.jsonl is
the chain of custody from Jikimi's append-only audit log: each entry's "hash" is the SHA-256 of its
"prev_hash" (as 64 hex characters) followed by the canonical JSON (sorted keys, no spaces, UTF-8) of
{{"action", "actor", "at", "details", "subject"}}.
"""


class EvidenceError(JikimiError):
    """An evidence package could not be written or read."""


@dataclass
class ExportResult:
    path: Path
    sha256: str
    findings: int
    originals: int
    missing_originals: list[str] = field(default_factory=list)
    custody_entries: int = 0


def _ext(fmt: str | None) -> str:
    return _EXT.get((fmt or "").upper(), ".bin")


def _entry_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": audit.iso_utc(e.at),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "details": json.loads(e.details_json),
        "details_json": e.details_json,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def export_case(
    session: Session,
    case_id: int,
    out: Path,
    *,
    actor: str,
    include_dismissed: bool = False,
    vault_: vault.Vault | None = None,
) -> ExportResult:
    """Write the evidence package of one case to ``out`` (a .zip) and audit it."""
    from jikimi.cases.queries import case_detail, finding_fields, get_case

    case = get_case(session, case_id)
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise ValidationError(
            "{out} does not end in .zip",
            code="cases.export_name",
            hint="name the package file with .zip at the end",
            cli_hint="give --out FILE.zip",
            out=str(out),
        )
    v = vault_ or vault.default_vault()
    q = select(Finding, MediaRecord).join(MediaRecord, MediaRecord.id == Finding.media_id)
    q = q.where(Finding.case_id == case_id)
    if not include_dismissed:
        q = q.where(Finding.status != "dismissed")
    rows = session.execute(q.order_by(Finding.id)).all()
    media = {m.id: m for _, m in rows}
    shas = sorted({m.sha256 for m in media.values()})
    audit.append(
        session,
        actor=actor,
        action="evidence.export",
        subject=f"case:{case_id}",
        details={"file": out.name, "findings": [f.id for f, _ in rows], "media": shas},
    )
    session.flush()
    subjects = {f"case:{case_id}"} | {f"finding:{f.id}" for f, _ in rows} | {f"media:{s}" for s in shas}
    custody = [
        _entry_json(e)
        for e in session.execute(
            select(AuditEntry).where(AuditEntry.subject.in_(subjects)).order_by(AuditEntry.id)
        ).scalars()
    ]
    head = audit.verify(session)
    folder = f"jikimi-case-{case_id}"
    detail = case_detail(session, case_id)
    findings_out = []
    for f, m in rows:
        sightings = session.execute(
            select(SightingRecord).where(SightingRecord.media_id == m.id).order_by(SightingRecord.id)
        ).scalars()
        pii = session.execute(
            select(PersonalDataRecord).where(PersonalDataRecord.finding_id == f.id)
        ).scalars()
        findings_out.append(
            {
                "finding_id": f.id,
                "status": f.status,
                **finding_fields(f),
                "media_sha256": m.sha256,
                "sightings": [sighting_json(s, mask=True) for s in sightings],
                "personal_data": [{"type": p.kind, "masked": p.masked, "where": p.field} for p in pii],
            }
        )
    media_out = []
    missing: list[str] = []
    originals: dict[str, bytes] = {}
    for m in sorted(media.values(), key=lambda x: x.sha256):
        name = f"originals/{m.sha256}{_ext(m.format)}"
        try:
            originals[name] = v.read(m.sha256)
        except JikimiError as exc:
            missing.append(m.sha256)
            name = ""
            reason = str(exc)
        else:
            reason = ""
        media_out.append(
            {
                "sha256": m.sha256,
                "md5": m.md5,
                "size": m.size,
                "kind": m.kind,
                "format": m.format,
                "pdq": m.pdq,
                "file": name or None,
                "missing_reason": reason or None,
                "captures": [
                    {
                        "source": c.source,
                        "link": c.link,
                        "retrieved_at": c.retrieved_at.isoformat(),
                        "captured_by": c.captured_by,
                    }
                    for c in vault.captures(session, m.sha256)
                ]
                if vault.has(session, m.sha256)
                else [],
            }
        )
    manifest = {
        "format": "jikimi-evidence/1",
        "jikimi_version": __version__,
        "exported_at": utcnow().isoformat(),
        "exported_by": actor,
        "case": {k: detail[k] for k in ("id", "title", "queue", "person_id", "minor", "priority")},
        "priority_factors": case.priority_factors,
        "findings": findings_out,
        "media": media_out,
        "audit_chain": {"entries": head.count, "head_hash": head.head_hash, "verified": head.ok},
        "custody_file": "custody.jsonl",
    }
    files: dict[str, bytes] = {
        "README.txt": README.format(
            case_id=case_id, created=manifest["exported_at"], zip_name=out.name, folder=folder
        ).encode(),
        "manifest.json": json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"),
        "custody.jsonl": "".join(
            json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in custody
        ).encode(),
        **originals,
    }
    sums = "".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".zip", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for n, b in sorted(files.items()):
                zf.writestr(f"{folder}/{n}", b)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    audit.append(
        session,
        actor=actor,
        action="evidence.export.sealed",
        subject=f"case:{case_id}",
        details={
            "file": out.name,
            "zip_sha256": digest,
            "manifest_sha256": hashlib.sha256(files["manifest.json"]).hexdigest(),
        },
    )
    return ExportResult(out, digest, len(rows), len(originals), missing, len(custody))


@dataclass
class ExportVerification:
    ok: bool
    files: int = 0
    originals: int = 0
    custody_entries: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            "originals": self.originals,
            "custody_entries": self.custody_entries,
            "problems": self.problems,
        }


def verify_export(path: Path) -> ExportVerification:
    """Check an evidence package offline (no database, no key): hashes, names, manifest and custody chain."""
    res = ExportVerification(ok=False)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise EvidenceError(
            "{path} is not a readable zip: {detail}",
            code="cases.evidence_unreadable",
            hint="check the file was copied completely",
            path=str(path),
            detail=str(exc),
        ) from exc
    with zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        sums_name = next((n for n in names if n.endswith("/SHA256SUMS") and n.count("/") == 1), None)
        if sums_name is None:
            raise EvidenceError(
                "{path} has no SHA256SUMS",
                code="cases.not_evidence",
                hint="this is not a Jikimi evidence package",
                path=str(path),
            )
        folder = sums_name.rsplit("/", 1)[0]
        listed: dict[str, str] = {}
        for line in zf.read(sums_name).decode("utf-8").splitlines():
            if line.strip():
                digest, _, name = line.partition("  ")
                listed[f"{folder}/{name}"] = digest
        for n in names:
            if n == sums_name:
                continue
            if n not in listed:
                res.problems.append(f"{n} is not listed in SHA256SUMS (added after export)")
        for n, digest in listed.items():
            if n not in names:
                res.problems.append(f"{n} is listed but missing")
                continue
            data = zf.read(n)
            res.files += 1
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                res.problems.append(f"{n} was changed (SHA-256 {actual[:16]}…, listed {digest[:16]}…)")
            if n.startswith(f"{folder}/originals/"):
                res.originals += 1
                stem = Path(n).name.split(".", 1)[0]
                if stem != actual:
                    res.problems.append(f"{n} is not named by its SHA-256")
        try:
            manifest = json.loads(zf.read(f"{folder}/manifest.json"))
            for m in manifest.get("media", []):
                if m.get("file") and f"{folder}/{m['file']}" not in names:
                    res.problems.append(f"manifest lists {m['file']} but it is not in the package")
        except (KeyError, ValueError) as exc:
            res.problems.append(f"manifest.json unreadable: {exc}")
        try:
            lines = zf.read(f"{folder}/custody.jsonl").decode("utf-8").splitlines()
        except KeyError:
            lines = []
            res.problems.append("custody.jsonl is missing")
        prev: dict[str, Any] | None = None
        for line in lines:
            if not line.strip():
                continue
            e = json.loads(line)
            res.custody_entries += 1
            if audit.canonical_json(e.get("details")) != e.get("details_json"):
                res.problems.append(f"custody entry {e.get('id')} details differ from the hashed details")
            payload = _custody_payload(e)
            if hashlib.sha256((e["prev_hash"] + payload).encode("utf-8")).hexdigest() != e["hash"]:
                res.problems.append(f"custody entry {e.get('id')} was changed (hash mismatch)")
            if prev is not None and e["id"] == prev["id"] + 1 and e["prev_hash"] != prev["hash"]:
                res.problems.append(f"custody entry {e['id']} does not follow entry {prev['id']}")
            prev = e
    res.ok = not res.problems
    return res


def _custody_payload(e: dict[str, Any]) -> str:
    head = audit.canonical_json(
        {"action": e["action"], "actor": e["actor"], "at": e["at"], "subject": e["subject"]}
    )
    before, after = head.split(',"subject":', 1)
    return f'{before},"details":{e["details_json"]},"subject":{after}'
