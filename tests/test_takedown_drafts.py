"""Drafts accumulate (one open draft per case and platform collects the confirmed items until approved), and
four-eyes approval (the drafter cannot approve when the organisation asks for it; the footer names the
approver only when a second person approved)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from api_harness import PASSWORD, bearer, login, make_harness
from jikimi.errors import ValidationError
from jikimi.store import accounts, open_store
from jikimi.store.db import Store
from jikimi.store.schema.scans import Case, Finding, MediaRecord, SightingRecord
from jikimi.store.schema.takedown import TakedownNotice
from jikimi.takedown import service
from jikimi.takedown.settings import Organisation, load_organisation

ORG = Organisation(name="Test Support Centre", email="takedown@centre.example")
FOUR_EYES = Organisation(name="Test Support Centre", email="takedown@centre.example", four_eyes=True)
NAMED = "checked and approved before it was sent by"
GENERIC = "a staff member checked and approved this request before it was sent"


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.delenv("JIKIMI_FOUR_EYES", raising=False)
    s = open_store(db_url)
    yield s
    s.dispose()


def _finding(s: Any, case: Case, n: int, url: str) -> Finding:
    m = MediaRecord(sha256=f"{n:064x}", md5=f"{n:032x}", size=100, kind="image", pdq=None)
    s.add(m)
    s.flush()
    s.add(
        SightingRecord(
            media_id=m.id,
            item_key=f"k{n}",
            source_kind="url",
            location=url,
            link=url,
            chat_name="room",
            posted_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
        )
    )
    f = Finding(media_id=m.id, case_id=case.id, status="new")
    s.add(f)
    s.flush()
    return f


def _notices(s: Any, case_id: int) -> list[TakedownNotice]:
    return list(s.query(TakedownNotice).filter_by(case_id=str(case_id)).order_by(TakedownNotice.id))


# -- notices accumulate ------------------------------------------------------------------------------------


def test_confirmations_one_by_one_make_one_draft_per_platform(store: Store) -> None:
    from jikimi.takedown.confirm import confirm_finding

    with store.session() as s:
        case = Case(queue_key="person:21", person_id=21, title="case 21")
        s.add(case)
        s.flush()
        xs = [_finding(s, case, i, f"https://x.com/u/status/{100 + i}") for i in range(3)]
        tg = _finding(s, case, 9, "https://t.me/room/9")
        for f in xs:
            confirm_finding(s, f.id, actor="web:kim")
        confirm_finding(s, tg.id, actor="web:kim")
        notices = _notices(s, case.id)
        assert [(n.platform, n.status, len(n.items)) for n in notices] == [
            ("x", "drafted", 3),
            ("telegram", "drafted", 1),
        ]
        x = notices[0]
        assert all(f"https://x.com/u/status/{100 + i}" in x.body for i in range(3))
        assert "3 items" in x.subject
        assert {it.state for it in x.items} == {"drafted"}
        # Re-rendered with each item, it is still intact (the content hash follows the body).
        service.approve(s, x.id, actor="web:lee", org=ORG)
        # After approval, a new confirmation starts a new draft.
        later = _finding(s, case, 3, "https://x.com/u/status/103")
        confirm_finding(s, later.id, actor="web:kim")
        notices = _notices(s, case.id)
        assert [(n.platform, n.status, len(n.items)) for n in notices] == [
            ("x", "approved", 3),
            ("telegram", "drafted", 1),
            ("x", "drafted", 1),
        ]
        # ... and the next one joins that new draft.
        again = _finding(s, case, 4, "https://x.com/u/status/104")
        confirm_finding(s, again.id, actor="web:kim")
        assert [len(n.items) for n in _notices(s, case.id)] == [3, 1, 2]


def test_open_draft_keeps_victim_name_recipient_and_cap(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jikimi.takedown.directory import Platform, load_directory

    org = Organisation(name="Test Support Centre", include_victim_name=True)
    with store.session() as s:
        service.add_item(s, service.FindingRef(case_id="31", url="https://t.me/room/1"))
        first = service.draft_case(
            s, "31", org=org, victim_name="Kim Minji", recipient="abuse@telegram.example"
        )
        n = first.notices[0]
        assert "Kim Minji" in n.body
        service.add_item(s, service.FindingRef(case_id="31", url="https://t.me/room/2"))
        res = service.draft_case(s, "31", org=org)
        assert [m.id for m in res.notices] == [n.id]
        assert any("added to the open draft" in note for note in res.notes)
        assert len(n.items) == 2 and "https://t.me/room/2" in n.body
        assert "Kim Minji" in n.body and n.recipient == "abuse@telegram.example"
        assert n.content_sha256 == service.content_sha256(n.subject, n.body)

        # A platform capped at 2 items per notice: the third item starts a second draft.
        tg = load_directory()["telegram"]
        capped = Platform(**{**tg.__dict__, "max_items_per_notice": 2})
        monkeypatch.setattr(service, "load_directory", lambda: {**load_directory(), "telegram": capped})
        service.add_item(s, service.FindingRef(case_id="31", url="https://t.me/room/3"))
        res = service.draft_case(s, "31", org=org)
        assert [len(m.items) for m in _notices(s, 31)] == [2, 1]


def test_generic_host_drafts_only_collect_the_same_host(store: Store) -> None:
    with store.session() as s:
        service.add_item(s, service.FindingRef(case_id="41", url="https://files.example.net/a.jpg"))
        service.draft_case(s, "41", org=ORG)
        service.add_item(s, service.FindingRef(case_id="41", url="https://files.example.net/b.jpg"))
        service.add_item(s, service.FindingRef(case_id="41", url="https://other.example.org/c.jpg"))
        service.draft_case(s, "41", org=ORG)
        hosts = [sorted({it.url.split("/")[2] for it in n.items}) for n in _notices(s, 41)]
        assert hosts == [["files.example.net"], ["other.example.org"]]
        assert [len(n.items) for n in _notices(s, 41)] == [2, 1]


# -- four eyes ---------------------------------------------------------------------------------------------


def test_four_eyes_setting(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_organisation().four_eyes is False
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "true")
    assert load_organisation().four_eyes is True


def test_drafter_cannot_approve_with_four_eyes_and_footer_names_a_second_approver(store: Store) -> None:
    with store.session() as s:
        accounts.create_user(
            s, username="lee", password=PASSWORD, role="case_worker", display_name="Lee Jiwoo", actor="t"
        )
        for case in ("51", "52", "53"):
            service.add_item(s, service.FindingRef(case_id=case, url=f"https://t.me/room/{case}"))
        a = service.draft_case(s, "51", org=ORG, actor="web:kim").notices[0]
        b = service.draft_case(s, "52", org=ORG, actor="web:kim").notices[0]
        c = service.draft_case(s, "53", org=ORG, actor="web:kim").notices[0]
        assert GENERIC in a.body and NAMED not in a.body

        # Four eyes on: the drafter is refused, whatever channel she uses; the draft is unchanged.
        body = a.body
        for me in ("web:kim", "api:kim", "cli:KIM"):
            with pytest.raises(ValidationError, match="requires another person to approve it"):
                service.approve(s, a.id, actor=me, org=FOUR_EYES)
        assert a.status == "drafted" and a.body == body
        # Another person approves; the footer names her (display name), and the hash follows.
        service.approve(s, a.id, actor="web:lee", org=FOUR_EYES)
        assert a.status == "approved" and a.approved_by == "web:lee"
        assert f"{NAMED} Lee Jiwoo, a second staff member" in a.body and GENERIC not in a.body
        assert a.content_sha256 == service.content_sha256(a.subject, a.body)

        # Four eyes off: the drafter may approve, and then the footer names nobody.
        service.approve(s, b.id, actor="web:kim", org=ORG)
        assert b.status == "approved" and GENERIC in b.body and NAMED not in b.body
        assert not re.search(r"\bkim\b", b.body.split("\n-- \n")[-1])

        # Four eyes off, approved by someone else: that is true, so she is named.
        service.approve(s, c.id, actor="cli:park", org=ORG)
        assert f"{NAMED} park," in c.body


def test_four_eyes_counts_whoever_added_items_to_the_draft(store: Store) -> None:
    with store.session() as s:
        service.add_item(s, service.FindingRef(case_id="61", url="https://t.me/room/1"))
        n = service.draft_case(s, "61", org=ORG, actor="web:kim").notices[0]
        service.add_item(s, service.FindingRef(case_id="61", url="https://t.me/room/2"))
        service.draft_case(s, "61", org=ORG, actor="web:lee")
        assert len(n.items) == 2 and service.drafters(s, n) == {"kim", "lee"}
        with pytest.raises(ValidationError, match="four eyes"):
            service.approve(s, n.id, actor="web:lee", org=FOUR_EYES)
        service.approve(s, n.id, actor="web:park", org=FOUR_EYES)
        assert n.status == "approved"


def test_four_eyes_over_the_api_and_the_pages(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "1")
    h = make_harness(db_url)
    h.add_user("kim", "case_worker")
    h.add_user("lee", "case_worker")
    with h.store.session() as s:
        service.add_item(s, service.FindingRef(case_id="71", url="https://t.me/room/71"))
        service.add_item(s, service.FindingRef(case_id="72", url="https://t.me/room/72"))
    api = h.client()
    kim, lee = bearer(h.token("kim")), bearer(h.token("lee"))
    n1 = api.post("/api/v1/cases/71/takedowns", json={}, headers=kim).json()["notices"][0]["id"]
    n2 = api.post("/api/v1/cases/72/takedowns", json={}, headers=kim).json()["notices"][0]["id"]
    refused = api.post(f"/api/v1/takedowns/{n1}/approve", headers=kim)
    assert refused.status_code == 422 and "another person" in refused.json()["detail"]
    ok = api.post(f"/api/v1/takedowns/{n1}/approve", headers=lee)
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and "lee" in ok.json()["body"]

    # In the browser, the drafter is told why, in Korean; the notice stays a draft.
    c = h.client()
    csrf = login(c, "kim")
    page = c.post(f"/takedowns/{n2}/approve", data={"csrf_token": csrf})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "기관 설정에 따라 작성하지 않은 다른 사람이 승인해야 합니다" in text
    assert api.get(f"/api/v1/takedowns/{n2}", headers=lee).json()["status"] == "drafted"

    # With the setting off, the drafter may approve her own notice (and nobody is named).
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "false")
    done = c.post(f"/takedowns/{n2}/approve", data={"csrf_token": csrf})
    assert done.status_code == 303
    body = api.get(f"/api/v1/takedowns/{n2}", headers=lee).json()["body"]
    assert not re.search(r"\bkim\b", body.split("\n-- \n")[-1])


@pytest.mark.parametrize("lang", ["ko", "en", "ja"])
def test_footer_is_rendered_again_only_below_the_signature(lang: str) -> None:
    from jikimi.takedown.directory import get_platform
    from jikimi.takedown.render import NoticeItem, footer, render_notice, victim_name_in, with_footer

    org = Organisation(name="Centre", include_victim_name=True)
    n = render_notice(
        get_platform("telegram"),
        [NoticeItem(url="https://t.me/r/1")],
        lang=lang,
        org=org,
        ref="R-1",
        victim_name="Kim Minji",
    )
    assert with_footer(n.body, lang, None) == n.body  # the draft's footer is the unnamed one
    signed = with_footer(n.body, lang, "Lee Jiwoo")
    assert signed.split("\n-- \n")[0] == n.body.split("\n-- \n")[0]
    assert signed.endswith(footer(lang, "Lee Jiwoo")) and "Lee Jiwoo" in signed
    assert victim_name_in(n.body, lang) == "Kim Minji"
    assert victim_name_in(with_footer(n.body, lang, None).replace("Kim Minji", ""), lang) is None
