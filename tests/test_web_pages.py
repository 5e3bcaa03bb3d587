"""The pages a support-centre worker reads, in Korean and in KST, with demo-like data: no English left over,
labelled local times, review cards with her enrolment photo and the evidence in words, the dashboard counted
as the cases page counts, navigation by role, and her own password change."""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from api_harness import PASSWORD, Harness, bearer, login, make_harness

FOUND = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)  # 19:00 KST


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    img = Image.new("RGB", (120, 120), colour)
    for x in range(30, 90):
        for y in range(30, 90):
            img.putpixel((x, y), (255 - colour[0], 200, 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _seed(h: Harness, *, keep_photo: bool = True) -> dict[str, int]:
    """Demo-like data: a consenting person with a kept enrolment photo, a case with a finding to review
    (her face, a confirmed-bank match, a middling face-swap score) and a confirmed one, seen in a chat."""
    from jikimi.store import people as people_store
    from jikimi.store.schema.people import Consent, Person, PersonFace, PersonPhoto
    from jikimi.store.schema.scans import Case, Finding, MediaRecord, SightingRecord
    from jikimi.store.vault import encrypt, load_key

    photo = _jpeg((10, 60, 120))
    sha = hashlib.sha256(photo).hexdigest()
    with h.store.session() as s:
        person = Person(name="김지은", created_by="test")
        person.consents.append(Consent(given_by="김지은", scope="face-search", recorded_by="test"))
        s.add(person)
        s.flush()
        face = PersonFace(
            person_id=person.id,
            embedding=b"\0" * 512,
            model="dlib",
            source_name="front.jpg",
            source_sha256=sha,
            box_left=30,
            box_top=30,
            box_right=90,
            box_bottom=90,
        )
        s.add(face)
        if keep_photo:
            s.add(
                PersonPhoto(
                    person_id=person.id,
                    name="front.jpg",
                    sha256=sha,
                    size=len(photo),
                    ciphertext=encrypt(load_key(), photo, people_store._photo_aad(sha)),
                )
            )
        case = Case(queue_key=f"person:{person.id}", title="김지은", person_id=person.id)
        s.add(case)
        s.flush()
        ids: dict[str, int] = {"person": person.id, "face": face.id, "case": case.id}
        for n, status in enumerate(("new", "confirmed", "new")):
            media = MediaRecord(sha256=f"{n:064x}", md5=f"{n:032x}", size=10, kind="image")
            s.add(media)
            s.flush()
            people = [
                {
                    "id": person.id,
                    "name": "김지은",
                    "by": ["face"],
                    "score": 0.9,
                    "far": 5e-5,
                    "similarity": 0.71,
                    "face": {"face": 0, "far": 5e-5, "enrolled_face": face.id, "photos": 3},
                }
            ]
            scores = {"faces": 1.0, "face_distance": 0.31, "faceswap": 0.53, "nudity": 0.93, "synthetic": 0.0}
            f = Finding(
                media_id=media.id,
                case_id=case.id,
                person_id=person.id,
                status=status,
                created_at=FOUND - timedelta(days=7 * n),
                reasons_json=json.dumps(["bank_match", "enrolled_face"]),
                scores_json=json.dumps(scores),
                bank_matches_json=json.dumps([{"bank": "jikimi-confirmed", "signal": "pdq", "distance": 0}]),
                people_json=json.dumps(people),
            )
            s.add(f)
            s.flush()
            ids[f"finding{n}"] = f.id
            s.add(
                SightingRecord(
                    media_id=media.id,
                    item_key=f"k{n}",
                    source_kind="telegram",
                    location="export/result.json",
                    chat_name="공유방",
                    link=f"https://t.me/c/1234/{50 + n}",
                    posted_at=FOUND,
                )
            )
    return ids


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Harness, dict[str, int], dict[str, str]]:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    monkeypatch.setenv("JIKIMI_ORG_EMAIL", "help@centre.example")
    monkeypatch.setenv("JIKIMI_FOUR_EYES", "false")
    h = make_harness(f"sqlite:///{tmp_path / 'pages.db'}")
    tokens = h.role_tokens()
    ids = _seed(h)
    c = h.client()
    cw = bearer(tokens["case_worker"])
    # A notice drafted, approved and sent by hand, for the takedown pages.
    assert (
        c.post(
            f"/api/v1/cases/{ids['case']}/takedown-items", json={"url": "https://t.me/c/1234/99"}, headers=cw
        ).status_code
        == 201
    )
    drafted = c.post(
        f"/api/v1/cases/{ids['case']}/takedowns", json={"recipient": "abuse@host.example"}, headers=cw
    )
    assert drafted.status_code == 201, drafted.text
    ids["notice"] = int(drafted.json()["notices"][0]["id"])
    assert c.post(f"/api/v1/takedowns/{ids['notice']}/approve", headers=cw).status_code == 200
    return h, ids, tokens


class _Visible(HTMLParser):
    """The text a person reads in the page's language: text nodes and visible attributes, except scripts,
    styles, code, and what the page marks as not to be translated (``translate="no"``, or another ``lang``:
    a notice in the platform's language, raw audit details)."""

    SKIP: ClassVar[set[str]] = {"script", "style", "code", "pre"}
    VOID: ClassVar[set[str]] = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        skip = tag in self.SKIP or a.get("translate") == "no" or a.get("lang") not in (None, "ko")
        if tag == "html":
            skip = False
        if not skip and not self._skipping():
            for name in ("placeholder", "alt", "title", "aria-label"):
                if a.get(name):
                    self.parts.append(str(a[name]))
        if tag not in self.VOID:
            self._stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self._skipping() and data.strip():
            self.parts.append(data)


# Proper nouns and codes that stay as they are on a Korean page.
ALLOWED = {
    "Test Support Centre",
    "English",
    "ExampleTube",
    "Telegram",
    "SHA",
    "PDQ",
    "MD5",
    "URL",
    "API",
    "HMA",
    "SMTP",
    "PDF",
    "KST",
    "UTC",
}
NOISE = re.compile(
    r"https?://\S+|[\w.+-]+@[\w.-]+|\b[\w-]+\.(?:jpe?g|png|json|zip|eml|pdf)\b|\b[0-9a-f]{16,}\b|/[\w/{}.-]+"
)
WORD = r"[A-Za-z'’-]*[a-z][A-Za-z'’-]*"  # a word with a lower-case letter (all-capitals are codes: SHA, KST)
ENGLISH_RUN = re.compile(rf"\b{WORD}(?:[ ,]+{WORD})+\b")


def english_runs(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    text = NOISE.sub(" ", "\n".join(parser.parts))
    for allowed in sorted(ALLOWED, key=len, reverse=True):
        text = text.replace(allowed, " ")
    return [m.group(0) for m in ENGLISH_RUN.finditer(text)]


def test_the_detector_finds_english_and_spares_codes() -> None:
    assert english_runs("<p>대시보드 open notices</p>") == ["open notices"]
    assert english_runs("<p>face-search 범위</p>") == []  # one word: caught by the per-word list below
    assert english_runs("<p><code>jikimi user create</code> https://t.me/c/1/2 SHA-256 KST</p>") == []
    assert english_runs('<input placeholder="from your mailbox">') == ["from your mailbox"]
    assert english_runs('<h3 lang="en">Removal request</h3><td translate="no">bank name</td>') == []


# Single English words that have been seen on Korean pages.
LEFTOVER_WORDS = re.compile(r"\b(open|face-search|face_score|jikimi-confirmed|max_pixels|faceswap)\b")

PAGES = [
    "/",
    "/cases",
    "/cases/{case}",
    "/review",
    "/people",
    "/banks",
    "/takedowns",
    "/takedowns/{notice}",
    "/audit",
    "/users",
    "/account",
]


def test_korean_pages_have_no_english_left_over(
    world: tuple[Harness, dict[str, int], dict[str, str]],
) -> None:
    h, ids, _ = world
    h.add_user("centre-admin", "admin")
    c = h.client()
    login(c, "centre-admin")
    problems = []
    for path in PAGES:
        page = c.get(path.format(**ids))
        assert page.status_code == 200, (path, page.status_code)
        assert '<html lang="ko">' in page.text
        runs = english_runs(page.text)
        parser = _Visible()
        parser.feed(page.text)
        words = LEFTOVER_WORDS.findall(" ".join(parser.parts))
        if runs or words:
            problems.append(f"{path}: {runs} {words}")
    assert not problems, "\n".join(problems)


ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def test_times_are_in_kst_and_labelled(world: tuple[Harness, dict[str, int], dict[str, str]]) -> None:
    h, ids, _ = world
    h.add_user("centre-admin", "admin")
    c = h.client()
    login(c, "centre-admin")
    for path in ("/cases/{case}", "/review", "/takedowns", "/takedowns/{notice}", "/audit", "/users"):
        text = c.get(path.format(**ids)).text
        assert not ISO.search(text), path
        assert "KST" in text, path
    case = c.get(f"/cases/{ids['case']}").text
    assert "2026-02-01 19:00 KST" in case  # 10:00 UTC, on the timeline
    assert "When (UTC)" not in c.get("/audit").text


def test_a_review_card_shows_her_enrolment_photo_and_the_evidence_in_words(
    world: tuple[Harness, dict[str, int], dict[str, str]],
) -> None:
    h, ids, tokens = world
    c = h.client()
    login(c, "case-worker")
    page = c.get("/review").text
    card = page[page.index(f'data-finding="{ids["finding0"]}"') :]
    card = card[: card.index("</article>")]
    enrolled = f"/api/v1/findings/{ids['finding0']}/enrolled-face/{ids['face']}"
    assert f'src="{enrolled}"' in card and f'data-reveal-src="{enrolled}?reveal=true"' in card
    assert card.count('class="thumb blurred"') == 2  # both blurred until revealed together
    assert "얼굴이 등록된 사진과 매우 비슷함" in card
    assert "센터가 전에 확인한 이미지와 같음" in card
    assert "공유방" in card and "https://t.me/c/1234/50" in card and "2026-02-01 19:00 KST" in card
    for raw in ("face_score", "jikimi-confirmed", "faceswap", "0.53", "53%", "face_distance"):
        assert raw not in card, raw
    assert "약한 신호" in card  # the face-swap score is a weak, supporting signal
    assert "1곳에서 발견" in card

    # Blurred: no audit entry per page load after the first; revealed: audited, and for original:view only.
    from jikimi.store.schema.evidence import AuditEntry

    def views() -> int:
        with h.store.session() as s:
            return s.query(AuditEntry).filter(AuditEntry.action == "person.photo.view").count()

    before = views()
    blurred = c.get(enrolled)
    assert blurred.status_code == 200 and blurred.headers["content-type"] == "image/jpeg"
    assert c.get(enrolled).content == blurred.content
    assert views() - before <= 1
    revealed = c.get(enrolled + "?reveal=true")
    assert revealed.status_code == 200 and revealed.content != blurred.content
    assert views() - before >= 1
    with h.store.session() as s:
        last = s.query(AuditEntry).order_by(AuditEntry.id.desc()).first()
        assert last is not None and last.action == "person.photo.view" and last.actor == "web:case-worker"
    # Staff only; a face not named by the finding is not served.
    for role in ("victim", "partner"):
        assert c.get(enrolled, headers=bearer(tokens[role])).status_code == 403
    assert c.get(f"/api/v1/findings/{ids['finding0']}/enrolled-face/{ids['face'] + 1}").status_code == 404


def test_without_a_kept_photo_the_card_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'nophoto.db'}")
    h.add_user("worker", "case_worker")
    ids = _seed(h, keep_photo=False)
    c = h.client()
    login(c, "worker")
    page = c.get("/review").text
    assert "등록 사진을 보관하지 않음" in page
    assert "/enrolled-face/" not in page
    assert c.get(f"/api/v1/findings/{ids['finding0']}/enrolled-face/{ids['face']}").status_code == 404


def test_the_dashboard_counts_as_the_cases_page(
    world: tuple[Harness, dict[str, int], dict[str, str]],
) -> None:
    h, ids, _ = world
    c = h.client()
    login(c, "case-worker")
    page = c.get("/").text
    totals = dict(re.findall(r'data-total="([^"]+)">(?:<a href="/review">)?<strong>([^<]+)</strong>', page))
    assert totals["Awaiting review"] == "2" and totals["Confirmed findings"] == "1"
    assert "검토 대기" in page
    cases = c.get("/cases").text
    row = cases[cases.index(f'href="/cases/{ids["case"]}"') :]
    cells = re.findall(r"<td>(?:<a [^>]+>)?(\d+)", row)
    assert cells[1:3] == ["2", "1"], cells  # to review, confirmed
    # Favicon: an SVG from static, linked from every page.
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page)
    assert icon
    served = c.get(icon.group(1))
    assert served.status_code == 200 and served.content.lstrip().startswith(b"<svg")


