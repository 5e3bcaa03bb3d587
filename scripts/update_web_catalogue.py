"""Extract the web app's strings (templates + ``N_`` in jikimi.api) and merge them into the Korean catalogue.

Run after adding strings: ``.venv/bin/python scripts/update_web_catalogue.py``; then translate the empty
``msgstr`` entries in ``src/jikimi/web/locale/ko/LC_MESSAGES/messages.po``. ``tests/test_web_i18n.py`` fails
while any is empty.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

SRC = Path(__file__).resolve().parents[1] / "src" / "jikimi"
PO = SRC / "web" / "locale" / "ko" / "LC_MESSAGES" / "messages.po"


def extract() -> list[str]:
    """Every source string shown by the web app, in order of first appearance."""
    found: dict[str, None] = {}
    for _f, _l, msg, _c, _ctx in extract_from_dir(
        str(SRC / "web" / "templates"),
        method_map=[("**.html", "jinja2.ext:babel_extract")],
        options_map={"**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}},
        keywords={"_": None},
    ):
        found[str(msg)] = None
    for _f, _l, msg, _c, _ctx in extract_from_dir(
        str(SRC / "api"), method_map=[("**.py", "python")], keywords={"N_": None}
    ):
        found[str(msg)] = None
    return list(found)


def main() -> None:
    old: dict[str, str] = {}
    if PO.exists():
        with PO.open("rb") as fh:
            old = {str(m.id): str(m.string or "") for m in read_po(fh, locale="ko") if m.id}
    cat = Catalog(locale="ko", project="jikimi-web", charset="utf-8")
    for msg in extract():
        cat.add(msg, old.get(msg, ""))
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as fh:
        write_po(fh, cat, width=0, omit_header=False, no_location=True)
    missing = [m for m in extract() if not old.get(m)]
    print(f"wrote {PO}: {len(cat)} strings, {len(missing)} untranslated")
    for m in missing:
        print("  untranslated:", m)


if __name__ == "__main__":
    main()
