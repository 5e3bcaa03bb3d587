"""Lower-layer errors in Korean on Korean pages: real errors render from the catalogue with their values, the
``reason`` filter and the error page show them in the page's language with the hint written for the web."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
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
from jikimi.errors import JikimiError, Message, Text, fields_of
from jikimi.web import environment
from jikimi.web.i18n import translator

HANGUL = re.compile(r"[\uac00-\ud7a3]")
VALUE = re.compile(r"\d+(?:\.\d+)?|'[^'\s]+'")  # numbers and quoted values must survive the translation
SHELL = re.compile(r"`|\bjikimi [a-z]|(^|\s)--[a-z]|JIKIMI_")  # commands and settings: command line only


# -- real messages, raised by the code that writes them --
def _raised(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> JikimiError:
    try:
        fn(*args, **kwargs)
    except JikimiError as exc:
        return exc
    raise AssertionError(f"{fn.__name__} did not raise")


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


def real_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[JikimiError]:
    """Errors raised by the code that writes them, from every layer a web user can reach."""
    from jikimi.api.routers.banks import lookup_hashes
    from jikimi.media import Limits, load
    from jikimi.signals.face import detect_faces
    from jikimi.signals.registry import hash_signal
    from jikimi.store import accounts, banks, open_store, people
    from jikimi.store.schema.takedown import TakedownItem
    from jikimi.takedown import settings as td_settings
    from jikimi.takedown import tracking

    for var in ("JIKIMI_ORG_NAME", "JIKIMI_SMTP_HOST", "JIKIMI_INCLUDE_VICTIM_NAME"):
        monkeypatch.delenv(var, raising=False)
    jpeg, png, mp4 = _jpeg(), _png(), _mp4()
    out = [
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
    ]
    monkeypatch.setenv("JIKIMI_INCLUDE_VICTIM_NAME", "perhaps")
    out.append(_raised(td_settings.load_organisation, required=False))

    store = open_store(f"sqlite:///{tmp_path}/reasons.db")
    with store.session() as s:
        accounts.create_user(s, username="alice", password=PASSWORD, role="admin")
        banks.create_bank(s, "known")
    user = {"password": PASSWORD, "role": "investigator"}
    with store.session() as s:
        out += [
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
            _raised(people.enroll, s, "A", [b"plain text"], consent_by="herself"),
            _raised(people.enroll, s, "A", [mp4], consent_by="herself"),
        ]
    return out


def _values(message: Message) -> list[str]:
    """The numbers and quoted values inside a message's parameters, which every language must keep."""
    found: list[str] = []
    shown = fields_of(message.id)
    for key, value in message.params.items():
        if key not in shown:  # a value only the hint uses
            continue
        if isinstance(value, JikimiError):
            found += _values(value.message)
        elif isinstance(value, Message):
            found += _values(value)
        elif isinstance(value, bool | int | float) or (
            isinstance(value, str) and not isinstance(value, Text)
        ):
            found += VALUE.findall(str(value))
    return found


def test_real_errors_render_in_korean_with_their_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ko, en = translator("ko"), translator("en")
    problems = []
    errors = real_errors(tmp_path, monkeypatch)
    for exc in errors:
        text = ko.message(exc)
        if not HANGUL.search(text):
            problems.append(f"not Korean: {exc.reason!r} -> {text!r}")
        lost = [v for v in _values(exc.message) if v not in text]
        if lost:
            problems.append(f"values {lost} lost: {exc.reason!r} -> {text!r}")
        if en.message(exc) != exc.reason:
            problems.append(f"English changed: {exc.reason!r} -> {en.message(exc)!r}")
        hint = ko.hint(exc)
        if hint is not None and not HANGUL.search(hint):
            problems.append(f"hint not Korean: {exc.hint!r} -> {hint!r}")
        if exc.hint and SHELL.search(exc.hint):
            problems.append(f"a web hint names a command: {exc.hint!r}")
        if not exc.code or exc.code == exc.kind:
            problems.append(f"no specific code: {exc.reason!r}")
        for failure in getattr(exc, "failures", []):  # an enrolment's per-photo reasons
            if not HANGUL.search(ko.message(failure.message)):
                problems.append(f"photo failure not Korean: {failure.reason!r}")
    assert len(errors) > 40 and not problems, "\n".join(problems)


