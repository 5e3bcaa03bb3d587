"""``jikimi user``: create accounts (the first administrator too), passwords, unlock, disable, tokens."""

from __future__ import annotations

import os

import typer

user_app = typer.Typer(
    help="Manage accounts: create, list, passwd, unlock, disable, enable, token.", no_args_is_help=True
)

ROLES_HELP = "admin, case_worker, investigator, partner (needs --partner) or victim (needs --case)"


def _password(value: str | None, password_env: str | None) -> str:
    if value:
        return value
    if password_env:
        from_env = os.environ.get(password_env)
        if not from_env:
            from jikimi.cli.common import fail

            raise fail(f"the environment variable {password_env} is empty", "export it first", code=2)
        return from_env
    typed: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return typed


@user_app.command("create")
def create(
    username: str = typer.Argument(..., help="Sign-in name (lower case)."),
    role: str = typer.Option("admin", "--role", "-r", help=ROLES_HELP),
    display_name: str = typer.Option("", "--name", help="Name shown in the app."),
    partner: str = typer.Option(None, "--partner", help="Platform name (platform partners)."),
    case: str = typer.Option(None, "--case", help="Case id (victims: the case she may follow)."),
    password: str = typer.Option(None, "--password", help="Password (prefer the prompt or --password-env)."),
    password_env: str = typer.Option(None, "--password-env", help="Read the password from this variable."),
    locale: str = typer.Option("ko", "--locale", help="ko or en."),
) -> None:
    """Create an account (an administrator by default: use this for the first one)."""
    from jikimi.cli.common import console
    from jikimi.store import accounts, open_store
    from jikimi.store.audit import default_actor

    secret = _password(password, password_env)
    with open_store() as store, store.session() as s:
        u = accounts.create_user(
            s,
            username=username,
            password=secret,
            role=role,
            display_name=display_name,
            partner=partner,
            case_ref=case,
            locale=locale,
            actor=default_actor(),
        )
        console.print(f"created [bold]{u.username}[/] ({u.role})")


@user_app.command("list")
def list_cmd() -> None:
    """List accounts."""
    from rich.table import Table

    from jikimi.cli.common import console
    from jikimi.store import accounts, open_store

    store = open_store()
    with store.session() as s:
        table = Table("user", "name", "role", "platform", "case", "active", "last sign-in")
        for u in accounts.list_users(s):
            table.add_row(
                u.username,
                u.display_name,
                u.role,
                u.partner or "",
                u.case_ref or "",
                "yes" if u.active else "no",
                str(u.last_login_at or ""),
            )
        console.print(table)
    store.dispose()


def _change(username: str, what: str, password: str | None = None) -> None:
    from jikimi.cli.common import console
    from jikimi.store import accounts, open_store
    from jikimi.store.audit import default_actor

    with open_store() as store:
        with store.session() as s:
            u = accounts.get_user(s, username)
            actor = default_actor()
            if what == "passwd":
                accounts.set_password(s, u, password or "", actor=actor)
            elif what == "unlock":
                accounts.unlock(s, u, actor=actor)
            else:
                accounts.set_active(s, u, what == "enable", actor=actor)
        console.print(f"{what}: {username}")


@user_app.command("passwd")
def passwd(
    username: str,
    password: str = typer.Option(None, "--password"),
    password_env: str = typer.Option(None, "--password-env"),
) -> None:
    """Set a new password (ends the user's sessions)."""
    _change(username, "passwd", _password(password, password_env))


@user_app.command("unlock")
def unlock(username: str) -> None:
    """Lift a lockout after failed sign-ins."""
    _change(username, "unlock")


@user_app.command("disable")
def disable(username: str) -> None:
    """Disable an account (ends its sessions, revokes its tokens)."""
    _change(username, "disable")


@user_app.command("enable")
def enable(username: str) -> None:
    """Enable a disabled account."""
    _change(username, "enable")


@user_app.command("token")
def token(
    username: str,
    name: str = typer.Option("cli", "--name", help="What the token is for."),
    days: int = typer.Option(90, "--days", min=1, max=3650, help="Days until it expires."),
) -> None:
    """Create an API token for a user and print it once (machines send it as 'Authorization: Bearer ...')."""
    from jikimi.store import accounts, open_store
    from jikimi.store.audit import default_actor

    with open_store() as store:
        with store.session() as s:
            u = accounts.get_user(s, username)
            _tok, secret = accounts.create_token(s, u, name, expires_days=days, actor=default_actor())
        typer.echo(secret)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
