"""Scan reasons are data: a failed or unresolved item keeps its catalogued message (in the report, in
``ScanItem.reason_message``, in the scan page's JSON), rendered in the reader's language; the English stays
where callers read it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from jikimi.cases.runner import run_scan
from jikimi.errors import Message
from jikimi.sources import open_source
from jikimi.sources.urls import url_message, url_problem
from jikimi.store import open_store
from jikimi.store.schema.scans import ScanItem
from jikimi.web import environment
from jikimi.web.i18n import translator
from jikimi.web.render import reason_text

KO = translator("ko").gettext


def test_failed_items_keep_their_message(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    with zipfile.ZipFile(root / "a.zip", "w") as zf:
        zf.writestr("../up.png", b"x")
    items = {i.name: i for i in open_source(root)}
    dangling, up = items["dangling.jpg"], items["up.png"]
    assert dangling.reason == "broken symbolic link" and dangling.message == Message("broken symbolic link")
    assert up.message is not None and up.message.id == "member {name!r} escapes the archive with '..'"
    assert up.reason == "member '../up.png' escapes the archive with '..'"
    assert up.message.render(KO) == "압축 파일 항목 '../up.png': '..'로 압축 파일 밖을 가리켜 열지 않았습니다"


def test_scan_report_and_checkpoints_keep_the_message(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    report = run_scan(store, [root], workers=0, signals=["sha256"], gallery=None, bank_matcher=None)
    [error] = report.errors
    assert error.reason == "broken symbolic link" and error.message == Message("broken symbolic link")
    assert report.to_dict()["errors"][0]["message"] == {"id": "broken symbolic link", "params": {}}
    with store.session() as s:
        row = s.execute(sa.select(ScanItem).where(ScanItem.status == "failed")).scalar_one()
        assert row.reason == "broken symbolic link"  # the English the API returns
        assert Message.from_json(row.reason_message).render(KO) == "끊어진 심볼릭 링크입니다"
    store.dispose()


def test_nested_reasons_render_in_one_language() -> None:
    refused = url_message("http://127.0.0.1/x.jpg")
    assert url_problem("http://127.0.0.1/x.jpg") == "127.0.0.1 is a loopback address"
    why = Message("refused: {problem}", {"problem": refused})
    back = Message.from_json(json.loads(why.dumps()))
    assert back.render() == "refused: 127.0.0.1 is a loopback address"
    assert back.render(KO) == "거부되었습니다: 127.0.0.1은(는) 루프백 주소입니다"


def test_scan_page_shows_kept_messages_in_the_page_language() -> None:
    kept = Message("stopped after {n} entries (limit)", {"n": 5})
    job = SimpleNamespace(
        id="j1",
        status="done",
        exports=[],
        report={
            "items": 1,
            "findings": 0,
            "failed": 1,
            "errors": [{"location": "x", "reason": kept.render(), "message": kept.to_json()}],
            "unresolved": 1,
            "unresolved_items": [
                {
                    "location": "result.json#message3",
                    "reason": "File not included. Change data exporting settings to download.",
                    "message": Message(
                        "File not included. Change data exporting settings to download."
                    ).to_json(),
                }
            ],
        },
    )

    def render(lang: str) -> str:
        from jikimi.api.roles import Perm

        template = environment().get_template("scan_status.html")
        return template.render(_=lambda s, **k: s, lang=lang, Perm=Perm, job=job)

    ko = render("ko")
    assert "x: 항목 5개에서 멈췄습니다(한도)" in ko
    assert "파일이 내보내기에 포함되지 않았습니다" in ko
    assert "x: stopped after 5 entries (limit)" in render("en")
    assert reason_text(kept.to_json(), "ko") == "항목 5개에서 멈췄습니다(한도)"


def test_the_command_line_prints_failed_items_in_the_users_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from jikimi.cli import app

    root = tmp_path / "in"
    root.mkdir()
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    args = ["scan", str(root), "--workers", "0", "--signals", "sha256", "--no-resume"]
    monkeypatch.setenv("JIKIMI_LANG", "ko")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "끊어진 심볼릭 링크입니다" in res.output, res.output
    monkeypatch.setenv("JIKIMI_LANG", "en")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "broken symbolic link" in res.output, res.output
