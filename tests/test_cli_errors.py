"""The CLI's one error boundary: a ``JikimiError`` from any command is printed (reason, then what to do next)
and exits 2 for a usage or configuration error, 1 for any other problem the command found."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from jikimi.cli import app
from jikimi.cli.common import ErrorBoundary
from jikimi.errors import ConfigError, JikimiError, NotFoundError, ValidationError
from jikimi.store.people import EnrolmentError

runner = CliRunner()
CLI = Path(__file__).resolve().parents[1] / "src" / "jikimi" / "cli"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValidationError("not a valid PDQ hash", "give 64 hex digits"), 2),
        (ConfigError("JIKIMI_SECRET is not set", "set it"), 2),
        (NotFoundError("no case 999", "see `jikimi case list`"), 1),
        (EnrolmentError("no usable photo", "use other photos"), 1),
        (JikimiError("the SMTP server refused the mail", "check JIKIMI_SMTP_*"), 1),
    ],
)
def test_an_error_is_printed_and_mapped_to_its_exit_code(error: JikimiError, code: int) -> None:
    toy = typer.Typer(cls=ErrorBoundary)
    group = typer.Typer()

    @toy.command("top")
    def top() -> None:
        raise error

    @group.command("nested")
    def nested() -> None:
        raise error

    toy.add_typer(group, name="group")
    for args in (["top"], ["group", "nested"]):
        res = runner.invoke(toy, args)
        assert res.exit_code == code, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
        assert f"error: {error.reason}" in res.stderr and f"next: {error.hint}" in res.stderr


def test_the_jikimi_app_has_the_boundary(tmp_path: Path) -> None:
    res = runner.invoke(app, ["bank", "add", "nosuchbank", str(tmp_path / "x.png")])
    assert res.exit_code == 1 and "no bank named 'nosuchbank'" in res.stderr  # not found
    assert runner.invoke(app, ["bank", "create", "b"]).exit_code == 0
    res = runner.invoke(app, ["bank", "create", "b"])
    assert res.exit_code == 2 and "already exists" in res.stderr  # bad input


def test_no_command_translates_errors_itself() -> None:
    """A command raises a JikimiError (ValidationError for bad input); the boundary prints it and exits."""
    offenders = []
    for path in sorted(CLI.glob("cmd_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and node.body and isinstance(node.body[-1], ast.Raise):
                raised = node.body[-1].exc
                if (
                    isinstance(raised, ast.Call)
                    and isinstance(raised.func, ast.Name)
                    and raised.func.id == "fail"
                ):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"let the error boundary in jikimi.cli.common map these: {offenders}"