def test_chart_ticks_are_whole_numbers_and_the_newest_week_is_labelled() -> None:
    from jikimi.web.charts import bar_chart, line_chart

    for values in ([1.0], [0.0, 3.0], [7.0, 2.0], [13.0], [0.5, 2.5]):
        points = [(f"12/{i + 1}", v) for i, v in enumerate(values * 6)]
        for chart in (bar_chart, line_chart):
            svg = str(chart(points, title="t"))
            ticks = re.findall(r'<text class="axis"[^>]*>([^<]+)</text>', svg)
            assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
            labels = re.findall(r'<text class="label"[^>]*>([^<]+)</text>', svg)
            assert labels[-1] == points[-1][0]


def test_findings_per_week_are_kst_weeks_labelled_by_their_monday(tmp_path: Path) -> None:
    from jikimi.api.dashboard import findings_per_week
    from jikimi.store import open_store
    from jikimi.store.schema.scans import Case, Finding, MediaRecord

    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.session() as s:
        case = Case(queue_key="q", title="t")
        media = MediaRecord(sha256="a" * 64, md5="a" * 32, size=1, kind="image")
        s.add_all([case, media])
        s.flush()
        # Sunday 2026-11-29 20:00 UTC is Monday 11-30 05:00 KST: the new week.
        s.add(Finding(media_id=media.id, case_id=case.id, created_at=datetime(2026, 11, 29, 20, tzinfo=UTC)))
        s.flush()
        weeks = findings_per_week(s, weeks=3, now=datetime(2026, 12, 3, tzinfo=UTC))
    store.dispose()
    assert weeks == [("11/16", 0.0), ("11/23", 0.0), ("11/30", 1.0)]


