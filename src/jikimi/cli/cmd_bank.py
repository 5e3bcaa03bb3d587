"""``jikimi bank``: create, list, fill, import, export, disable and delete hash banks."""

from __future__ import annotations

from pathlib import Path

import typer

from jikimi.cli.common import console, emit_json, err_console, progress
from jikimi.errors import JikimiError, NotFoundError, ValidationError

bank_app = typer.Typer(
    help="Hash banks: lists of known content that files are matched against.", no_args_is_help=True
)


def _store():  # type: ignore[no-untyped-def]
    from jikimi.store import open_store

    return open_store()


@bank_app.command("create")
def create(
    name: str,
    threshold: int = typer.Option(31, "--threshold", help="PDQ distance at or below which a file matches."),
    description: str = typer.Option("", "--description"),
) -> None:
    """Create a bank."""
    from jikimi.store.banks import create_bank

    store = _store()
    with store.session() as s:
        create_bank(s, name, threshold=threshold, description=description)
    console.print(f"created bank [bold]{name}[/] (PDQ threshold {threshold})")


@bank_app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List the banks and how many entries each holds."""
    from rich.table import Table

    from jikimi.store.banks import list_banks

    with _store().session() as s:
        banks = list_banks(s)
    if json_out:
        for b in banks:
            emit_json(b.__dict__)
        return
    table = Table("bank", "enabled", "threshold", "entries", "enabled entries")
    for b in banks:
        table.add_row(
            b.name, "yes" if b.enabled else "no", str(b.pdq_threshold), str(b.entries), str(b.enabled_entries)
        )
    console.print(table)


@bank_app.command("add")
def add(
    name: str,
    paths: list[Path] = typer.Argument(..., help="Image or video files to hash and add."),
    label: list[str] = typer.Option([], "--label", "-l", help="A label (repeatable)."),
    note: str = typer.Option("", "--note"),
    case_ref: str = typer.Option("", "--case"),
    source: str = typer.Option("", "--source"),
) -> None:
    """Hash files with every registered hash signal and add them to a bank (the files are not kept)."""
    from jikimi.store.banks import add_entry, entry_from_file, get_bank

    store = _store()
    with store.session() as s:
        get_bank(s, name)
    failed = 0
    for path in progress(paths, len(paths), "hashing", enabled=len(paths) > 3):
        try:
            entry = entry_from_file(path, labels=list(label), note=note, case_ref=case_ref, source=source)
            with store.session() as s:  # one transaction per file: a bad file loses nothing else
                res = add_entry(s, name, entry)
        except JikimiError as exc:
            failed += 1
            err_console.print(f"[red]failed[/] {path}: {exc}", soft_wrap=True)
            continue
        state = "added" if res.created else "already in bank"
        flag = " [yellow](low PDQ quality: untrusted)[/]" if res.untrusted else ""
        console.print(f"{state}: {path} -> entry {res.entry_id}{flag}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@bank_app.command("add-hash")
def add_hash(
    name: str,
    pdq: str | None = typer.Option(None, "--pdq", help="PDQ hash (64 hex digits)."),
    md5: str | None = typer.Option(None, "--md5", help="MD5 (32 hex digits)."),
    sha256: str | None = typer.Option(None, "--sha256", help="SHA-256 (64 hex digits)."),
    quality: int | None = typer.Option(None, "--quality", help="PDQ quality (0-100) if known."),
    hashes: list[str] = typer.Option(
        [], "--hash", help="SIGNAL=VALUE for any hash signal (e.g. vpdq, or a python-threatexchange name)."
    ),
    label: list[str] = typer.Option([], "--label", "-l"),
    note: str = typer.Option("", "--note"),
    case_ref: str = typer.Option("", "--case"),
) -> None:
    """Add a hash you already have to a bank."""
    from jikimi.signals import registry
    from jikimi.signals.base import SignalValue
    from jikimi.store.banks import EntryInput, add_entry

    given: dict[str, list[SignalValue]] = {}
    for text in hashes:
        signal, sep, value = text.partition("=")
        sig = registry.hash_signal_named(signal) if sep else None
        if sig is None:
            raise ValidationError(
                "--hash {value}: expected SIGNAL=VALUE with a known hash signal",
                code="cli.bank_hash_option",
                value=repr(text[:80]),
            )
        given.setdefault(sig.name, []).extend(sig.parse_values(value))
    entry = EntryInput.from_hashes(
        {"pdq": pdq, "md5": md5, "sha256": sha256},
        quality={"pdq": quality},
        labels=list(label),
        note=note,
        case_ref=case_ref,
    )
    for signal, values in given.items():
        entry.add(signal, values)
    if not entry.signals:
        raise ValidationError("give --pdq, --md5, --sha256 or --hash SIGNAL=VALUE", code="cli.bank_no_hash")
    with _store().session() as s:
        res = add_entry(s, name, entry)
    state = "added" if res.created else "already in bank"
    flag = " (low PDQ quality: untrusted for matching)" if res.untrusted else ""
    console.print(f"{state}: entry {res.entry_id}{flag}")


@bank_app.command("import")
def import_(
    name: str,
    file: Path,
    fmt: str = typer.Option(..., "--format", help="pytx, csv, stopncii or ncmec (NCMEC GetEntries XML)"),
) -> None:
    """Import hashes from a file; bad rows are reported and skipped, the rest imported in one transaction."""
    from jikimi.exchange import import_bank

    with _store().session() as s:
        report = import_bank(s, name, file, fmt)
    for e in report.errors:
        err_console.print(f"[red]row {e.row}[/]: {e.reason}", soft_wrap=True)
    console.print(
        f"imported into {name}: {report.added} added, {report.duplicates} already present, "
        f"{report.removed} removed (withdrawn/deleted), {len(report.errors)} rows failed"
        + (f", {report.untrusted} with low PDQ quality" if report.untrusted else ""),
        soft_wrap=True,
    )
    if report.errors:
        raise typer.Exit(1)


@bank_app.command("export")
def export(
    name: str,
    fmt: str = typer.Option(..., "--format", help="pytx, csv or stopncii"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
) -> None:
    """Export a bank's enabled entries."""
    from jikimi.exchange import export_bank

    with _store().session() as s:
        text = export_bank(s, name, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


@bank_app.command("disable")
def disable(
    name: str,
    entry: int | None = typer.Option(None, "--entry", help="Disable one entry instead of the whole bank."),
) -> None:
    """Stop matching a bank (or one entry); it takes effect at once."""
    _toggle(name, entry, False)


@bank_app.command("enable")
def enable(name: str, entry: int | None = typer.Option(None, "--entry")) -> None:
    """Match a disabled bank (or entry) again."""
    _toggle(name, entry, True)


def _toggle(name: str, entry: int | None, enabled: bool) -> None:
    from jikimi.store.banks import get_bank, get_entry, set_bank_enabled, set_entry_enabled

    word = "enabled" if enabled else "disabled"
    with _store().session() as s:
        if entry is None:
            set_bank_enabled(s, name, enabled)
            console.print(f"bank {name} {word}")
        else:
            if get_entry(s, entry).bank_id != get_bank(s, name).id:
                raise NotFoundError(
                    "entry {entry} is not in bank {bank}",
                    code="cli.bank_entry_elsewhere",
                    entry=entry,
                    bank=name,
                )
            set_entry_enabled(s, entry, enabled)
            console.print(f"entry {entry} {word}")


@bank_app.command("delete")
def delete(
    name: str,
    entry: int | None = typer.Option(None, "--entry", help="Delete one entry instead of the whole bank."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a bank and its entries (or one entry)."""
    from jikimi.store.banks import delete_bank, delete_entry, get_bank, get_entry

    what = f"entry {entry} of bank {name}" if entry is not None else f"bank {name} and all its entries"
    if not yes and not typer.confirm(f"delete {what}?"):
        raise typer.Exit(1)
    with _store().session() as s:
        if entry is None:
            n = len(delete_bank(s, name))
            console.print(f"deleted bank {name} ({n} entries)")
        else:
            if get_entry(s, entry).bank_id != get_bank(s, name).id:
                raise NotFoundError(
                    "entry {entry} is not in bank {bank}",
                    code="cli.bank_entry_elsewhere",
                    entry=entry,
                    bank=name,
                )
            delete_entry(s, entry)
            console.print(f"deleted entry {entry}")


@bank_app.command("reindex")
def reindex() -> None:
    """Rebuild the persisted PDQ index from the store (makes the next cold start fast)."""
    from jikimi.store.banks import BankMatcher

    m = BankMatcher.load(_store())
    path = m.save()
    console.print(f"indexed {m.size} PDQ hashes -> {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")
