"""Rendering a page: the template context every page shares (translator, language, navigation, CSRF token)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from jikimi.api import evidence
from jikimi.api.deps import Principal, language
from jikimi.api.roles import ROLE_LABELS, Perm
from jikimi.store.accounts import Role
from jikimi.web import LANGUAGES, N_, environment, translator

# (path, label, permission): the navigation shows only what the role may open.
NAV: list[tuple[str, str, Perm]] = [
    ("/", N_("Dashboard"), Perm.REPORT_READ),
    ("/my-case", N_("My case"), Perm.CASE_OWN),
    ("/review", N_("Review"), Perm.FINDING_READ),
    ("/cases", N_("Cases"), Perm.CASE_READ),
    ("/scans", N_("Scan"), Perm.SCAN_READ),
    ("/takedowns", N_("Takedowns"), Perm.TAKEDOWN_READ),
    ("/notices", N_("Notices to my platform"), Perm.NOTICE_OWN),
    ("/people", N_("Enrolment"), Perm.PEOPLE_READ),
    ("/banks", N_("Banks"), Perm.BANK_READ),
    ("/audit", N_("Audit log"), Perm.AUDIT_READ),
    ("/users", N_("Users"), Perm.USER_ADMIN),
    ("/settings", N_("Settings"), Perm.USER_ADMIN),
]


# Values shown through ``_()`` in the templates (statuses and states of notices, items, people, channels).
SHOWN_VALUES = [
    N_("drafted"),
    N_("approved"),
    N_("sent"),
    N_("closed"),
    N_("withdrawn"),
    N_("found"),
    N_("acknowledged"),
    N_("removed"),
    N_("refused"),
    N_("reappeared"),
    N_("active"),
    N_("email"),
    N_("web_form"),
    N_("api"),
    N_("new"),
    N_("confirmed"),
    N_("dismissed"),
    N_("queued"),
    N_("running"),
    N_("done"),
    N_("failed"),
    N_("completed"),  # scan runs in the database
    N_("open"),  # cases
]


# Words the system itself stores and shows (scores, source kinds, the unidentified case's title).
VALUE_LABELS = {
    "faces": N_("faces"),
    "nudity": N_("nudity"),
    "synthetic": N_("synthetic"),
    "faceswap": N_("face swap"),
    "face_distance": N_("face distance"),
    "face_score": N_("face score"),
    "source_inliers": N_("matching points with her source photo"),
    "file": N_("file"),
    "zip": N_("zip archive"),
    "telegram": N_("Telegram"),
    "url": N_("web address"),
    "Unidentified": N_("Unidentified"),
    "face-search": N_("face search"),  # the default consent scope
    "jikimi-confirmed": N_("Confirmed by this centre"),  # the bank of confirmed findings (takedown.hooks)
    "Content confirmed by a reviewer; matches are re-uploads (raised on the original case).": N_(
        "Content confirmed by a reviewer; matches are re-uploads (raised on the original case)."
    ),
    # takedown directory names that are descriptions rather than proper names
    "Hosting provider (generic)": N_("Hosting provider (generic)"),
    "Google Search (de-indexing)": N_("Google Search (de-indexing)"),
    "Image board": N_("Image board"),
    "Korea Communications Standards Commission (KCSC, 방송통신심의위원회)": N_(
        "Korea Communications Standards Commission (KCSC)"
    ),
}


def _shown(t: Any, value: str) -> str:
    """A stored system word in the page language (``t`` translates); other values as they are."""
    return str(t(VALUE_LABELS[value])) if value in VALUE_LABELS else value


def platform_name(key: str) -> str:
    """The takedown directory's name of a platform key (the key itself when unknown)."""
    from jikimi.takedown.directory import load_directory

    platform = load_directory().get(key)
    return platform.name if platform is not None else key


REASON_LABELS = {
    "bank_match": N_("Matches a hash bank"),
    "enrolled_face": N_("Shows an enrolled person's face"),
    "source_photo": N_("Made from one of her source photos"),
    "explicit_synthetic": N_("Explicit, with a sign of generation or face swap"),
}


# Pages of one role only: the victim's own case and the partner's notices are not staff pages (an
# administrator may open them, but they are not in her navigation).
NAV_ROLES: dict[str, set[str]] = {"/my-case": {Role.VICTIM.value}, "/notices": {Role.PARTNER.value}}


def nav_for(principal: Principal | None, path: str) -> list[dict[str, Any]]:
    if principal is None:
        return []
    items = []
    for href, label, perm in NAV:
        if href in NAV_ROLES and principal.role not in NAV_ROLES[href]:
            continue
        if principal.can(perm):
            active = path == href if href == "/" else path.startswith(href)
            items.append({"href": href, "label": label, "active": active})
    return items


def role_label(role: str) -> str:
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths ("/x", never "//host" or "/\\host") are followed after sign-in."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c in target for c in "\r\n\x00")
    ):
        return default
    return target


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> HTMLResponse:
    lang = language(request)
    t = translator(lang)
    here = request.url.path
    if request.url.query:
        here += "?" + request.url.query
    html = (
        environment()
        .get_template(template)
        .render(
            _=t,
            lang=lang,
            languages=LANGUAGES,
            principal=principal,
            csrf=principal.csrf if principal and principal.csrf else "",
            nav=nav_for(principal, request.url.path),
            here=here,
            Perm=Perm,
            role_label=role_label,
            reason_labels=REASON_LABELS,
            label_of=lambda value: _shown(t, value),
            platform_of=lambda key: _shown(t, platform_name(key)),
            evidence_of=lambda f: evidence.lines(
                reasons=f.reasons, scores=f.scores, people=f.people, banks=f.banks
            ),
            **ctx,
        )
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def confirm_page(
    request: Request,
    principal: Principal | None,
    *,
    question: str,
    back: str,
    fields: dict[str, str] | None = None,
) -> HTMLResponse:
    """The confirmation step before a destructive action (works without JavaScript): the same form posted
    again with ``confirmed=yes``. ``question`` is an English source string, translated here."""
    t = translator(language(request))
    return render(
        request,
        "confirm.html",
        principal,
        question=t(question),
        action=request.url.path,
        back=safe_next(back),
        fields=fields or {},
    )