def test_audit_table_fits_a_laptop_window() -> None:
    css = (Path(__file__).resolve().parents[1] / "src/jikimi/web/static/app.css").read_text()
    assert re.search(r"\.table\.audit\s*\{[^}]*table-layout:\s*fixed", css)
    assert re.search(r"\.table\.audit td\s*\{[^}]*overflow-wrap:\s*anywhere", css)


def _nav(page: str) -> list[str]:
    nav = page[page.index("<nav") : page.index("</nav>")]
    return re.findall(r'<a href="([^"]+)"', nav)


def test_navigation_by_role(world: tuple[Harness, dict[str, int], dict[str, str]]) -> None:
    h, _, _ = world
    h.add_user("centre-admin", "admin")
    h.add_user("partner-user", "partner")
    h.add_user("victim-user", "victim")
    for user, present, absent in (
        ("centre-admin", {"/", "/review", "/users"}, {"/my-case", "/notices"}),
        ("case-worker", {"/", "/review", "/cases"}, {"/my-case", "/notices", "/users"}),
        ("partner-user", {"/notices"}, {"/my-case", "/review"}),
        ("victim-user", {"/my-case"}, {"/notices", "/review"}),
    ):
        c = h.client()
        login(c, user)
        page = c.get("/account").text
        links = set(_nav(page))
        assert present <= links and not (absent & links), (user, links)
        assert 'href="/account"' in page  # the header links to her account
    c = h.client()
    login(c, "partner-user")
    assert "받은 삭제 요청" in c.get("/account").text  # the partner's page: notices received
    login(c := h.client(), "centre-admin")
    assert "받은 삭제 요청" not in c.get("/takedowns").text  # the centre's outgoing requests


