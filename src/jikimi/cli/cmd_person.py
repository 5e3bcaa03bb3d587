"""``jikimi person``: enrol people for face search with consent; withdraw, list, show, search a photo;
re-embed kept photos when the face model changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

person_app = typer.Typer(
    help=(
        "People enrolled for face search (with consent): enroll, consent, withdraw, list, show, search, "
        "reembed, sources."
    ),
    no_args_is_help=True,
)


def _consent_line(info: Any) -> str:
    c = info.consent
    if c is None:
        return "no consent record"
    until = f"until {c.expires_at:%Y-%m-%d}" if c.expires_at else "no end date"
    state = "revoked" if c.revoked_at else ("valid" if c.valid() else "expired")
    recorded = f"recorded {c.recorded_at:%Y-%m-%d} by {c.recorded_by}"
    return f"{state}: by {c.given_by}, scope {c.scope}, {until} ({recorded})"


def _failure(f: Any) -> str:
    """A photo that could not be used, with what to do next, in the user's language (markup escaped)."""
    from rich.markup import escape

    from jikimi.cli.common import tr

    t = tr()
    hint = f.hint_for(cli=True)
    text = f"[red]{escape(f.photo)}[/]: {escape(t.message(f.message))}"
    return text + (f" [yellow]({escape(t.message(hint))})[/]" if hint else "")


def _error_line(label: object, exc: Any) -> str:
    """An error of one item (``label: reason (hint)``), in the user's language, hint for the command line."""
    from rich.markup import escape

    from jikimi.cli.common import tr

    t = tr()
    hint = t.hint(exc, cli=True)
    return f"[red]{escape(str(label))}[/]: {escape(t.message(exc))}" + (
        f" [yellow]({escape(hint)})[/]" if hint else ""
    )


def _detector(value: str) -> Any:
    if value not in ("hog", "cnn"):
        from jikimi.cli.common import fail

        raise fail(f"unknown face detector {value!r}", "use --detector hog or --detector cnn", code=2)
    return value


