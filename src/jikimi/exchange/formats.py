"""Import and export banks in the formats hash exchanges use.

Signal types are the registered hash signals' python-threatexchange names (``HashSignal.pytx_name``: ``pdq``,
``video_md5``, ``video_sha256``, ``vpdq``...; our names and aliases such as ``md5`` are accepted on import),
and each signal reads and writes its own values (``HashSignal.parse_values``/``format_values``).

- ``pytx``: python-threatexchange's local signal file (``LocalFileSignalExchangeAPI``): one ``TYPE HASH`` per
  line, read with the library itself (signals with one value per entry: not vPDQ's frames).
- ``csv``: python-threatexchange's ``dataset --csv`` columns (``signal_type, signal_str, collab, category,
  tags``) plus ours (``entry, quality, case_ref, note, source, content_uri``); rows sharing ``entry`` are
  one entry with several signals.
- ``stopncii``: StopNCII hash records (``signalType``, ``hashValue``, ``hashStatus``, ``caseNumbers``...), a
  JSON list or a FetchHashes response, parsed into python-threatexchange's ``StopNCIIHashRecord``. A record
  whose ``hashStatus`` is Withdrawn or Deleted removes the entry (python-threatexchange 1.2.17 compares the
  hash value with the status instead, so it never removes anything).
- ``ncmec`` (import only): NCMEC hash-sharing ``GetEntries`` XML, parsed with python-threatexchange;
  deleted entries remove ours.

An import is one transaction: rows that fail get a row number and a reason, the others are imported.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.errors import JikimiError, ValidationError
from jikimi.signals import registry
from jikimi.signals.base import HashSignal, SignalValue
from jikimi.store import audit
from jikimi.store.banks import EntryInput, add_entry, get_bank, iter_entries
from jikimi.store.schema.banks import BankEntry, BankSignal

FORMATS = ("pytx", "csv", "stopncii", "ncmec")
EXPORT_FORMATS = ("pytx", "csv", "stopncii")
CSV_COLUMNS = [
    "signal_type",
    "signal_str",
    "collab",
    "category",
    "tags",
    "entry",
    "quality",
    "case_ref",
    "note",
    "source",
    "content_uri",
]
_REMOVED_STATUSES = {"Withdrawn", "Deleted"}


@dataclass
class RowError:
    row: int
    reason: str


@dataclass
class ImportReport:
    """What an import did. ``removed_ids`` lets a live ``BankMatcher`` forget them (``forget``)."""

    added: int = 0
    duplicates: int = 0
    removed_ids: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    untrusted: int = 0

    @property
    def removed(self) -> int:
        return len(self.removed_ids)


@dataclass
class _Record:
    row: int
    entry: EntryInput | None
    remove: tuple[str, str] | None = None  # (signal, value) to delete
    error: str | None = None


# -- readers -------------------------------------------------------------------------------------------
def _signal_type(signal_type: str) -> HashSignal:
    sig = registry.hash_signal_named(signal_type)
    if sig is None:
        known = sorted({n for s in registry.hash_signals() for n in s.names()})
        raise ValidationError(
            "unknown signal type {name}",
            code="exchange.unknown_signal",
            hint="use one of {known}",
            name=repr(signal_type),
            known=str(known),
        )
    return sig


def _signal_entry(signal_type: str, value: str, quality: int | None = None, **meta: Any) -> EntryInput:
    sig = _signal_type(signal_type)
    return EntryInput({sig.name: sig.parse_values(value, quality)}, **meta)


def read_pytx(path: Path) -> Iterator[_Record]:
    """python-threatexchange's local file format, read with ``LocalFileSignalExchangeAPI``."""
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

    api = LocalFileSignalExchangeAPI(
        FileCollaborationConfig(name="import", api="local_file", enabled=True, filename=str(path))
    )
    keys = [k for delta in api.fetch_iter([], None) for k in delta.updates]
    # The library drops lines it cannot split and does not number them: find each key's line (same rule).
    first_line: dict[tuple[str, str], int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        signal_type, _, signal = line.strip().partition(" ")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not (signal_type and signal):
            yield _Record(n, None, error="expected 'SIGNAL_TYPE HASH' on the line")
            continue
        first_line.setdefault((signal_type, signal), n)
    for signal_type, value in keys:
        n = first_line.get((signal_type, value), 0)
        if signal_type.startswith("#"):
            continue
        try:
            yield _Record(n, _signal_entry(signal_type, value, source="pytx"))
        except (JikimiError, ValueError) as exc:
            yield _Record(n, None, error=str(exc))


def read_csv(path: Path) -> Iterator[_Record]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"signal_type", "signal_str"} <= set(reader.fieldnames):
        yield _Record(1, None, error="the header needs the columns signal_type and signal_str")
        return
    grouped: dict[str, tuple[int, EntryInput]] = {}
    for n, row in enumerate(reader, start=2):
        try:
            tags = [t for t in (row.get("tags") or "").replace(";", ",").replace(" ", ",").split(",") if t]
            quality = (row.get("quality") or "").strip()
            meta: dict[str, Any] = {
                "labels": tags,
                "case_ref": row.get("case_ref") or "",
                "note": row.get("note") or "",
                "source": row.get("source") or row.get("collab") or "csv",
                "content_uri": row.get("content_uri") or "",
            }
            e = _signal_entry(
                row.get("signal_type") or "",
                row.get("signal_str") or "",
                int(quality) if quality else None,
                **meta,
            )
            e.normalized()  # report a bad row here, with its number
        except (JikimiError, ValueError, TypeError) as exc:
            yield _Record(n, None, error=str(exc))
            continue
        key = (row.get("entry") or "").strip()
        if not key:
            yield _Record(n, e)
            continue
        if key in grouped:
            g = grouped[key][1]
            for name, values in e.signals.items():
                g.signals.setdefault(name, values)
            g.labels = sorted(set(g.labels) | set(e.labels))
        else:
            grouped[key] = (n, e)
    for n, e in grouped.values():
        yield _Record(n, e)


