"""Lower-layer error reasons in Korean on Korean pages: the catalogue, the ``reason`` filter and the pages."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from api_harness import PASSWORD, login, make_harness
from jikimi.errors import JikimiError
from jikimi.web import environment
from jikimi.web.i18n import translator
from jikimi.web.reasons import CATALOGUE, translate_reason
from jikimi.web.render import reason_text

HANGUL = re.compile(r"[\uac00-\ud7a3]")
VALUE = re.compile(r"\d+(?:\.\d+)?|'[^'\s]+'")  # numbers and quoted values must survive the translation


# -- real messages, raised by the code that writes them --
def _raised(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> JikimiError:
    try:
        fn(*args, **kwargs)
    except JikimiError as exc:
        return exc
    raise AssertionError(f"{fn.__name__} did not raise")


def _texts(*errors: JikimiError) -> list[str]:
    """The reason and hint texts the pattern catalogue must know. A converted error (#12) renders itself in
    Korean from the gettext catalogue (checked here, values kept); its web hint is new wording the patterns
    never saw, so the patterns are checked on its command-line hint (the text the hint used to be)."""
    out = []
    for e in errors:
        out.append(e.reason)
        if e.cli_hint:  # the hint as the old catalogue knows it (the command line keeps that wording)
            out.append(e.cli_hint)
        if e.hint and e.hint != e.cli_hint:  # the web hint, said in words: from the gettext catalogue
            web = translator("ko").hint(e) or ""
            assert HANGUL.search(web) and web != e.hint, f"no Korean for the hint {e.hint!r}"
        if e.message.id in translator("ko").catalogue:  # a converted error renders itself, values kept
            ko = reason_text(e, "ko")
            assert HANGUL.search(ko), (e.reason, ko)
            assert all(v in ko for v in VALUE.findall(e.reason)), (e.reason, ko)
            assert reason_text(e, "en") == e.reason + (f" — {e.hint}" if e.hint else "")
    return out


def _png(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _gif(frames: int = 5) -> bytes:
    pics = [Image.new("RGB", (10, 10), (i * 20, 0, 0)) for i in range(frames)]
    buf = io.BytesIO()
    pics[0].save(buf, "GIF", save_all=True, append_images=pics[1:], duration=100)
    return buf.getvalue()


def _mp4() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"  # type: ignore[attr-defined]
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 20, np.uint8), format="rgb24")
            for packet in stream.encode(frame):  # type: ignore[attr-defined]
                out.mux(packet)
        for packet in stream.encode():  # type: ignore[attr-defined]
            out.mux(packet)
    return buf.getvalue()


def real_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from jikimi.api.routers.banks import lookup_hashes
    from jikimi.index.pdq_index import normalize_pdq_hex
    from jikimi.media import Limits, load
    from jikimi.scan.executors import CRASH_REASON
    from jikimi.signals.face import detect_faces
    from jikimi.signals.registry import hash_signal
    from jikimi.sources.archives import member_path_problem
    from jikimi.store import accounts, banks, open_store, people
    from jikimi.store.schema.takedown import TakedownItem
    from jikimi.takedown import settings as td_settings
    from jikimi.takedown import tracking

    for var in ("JIKIMI_ORG_NAME", "JIKIMI_SMTP_HOST", "JIKIMI_INCLUDE_VICTIM_NAME"):
        monkeypatch.delenv(var, raising=False)
    jpeg, png, mp4 = _jpeg(), _png(), _mp4()
    out = _texts(
        _raised(load, b""),
        _raised(load, b"plain text, not a picture"),
        _raised(load, b"<html><body>hi</body></html>"),
        _raised(load, b"%PDF-1.4 a document"),
        _raised(load, b"PK\x03\x04" + bytes(40)),
        _raised(load, bytes(range(256)) * 2),
        _raised(load, jpeg[: len(jpeg) // 2]),
        _raised(load, png[:16] + b"\xff" * 40),
        _raised(load, jpeg, limits=Limits(max_file_bytes=100)),
        _raised(load, jpeg, limits=Limits(max_image_bytes=100)),
        _raised(lambda: load(jpeg, limits=Limits(max_pixels=1000)).image),
        _raised(load, _gif(), limits=Limits(max_animation_frames=2)),
        _raised(load, _gif(), limits=Limits(max_video_seconds=0.2)),
        _raised(load, mp4, limits=Limits(max_video_pixels=100)),
        _raised(load, mp4, limits=Limits(max_video_seconds=0.5)),
        _raised(load, mp4[: len(mp4) // 3]),
        _raised(load, mp4[:200]),
        _raised(detect_faces, np.zeros((4, 5, 3), np.uint8)),
        _raised(accounts.check_password_strength, "short"),
        _raised(accounts.check_password_strength, "alice-in-wonderland", "alice"),
        _raised(accounts.check_role_fields, ""),
        _raised(accounts.check_role_fields, "admin", case_ref="5"),
        _raised(accounts.check_role_fields, "case_worker", partner="x"),
        _raised(hash_signal("md5").validate, "abc"),
        _raised(hash_signal("sha256").validate, "z" * 64),
        _raised(banks.validate_bank_name, "a/b"),
        _raised(lookup_hashes, None, {}),  # type: ignore[arg-type]
        _raised(tracking.move, None, TakedownItem(id=3, state="sent"), "found", actor="t"),  # type: ignore[arg-type]
        _raised(td_settings.load_smtp),
        _raised(td_settings.load_organisation),
    )
    for bad in ("abc", "g" * 64):
        try:
            normalize_pdq_hex(bad)
        except ValueError as exc:
            out.append(f"not a valid PDQ hash: {exc}")  # as jikimi.store.banks.Matcher words it
    try:
        date.fromisoformat("2024-13-45x")
    except ValueError as exc:
        out.append(str(exc))  # the enrolment page shows it for a malformed expiry date
    out += [CRASH_REASON, *(member_path_problem(n) or "" for n in ("a\x00b", "/etc/passwd", "x/../../y"))]
    monkeypatch.setenv("JIKIMI_INCLUDE_VICTIM_NAME", "perhaps")
    out += _texts(_raised(td_settings.load_organisation, required=False))

    store = open_store(f"sqlite:///{tmp_path}/reasons.db")
    with store.session() as s:
        accounts.create_user(s, username="alice", password=PASSWORD, role="admin")
        banks.create_bank(s, "known")
    user = {"password": PASSWORD, "role": "investigator"}
    with store.session() as s:
        out += _texts(
            _raised(accounts.create_user, s, username="Bad Name!", **user),
            _raised(accounts.create_user, s, username="bob", password=PASSWORD, role="wizard"),
            _raised(accounts.create_user, s, username="bob", password=PASSWORD, role="partner"),
            _raised(accounts.create_user, s, username="bob", password=PASSWORD, role="victim"),
            _raised(accounts.create_user, s, username="alice", **user),
            _raised(accounts.get_user, s, "nobody"),
            _raised(banks.create_bank, s, "known"),
            _raised(banks.get_bank, s, "unknown"),
            _raised(people.get_person, s, 999),
            _raised(people.enroll, s, "A", [png], consent_by=None),
            _raised(people.enroll, s, "  ", [png], consent_by="herself"),
            _raised(people.enroll, s, "A", [png], consent_by="herself", expires="2000-01-01"),
        )
        not_media = _raised(people.enroll, s, "A", [b"plain text"], consent_by="herself")
        video = _raised(people.enroll, s, "A", [mp4], consent_by="herself")
    out += [not_media.reason, video.reason]
    for failure in getattr(video, "failures", []):
        out += [failure.photo, failure.reason, failure.hint]
    return out


# -- messages too costly to raise here (notices in a database, an SMTP server...), as the code writes them --
SAMPLES = [
    # jikimi.sources.telegram
    "/tmp/upload-3/export is not a Telegram Desktop export",
    "export from Telegram Desktop: Settings > Advanced > Export Telegram data",
    "/tmp/upload-3/export/photo.jpg is not a folder",
    "give the Telegram export folder (with result.json)",
    "result.json is not a JSON object",
    "is this a Telegram Desktop export?",
    "result.json has no messages or chats",
    "export the chat history, not only account information",
    "export has 5001 HTML pages, over the limit 5000",
    "result.json cannot be read: file is 300 bytes, over the 200-byte limit",
    "raise the JSON size limit if needed",
    "the export JSON must be a regular file",
    "result.json is nested too deeply to be a Telegram export",
    "result.json is not valid JSON: Expecting value: line 1 column 1 (char 0)",
    "re-export the chat from Telegram Desktop",
    "message #12 is not a JSON object",
    "video_files/clip.mp4 is 900000000 bytes, over the 500000000-byte limit",
    "photos/photo_1.jpg is 90000 bytes but the export states 1200",
    "File not included. Change data exporting settings to download.",
    "media not included in the export",
    "empty or invalid media path",
    "absolute media path refused: '/etc/passwd'",
    "media path escapes the export folder: '../../secret.jpg'",
    "media path is a broken symbolic link: 'photos/a.jpg'",
    "media file missing from the export: photos/photo_2@02-11-2026_21-09-00.jpg",
    "media path cannot be resolved: 'photos/a.jpg' (Too many levels of symbolic links)",
    "media path leads outside the export folder (symbolic link?): 'photos/b.jpg'",
    "media path is not a regular file: 'photos'",
    "media path cannot be read: 'photos/c.jpg' (Permission denied)",
    "image declares an empty size (0x10)",
    "JPEG declares an image over the 100 MP limit",
    "image is 20000x20000, over the limit",
    "TIFF is too large to decode in memory",
    "damaged MP4 video data (the first frame cannot be decoded)",
    "damaged MP4 video data at frame 12 (Invalid data found when processing input)",
    "damaged JPEG file data (broken data stream when reading image file)",
    "damaged GIF file animation at frame 3 (bad code)",
    "damaged GIF animation (not enough frames)",
    "cannot convert colour mode CMYK to RGB (conversion not supported)",
    "unreadable MOV video (Operation not permitted)",
    "MKV video declares no frame size (damaged header)",
    "MP4 video contains no decodable frames",
    "video frame 40 is 9000x9000, over the limit",
    "the dlib face models could not be loaded: No module named 'dlib'",
    "install dlib-bin and face_recognition_models (see requirements.lock)",
    "enrolment refused: the consent form was not confirmed",
    "tick the box confirming the person (or a guardian) consented to face search",
    "no photo uploaded",
    "add one or more photos showing the person's face",
    "no face found in this photo",
    "use a clear, front-facing photo where the face is at least ~80 pixels wide, "
    "or try --detector cnn or --upsample 2",
    "this photo shows 2 faces (1: x=10..50, 2: x=60..100, numbered left to right)",
    "choose the person's face with --face N, or use a photo of the person alone",
    "person 4 was already withdrawn on 2025-03-01",
    "person 4 was withdrawn; her face data was deleted",
    "person 4 has no valid consent now",
    "this photo has too little detail to be recognised",
    "at most 500 source photos per person (499 already)",
    "person 4 has no source photo 17",
    "a PDQ hash looks like 00000000... (64 characters 0-9 a-f)",
    "too many files (30)",
    "send at most 20 per request, or a zip",
    "send at most 20, or a zip",
    "00003-evidence.jpg is larger than 64 MiB",
    "split the material or raise the limit",
    "split it, or raise the limit",
    "no file uploaded",
    "choose images, videos, or a zip (e.g. a Telegram export)",
    "no scan 0a1b2c3d4e5f6a7b",
    "could not be stored: UNIQUE constraint failed: media.sha256",
    "cannot keep the original: cannot read /srv/x.zip!a.jpg: Bad CRC-32 for file 'a.jpg'",
    "the file changed while it was being scanned; scan it again",
    "source stopped: Telegram export cannot be read",
    "cannot read: Permission denied",
    "file is 700000000 bytes, over the 536870912-byte limit",
    "not a readable zip: File is not a zip file",
    "archive has 200000 entries, over the limit of 100000",
    "member 'secret.jpg' is encrypted",
    "member 'a.jpg' cannot be read: Bad CRC-32 for file 'a.jpg'",
    "member is 700000000 bytes, over the 536870912-byte limit",
    "member compresses 900:1, over the 200:1 limit (zip bomb?)",
    "archive expands past the 8589934592-byte total limit",
    "nested archive not opened (depth limit 3)",
    "approve it first",
    "no re-upload alert 12",
    "re-upload alert 12 was already resolved by web:kim",
    "the platform's reply is over 5000 characters",
    "paste the relevant part",
    "say how the notice was sent",
    "e.g. from takedown@centre.kr by e-mail, or by registered post",
    "the description of how it was sent is over 500 characters",
    "the time it was sent needs a time zone",
    "the time it was sent is in the future",
    "sent by hand by web:kim: from takedown@centre.kr by e-mail",
    "empty URL",
    "give the full link, e.g. https://t.me/channel/123",
    "not a URL: 'http://[x' (Invalid IPv6 URL)",
    "not a web address: 'not a link'",
    "unsupported link scheme 'ftp' in 'ftp://x.example/a'",
    "give an http(s) or tg:// link",
    "a takedown item needs a case id",
    "the sha256 hash must be 64 hex digits (0-9, a-f)",
    "first seen is not a date/time: 'yesterday'",
    "use the date picker, e.g. 2026-02-01 10:00",
    "member 'photos/link.jpg' is a symbolic link",
    "member 'photos/x.jpg' leads outside the export folder",
    "member 'photos/p.jpg' is larger than the archive states",
    "the export has 200000 entries, over the limit of 100000",
    "the export expands past the 17179869184-byte limit",
    "the export zip names a file twice: /srv/uploads/ab/export-1/photos/p.jpg",
    "the export zip cannot be read: File is not a zip file",
    "re-create the zip and upload it again",
    "nested archive 'inner.zip' cannot be read: File is not a zip file",
    "archive member 'big.mp4' is over the 536870912-byte limit",
    "archive member 'a.jpg' is corrupt: Error -3 while decompressing data",
    "00001-photo.jpg is 700000000 bytes, over the 536870912-byte limit",
    "raise the item size limit if this file is expected",
    "00001-photo.jpg grew past the 536870912-byte limit while reading",
    "00001-photo.jpg changed while scanning (1200 bytes, now 1500)",
    "00001-photo.jpg is not a regular file",
    "cannot read /srv/uploads/00001-photo.jpg: [Errno 2] No such file or directory",
    "check the file is still there and readable",
    "case 12 has no items waiting for a notice",
    "items are added when a finding is confirmed (or with `jikimi takedown add`); "
    "see `jikimi takedown list` for notices already drafted",
    "notice 7 is sent, not drafted",
    "only drafts are approved",
    "notice 7 was drafted by kim; the organisation requires another person to approve it (four eyes)",
    "ask a colleague who did not draft it to approve it",
    "the notice has no footer to sign",
    "withdraw it and draft it again",
    "notice 7: 3 item(s) added to the open draft",
    "3 item(s) added to the open draft",
    "drafted again in en (was ko)",
    "notice 7: drafted again in en (was ko)",
    "notice 7: item 5 lacks message_link, chat (required by Telegram)",
    "notice 7 was changed after it was drafted (content hash mismatch)",
    "withdraw it and draft it again: `jikimi takedown withdraw ID` then `jikimi takedown draft CASE`",
    "notice 7 is sent; its recipient can no longer change",
    "not an e-mail address: 'abuse at example.org'",
    "notice 7 is closed; only unsent notices can be withdrawn",
    "notice 7 is drafted; only approved notices are sent",
    "approve it first: `jikimi takedown approve ID`",
    "notice 7 goes to Meta through a web form (https://www.facebook.com/help/contact/567360146613371)",
    "notice 8 goes to X through a web form (see the platform directory)",
    "submit the PDF (`jikimi takedown pdf 7`) there, then record it with "
    "`jikimi takedown send 7 --submitted CONFIRMATION`",
    "notice 7 has no recipient address",
    "set the platform's or host's abuse address: `jikimi takedown send 7 --to ADDRESS`",
    "no sender address for notices",
    "set JIKIMI_SMTP_FROM (or smtp: from: in the file)",
    "JIKIMI_SMTP_PORT/TIMEOUT must be numbers (invalid literal for int() with base 10: 'x25')",
    "/home/centre/.jikimi/takedown.yaml is not valid YAML: mapping values are not allowed here",
    "/home/centre/.jikimi/takedown.yaml: 'smtp' must be a mapping",
    "it should look like:\norganisation:\n  name: Centre\n  email: takedown@example.org",
    "the server at smtp.example.org:587 refused recipients: {'abuse@example.org': (550, b'no such user')}",
    "the server at smtp.example.org:587 refused the login (535)",
    "the server at smtp.example.org:25 does not offer STARTTLS; not sending in clear text",
    "sending through smtp.example.org:587 failed: Connection unexpectedly closed",
    "cannot reach the mail server at smtp.example.org:587: [Errno 111] Connection refused",
    "check JIKIMI_SMTP_HOST/PORT/STARTTLS/USER/PASSWORD; "
    "the notice stays approved and `jikimi takedown send --due` retries it",
    "no item of notice 7 can become removed",
    "their states: removed, refused",
    "no takedown notice 99",
    "list them with `jikimi takedown list`",
    "item 5 lacks message_link, chat (required by Telegram)",
    "unknown platform for files.example.net: generic hosting-provider template used; "
    "find the abuse contact with `jikimi takedown contact URL`, then set it with --to",
    "the KCSC contact details are marked 'verify before use' in the directory",
    "X (Twitter) lists languages en, ja; drafted in ko",
    "platform 'myspace' is no longer in the directory: generic template used",
    "finding 12 is confirmed; it cannot become dismissed",
    "reopen it first (jikimi case reopen FINDING_ID)",
    "no finding 12",
    "list them with: jikimi case show CASE_ID",
    "no case 3",
    "list cases with: jikimi case list",
    "no review action 'approve'",
    # jikimi.signals.face_models, jikimi.index.faces and re-embedding (jikimi.store.people)
    "the face model file /srv/models/arcface.onnx (set in JIKIMI_FACE_MODEL) does not exist",
    "give the path of an ONNX model in JIKIMI_FACE_MODEL, or unset it to use the built-in dlib model",
    "the face model /srv/models/arcface.onnx has no sidecar file (arcface.onnx.yaml or arcface.yaml)",
    "write /srv/models/arcface.onnx.yaml with its name, licence and input spec "
    "(see docs/faces.md, Using another face model)",
    "the face model /srv/models/arcface.onnx cannot be loaded: [ONNXRuntimeError] : 7 : INVALID_PROTOBUF",
    "check that JIKIMI_FACE_MODEL names a valid ONNX model file",
    "the face model 'arcface-r50' has no calibration (/srv/models/arcface.calibration.json); "
    "face matching is off",
    "run scripts/calibrate_faces.py --write with JIKIMI_FACE_MODEL set to this model",
    "the enrolled face was not found again in this kept photo",
    "enrol the person again from new photos (with her consent)",
    "the kept photo failed its checksum",
    "enrol new photos",
    "person 4 was withdrawn; her face data was deleted",
    "enrol her again with `jikimi person enroll` if she consents again",
    "the mailbox address must look like imaps://user@host/INBOX",
    "imaps:// for TLS from the start (port 993), imap:// for STARTTLS (port 143)",
    "put the mailbox password in its own field, not in the address",
    "the password field is write-only; the address is shown on the page",
    "the SMTP port must be a number from 1 to 65535, not 'abc'",
    "this photo shows 3 faces; choose hers below",
]


def _entry(text: str) -> int | None:
    return next((i for i, (p, _) in enumerate(CATALOGUE) if p.fullmatch(text)), None)


def test_every_catalogue_entry_translates_real_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [*real_messages(tmp_path, monkeypatch), *SAMPLES]
    problems = []
    covered: set[int] = set()
    for text in messages:
        entry = _entry(text)
        ko = translate_reason(text, "ko")
        if entry is None:
            problems.append(f"no pattern for {text!r}")
            continue
        covered.add(entry)
        if not HANGUL.search(ko):
            problems.append(f"not Korean: {text!r} -> {ko!r}")
        lost = [v for v in VALUE.findall(text) if v not in ko]
        if lost:
            problems.append(f"values {lost} lost: {text!r} -> {ko!r}")
        if translate_reason(text, "en") != text:
            problems.append(f"English changed: {text!r}")
    assert not problems, "\n".join(problems)
    untested = [CATALOGUE[i][0].pattern for i in range(len(CATALOGUE)) if i not in covered]
    assert not untested, f"catalogue entries without an example: {untested}"


def test_values_are_carried_over() -> None:
    ko = translate_reason("image is 6000x5000, over the 25 MP limit", "ko")
    assert ko == "이미지가 6000x5000로 25 MP 한도를 넘습니다"
    assert translate_reason("video is 1 h 5 min long, over the 4 h 0 min limit", "ko") == (
        "동영상 길이(1시간 5분)가 한도(4시간 0분)를 넘습니다"
    )
    assert translate_reason("truncated MP4 video (the file ends before the picture does)", "ko").startswith(
        "MP4 동영상 파일이 잘려 있습니다"
    )
    # states are shown with the labels of the pages
    assert translate_reason("item 3 is sent; it cannot become found", "ko") == (
        "항목 3번은 '발송됨' 상태라 '발견' 상태로 바꿀 수 없습니다"
    )
    assert "플랫폼 목록 참고" in translate_reason(
        "notice 8 goes to X through a web form (see the platform directory)", "ko"
    )


def test_reason_and_hint_are_translated_separately() -> None:
    joined = "the password is shorter than 12 characters — use a longer passphrase, e.g. four unrelated words"
    ko = translate_reason(joined, "ko")
    assert ko.startswith("비밀번호가 12자보다 짧습니다 — 더 긴 암호 문구를 쓰세요")
    # one half unknown: that half stays as it is
    assert translate_reason("no user 'bob' — ask Kim", "ko") == "사용자를 찾을 수 없습니다: 'bob' — ask Kim"
    # str(JikimiError) writes "reason (hint)": scan errors and enrolment failures
    scan = (
        "file is 30.0 MB, over the 20.0 MB limit "
        "(raise Limits.max_file_bytes (JIKIMI_MEDIA_MAX_FILE_BYTES) to accept it)"
    )
    ko = translate_reason(scan, "ko")
    assert ko.startswith(
        "파일 크기(30.0 MB)가 한도(20.0 MB)를 넘습니다 (이 파일을 받으려면"
    ) and HANGUL.search(ko)
    nested = (
        "cannot keep the original: cannot read /x/a.jpg: gone (check the file is still there and readable)"
    )
    assert translate_reason(nested, "ko") == (
        "원본을 보관하지 못했습니다: /x/a.jpg 파일을 읽을 수 없습니다: gone "
        "(파일이 그대로 있고 읽을 수 있는지 확인하세요)"
    )
    enrol = (
        "nobody enrolled: no usable face (photo #1: not an image or video (looks like text); "
        "photo #2: is a video or an animation (enrol from still photos of the person))"
    )
    assert translate_reason(enrol, "ko") == (
        "아무도 등록하지 못했습니다. 쓸 수 있는 얼굴이 없습니다"
        "(사진 1: 이미지나 동영상 파일이 아닙니다(텍스트 파일로 보입니다); "
        "사진 2: 동영상이나 애니메이션입니다 (본인이 나온 정지 사진으로 등록하세요))"
    )


def test_unknown_text_passes_through() -> None:
    for text in [
        "",
        "something new went wrong",
        "the password is shorter than twelve characters",  # not the shape the code writes
        "empty file (0 bytes) and more",  # anchored: no partial matches
        "x (y)",
        "a — b",
        "이미 한국어입니다",
    ]:
        assert translate_reason(text, "ko") == text
    assert translate_reason(None, "ko") == ""
    assert translate_reason("empty file (0 bytes)", "fr") == "empty file (0 bytes)"


@given(st.text(max_size=300), st.sampled_from(["ko", "en", "ja", ""]))
@settings(max_examples=400, deadline=None)
def test_never_raises_and_english_is_unchanged(text: str, lang: str) -> None:
    out = translate_reason(text, lang)
    assert isinstance(out, str)
    if lang != "ko":
        assert out == text


@given(st.sampled_from(SAMPLES), st.sampled_from(SAMPLES), st.sampled_from([" — ", " (", ": "]))
@settings(max_examples=200, deadline=None)
def test_joined_messages_never_raise(a: str, b: str, sep: str) -> None:
    text = a + sep + b + (")" if sep == " (" else "")
    assert isinstance(translate_reason(text, "ko"), str)
    assert translate_reason(text, "en") == text


# -- the templates and pages --
def _render(template: str, lang: str, **ctx: Any) -> str:
    from jikimi.api.roles import Perm

    return environment().get_template(template).render(_=lambda s, **k: s, lang=lang, Perm=Perm, **ctx)


def test_scan_status_shows_reasons_in_the_page_language() -> None:
    done = SimpleNamespace(
        id="j1",
        status="done",
        report={
            "items": 2,
            "findings": 0,
            "failed": 1,
            "errors": [{"location": "00001-x.jpg", "reason": "not an image or video (looks like text)"}],
        },
    )
    ko = _render("scan_status.html", "ko", job=done)
    assert "00001-x.jpg: 이미지나 동영상 파일이 아닙니다(텍스트 파일로 보입니다)" in ko
    en = _render("scan_status.html", "en", job=done)
    assert "00001-x.jpg: not an image or video (looks like text)" in en
    assert "Done. 2 items scanned, 0 findings, 1 failed." in en  # the count, not dict.items
    failed = SimpleNamespace(id="j2", status="failed", error="source stopped: no file uploaded")
    assert "자료 읽기가 중단되었습니다: 올린 파일이 없습니다" in _render("scan_status.html", "ko", job=failed)


def test_pages_show_lower_layer_errors_in_korean_and_english(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path}/t.db")
    h.add_user("root", "admin")
    h.add_user("worker", "case_worker")

    # A weak password on the users page (store.accounts).
    c = h.client()
    csrf = login(c, "root")
    form = {"username": "newbie", "password": "short", "role": "investigator", "csrf_token": csrf}
    page = c.post("/users", data=form)
    assert page.status_code == 422
    assert "비밀번호가 12자보다 짧습니다" in page.text and "shorter than" not in page.text
    c.get("/lang/en?next=/users")
    page = c.post("/users", data=form)
    assert "the password is shorter than 12 characters" in page.text and "비밀번호가" not in page.text

    # A photo that is not a picture on the enrolment page (media, via store.people).
    c = h.client()
    csrf = login(c, "worker")
    enrol = {"name": "Person A", "consent_by": "herself", "consent_confirmed": "true", "csrf_token": csrf}
    photos = [("photos", ("face.jpg", b"just some text", "image/jpeg"))]
    page = c.post("/people", data=enrol, files=photos)
    assert page.status_code == 422
    assert "아무도 등록하지 못했습니다" in page.text
    assert "face.jpg: 이미지나 동영상 파일이 아닙니다(텍스트 파일로 보입니다)" in page.text
    assert "사진 1:" not in page.text  # the file is named, not "photo #1"
    # the enrolment page says what recall to expect for young Korean women, from the shipped calibration
    from jikimi.index.faces import calibration

    cal = calibration()
    assert "젊은 한국 여성의 경우 예상되는 결과" in page.text and f"약 {cal.tar(3) * 100:.0f}%" in page.text
    assert "not an image or video" not in page.text and "nobody enrolled" not in page.text
    c.get("/lang/en?next=/people")
    page = c.post("/people", data=enrol, files=photos)
    assert "nobody enrolled: no usable face" in page.text and "face.jpg: not an image or video" in page.text
    assert "아무도" not in page.text

    # The error page of a JikimiError (store.people): Korean by default, English by the cookie.
    c = h.client()
    csrf = login(c, "worker")
    page = c.post("/people/4242/withdraw", data={"csrf_token": csrf})
    assert page.status_code == 404 and "등록된 사람 4242번이 없습니다" in page.text
    assert "no person with id" not in page.text
    # what to do next, too: the web hint in Korean (the command `jikimi person list` is the CLI's hint)
    assert 'class="hint"' in page.text and "등록된 사람 목록을 확인하세요" in page.text
    assert "jikimi person list" not in page.text
    c.get("/lang/en?next=/")
    page = c.post("/people/4242/withdraw", data={"csrf_token": csrf})
    assert "no person with id 4242" in page.text
    # the API stays English whatever the page language
    api = c.post("/api/v1/people/4242/withdraw", json={}, headers={"X-CSRF-Token": csrf})
    assert api.json()["detail"] == "no person with id 4242"
    c.get("/lang/ko?next=/")
    api = c.post("/api/v1/people/4242/withdraw", json={}, headers={"X-CSRF-Token": csrf})
    assert api.json()["detail"] == "no person with id 4242"
