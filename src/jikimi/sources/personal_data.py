"""Personal data in chat text next to media (doxxing): Korean resident registration numbers, phone numbers,
e-mail addresses, Korean street and lot addresses, school names and social-media handles. Each hit has a type,
its span, a masked form safe for logs, and a confidence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

RRN = "rrn"
PHONE = "phone"
EMAIL = "email"
ADDRESS = "address"
SCHOOL = "school"
SOCIAL = "social"
TYPES = (RRN, PHONE, EMAIL, ADDRESS, SCHOOL, SOCIAL)

_PRIORITY = {EMAIL: 0, RRN: 1, SOCIAL: 2, PHONE: 3, ADDRESS: 4, SCHOOL: 5}


@dataclass(frozen=True)
class PersonalDataHit:
    """One piece of personal data. ``text`` is the raw span (sensitive: never log it; log ``masked``)."""

    type: str
    start: int
    end: int
    text: str
    masked: str
    confidence: float
    detail: str = ""

    def to_dict(self, *, include_text: bool = False) -> dict[str, Any]:
        """JSON-friendly form; the raw span only when asked (for the case file, never for logs)."""
        out: dict[str, Any] = {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "masked": self.masked,
            "confidence": round(self.confidence, 3),
            "detail": self.detail,
        }
        if include_text:
            out["text"] = self.text
        return out


# -- resident registration numbers ---
_RRN_RE = re.compile(r"(?<![0-9])([0-9]{6})([ \t]?[-‐–—][ \t]?|[ \t]?)([0-9]{7})(?![0-9])")
_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_RRN_CENTURY = {"1": 1900, "2": 1900, "3": 2000, "4": 2000, "5": 1900, "6": 1900, "7": 2000, "8": 2000}
_RRN_CONTEXT = re.compile(r"(주민|주민번호|주민등록|생년월일|외국인등록|RRN|resident)", re.IGNORECASE)


def rrn_birth_date(digits: str) -> date | None:
    """The birth date a 13-digit RRN encodes, or None when the date or the 7th digit (1-8) is impossible."""
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit():
        return None
    century = _RRN_CENTURY.get(digits[6])
    if century is None:
        return None
    try:
        born = date(century + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return None
    return born if born <= date.today() else None


def rrn_checksum_ok(digits: str) -> bool:
    """The check digit of a 13-digit RRN (the foreigner formula for 7th digit 5-8). RRNs issued since
    October 2020 no longer carry one, so a failure does not prove the number fake."""
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:12], _RRN_WEIGHTS, strict=True))
    base = 13 if digits[6] in "5678" else 11
    return (base - total % 11) % 10 == int(digits[12])


def rrn_check_digit(first12: str) -> int:
    """The check digit that makes ``first12`` + digit a checksum-valid (Korean-national) RRN."""
    total = sum(int(d) * w for d, w in zip(first12, _RRN_WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def mask_rrn(span: str) -> str:
    """Keep the birth date and the 7th digit, mask the other six: ``900101-1******``."""
    out: list[str] = []
    digits = 0
    for ch in span:
        if ch.isdigit():
            digits += 1
            out.append(ch if digits <= 7 else "*")
        else:
            out.append(ch)
    return "".join(out)


def _rrn_hits(text: str) -> Iterator[PersonalDataHit]:
    for m in _RRN_RE.finditer(text):
        digits = m.group(1) + m.group(3)
        if rrn_birth_date(digits) is None:
            continue
        hyphen = "-" in m.group(2) or any(c in m.group(2) for c in "‐–—")
        context = bool(_RRN_CONTEXT.search(text[max(0, m.start() - 20) : m.start()]))
        if rrn_checksum_ok(digits):
            conf, detail = (0.95 if hyphen else 0.9), "checksum valid"
        else:
            conf, detail = (0.6 if hyphen else 0.4), "date valid, no valid checksum (issued after 2020?)"
        if context:
            conf = min(0.99, conf + 0.1)
        yield PersonalDataHit(RRN, m.start(), m.end(), m.group(0), mask_rrn(m.group(0)), conf, detail)


# -- phone numbers ---
_SEP = r"[-. \t]"
_PHONE_PATTERNS: list[tuple[re.Pattern[str], float, str]] = [
    (re.compile(rf"(?<![0-9+])01[016789](?:({_SEP}?)[0-9]{{3,4}}\1[0-9]{{4}})(?![0-9])"), 0.9, "kr mobile"),
    (
        re.compile(
            rf"\+82{_SEP}?(?:\(0\){_SEP}?)?(?:1[016789]|2|[3-6][1-5]|70){_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}(?![0-9])"
        ),
        0.9,
        "kr international",
    ),
    (
        re.compile(
            r"(?<![0-9+])(?:\(0(?:2|[3-6][1-5])\)|0(?:2|[3-6][1-5]|70))"
            r"[-. )]?[0-9]{3,4}[-. ][0-9]{4}(?![0-9])"
        ),
        0.8,
        "kr landline",
    ),
    (
        re.compile(r"\+(?!82)[1-9][0-9]{0,2}(?:[-. \t]?\(?[0-9]{1,4}\)?){2,5}(?![0-9])"),
        0.6,
        "international",
    ),
]


def mask_digits(span: str, keep: int) -> str:
    """Keep the first ``keep`` digits, mask the others, leave separators."""
    out: list[str] = []
    seen = 0
    for ch in span:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _phone_hits(text: str) -> Iterator[PersonalDataHit]:
    for pattern, conf, detail in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            span = m.group(0).rstrip(" \t.-")
            n = sum(c.isdigit() for c in span)
            if detail == "international" and not 8 <= n <= 15:
                continue
            yield PersonalDataHit(
                PHONE, m.start(), m.start() + len(span), span, mask_digits(span, 3), conf, detail
            )


# -- e-mail ---
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]{1,64})@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24})(?![A-Za-z0-9-])"
)


def _email_hits(text: str) -> Iterator[PersonalDataHit]:
    for m in _EMAIL_RE.finditer(text):
        local, domain = m.group(1), m.group(2)
        yield PersonalDataHit(EMAIL, m.start(), m.end(), m.group(0), f"{local[0]}***@{domain}", 0.95)


# -- addresses ---
_SIDO = (
    r"(?:서울특별시|서울시|서울|부산광역시|부산시|부산|대구광역시|대구시|대구|인천광역시|인천시|인천|광주광역시|"
    r"대전광역시|대전시|대전|울산광역시|울산시|울산|세종특별자치시|세종시|세종|경기도|경기|강원특별자치도|강원도|강원|"
    r"충청북도|충북|충청남도|충남|전북특별자치도|전라북도|전북|전라남도|전남|경상북도|경북|경상남도|경남|"
    r"제주특별자치도|제주도|제주)"
)
_SIGUNGU = r"(?:[가-힣]{1,4}(?:시|군|구))"
_EMD = r"(?:[가-힣0-9]{1,6}(?:읍|면|동|가|리))"
_ROAD = r"(?:[가-힣]{1,10}[0-9]{0,3}(?:번)?(?:로|길)(?:[0-9]{1,3}(?:번)?길)?)"
_NUM = r"(?:산[ \t]?)?[0-9]{1,5}(?:-[0-9]{1,4})?(?:번지)?"
_UNIT = r"(?:[ \t]*,?[ \t]*[0-9]{1,4}[ \t]?동)?(?:[ \t]*[0-9]{1,5}[ \t]?호)?"
_NOT_UNIT = r"(?![0-9]|[ \t]?(?:시|분|초|명|개|살|년|월|일|번째|학년|위|등|%|km|kg|cm|원|층))"
_SIGUNGU_STOP = frozenset(
    [
        "친구",
        "다시",
        "요구",
        "연구",
        "가구",
        "장군",
        "아군",
        "적군",
        "입구",
        "출구",
        "도구",
        "부시",
        "동시",
        "당시",
        "즉시",
        "역시",
        "표시",
        "무시",
        "감시",
        "잠시",
        "항시",
        "수시",
        "평시",
        "전시",
        "게시",
        "개시",
        "제시",
        "지시",
        "명시",
        "암시",
        "주시",
        "중시",
        "경시",
        "방구",
        "탐구",
        "추구",
        "강구",
        "소구",
        "조구",
        "공구",
        "완구",
        "기구",
        "지구",
        "문구",
        "어구",
        "야구",
        "족구",
        "배구",
        "농구",
        "축구",
        "불구",
        "구구",
        "의구",
        "국군",
        "대군",
        "해군",
        "공군",
        "육군",
    ]
)
_ADDRESS_PATTERNS: list[tuple[re.Pattern[str], float, str]] = [
    (
        re.compile(
            rf"(?P<admin>(?:{_SIDO}[ \t]+)?(?:{_SIGUNGU}[ \t]+){{1,2}})"
            rf"(?:{_EMD}[ \t]+)?{_ROAD}[ \t]?{_NUM}{_NOT_UNIT}{_UNIT}"
        ),
        0.75,
        "road-name address",
    ),
    (
        re.compile(
            rf"(?P<admin>(?:{_SIDO}[ \t]+)?(?:{_SIGUNGU}[ \t]+){{1,2}}){_EMD}[ \t]+{_NUM}{_NOT_UNIT}{_UNIT}"
        ),
        0.7,
        "lot-number address",
    ),
    (
        re.compile(rf"(?P<admin>(?:세종특별자치시|세종시|세종)[ \t]+){_ROAD}[ \t]?{_NUM}{_NOT_UNIT}{_UNIT}"),
        0.75,
        "road-name address",
    ),
    (
        re.compile(
            r"(?P<admin>(?:[가-힣A-Za-z0-9]{1,12}(?:아파트|빌라|오피스텔|맨션|타운|APT|apt)[ \t]*)?)"
            r"(?<![0-9])[0-9]{1,4}[ \t]?동[ \t]?[0-9]{1,5}[ \t]?호"
        ),
        0.5,
        "building and unit",
    ),
]


def _mask_after(span: str, keep: int) -> str:
    return span[:keep] + "".join(c if c in " \t,-" else "*" for c in span[keep:])


def _address_hits(text: str) -> Iterator[PersonalDataHit]:
    for pattern, conf, detail in _ADDRESS_PATTERNS:
        for m in pattern.finditer(text):
            admin = m.group("admin")
            gu = re.findall(_SIGUNGU, admin)
            if any(g in _SIGUNGU_STOP for g in gu):
                continue
            road = m.group(0)[len(admin) :]
            if re.match(r"[가-힣]*으로", road):
                continue  # "…으로" is the particle, not a road
            c = conf
            if re.match(_SIDO, admin):
                c += 0.15
            if detail == "building and unit" and admin.strip():
                c += 0.15
            span = m.group(0).rstrip()
            keep = len(admin.rstrip()) if admin.strip() else 0
            if detail == "building and unit":
                keep = 0
            yield PersonalDataHit(
                ADDRESS, m.start(), m.start() + len(span), span, _mask_after(span, keep), c, detail
            )


# -- schools ---
_SCHOOL_FULL = re.compile(
    r"(?<![가-힣A-Za-z])([가-힣A-Za-z]{1,12}?)(여자중학교|여자고등학교|초등학교|중학교|고등학교|대학교|여자대학교)"
)
_SCHOOL_SHORT_GIRLS = re.compile(r"(?<![가-힣])([가-힣]{2,8}?)(여고|여중|여대)(?=생|[^가-힣]|$)")
_SCHOOL_SHORT = re.compile(
    r"(?<![가-힣])([가-힣]{2,8}?)(고|중|초)"
    r"(?=[ \t]*(?:[1-6][ \t]?학년|학생|재학|다니|다님|졸업|출신|[0-9]{1,2}[ \t]?반))"
)
_SCHOOL_NAME_STOP = frozenset(
    [
        "우리",
        "이",
        "그",
        "저",
        "같은",
        "다른",
        "한",
        "모든",
        "어느",
        "무슨",
        "각",
        "전",
        "옆",
        "근처",
        "동네",
        "근방",
        "인근",
        "어떤",
        "무슨",
        "해당",
        "이번",
        "다음",
        "지난",
        "그리",
        "최",
        "사",
        "창",
        "광",
        "참",
        "보",
        "하",
        "있",
        "없",
        "먹",
        "좋",
        "싶",
        "되",
        "받",
        "알",
        "가",
        "오",
        "이라",
        "라",
        "다",
        "냐",
        "자",
        "려",
    ]
)
_VERB_END = re.compile(r"[하있없되았었였겠했갔왔봤줬졌셨시]$")


def _school_hits(text: str) -> Iterator[PersonalDataHit]:
    for pattern, conf, detail in (
        (_SCHOOL_FULL, 0.9, "school"),
        (_SCHOOL_SHORT_GIRLS, 0.75, "school (short form)"),
        (_SCHOOL_SHORT, 0.5, "school (short form, with context)"),
    ):
        for m in pattern.finditer(text):
            name = m.group(1)
            if name in _SCHOOL_NAME_STOP or (pattern is not _SCHOOL_FULL and _VERB_END.search(name)):
                continue
            span = m.group(0)
            masked = name[0] + "*" * (len(name) - 1) + m.group(2)
            yield PersonalDataHit(SCHOOL, m.start(), m.end(), span, masked, conf, detail)


# -- social handles ---
_SOCIAL_URL = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?(?P<site>instagram\.com|instagr\.am|t\.me|telegram\.me|twitter\.com|x\.com|"
    r"tiktok\.com/@|facebook\.com|fb\.com|threads\.net/@|youtube\.com/@)/?(?P<handle>[A-Za-z0-9_.]{2,40})"
    r"(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
_SOCIAL_RESERVED = frozenset(
    [
        "p",
        "reel",
        "reels",
        "explore",
        "stories",
        "share",
        "joinchat",
        "addstickers",
        "addemoji",
        "proxy",
        "socks",
        "s",
        "c",
        "iv",
        "login",
        "home",
        "search",
        "watch",
        "hashtag",
        "i",
        "intent",
        "groups",
        "events",
        "pages",
        "profile.php",
    ]
)
_HANDLE_STOP = frozenset({"everyone", "here", "all", "channel", "admin", "admins"})
_PLATFORMS = {
    "instagram": "instagram",
    "instagr": "instagram",
    "t": "telegram",
    "telegram": "telegram",
    "twitter": "twitter",
    "x": "twitter",
    "tiktok": "tiktok",
    "facebook": "facebook",
    "fb": "facebook",
    "threads": "threads",
    "youtube": "youtube",
}
_AT_HANDLE = re.compile(
    r"(?<![A-Za-z0-9_.@/\w])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_]))(?![A-Za-z0-9_@])"
)
_HANDLE_CONTEXT = re.compile(
    r"(인스타|인별|insta|ig|트위터|트윗|텔레|텔레그램|틱톡|계정|아이디|id)", re.IGNORECASE
)


def _social_hits(text: str) -> Iterator[PersonalDataHit]:
    for m in _SOCIAL_URL.finditer(text):
        handle = m.group("handle")
        if handle.lower() in _SOCIAL_RESERVED or handle.startswith("+"):
            continue
        site = _PLATFORMS.get(m.group("site").lower().split(".")[0], "social")
        span = m.group(0)
        masked = span[: m.start("handle") - m.start()] + handle[:2] + "***"
        yield PersonalDataHit(SOCIAL, m.start(), m.end(), span, masked, 0.85, site)
    for m in _AT_HANDLE.finditer(text):
        handle = m.group(1)
        if handle.isdigit():
            continue
        if handle.lower() in _HANDLE_STOP:
            continue
        conf = 0.8 if _HANDLE_CONTEXT.search(text[max(0, m.start() - 15) : m.start()]) else 0.5
        yield PersonalDataHit(
            SOCIAL, m.start(), m.end(), m.group(0), "@" + handle[:2] + "***", conf, "handle"
        )


_DETECTORS = {
    RRN: _rrn_hits,
    PHONE: _phone_hits,
    EMAIL: _email_hits,
    ADDRESS: _address_hits,
    SCHOOL: _school_hits,
    SOCIAL: _social_hits,
}


_ANY_DIGIT = re.compile(r"[0-9]")


def find_personal_data(
    text: str, *, min_confidence: float = 0.0, types: Iterable[str] | None = None
) -> list[PersonalDataHit]:
    """Every personal-data hit in ``text``, in text order, overlaps resolved (a more specific type wins:
    e-mail over handle, RRN over phone; then the longer span)."""
    if not text:
        return []
    wanted = set(types) if types is not None else set(TYPES)
    unknown = wanted - set(TYPES)
    if unknown:
        raise ValueError(f"unknown personal-data types: {sorted(unknown)}")
    if not _ANY_DIGIT.search(text):
        wanted -= {RRN, PHONE, ADDRESS}  # each needs a digit: skip the costly patterns on plain chat
    candidates = [
        hit for t in TYPES if t in wanted for hit in _DETECTORS[t](text) if hit.confidence >= min_confidence
    ]
    candidates.sort(key=lambda h: (_PRIORITY[h.type], -(h.end - h.start), -h.confidence, h.start))
    taken: list[PersonalDataHit] = []
    for hit in candidates:
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    return sorted(taken, key=lambda h: h.start)


def mask_text(text: str, hits: Iterable[PersonalDataHit] | None = None) -> str:
    """``text`` with every hit replaced by its masked form (for logs and previews)."""
    found = sorted(find_personal_data(text) if hits is None else hits, key=lambda h: h.start)
    out: list[str] = []
    pos = 0
    for hit in found:
        if hit.start < pos:
            continue
        out.append(text[pos : hit.start])
        out.append(hit.masked)
        pos = hit.end
    out.append(text[pos:])
    return "".join(out)
