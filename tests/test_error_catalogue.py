"""Errors are data: every raise site names a stable code and a catalogued message with Korean.

For each call of a ``JikimiError`` class (and of ``Message`` / ``Text``) in ``src/jikimi`` the message, the
hint and the command-line hint must be string literals (or a module constant, or another error's ``.message``)
found in the Korean catalogue with a translation; the ``{fields}`` of the English and of the Korean must be
the parameters passed; ``code`` must be a dotted literal; a ``hint`` and a message (shown on web pages and in
the JSON API) must not name a shell command, a command-line option or an environment variable: those belong in
``cli_hint`` (messages raised by ``jikimi.cli`` itself are only ever shown on the command line).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from jikimi.errors import JikimiError, Message, Text, ValidationError, fields_of
from jikimi.web.i18n import load_catalogue, translator

SRC = Path(__file__).resolve().parents[1] / "src" / "jikimi"
BASES = {"JikimiError", "ConfigError", "NotFoundError", "ValidationError"}
CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
#: What a web/API hint or message must not say: commands and options belong in ``cli_hint``.
SHELL = re.compile(r"`|\bjikimi [a-z]|(^|\s)--[a-z]")
#: What a web/API message must not say either: an environment variable is set on the command line.
ENV = re.compile(r"\bJIKIMI_[A-Z_]+")
#: Modules whose errors only the command line shows (their messages may name its options).
CLI_ONLY = SRC / "cli"
RESERVED = {"code", "hint", "cli_hint"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@cache
def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for p in _modules()}


@cache
def error_classes() -> frozenset[str]:
    """Names of every ``JikimiError`` subclass defined in the source (by the names of their bases)."""
    found = set(BASES)
    classes = [n for t in _trees().values() for n in ast.walk(t) if isinstance(n, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for c in classes:
            bases = {
                b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                for b in c.bases
            }
            if c.name not in found and bases & found:
                found.add(c.name)
                changed = True
    return frozenset(found)


@cache
def ko() -> dict[str, str | tuple[str, ...]]:
    return load_catalogue("ko")


def _constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal(node: ast.expr | None, consts: dict[str, str]) -> str | bool | None:
    """The string, None for an absent/None value, or True when the value is another error's message."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if isinstance(node, ast.Attribute) and node.attr in {"message", "hint_message", "cli_hint_message"}:
        return True
    raise AssertionError(ast.unparse(node))


def _check_text(text: str, where: str, params: set[str] | None, problems: list[str]) -> None:
    korean = ko().get(text)
    if not isinstance(korean, str) or not korean:
        problems.append(f"{where}: no Korean in errors*.po for {text!r}")
        return
    if fields_of(korean) != fields_of(text):
        problems.append(f"{where}: the Korean of {text!r} has fields {sorted(fields_of(korean))}")
    if params is not None and not fields_of(text) <= params:
        problems.append(f"{where}: {text!r} needs {sorted(fields_of(text) - params)}, not passed")


def check_module(path: Path) -> list[str]:
    tree = _trees()[path]
    consts = _constants(tree)
    classes = error_classes()
    problems: list[str] = []
    cli_only = CLI_ONLY in path.parents
    #: ``Message(...)`` given as a ``cli_hint``/``cli_hint_message``: shown on the command line only.
    cli_messages = {
        id(k.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        for k in n.keywords
        if k.arg in {"cli_hint", "cli_hint_message"}
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        where = f"{path.relative_to(SRC)}:{node.lineno}"
        if path.name == "errors.py":  # the definitions themselves
            continue
        if name in {"Text"} and node.args:
            try:
                value = _literal(node.args[0], consts)
            except AssertionError as exc:
                problems.append(f"{where}: Text() of a computed value ({exc})")
                continue
            if isinstance(value, str):
                _check_text(value, where, set(), problems)
            continue
        if name not in classes and name != "Message":
            continue
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        splat = any(k.arg is None for k in node.keywords)
        params = None if splat else set(kwargs) - RESERVED
        if name == "Message" and len(node.args) > 1:
            second = node.args[1]
            params = (
                {str(k.value) for k in second.keys if isinstance(k, ast.Constant)}
                if isinstance(second, ast.Dict)
                else None
            )
        try:
            message = _literal(node.args[0], consts) if node.args else _literal(kwargs.get("message"), consts)
            hint = _literal(
                node.args[1] if len(node.args) > 1 and name != "Message" else kwargs.get("hint"), consts
            )
            cli_hint = _literal(kwargs.get("cli_hint"), consts)
        except AssertionError as exc:
            problems.append(f"{where}: {name}() needs a catalogued literal, not {exc}")
            continue
        if message is None:
            problems.append(f"{where}: {name}() without a message")
            continue
        if name != "Message" and not splat:
            code = kwargs.get("code")
            if not (
                isinstance(code, ast.Constant) and isinstance(code.value, str) and CODE.fullmatch(code.value)
            ):
                problems.append(f"{where}: {name}() needs code='package.what' (a literal)")
        for text, kind in ((message, "message"), (hint, "hint"), (cli_hint, "cli_hint")):
            if isinstance(text, str):
                _check_text(text, f"{where} {kind}", params, problems)
        if isinstance(hint, str) and (SHELL.search(hint) or ENV.search(hint)):
            problems.append(
                f"{where}: hint {hint!r} names a command or setting; put it in cli_hint, say it in words"
            )
        if (
            isinstance(message, str)
            and not cli_only
            and id(node) not in cli_messages
            and (SHELL.search(message) or ENV.search(message))
        ):
            problems.append(
                f"{where}: message {message!r} names a command, option or environment variable; "
                "say it in words and put the specifics in cli_hint"
            )
    return problems


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_raise_sites_use_catalogued_messages(path: Path) -> None:
    problems = check_module(path)
    assert not problems, "\n".join(problems)


def test_catalogue_entries_have_korean_with_the_same_fields() -> None:
    bad = [k for k, v in ko().items() if isinstance(v, str) and v and fields_of(v) != fields_of(k)]
    assert not bad, bad


def test_message_renders_in_korean_with_nested_values() -> None:
    inner = ValidationError("the request is not valid", code="request.invalid")
    outer = JikimiError("your role does not allow this", code="auth.forbidden", hint="see the errors listed")
    t = translator("ko")
    assert t.message(outer) == "현재 역할로는 할 수 없는 작업입니다"
    assert t.hint(outer) == "아래 오류 목록을 확인하세요"
    assert t.message(inner.message.to_json()) == "요청이 올바르지 않습니다"
    nested = Message("{x}", {"x": inner})
    assert nested.render(t.gettext) == "요청이 올바르지 않습니다"
    assert (
        Message.from_json(Message("{x}", {"x": Text("sign in first")}).dumps()).render(t.gettext)
        == "먼저 로그인하세요"
    )
    assert Message.from_json("plain {words}").render() == "plain {words}"


def test_errors_pickle_with_their_data() -> None:
    import pickle

    exc = ValidationError("the request is not valid", code="request.invalid", hint="see the errors listed")
    exc.extra = 3  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is ValidationError and back.code == "request.invalid" and back.hint == exc.hint
    assert back.reason == exc.reason and back.extra == 3  # type: ignore[attr-defined]