@person_app.command("enroll")
def enroll(
    name: str = typer.Argument(..., help="The person's name (or a case pseudonym)."),
    photos: list[Path] = typer.Argument(..., help="Photos of the person's face.", show_default=False),
    consent_by: str = typer.Option(
        None, "--consent-by", help="Who gave consent for face search (the person, or a guardian). Required."
    ),
    consent_scope: str = typer.Option("face-search", "--consent-scope", help="What the consent covers."),
    minor: bool = typer.Option(False, "--minor", help="The person is under 18."),
    expires: str = typer.Option(None, "--expires", help="Consent ends on this date (YYYY-MM-DD, 00:00 UTC)."),
    keep_photos: bool = typer.Option(False, "--keep-photos", help="Keep the photos too (encrypted)."),
    face: int = typer.Option(None, "--face", min=1, help="Which face in a group photo (1 = leftmost)."),
    detector: str = typer.Option("hog", "--detector", help="hog (fast) or cnn (more accurate, slower)."),
    upsample: int = typer.Option(
        1, "--upsample", min=0, max=3, help="Enlarge x2 this often to find small faces."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Enrol a person for face search. Refused without --consent-by."""
    from jikimi.cli.common import console, emit_json, err_console, fail
    from jikimi.store import open_store, people

    if not consent_by or not consent_by.strip():
        raise fail(
            "enrolment refused: no consent record",
            "say who gave consent for face search with --consent-by (the person, or a guardian for a minor)",
            code=2,
        )
    missing = [str(p) for p in photos if not p.is_file()]
    if missing:
        raise fail(f"photo not found: {', '.join(missing)}", "check the paths", code=2)
    store = open_store()
    try:
        with store.session() as s:
            result = people.enroll(
                s,
                name,
                photos,
                consent_by=consent_by,
                consent_scope=consent_scope,
                minor=minor,
                expires=expires,
                keep_photos=keep_photos,
                face=face,
                detector=_detector(detector),
                upsample=upsample,
            )
    except people.EnrolmentError as exc:
        for f in exc.failures:
            err_console.print(_failure(f))
        raise
    finally:
        store.dispose()
    p = result.person
    if json_out:
        emit_json(
            {**p.to_dict(), "enrolled": result.enrolled, "failures": [f.to_dict() for f in result.failures]}
        )
    else:
        console.print(f"enrolled [bold]{p.name}[/] as person [bold]{p.id}[/] with {p.faces} face(s)")
        console.print(f"consent {_consent_line(p)}")
        _photo_tip(p.faces)
    for f in result.failures:
        err_console.print("skipped " + _failure(f))
    raise typer.Exit(1 if result.failures else 0)


def _photo_tip(faces: int) -> None:
    """Say plainly what recall to expect for young Korean women, and what raises it (shipped calibration)."""
    from jikimi.cli.common import err_console
    from jikimi.errors import JikimiError
    from jikimi.index.faces import calibration

    try:
        cal = calibration()
    except JikimiError as exc:  # a face model without calibration: enrolled, but not searched yet
        from rich.markup import escape

        from jikimi.cli.common import error_text

        err_console.print(f"[yellow]note:[/] {escape(error_text(exc))}")
        return
    err_console.print(
        f"[yellow]what to expect:[/] for young Korean women, with {faces} photo(s) about "
        f"{cal.tar(faces):.0%} of her other photos are found (with 3 different photos about "
        f"{cal.tar(3):.0%}, with 5 about {cal.tar(5):.0%}); at most {cal.target_far:.2%} of other "
        "women's faces are taken for her, and every match is a candidate to check. More photos from "
        "different days, angles and lighting raise it; `jikimi person sources add` finds edited copies of "
        "her own photos. See docs/accuracy.md."
    )


@person_app.command("consent")
def consent(
    person_id: int = typer.Argument(..., help="The person's id."),
    consent_by: str = typer.Option(None, "--consent-by", help="Who gave consent for face search. Required."),
    consent_scope: str = typer.Option("face-search", "--consent-scope", help="What the consent covers."),
    expires: str = typer.Option(None, "--expires", help="Consent ends on this date (YYYY-MM-DD, 00:00 UTC)."),
) -> None:
    """Record a new consent for an enrolled person (renew an expired one)."""
    from jikimi.cli.common import console
    from jikimi.store import open_store, people

    with open_store() as store, store.session() as s:
        info = people.record_consent(
            s, person_id, consent_by=consent_by, consent_scope=consent_scope, expires=expires
        )
    console.print(f"person {info.id}: consent {_consent_line(info)}")


@person_app.command("withdraw")
def withdraw(
    person_id: int = typer.Argument(..., help="The person's id (see `jikimi person list`)."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit log)."),
) -> None:
    """Withdraw consent: delete the person's face data now and stop every search for them."""
    from jikimi.cli.common import console
    from jikimi.store import open_store, people

    with open_store() as store, store.session() as s:
        info = people.withdraw(s, person_id, reason=reason or None)
    console.print(f"person {info.id} withdrawn: face data and source photos deleted, no longer searched")


@person_app.command("list")
def list_cmd(
    all_: bool = typer.Option(False, "--all", help="Include withdrawn people."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List enrolled people, their consent and whether they are searchable now."""
    from rich.table import Table

    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store, people

    store = open_store()
    try:
        with store.session() as s:
            rows = people.list_people(s, include_withdrawn=all_)
    finally:
        store.dispose()
    if json_out:
        for r in rows:
            emit_json(r.to_dict())
        return
    table = Table()
    for col in ("id", "name", "minor", "faces", "status", "searchable", "consent"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            r.name,
            "yes" if r.minor else "",
            str(r.faces) + (f" [yellow](+{r.outdated_faces} outdated)[/]" if r.outdated_faces else ""),
            r.status + _FACE_STATUS.get(r.face_status, ""),
            "[green]yes[/]" if r.searchable else "[red]no[/]",
            _consent_line(r),
        )
    console.print(table)
    if any(r.outdated_faces for r in rows):
        console.print(
            "[yellow]Faces marked outdated were measured with another face model and are not searched. "
            "`jikimi person reembed` measures kept photos again; people marked 'needs new photos' have no "
            "kept photo: enrol them again from new photos (with their consent).[/]"
        )


_FACE_STATUS = {
    "reembed": " [yellow](re-embed: jikimi person reembed)[/]",
    "needs_photos": " [red](needs new photos)[/]",
}


@person_app.command("reembed")
def reembed(
    person_ids: list[int] = typer.Argument(
        None,
        help="People to re-embed (default: everyone with faces of another face model).",
        show_default=False,
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per person."),
) -> None:
    """Measure kept photos again with the active face model (after changing JIKIMI_FACE_MODEL).

    People whose photos were not kept are listed as needing new photos. Exit code 1 when a photo failed.
    """
    from jikimi.cli.common import console, emit_json, err_console, progress
    from jikimi.signals.face_models import current_embedder
    from jikimi.store import open_store, people

    store = open_store()
    results: list[people.ReembedResult] = []
    try:
        model = current_embedder().name
        with store.session() as s:
            ids = list(person_ids or people.outdated_people(s))
            for pid in progress(ids, len(ids), "re-embedding", enabled=len(ids) > 1):
                results.append(people.reembed(s, pid))
    finally:
        store.dispose()
    if json_out:
        for r in results:
            emit_json(r.to_dict())
    else:
        console.print(f"face model: [bold]{model}[/]")
        if not results:
            console.print("every enrolled face is measured with this model; nothing to do")
        for r in results:
            line = f"person {r.person_id}: {r.reembedded} face(s) re-embedded"
            if r.needs_photos:
                line += " [red]- needs new photos[/] (faces whose photos were not kept cannot be renewed)"
            console.print(line)
            for f in r.failures:
                err_console.print("  " + _failure(f))
    raise typer.Exit(1 if any(r.failures for r in results) else 0)


@person_app.command("show")
def show(
    person_id: int = typer.Argument(..., help="The person's id."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show one person: consent records, faces, kept photos, searchable now or not."""
    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store, people

    with open_store() as store, store.session() as s:
        info = people.get_person(s, person_id)
    if json_out:
        emit_json(info.to_dict())
        return
    console.print(f"[bold]{info.name}[/] (person {info.id}){'  [yellow]minor[/]' if info.minor else ''}")
    console.print(f"status: {info.status}; searchable now: {'yes' if info.searchable else 'no'}")
    console.print(
        f"faces: {info.faces}; kept photos (encrypted): {info.photos}; source photos: {info.sources}"
    )
    if info.outdated_faces:
        console.print(
            f"{info.outdated_faces} face(s) of another face model, not searched:"
            + _FACE_STATUS.get(info.face_status, "")
        )
    for c in info.consents:
        until = f"until {c.expires_at:%Y-%m-%d}" if c.expires_at else "no end date"
        state = "revoked" if c.revoked_at else ("valid" if c.valid() else "expired")
        console.print(f"consent {c.id}: {state}, by {c.given_by}, scope {c.scope}, {until}")


@person_app.command("search")
def search(
    photo: Path = typer.Argument(..., help="A photo to look for enrolled people in."),
    threshold: float = typer.Option(
        None,
        "--threshold",
        help="Expert: a max distance to her template, replacing the calibrated rule (default: calibrated on "
        "East Asian faces).",
    ),
    detector: str = typer.Option("hog", "--detector", help="hog or cnn."),
    upsample: int = typer.Option(1, "--upsample", min=0, max=3),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Find enrolled, consenting people in a photo (only they can ever be found)."""
    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store, people

    with open_store() as store:
        found = people.search_photo(
            store,
            photo,
            threshold=threshold,
            detector=_detector(detector),
            upsample=upsample,
        )
    if json_out:
        emit_json(
            {
                "photo": str(photo),
                "faces": [{**f.to_dict(), "matches": [m.to_dict() for m in ms]} for f, ms in found],
            }
        )
        return
    console.print(f"{photo}: {len(found)} face(s)")
    for n, (f, ms) in enumerate(found, 1):
        who = ", ".join(
            f"[bold]{m.name}[/] (person {m.person_id}, candidate: similarity {m.similarity:.3f}, "
            f"normalised score {m.z:.2f}, false-match rate {m.far:.3%}, nearest enrolled photo {m.face_id})"
            for m in ms
        )
        console.print(f"  face {n} at {f.box.as_list()}: {who or 'no enrolled person'}")


sources_app = typer.Typer(
    help="Her own source photos (public photos she fears were taken): add, list, remove. Derivatives of them "
    "(undressed, cropped, resized, re-encoded, stickered, mirrored) are found by scans and `analyze`.",
    no_args_is_help=True,
)
person_app.add_typer(sources_app, name="sources")


@sources_app.command("add")
def sources_add(
    person_id: int = typer.Argument(..., help="The person's id (enrolled, with a valid consent)."),
    photos: list[Path] = typer.Argument(
        ..., help="Her photos (each must show her face).", show_default=False
    ),
    face: int = typer.Option(None, "--face", min=1, help="Which face in a group photo (1 = leftmost)."),
    detector: str = typer.Option("hog", "--detector", help="hog (fast) or cnn (more accurate, slower)."),
    upsample: int = typer.Option(
        1, "--upsample", min=0, max=3, help="Enlarge x2 this often for small faces."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Add her source photos, under her existing consent record (encrypted at rest, deleted on withdrawal).
    A bad photo fails with its reason; the others are added (exit code 1 when any failed)."""
    from jikimi.cli.common import console, emit_json, err_console, fail
    from jikimi.store import open_store, source_photos

    missing = [p for p in photos if not p.is_file()]
    present = [p for p in photos if p.is_file()]
    if not present:
        raise fail(f"photo not found: {', '.join(map(str, missing))}", "check the paths", code=2)
    with open_store() as store, store.session() as s:
        result = source_photos.add_sources(
            s, person_id, present, face=face, detector=_detector(detector), upsample=upsample
        )
    from jikimi.errors import Message
    from jikimi.store.people import PhotoFailure

    failures = [
        PhotoFailure(
            p.name, Message("file not found"), Message("check the path"), code="people.file_not_found"
        )
        for p in missing
    ] + result.failures
    if json_out:
        emit_json(
            {
                "person_id": person_id,
                "added": [a.to_dict() for a in result.added],
                "already": result.already,
                "failures": [f.to_dict() for f in failures],
            }
        )
    else:
        for a in result.added:
            console.print(f"added source photo [bold]{a.id}[/]: {a.name} (face at {list(a.face_box)})")
        for name in result.already:
            console.print(f"already a source photo: {name}")
    for f in failures:
        err_console.print("skipped " + _failure(f))
    raise typer.Exit(1 if failures else 0)


@sources_app.command("list")
def sources_list(
    person_id: int = typer.Argument(..., help="The person's id."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List her source photos."""
    from jikimi.cli.common import console, emit_json
    from jikimi.store import open_store, source_photos

    with open_store() as store, store.session() as s:
        rows = source_photos.list_sources(s, person_id)
    if json_out:
        for r in rows:
            emit_json(r.to_dict())
        return
    if not rows:
        console.print(f"person {person_id} has no source photos")
    for r in rows:
        console.print(
            f"{r.id}  {r.name}  {r.width}x{r.height}  face {list(r.face_box)}  added {r.created_at:%Y-%m-%d}"
        )


@sources_app.command("remove")
def sources_remove(
    person_id: int = typer.Argument(..., help="The person's id."),
    source_ids: list[int] = typer.Argument(..., help="Source photo ids (see `person sources list`)."),
) -> None:
    """Delete source photos of hers (no longer searched)."""
    from jikimi.cli.common import console, err_console
    from jikimi.errors import JikimiError
    from jikimi.store import open_store, source_photos

    store = open_store()
    failed = 0
    try:
        for sid in source_ids:
            try:
                with store.session() as s:
                    info = source_photos.remove_source(s, person_id, sid)
                console.print(f"removed source photo {info.id} ({info.name})")
            except JikimiError as exc:
                failed += 1
                err_console.print(_error_line(sid, exc))
    finally:
        store.dispose()
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(person_app, name="person")