def test_the_login_page_shows_no_shell_commands(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'l.db'}")
    page = h.client().get("/login").text
    assert "jikimi " not in page.replace("jikimi_", "")
    assert "jikimi user" not in h.client().get("/login", headers={"Accept-Language": "en"}).text


def test_she_changes_her_own_password(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'p.db'}")
    h.add_user("worker", "case_worker")
    c = h.client()
    other = h.client()
    login(other, "worker")
    csrf = login(c, "worker")
    new = "a different long passphrase"
    wrong = c.post(
        "/account/password", data={"csrf_token": csrf, "current": "nope", "new": new, "again": new}
    )
    assert wrong.status_code == 422 and "지금 비밀번호가 틀렸습니다" in wrong.text
    differ = c.post(
        "/account/password", data={"csrf_token": csrf, "current": PASSWORD, "new": new, "again": new + "x"}
    )
    assert differ.status_code == 422 and "서로 다릅니다" in differ.text
    weak = c.post(
        "/account/password", data={"csrf_token": csrf, "current": PASSWORD, "new": "short", "again": "short"}
    )
    assert weak.status_code == 422 and "짧습니다" in weak.text
    ok = c.post("/account/password", data={"csrf_token": csrf, "current": PASSWORD, "new": new, "again": new})
    assert ok.status_code == 303 and ok.headers["location"] == "/account?changed=true"
    page = c.get(ok.headers["location"])
    assert page.status_code == 200 and 'id="password-changed"' in page.text  # still signed in here
    assert other.get("/account").status_code == 303  # the other session ended
    assert c.post("/account/password", data={"current": new, "new": new, "again": new}).status_code == 403
    fresh = h.client()
    login(fresh, "worker", new)
