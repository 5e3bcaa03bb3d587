"""Bank import/export: python-threatexchange file and CSV, StopNCII records; round trips and bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from threatexchange.exchanges.clients.stopncii.api import StopNCIICaseStatus
from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

from jikimi.errors import ValidationError
from jikimi.exchange import export_bank, import_bank
from jikimi.store import Store, open_store
from jikimi.store.banks import BankMatcher, EntryInput, add_entry, create_bank, find_entries, iter_entries

P1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
P2 = "98736629670cc19fc9f23862f66cce1f599e32c78e236c78619d202e9e66c157"
P3 = "e162474a56babaadce4ccfe2231f4abdcac5342e31032bdd2eaca68bca87d516"
M1 = "d41d8cd98f00b204e9800998ecf8427e"


def _signals(store: Store, bank: str) -> set[tuple[str | None, str | None, bool]]:
    with store.session() as s:
        return {(e.hashes()["pdq"], e.hashes()["md5"], e.enabled) for e in iter_entries(s, bank)}


def test_pytx_round_trip_and_bad_lines(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    src = tmp_path / "in.txt"
    src.write_text(f"pdq {P1}\nvideo_md5 {M1}\npdq {P2[:-2]}\nnonsense\nurl https://x\npdq {P1}\n")
    with store.session() as s:
        create_bank(s, "a")
        create_bank(s, "b")
    with store.session() as s:
        rep = import_bank(s, "a", src, "pytx")
    assert (rep.added, rep.duplicates) == (2, 0)  # the library itself dedupes repeated lines
    assert sorted(e.row for e in rep.errors) == [3, 4, 5]
    assert "64 hex digits" in next(e.reason for e in rep.errors if e.row == 3)
    with store.session() as s:
        text = export_bank(s, "a", "pytx")
    out = tmp_path / "out.txt"
    out.write_text(text)
    # python-threatexchange reads our export.
    api = LocalFileSignalExchangeAPI(
        FileCollaborationConfig(name="x", api="local_file", enabled=True, filename=str(out))
    )
    keys = {k for d in api.fetch_iter([], None) for k in d.updates}
    assert keys == {("pdq", P1), ("video_md5", M1)}
    with store.session() as s:
        rep = import_bank(s, "b", out, "pytx")
    assert rep.added == 2 and not rep.errors
    assert _signals(store, "a") == _signals(store, "b")
    store.dispose()


def test_csv_round_trip_keeps_metadata_and_groups_entries(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    with store.session() as s:
        create_bank(s, "a")
        create_bank(s, "b")
        add_entry(
            s, "a",
            EntryInput.from_hashes(
                {"pdq": P1, "md5": M1}, quality={"pdq": 90}, labels=["deepfake", "ko"],
                note="확인됨, confirmed", case_ref="C-9", content_uri="https://example.org/x",
            ),
        )  # fmt: skip
        add_entry(s, "a", EntryInput.from_hashes({"pdq": P2}, quality={"pdq": 40}))
    with store.session() as s:
        text = export_bank(s, "a", "csv")
    path = tmp_path / "a.csv"
    path.write_text(text + "pdq,not-a-hash,,,,,,,,,\nfoo,bar,,,,,,,,,\n")
    with store.session() as s:
        rep = import_bank(s, "b", path, "csv")
    assert rep.added == 2 and rep.untrusted == 1
    assert [e.row for e in rep.errors] == [5, 6]
    with store.session() as s:
        (e,) = find_entries(s, "b", signal="md5", value=M1)
        assert (e.hashes()["pdq"], e.hashes()["pdq_quality"], e.labels, e.note, e.case_ref) == (
            P1, 90, ["deepfake", "ko"], "확인됨, confirmed", "C-9",
        )  # fmt: skip
        assert e.content_uri == "https://example.org/x"
    # Importing again changes nothing (idempotent).
    with store.session() as s:
        rep = import_bank(s, "b", path, "csv")
    assert (rep.added, rep.duplicates) == (0, 2)
    store.dispose()


def test_stopncii_withdrawn_and_deleted_remove_entries(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    with store.session() as s:
        create_bank(s, "ncii")
    records = [
        {"signalType": "ImagePDQ", "hashValue": P1, "hashStatus": "Active", "caseNumbers": {"c1": "Active"},
         "lastModtimestamp": 1,
         "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": ["ncii"], "source": "x"}]},
        {"signalType": "ImagePDQ", "hashValue": P2, "hashStatus": "Received",
         "caseNumbers": {"c2": "Received"}},
        {"signalType": "VideoMD5", "hashValue": M1, "hashStatus": "Active", "caseNumbers": {}},
        {"signalType": "ImagePDQ", "hashValue": P3, "hashStatus": "Active", "caseNumbers": {}},
        {"signalType": "Text", "hashValue": "hello", "hashStatus": "Active", "caseNumbers": {}},
        {"signalType": "ImagePDQ", "hashValue": "abc", "hashStatus": "Active", "caseNumbers": {}},
        {"signalType": "ImagePDQ", "hashStatus": "Active"},
    ]  # fmt: skip
    f = tmp_path / "stopncii.json"
    f.write_text(json.dumps({"count": len(records), "hashRecords": records}))
    with store.session() as s:
        rep = import_bank(s, "ncii", f, "stopncii")
    assert rep.added == 4 and sorted(e.row for e in rep.errors) == [5, 6, 7]
    with store.session() as s:
        (e,) = find_entries(s, "ncii", signal="pdq", value=P1)
        assert e.exchange_ids == {"stopncii": ["c1"]} and e.labels == ["ncii"]
    matcher = BankMatcher.load(store)
    assert matcher.match_pdq(P3)
    # The victim withdraws P3 and the case behind P2 is deleted: both entries must go.
    update = [
        {"signalType": "ImagePDQ", "hashValue": P3, "hashStatus": StopNCIICaseStatus.Withdrawn.value},
        {
            "signalType": "ImagePDQ",
            "hashValue": P2,
            "hashStatus": "Deleted",
            "caseNumbers": {"c2": "Deleted"},
        },
    ]
    f.write_text(json.dumps(update))
    with store.session() as s:
        rep = import_bank(s, "ncii", f, "stopncii")
    assert rep.removed == 2 and not rep.errors
    assert matcher.match_pdq(P3) == []  # results are checked against the store: gone at once
    matcher.forget(rep.removed_ids)
    assert {p for p, _m, _e in _signals(store, "ncii")} == {P1, None}
    # Export and re-import round trip.
    with store.session() as s:
        text = export_bank(s, "ncii", "stopncii")
        create_bank(s, "copy")
    f.write_text(text)
    with store.session() as s:
        rep = import_bank(s, "copy", f, "stopncii")
    assert rep.added == 2 and not rep.errors
    assert {(p, m) for p, m, _ in _signals(store, "copy")} == {(p, m) for p, m, _ in _signals(store, "ncii")}
    store.dispose()


def test_import_is_one_transaction_and_bad_calls_are_clear(tmp_path: Path) -> None:
    store = open_store()
    with store.session() as s:
        create_bank(s, "a")
    f = tmp_path / "x.txt"
    f.write_text(f"pdq {P1}\npdq {P2}\n")
    with pytest.raises(RuntimeError), store.session() as s:
        import_bank(s, "a", f, "pytx")
        raise RuntimeError("crash after the import, before commit")
    assert _signals(store, "a") == set()  # nothing half-written
    with pytest.raises(ValidationError, match="unknown format"), store.session() as s:
        import_bank(s, "a", f, "xml")
    with pytest.raises(ValidationError, match="not a file"), store.session() as s:
        import_bank(s, "a", tmp_path / "missing", "csv")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with store.session() as s:
        rep = import_bank(s, "a", bad, "stopncii")
    assert rep.added == 0 and "not JSON" in rep.errors[0].reason
    store.dispose()


NCMEC_XML = """<?xml version="1.0" encoding="UTF-8"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="3" maxTimestamp="2026-01-02T00:00:00Z">
    <image>
      <id>img-1</id>
      <classification>A1</classification>
      <member id="42">Example ESP</member>
      <fingerprints><md5>{m1}</md5><pdq>{p1}</pdq><sha1>da39a3ee5e6b4b0d3255bfef95601890afd80709</sha1></fingerprints>
    </image>
    <image>
      <id>img-2</id>
      <member id="42">Example ESP</member>
      <fingerprints><pdq>{p2}</pdq></fingerprints>
    </image>
    <image>
      <id>img-3</id>
      <member id="43">Other ESP</member>
      <fingerprints><pdq>not-a-pdq</pdq></fingerprints>
    </image>
    <image>
      <id>img-4</id>
      <member id="43">Other ESP</member>
      <fingerprints><sha1>da39a3ee5e6b4b0d3255bfef95601890afd80709</sha1></fingerprints>
    </image>
  </images>
  <videos count="1" maxTimestamp="2026-01-02T00:00:00Z">
    <video>
      <id>vid-1</id>
      <member id="42">Example ESP</member>
      <fingerprints><md5>{m2}</md5></fingerprints>
    </video>
  </videos>