def read_stopncii(path: Path) -> Iterator[_Record]:
    """StopNCII hash records, parsed with python-threatexchange's ``StopNCIIHashRecord`` dataclass."""
    import dacite
    from threatexchange.exchanges.clients.stopncii.api import StopNCIIHashRecord, StopNCIISignalType

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        yield _Record(0, None, error=f"not JSON: {exc}")
        return
    records = data.get("hashRecords", []) if isinstance(data, dict) else data
    if not isinstance(records, list):
        yield _Record(0, None, error="expected a list of hash records or an object with hashRecords")
        return
    types = {StopNCIISignalType.ImagePDQ: "pdq", StopNCIISignalType.VideoMD5: "md5"}
    for n, raw in enumerate(records, start=1):
        try:
            if not isinstance(raw, dict):
                raise ValueError("a record is a JSON object")
            raw = {"lastModtimestamp": 0, "caseNumbers": {}, **raw}
            rec = dacite.from_dict(StopNCIIHashRecord, raw, config=dacite.Config(cast=[enum.Enum, set]))
        except (ValueError, dacite.exceptions.DaciteError) as exc:
            yield _Record(n, None, error=f"malformed StopNCII record: {exc}")
            continue
        kind = types.get(rec.signalType)
        if kind is None:
            yield _Record(
                n, None, error=f"signal type {rec.signalType.value} is not supported (ImagePDQ, VideoMD5)"
            )
            continue
        if rec.hashStatus.value in _REMOVED_STATUSES:
            yield _Record(n, None, remove=(kind, rec.hashValue.strip().lower()))
            continue
        cases = sorted(c for c, status in rec.caseNumbers.items() if status.value not in _REMOVED_STATUSES)
        e = EntryInput.from_hashes(
            {kind: rec.hashValue},
            source="stopncii",
            case_ref=",".join(cases)[:200],
            exchange_ids={"stopncii": cases} if cases else {},
            labels=sorted({t for fb in rec.CSPFeedbacks for t in fb.tags}),
        )
        yield _Record(n, e)