def test_nested_reasons_render_in_one_language() -> None:
    from jikimi.media import load

    inner = _raised(load, b"plain text, not a picture")
    outer = Message("cannot keep the original: {detail}", {"detail": inner})
    ko = translator("ko").message(outer)
    assert ko == "원본을 보관하지 못했습니다: 이미지나 동영상 파일이 아닙니다(텍스트 파일로 보입니다)"
    assert (
        translator("en").message(outer) == "cannot keep the original: not an image or video (looks like text)"
    )
    # as kept in the database
    assert translator("ko").message(Message.from_json(outer.dumps())) == ko


def test_the_command_line_hint_stays_on_the_command_line() -> None:
    from jikimi.media import Limits, load

    exc = _raised(load, _jpeg(), limits=Limits(max_image_bytes=100))
    assert exc.cli_hint and "JIKIMI_MEDIA_MAX_IMAGE_BYTES" in exc.cli_hint
    assert exc.hint and "JIKIMI_" not in exc.hint and HANGUL.search(translator("ko").hint(exc) or "")


@given(
    st.sampled_from(["cannot keep the original: {detail}", "source stopped: {detail}", "no such {x}"]),
    st.dictionaries(st.sampled_from(["detail", "x", "y"]), st.text(max_size=40) | st.integers()),
    st.sampled_from(["ko", "en", "ja", ""]),
)
@settings(max_examples=300, deadline=None)
def test_rendering_never_raises(template: str, params: dict[str, Any], lang: str) -> None:
    """Any values, even with braces, and missing fields render to text in every language, also from JSON."""
    message = Message(template, params)
    out = translator(lang).message(message)
    assert isinstance(out, str)
    if "x" not in params and template == "no such {x}":
        assert "{x}" in out  # a field nobody passed stays visible, it does not break the page
    assert translator(lang).message(Message.from_json(message.dumps())) == out


# -- the templates and pages --
def _render(template: str, lang: str, **ctx: Any) -> str:
    from jikimi.api.roles import Perm

    return environment().get_template(template).render(_=lambda s, **k: s, lang=lang, Perm=Perm, **ctx)


def test_scan_status_shows_reasons_in_the_page_language() -> None:
    not_media = Message("not an image or video ({unknown})", {"unknown": Text("looks like text")})
    done = SimpleNamespace(
        id="j1",
        status="done",
        report={
            "items": 2,
            "findings": 0,
            "failed": 1,
            "errors": [
                {"location": "00001-x.jpg", "reason": not_media.render(), "message": not_media.to_json()}
            ],
        },
    )
    ko = _render("scan_status.html", "ko", job=done)
    assert "00001-x.jpg: 이미지나 동영상 파일이 아닙니다(텍스트 파일로 보입니다)" in ko
    en = _render("scan_status.html", "en", job=done)
    assert "00001-x.jpg: not an image or video (looks like text)" in en
    assert "Done. 2 items scanned, 0 findings, 1 failed." in en  # the count, not dict.items
    stopped = Message("source stopped: {detail}", {"detail": Message("no file uploaded")})
    failed = SimpleNamespace(
        id="j2", status="failed", error=stopped.render(), error_message=stopped.to_json()
    )
    assert "자료 읽기가 중단되었습니다: 올린 파일이 없습니다" in _render("scan_status.html", "ko", job=failed)
    # text that is not a catalogued message (a platform's words, a user's input) is shown as it is
    plain = SimpleNamespace(id="j3", status="failed", error="source stopped: 무엇", error_message=None)
    assert "source stopped: 무엇" in _render("scan_status.html", "ko", job=plain)


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
