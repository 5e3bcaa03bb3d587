"""Personal data (doxxing) in chat text: what is found, how it is masked, and no alarms on ordinary text."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jikimi.sources import find_personal_data, mask_text
from jikimi.sources.personal_data import (
    mask_rrn,
    rrn_birth_date,
    rrn_check_digit,
    rrn_checksum_ok,
)


def types_of(text: str) -> list[str]:
    return [h.type for h in find_personal_data(text)]


@st.composite
def valid_rrns(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today() - timedelta(days=1)))
    female = draw(st.booleans())
    gender = (3 if born.year >= 2000 else 1) + int(female)
    serial = draw(st.text("0123456789", min_size=5, max_size=5))
    first12 = born.strftime("%y%m%d") + str(gender) + serial
    return first12 + str(rrn_check_digit(first12))


FILLER = st.text(
    alphabet=st.sampled_from(list("가나다라마바사아자차카타파하 .,!?을를이가는은에서와과")), max_size=30
)


@settings(max_examples=200, deadline=None)
@given(rrn=valid_rrns(), before=FILLER, after=FILLER, hyphen=st.booleans())
def test_generated_valid_rrns_are_found(rrn: str, before: str, after: str, hyphen: bool) -> None:
    span = f"{rrn[:6]}-{rrn[6:]}" if hyphen else rrn
    text = f"{before} {span} {after}"
    hits = [h for h in find_personal_data(text) if h.type == "rrn"]
    assert len(hits) == 1
    hit = hits[0]
    assert hit.text == span and text[hit.start : hit.end] == span
    assert hit.confidence >= 0.9 and hit.detail == "checksum valid"
    assert rrn_checksum_ok(rrn) and rrn_birth_date(rrn) is not None


@settings(max_examples=200, deadline=None)
@given(rrn=valid_rrns(), hyphen=st.booleans(), bad=st.integers(1, 9))
def test_masking_never_leaks_more_than_birth_date_and_gender(rrn: str, hyphen: bool, bad: int) -> None:
    # Also for numbers whose check digit is wrong (as post-2020 numbers are): found with lower confidence.
    broken = rrn[:12] + str((int(rrn[12]) + bad) % 10)
    for number in (rrn, broken):
        span = f"{number[:6]}-{number[6:]}" if hyphen else number
        (hit,) = [h for h in find_personal_data(f"번호 {span}") if h.type == "rrn"]
        digits = [c for c in hit.masked if c.isdigit()]
        assert "".join(digits) == number[:7]
        assert hit.masked.count("*") == 6
        assert number[7:] not in hit.masked
        assert (hit.confidence >= 0.9) == (number == rrn)
        assert number not in mask_text(f"번호 {span}")


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.sampled_from(["010", "011", "016", "017", "019"]),
    mid=st.text("0123456789", min_size=4, max_size=4),
    last=st.text("0123456789", min_size=4, max_size=4),
    sep=st.sampled_from(["-", " ", ".", ""]),
)
def test_generated_mobile_numbers_found_and_masked(prefix: str, mid: str, last: str, sep: str) -> None:
    number = f"{prefix}{sep}{mid}{sep}{last}"
    hits = find_personal_data(f"연락 {number} 주세요")
    assert [h.type for h in hits] == ["phone"] and hits[0].text == number
    masked = hits[0].masked
    assert sum(c.isdigit() for c in masked) == 3 and masked.startswith(prefix)


ORDINARY_ALPHABET = list("가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허 .,!?~ㅋㅎ") + list(
    "abcxyz"
)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(ORDINARY_ALPHABET), max_size=200))
def test_random_ordinary_text_has_no_number_or_contact_hits(text: str) -> None:
    assert not [h for h in find_personal_data(text) if h.type in ("rrn", "phone", "email")]


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_never_crashes_and_spans_are_exact(text: str) -> None:
    for hit in find_personal_data(text):
        assert text[hit.start : hit.end] == hit.text
        assert 0 < hit.confidence <= 1
        assert len(hit.masked) > 0


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("주민번호 900101-1234568 입니다", "rrn", "900101-1******"),
        ("연락처 010-1234-5678", "phone", "010-****-****"),
        ("+82 10-2345-6789 로 연락", "phone", "+82 1*-****-****"),
        ("사무실 02-123-4567", "phone", "02-1**-****"),
        ("US +1 415 555 2671", "phone", "+1 41* *** ****"),
        ("메일 kim.jh@example.co.kr", "email", "k***@example.co.kr"),
        ("집 서울특별시 강남구 테헤란로 152", "address", "서울특별시 강남구 **** ***"),
        ("경기도 성남시 분당구 정자동 178-1", "address", "경기도 성남시 분당구 *** ***-*"),
        ("세종시 한누리대로 2130", "address", "세종시 ***** ****"),
        ("래미안아파트 101동 1203호", "address", "****** **** *****"),
        ("서울중앙고등학교 다니는 애", "school", "서***고등학교"),
        ("이화여고 2학년", "school", "이*여고"),
        ("강남고 2학년 3반", "school", "강*고"),
        ("인스타 @kim_jihye99 팔로우", "social", "@ki***"),
        ("https://instagram.com/kim.jihye", "social", "https://instagram.com/ki***"),
        ("t.me/somebody 로 와", "social", "t.me/so***"),
    ],
)
def test_examples(text: str, kind: str, masked: str) -> None:
    hits = [h for h in find_personal_data(text) if h.type == kind]
    assert len(hits) == 1, find_personal_data(text)
    assert hits[0].masked == masked


def test_rrn_confidence_levels() -> None:
    (valid,) = find_personal_data("900101-1234568")
    (no_checksum,) = find_personal_data("900101-1234567")
    assert valid.confidence > no_checksum.confidence >= 0.5
    assert "no valid checksum" in no_checksum.detail
    assert find_personal_data("901301-1234567") == []  # month 13
    assert find_personal_data("900230-1234567") == []  # 30 February
    assert find_personal_data("900101-9234567") == []  # 7th digit out of range
    assert find_personal_data("1900101-12345678") == []  # embedded in a longer number
    assert mask_rrn("900101-1234568") == "900101-1******"


def test_foreigner_registration_checksum() -> None:
    first12 = "900101512345"
    total = sum(int(d) * w for d, w in zip(first12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
    number = first12 + str((13 - total % 11) % 10)
    assert rrn_checksum_ok(number)
    (hit,) = find_personal_data(f"외국인등록번호 {number[:6]}-{number[6:]}")
    assert hit.type == "rrn" and hit.detail == "checksum valid"


ORDINARY = [
    "오늘 날씨가 정말 좋네요. 그리고 내일은 비가 온대요.",
    "친구 집으로 3시에 갔다가 5시에 왔어.",
    "회의는 3시 15분, 가격은 12,000원, 일정은 2024-01-15 입니다.",
    "주문번호 20240115123456789 확인 부탁드려요",
    "버전 1.2.3 배포했고 테스트 10개 통과",
    "I bought 3 apples and 2 oranges for $5.",
    "점수 100-200 사이, 좌표 37.5665, 126.9780",
    "우리 학교 급식 최고였다. 공부하고 학생회 갔다.",
    "서울 가는 길에 부산 친구를 만났다",
    "강남역 2번 출구에서 보자",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_has_no_hits(text: str) -> None:
    assert find_personal_data(text, min_confidence=0.5) == []


def test_overlaps_and_mask_text() -> None:
    text = "문의 kim@example.com 또는 010-9876-5432, 주소 서울시 마포구 월드컵로 240"
    hits = find_personal_data(text)
    assert [h.type for h in hits] == ["email", "phone", "address"]
    masked = mask_text(text)
    for hit in hits:
        assert hit.text not in masked
    assert "k***@example.com" in masked and "010-****-****" in masked
    assert hits[0].to_dict() == {
        "type": "email",
        "start": 3,
        "end": 18,
        "masked": "k***@example.com",
        "confidence": 0.95,
        "detail": "",
    }
    assert hits[0].to_dict(include_text=True)["text"] == "kim@example.com"
    assert types_of("") == []
    with pytest.raises(ValueError, match="unknown"):
        find_personal_data("x", types=["nope"])
    assert [h.type for h in find_personal_data(text, types=["phone"])] == ["phone"]
