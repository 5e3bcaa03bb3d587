"""Notice rendering (Jinja2 + gettext in ko/en/ja), translation catalogues, and the PDF with a Hangul font."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from jikimi.errors import ConfigError, ValidationError
from jikimi.takedown.directory import get_platform, load_directory
from jikimi.takedown.pdf import _cmap, candidate_fonts, find_font, notice_pdf
from jikimi.takedown.render import LOCALE_DIR, TEMPLATES_DIR, NoticeItem, render_notice
from jikimi.takedown.settings import Organisation

ORG = Organisation(name="Test Support Centre", email="takedown@centre.example", phone="+82-2-000-0000")
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _items(n: int) -> list[NoticeItem]:
    return [
        NoticeItem(
            url=f"https://t.me/room/{100 + i}",
            chat="room",
            message_link=f"https://t.me/room/{100 + i}?single",
            first_seen=T0,
            last_seen=T0,
            captured_at=T0,
            sha256=f"{i:064x}",
            md5=f"{i:032x}",
            pdq="f" * 64,
        )
        for i in range(n)
    ]


def _msgids() -> set[str]:
    out = set()
    for _fn, _line, msg, _c, _ctx in extract_from_dir(
        str(TEMPLATES_DIR),
        method_map=[("**.j2", "jinja2.ext:babel_extract")],
        options_map={
            "**.j2": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
        },
    ):
        out.add(msg[0] if isinstance(msg, tuple) else msg)
    return out


@pytest.mark.parametrize("lang", ["ko", "ja"])
def test_catalogue_translates_every_template_message(lang: str) -> None:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "jikimi_takedown.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    have = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}
    missing = _msgids() - set(have)
    assert not missing, f"untranslated in {lang}: {sorted(missing)[:3]}"
    for mid, m in have.items():
        text = m.string if isinstance(m.string, str) else m.string[0]
        assert text, f"empty {lang} translation for {mid!r}"
        assert set(re.findall(r"%\(\w+\)s", mid)) == set(re.findall(r"%\(\w+\)s", text)), mid


def test_english_notice_lists_items_hashes_legal_basis_and_organisation() -> None:
    n = render_notice(get_platform("telegram"), _items(3), lang="en", org=ORG, ref="JKM-1-1", now=T0)
    assert n.subject.startswith("Removal request: 3 items") and "JKM-1-1" in n.subject
    body = n.body
    for i in range(3):
        assert f"https://t.me/room/{100 + i}" in body and f"{i:064x}" in body and f"{i:032x}" in body
    assert "Article 14-2" in body and "Sexual Crimes" in body
    assert "Telegram Terms of Service" in body
    assert "Test Support Centre" in body and "takedown@centre.example" in body
    assert "2026-11-01 10:00:00 UTC" in body
    assert "{{" not in body and "%(" not in body
    assert (
        n.sha256
        == render_notice(
            get_platform("telegram"), _items(3), lang="en", org=ORG, ref="JKM-1-1", now=T0
        ).sha256
    )


def test_korean_notice_is_translated_with_kst_times() -> None:
    n = render_notice(get_platform("kcsc"), _items(2), lang="ko", org=ORG, ref="JKM-2-9", now=T0)
    assert n.subject.startswith("시정요구") and "2건" in n.subject
    assert "성폭력범죄의 처벌 등에 관한 특례법" in n.body and "제14조의2" in n.body
    assert "방송통신심의위원회" in n.body and "제44조의7" in n.body
    assert "2026-11-01 10:00:00 UTC (2026-11-01 19:00 KST)" in n.body
    assert "Removal request" not in n.body and "Legal basis" not in n.body


def test_japanese_notice_is_a_third_language() -> None:
    n = render_notice(get_platform("x"), _items(1), lang="ja", org=ORG, ref="JKM-3-1", now=T0)
    assert "削除のお願い" in n.subject and "1件" in n.subject
    assert "法的根拠" in n.body and "JST" in n.body


def test_every_platform_renders_in_every_language() -> None:
    for p in load_directory().values():
        for lang in ("ko", "en", "ja"):
            n = render_notice(p, _items(1), lang=lang, org=ORG, ref="R", host="files.example", now=T0)
            assert n.subject and "https://t.me/room/100" in n.body


def test_victim_is_named_only_when_configured() -> None:
    name = "Kim Jiyoung"
    plain = render_notice(get_platform("x"), _items(1), lang="en", org=ORG, ref="R", victim_name=name)
    assert name not in plain.body and name not in plain.subject
    named_org = Organisation(name=ORG.name, include_victim_name=True)
    named = render_notice(get_platform("x"), _items(1), lang="en", org=named_org, ref="R", victim_name=name)
    assert name in named.body


def test_bad_input_to_rendering() -> None:
    with pytest.raises(ValidationError):
        render_notice(get_platform("x"), [], lang="en", org=ORG, ref="R")
    with pytest.raises(ValidationError, match="language"):
        render_notice(get_platform("x"), _items(1), lang="fr", org=ORG, ref="R")


def _unicode_targets(pdf: bytes) -> set[int]:
    """The code points in the PDF's ToUnicode maps (what a reader extracts as text)."""
    out: set[int] = set()
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            data = zlib.decompress(m.group(1))
        except zlib.error:
            data = m.group(1)
        if b"beginbfchar" in data or b"beginbfrange" in data:
            for hexcp in re.findall(rb"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]{4,8})>", data):
                out.add(int(hexcp, 16))
    return out


def test_korean_pdf_embeds_hangul_glyphs() -> None:
    try:
        find_font("삭제 요청")
    except ConfigError as exc:
        pytest.fail(f"no Hangul font: {exc} (scripts/sysdeps.sh installs fonts-nanum)")
    n = render_notice(get_platform("kcsc"), _items(40), lang="ko", org=ORG, ref="JKM-4-1", now=T0)
    pdf = notice_pdf(title=n.subject, body=n.body, lang="ko", reference="JKM-4-1", content_sha256=n.sha256)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = re.search(rb"/Count (\d+)", pdf)
    assert pages and int(pages.group(1)) > 1  # 40 items take more than one page
    cps = _unicode_targets(pdf)
    for ch in "시정요구삭제방송통신심의위원회":
        assert ord(ch) in cps, ch


def test_missing_font_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_HANGUL_FONT", str(tmp_path / "nope.ttf"))
    with pytest.raises(ConfigError, match=r"font file .*nope\.ttf does not exist") as err:
        find_font("삭제")
    assert "JIKIMI_HANGUL_FONT" in (err.value.cli_hint or "")  # the setting is named for the command line
    assert "fonts-nanum" in (err.value.cli_hint or "")  # the command is for the command line
    monkeypatch.delenv("JIKIMI_HANGUL_FONT")
    fonts = candidate_fonts()
    text = "\U0001f9ea" + "삭제"  # a character no CJK text font has
    if not any(ord("\U0001f9ea") in _cmap(f) for f in fonts):
        with pytest.raises(ConfigError, match="missing"):
            find_font(text)