def read_ncmec(path: Path) -> Iterator[_Record]:
    """NCMEC hash-sharing ``GetEntries`` XML, parsed with python-threatexchange's ``NCMECEntryUpdate``.

    Image entries give PDQ and MD5, video entries MD5 (python-threatexchange maps image PDQ and video MD5; we
    keep image MD5 too). ``deletedImage``/``deletedVideo`` tombstones remove the entry with that NCMEC id.
    """
    import xml.etree.ElementTree as ET

    from threatexchange.exchanges.clients.ncmec.hash_api import GetEntriesResponse, _XMLWrapper

    try:
        it = ET.iterparse(str(path))
        for _, el in it:
            _ns, has_namespace, postfix = el.tag.partition("}")
            if has_namespace:
                el.tag = postfix
        root = it.root  # type: ignore[attr-defined]
    except ET.ParseError as exc:
        yield _Record(0, None, error=f"not valid XML: {exc}")
        return
    for n, content in enumerate([*root.findall("images/*"), *root.findall("videos/*")], start=1):
        holder = ET.Element("r")
        group = ET.SubElement(holder, "images", {"maxTimestamp": "1970-01-01T00:00:00Z"})
        group.append(content)
        try:
            (upd,) = GetEntriesResponse.from_xml(_XMLWrapper(holder), 0).updates
        except (ValueError, IndexError, AssertionError, KeyError) as exc:
            yield _Record(n, None, error=f"malformed NCMEC entry: {exc or type(exc).__name__}")
            continue
        if upd.deleted:
            yield _Record(n, None, remove=("ncmec", upd.id))
            continue
        fp = {k.lower(): v.strip() for k, v in upd.fingerprints.items()}
        e = EntryInput.from_hashes(
            {"md5": fp.get("md5"), "pdq": fp.get("pdq") if upd.entry_type.value == "image" else None},
            source="ncmec",
            labels=[upd.classification] if upd.classification else [],
            exchange_ids={"ncmec": [upd.id]},
            note=f"NCMEC member {upd.member_id}",
        )
        if not e.signals:
            yield _Record(n, None, error=f"NCMEC entry {upd.id} has no PDQ or MD5 fingerprint")
            continue
        yield _Record(n, e)


_READERS = {"pytx": read_pytx, "csv": read_csv, "stopncii": read_stopncii, "ncmec": read_ncmec}


def import_bank(
    session: Session, bank: str, path: Path, fmt: str, *, actor: str | None = None
) -> ImportReport:
    """Import a file into a bank inside the caller's transaction (one transaction per import)."""
    if fmt not in _READERS:
        raise ValidationError(
            "unknown format {format}",
            code="exchange.unknown_format",
            hint="use one of {known}",
            format=repr(fmt),
            known=", ".join(FORMATS),
        )
    if not Path(path).is_file():
        raise ValidationError("{path} is not a file", code="exchange.not_a_file", path=str(path))
    b = get_bank(session, bank)
    report = ImportReport()
    for rec in _READERS[fmt](Path(path)):
        if rec.error:
            report.errors.append(RowError(rec.row, rec.error))
            continue
        if rec.remove:
            for row in _entries_to_remove(session, b.id, *rec.remove):
                report.removed_ids.append(row.id)
                session.delete(row)
            session.flush()
            continue
        assert rec.entry is not None
        try:
            res = add_entry(session, b, rec.entry, actor=actor, audit_each=False)
        except JikimiError as exc:
            report.errors.append(RowError(rec.row, exc.reason))
            continue
        report.added += int(res.created)
        report.duplicates += int(not res.created)
        report.untrusted += int(res.untrusted)
    session.flush()
    audit.append(
        session,
        actor=actor or audit.default_actor(),
        action="bank.import",
        subject=f"bank:{b.name}",
        details={
            "format": fmt,
            "file": Path(path).name,
            "added": report.added,
            "duplicates": report.duplicates,
            "removed": report.removed,
            "errors": len(report.errors),
        },
    )
    return report