</queryResult>
"""

NCMEC_DELETE = """<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="1" maxTimestamp="2026-01-03T00:00:00Z">
    <deletedImage><id>img-2</id><member id="42">Example ESP</member></deletedImage>
  </images>
</queryResult>
"""


def test_ncmec_entries_and_deletions(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    with store.session() as s:
        create_bank(s, "ncmec")
    f = tmp_path / "entries.xml"
    f.write_text(NCMEC_XML.format(m1=M1, p1=P1, p2=P2, m2="0" * 32))
    with store.session() as s:
        rep = import_bank(s, "ncmec", f, "ncmec")
    assert rep.added == 3 and sorted(e.row for e in rep.errors) == [3, 4]
    assert "no PDQ or MD5" in next(e.reason for e in rep.errors if e.row == 4)
    with store.session() as s:
        (e,) = find_entries(s, "ncmec", signal="pdq", value=P1)
        assert (e.hashes()["md5"], e.labels, e.exchange_ids) == (M1, ["A1"], {"ncmec": ["img-1"]})
    f.write_text(NCMEC_DELETE)
    with store.session() as s:
        rep = import_bank(s, "ncmec", f, "ncmec")
    assert rep.removed == 1 and not rep.errors
    assert {p for p, _m, _e in _signals(store, "ncmec")} == {P1, None}
    f.write_text("<queryResult><images>")
    with store.session() as s:
        rep = import_bank(s, "ncmec", f, "ncmec")
    assert "not valid XML" in rep.errors[0].reason
    with pytest.raises(ValidationError, match="import-only"), store.session() as s:
        export_bank(s, "ncmec", "ncmec")
    store.dispose()
