"""Roles and what each may do. Every endpoint names one permission; this table is the whole policy."""

from __future__ import annotations

from enum import StrEnum

from jikimi.store.accounts import Role
from jikimi.web import N_


class Perm(StrEnum):
    SCAN_READ = "scan:read"
    SCAN_WRITE = "scan:write"
    FINDING_READ = "finding:read"
    FINDING_REVIEW = "finding:review"
    ORIGINAL_VIEW = "original:view"
    CASE_READ = "case:read"
    CASE_WRITE = "case:write"
    CASE_OWN = "case:own"
    EVIDENCE_EXPORT = "evidence:export"
    PEOPLE_READ = "people:read"
    PEOPLE_WRITE = "people:write"
    BANK_READ = "bank:read"
    BANK_WRITE = "bank:write"
    HASH_LOOKUP = "hash:lookup"
    HASH_SUBMIT = "hash:submit"
    FEED_READ = "feed:read"
    TAKEDOWN_READ = "takedown:read"
    TAKEDOWN_WRITE = "takedown:write"
    NOTICE_OWN = "notice:own"
    REPORT_READ = "report:read"
    AUDIT_READ = "audit:read"
    USER_ADMIN = "user:admin"
    METRICS = "metrics"
    TOKEN_SELF = "token:self"


_STAFF_READ = {
    Perm.SCAN_READ,
    Perm.FINDING_READ,
    Perm.CASE_READ,
    Perm.PEOPLE_READ,
    Perm.BANK_READ,
    Perm.HASH_LOOKUP,
    Perm.TAKEDOWN_READ,
    Perm.REPORT_READ,
    Perm.TOKEN_SELF,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    # Case workers run scans, review findings, manage cases, enrol people and send takedowns.
    Role.CASE_WORKER: frozenset(
        _STAFF_READ
        | {
            Perm.SCAN_WRITE,
            Perm.FINDING_REVIEW,
            Perm.ORIGINAL_VIEW,
            Perm.CASE_WRITE,
            Perm.PEOPLE_WRITE,
            Perm.BANK_WRITE,
            Perm.TAKEDOWN_WRITE,
            Perm.EVIDENCE_EXPORT,
            Perm.HASH_SUBMIT,
        }
    ),
    # Investigators read everything a case holds and export evidence; they change nothing.
    Role.INVESTIGATOR: frozenset(_STAFF_READ | {Perm.ORIGINAL_VIEW, Perm.EVIDENCE_EXPORT, Perm.AUDIT_READ}),
    # Platform partners look hashes up, read the notices addressed to their platform and pull the feed of
    # the banks shared with their platform.
    Role.PARTNER: frozenset({Perm.HASH_LOOKUP, Perm.NOTICE_OWN, Perm.FEED_READ, Perm.TOKEN_SELF}),
    # A victim sees the status of her own case only, and may add hashes made on her own device to it.
    Role.VICTIM: frozenset({Perm.CASE_OWN, Perm.HASH_SUBMIT}),
}


def allowed(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.CASE_WORKER: N_("Case worker"),
    Role.INVESTIGATOR: N_("Investigator"),
    Role.PARTNER: N_("Platform partner"),
    Role.VICTIM: N_("Victim"),
}