def _entries_to_remove(session: Session, bank_id: int, signal: str, value: str) -> list[BankEntry]:
    if signal == "ncmec":  # by exchange id (JSON): filtered here, over the bank's NCMEC entries only
        q = select(BankEntry).where(BankEntry.bank_id == bank_id, BankEntry.source == "ncmec")
        return [e for e in session.scalars(q) if value in (e.exchange_ids or {}).get("ncmec", [])]
    ids = select(BankSignal.entry_id).where(BankSignal.signal == signal, BankSignal.value == value)
    return list(session.scalars(select(BankEntry).where(BankEntry.bank_id == bank_id, BankEntry.id.in_(ids))))


# -- writers -------------------------------------------------------------------------------------------
def export_bank(session: Session, bank: str, fmt: str, *, actor: str | None = None) -> str:
    """The enabled entries of a bank in ``fmt`` (text). Audited as an export."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(
            "cannot export to {format}",
            code="exchange.export_format",
            hint="use one of {known} (NCMEC is import-only)",
            format=repr(fmt),
            known=", ".join(EXPORT_FORMATS),
        )
    b = get_bank(session, bank)
    rows = [e for e in iter_entries(session, b) if e.enabled]
    if fmt == "pytx":
        out = _write_pytx(rows)
    elif fmt == "csv":
        out = _write_csv(rows, b.name)
    else:
        out = _write_stopncii(rows)
    audit.append(
        session,
        actor=actor or audit.default_actor(),
        action="bank.export",
        subject=f"bank:{b.name}",
        details={"format": fmt, "entries": len(rows)},
    )
    return out


def _signals(e: BankEntry) -> list[tuple[HashSignal, list[SignalValue]]]:
    """An entry's hashes by signal, in registry order."""
    return [(registry.hash_signal(name), values) for name, values in e.values().items()]


def _write_pytx(rows: list[BankEntry]) -> str:
    lines = []
    for e in rows:
        for sig, values in _signals(e):
            if sig.single:
                lines.append(f"{sig.exchange_name()} {sig.format_values(values)}")
    return "".join(line + "\n" for line in lines)


def _write_csv(rows: list[BankEntry], bank: str) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for e in rows:
        for sig, values in _signals(e):
            quality = values[0].quality if sig.single else None
            w.writerow(
                {
                    "signal_type": sig.exchange_name(),
                    "signal_str": sig.format_values(values),
                    "collab": bank,
                    "category": "POSITIVE_CLASS",
                    "tags": ",".join(e.labels or []),
                    "entry": e.id,
                    "quality": "" if quality is None else quality,
                    "case_ref": e.case_ref,
                    "note": e.note,
                    "source": e.source,
                    "content_uri": e.content_uri,
                }
            )
    return buf.getvalue()


def _write_stopncii(rows: list[BankEntry]) -> str:
    types = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
    records = []
    for e in rows:
        cases = list((e.exchange_ids or {}).get("stopncii", []))
        for sig, values in _signals(e):
            if sig.name not in types:
                continue
            records.append(
                {
                    "lastModtimestamp": int(e.added_at.timestamp()),
                    "signalType": types[sig.name],
                    "hashValue": sig.format_values(values),
                    "hashStatus": "Active",
                    "caseNumbers": {c: "Active" for c in cases},
                    "CSPFeedbacks": [],
                }
            )
    return json.dumps({"count": len(records), "hashRecords": records}, indent=1) + "\n"
