"""``jikimi scan``: scan folders, zips, Telegram exports and links; write findings, cases and evidence."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)


def scan(
    sources: list[str] = typer.Argument(
        ...,
        help="Folders, files, .zip archives, Telegram Desktop exports, URLs or @links.txt.",
        show_default=False,
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON finding per line (new findings)."),
    workers: int = typer.Option(
        None, "--workers", min=0, help="Worker processes (default: all cores; on a Ray cluster, its CPUs)."
    ),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray."),
    ray_address: str = typer.Option(
        None,
        "--ray-address",
        help="Join this Ray cluster (with --executor ray): the address `ray start --head` prints, default "
        "RAY_ADDRESS; the token comes from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token.",
    ),
    signals: str = typer.Option(
        None,
        "--signals",
        help="Comma-separated signals to run (default: all registered).",
        show_default=False,
    ),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start a new run even if one was interrupted."),
    no_banks: bool = typer.Option(False, "--no-banks", help="Do not match against the hash banks."),
    no_faces: bool = typer.Option(False, "--no-faces", help="Do not match enrolled people's faces."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Items written per transaction."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Scan SOURCE... and write everything to the store: media, sightings, findings grouped into cases.

    An interrupted scan of the same sources resumes where it stopped. Exit code 1 when any item failed
    (the others are still scanned), 2 for usage errors.
    """
    from jikimi.cli.common import console, emit_json, err_console, fail, progress, reason

    if executor not in ("local", "ray"):
        raise fail(f"unknown executor {executor!r}", "use --executor local or --executor ray", code=2)
    if ray_address and executor != "ray":
        raise fail("--ray-address needs --executor ray", code=2)
    names = [s.strip() for s in signals.split(",") if s.strip()] if signals else None
    from jikimi.cases.runner import run_scan
    from jikimi.signals import registry
    from jikimi.store import open_store

    if names:
        unknown = [n for n in names if n not in registry.SIGNALS]
        if unknown:
            raise fail(
                f"unknown signals: {', '.join(unknown)}", f"known: {', '.join(registry.SIGNALS)}", code=2
            )
    with open_store() as store:
        report = run_scan(
            store,
            sources,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            signals=names,
            bank_matcher=None if no_banks else "auto",
            gallery=None if no_faces else "auto",
            resume=not no_resume,
            batch_size=batch_size,
            progress=None if quiet else (lambda it, total: progress(it, total, "scanning")),
            on_finding=emit_json if json_out else None,
        )
        # Copies of content already taken down raise a re-upload alert on the original case.
        from jikimi.takedown import reupload

        with store.session() as s:
            reuploads = reupload.scan_new_sightings(s, actor="cli:scan")
            alerts = [(a.case_id, a.new_url or a.new_finding_id, a.matched_by) for a in reuploads.alerts]
    out = err_console if json_out else console
    out.print(
        f"[bold]scan {report.run_id}[/]{' (resumed)' if report.resumed else ''}: {report.items} items"
        f"{f' (+{report.skipped} done before)' if report.skipped else ''}, {report.media_items} media, "
        f"{report.new_media} new media, {report.new_sightings} new sightings, "
        f"{report.items_per_second:.1f} items/s"
    )
    if report.findings:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.by_reason.items()))
        out.print(
            f"[bold red]{len(report.findings)} findings[/] ({report.new_findings} new; {reasons}) "
            f"in cases {', '.join(map(str, sorted(report.cases)))}: jikimi case list"
        )
    else:
        out.print("no findings")
    for case_id, where, matched_by in alerts:
        out.print(f"[bold red]re-upload alert[/] on case {case_id}: {where} (matched by {matched_by})")
    if report.unresolved:
        out.print(
            f"[yellow]{report.unresolved} unresolved[/] (posted in a chat but the file is not in the export)"
        )
    if report.errors:
        out.print(f"[red]{len(report.errors)} errors:[/]")
        for e in report.errors:
            why = reason(e.message or e.reason)  # in the user's language
            out.print(f"  [red]{e.location}[/]: {why}", markup=True, highlight=False)
        raise typer.Exit(1)
