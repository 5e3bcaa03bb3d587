"""A notice as PDF (fpdf2), for web forms and letters; Korean (and Japanese) text needs a CJK font.

The font is found at runtime: ``JIKIMI_HANGUL_FONT`` if set, else the Debian ``fonts-nanum`` /
``fonts-noto-cjk`` files, else what fontconfig knows. The first font that has a glyph for every character
of the notice is used; if none has, a ``ConfigError`` says which package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from jikimi.errors import ConfigError

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansKR-Regular.ttf",
    "/usr/share/fonts/truetype/unfonts-core/UnDotum.ttf",
)
FONT_WEB_HINT = "ask an administrator to install a Korean (CJK) font on the server"
FONT_HINT = (
    "install a CJK font: `apt-get install fonts-nanum` (Korean; scripts/sysdeps.sh does it) or "
    "`apt-get install fonts-noto-cjk` (Korean and Japanese), or set JIKIMI_HANGUL_FONT=/path/to/font.ttf"
)


@lru_cache(maxsize=32)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        cmap = font.getBestCmap() or {}
        return frozenset(cmap)
    except Exception:  # an unreadable or unsupported font file is skipped
        return frozenset()


def _fontconfig_fonts() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    out: list[str] = []
    for lang in ("ko", "ja"):
        try:
            res = subprocess.run(
                ["fc-list", f":lang={lang}", "file"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            continue
        out.extend(line.split(":", 1)[0].strip() for line in res.stdout.splitlines() if line.strip())
    return sorted(p for p in set(out) if p.lower().endswith((".ttf", ".otf", ".ttc")))


def candidate_fonts() -> list[str]:
    env = os.environ.get("JIKIMI_HANGUL_FONT")
    if env:
        if not Path(env).is_file():
            raise ConfigError(
                "the configured Korean font file {path} does not exist",
                FONT_WEB_HINT,
                code="takedown.font_missing",
                cli_hint=FONT_HINT,
                path=env,
            )
        return [env]
    found = [p for p in FONT_CANDIDATES if Path(p).is_file()]
    return found + [p for p in _fontconfig_fonts() if p not in found]


def find_font(text: str) -> str:
    """The path of the first font with a glyph for every character of ``text``."""
    needed = {ord(ch) for ch in text if not ch.isspace()}
    fonts = candidate_fonts()
    for path in fonts:
        if needed <= _cmap(path):
            return path
    if not fonts:
        raise ConfigError(
            "no font with Hangul found for the PDF notice",
            FONT_WEB_HINT,
            code="takedown.font_missing",
            cli_hint=FONT_HINT,
        )
    best = max(fonts, key=lambda p: len(needed & _cmap(p)))
    missing = "".join(sorted(chr(c) for c in needed - _cmap(best)))[:40]
    raise ConfigError(
        "no installed font has every character of this notice (missing: {missing})",
        FONT_WEB_HINT,
        code="takedown.font_missing",
        cli_hint=FONT_HINT,
        missing=missing,
    )


def notice_pdf(
    *,
    title: str,
    body: str,
    lang: str,
    reference: str,
    content_sha256: str,
    created: datetime | None = None,
) -> bytes:
    """Render a notice (subject as title, then the body) to PDF bytes."""
    import logging

    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "TSI0 NOT subset" noise

    footer_text = f"{reference} · SHA-256 {content_sha256}"
    font_path = find_font(title + body + footer_text)

    class _Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("notice", size=7)
            self.set_text_color(110)
            self.cell(0, 5, f"{footer_text} · {self.page_no()}/{{nb}}", align="C")

    pdf = _Doc(format="A4")
    pdf.set_title(title)
    pdf.set_author("Jikimi")
    pdf.set_lang(lang)
    pdf.set_creation_date(created or datetime.now(UTC))
    pdf.add_font("notice", "", font_path)
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    wrap = WrapMode.CHAR if lang in ("ja", "zh") else WrapMode.WORD
    pdf.set_font("notice", size=13)
    pdf.multi_cell(0, 7, title, align="L", wrapmode=wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("notice", size=10)
    for line in body.splitlines():
        if not line.strip():
            pdf.ln(3)
            continue
        pdf.multi_cell(0, 5, line, align="L", wrapmode=wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
