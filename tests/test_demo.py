"""`make demo` end to end (without the server): enrolment, bank, scan of a folder and an export, notice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jikimi.cli import app
from jikimi.store.schema.takedown import TakedownItem


def test_demo_runs_the_whole_loop(jikimi_home: Path, shared: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--reset", "--no-serve", "--workers", "1"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "enrolled" in out and "recorded consent" in out
    assert "bank_match: 1" in out
    assert "enrolled_face: 1" in out
    assert "truncated JPEG" in out  # the broken file failed alone; the scan went on
    assert "drafted notice" in out
    assert "reply marked it acknowledged" in " ".join(out.split())  # the platform's e-mail reply was read
    assert "re-upload alert" in out  # the taken-down item, posted again, is caught by a later scan
    assert "audit chain: intact" in out
    assert (jikimi_home / "jikimi.db").exists()

    # The login the demo prints works against the data it leaves for the web app.
    from jikimi.cli.demo import DEMO_PASSWORD, DEMO_USER
    from jikimi.store import open_store
    from jikimi.store.accounts import authenticate

    store = open_store()
    with store.session() as s:
        assert authenticate(s, DEMO_USER, DEMO_PASSWORD).role == "admin"
        (item,) = s.query(TakedownItem).filter(TakedownItem.state == "removed").all()
        states = [e.to_state for e in item.events]
        assert states == ["found", "drafted", "approved", "sent", "acknowledged", "removed"], states
    store.dispose()

    # The organisation is in JIKIMI_HOME/takedown.yaml, so the command line drafts with the data the demo left
    # (it used to live only in the demo process's environment: "organisation is not configured").
    assert "JIKIMI_ORG_NAME" not in os.environ
    assert "지킴이 데모 상담소" in (jikimi_home / "takedown.yaml").read_text(encoding="utf-8")
    run = CliRunner().invoke
    assert run(app, ["takedown", "add", "77", "https://t.me/room/9"]).exit_code == 0
    drafted = run(app, ["takedown", "draft", "77"])
    assert drafted.exit_code == 0, drafted.output


def test_demo_outbox_writes_each_message_as_an_eml_file(tmp_path: Path) -> None:
    import smtplib
    from email.message import EmailMessage

    from jikimi.cli.demo import demo_outbox

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "notice"
    msg.set_content("hello")
    with (
        demo_outbox(tmp_path / "outbox") as (port, received),
        smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp,
    ):
        smtp.send_message(msg)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert b"Subject: notice" in eml.read_bytes() and len(received) == 1
    with pytest.raises(OSError):  # stopped with the block
        smtplib.SMTP("127.0.0.1", port, timeout=2)


def test_demo_refuses_to_reset_a_real_home(jikimi_home: Path) -> None:
    from jikimi.store import open_store

    open_store().dispose()  # a database the demo did not create
    for args in (["demo", "--reset", "--no-serve"], ["demo", "--no-serve"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert "not touching it" in result.output
    assert not (jikimi_home / ".jikimi-demo-home").exists()


def test_demo_refuses_a_configured_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    result = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 2
    assert "only on the embedded SQLite" in result.output


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_cli_help(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
