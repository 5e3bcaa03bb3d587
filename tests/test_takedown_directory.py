"""The platform directory: YAML data, URL → platform resolution, fallback to the generic host."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jikimi.errors import ConfigError, ValidationError
from jikimi.takedown.directory import (
    CHANNELS,
    _directory,
    load_directory,
    platform_or_generic,
    resolve_url,
)
from jikimi.takedown.render import LANGUAGES, TEMPLATES_DIR

REQUIRED = {"telegram", "kcsc", "x", "meta", "tiktok", "google_search", "generic_host", "image_board"}


def test_directory_has_every_required_platform_with_sane_fields() -> None:
    d = load_directory()
    assert set(d) >= REQUIRED
    for p in d.values():
        assert p.channel in CHANNELS, p.key
        assert p.languages and set(p.languages) <= set(LANGUAGES), p.key
        assert p.default_lang in p.languages, p.key
        assert "url" in p.required_fields or "result_url" in p.required_fields, p.key
        assert p.expected_response_hours > 0 and p.recheck_hours > 0
        assert (TEMPLATES_DIR / f"{p.template}.txt.j2").is_file(), p.key
        assert p.contacts, p.key
        for c in p.contacts:
            # an address we could not confirm from public documentation must say so
            assert c.address is None or c.verify_before_use or p.key in ("telegram", "meta"), (p.key, c)
    assert d["telegram"].recipient == "abuse@telegram.org"
    assert d["kcsc"].scope == "any" and d["kcsc"].default_lang == "ko"


@pytest.mark.parametrize(
    ("url", "platform", "chat", "post"),
    [
        ("https://t.me/somechannel/123", "telegram", "somechannel", "123"),
        ("t.me/somechannel/123", "telegram", "somechannel", "123"),
        ("https://t.me/s/somechannel/77", "telegram", "somechannel", "77"),
        ("https://t.me/c/1234567/89", "telegram", "c/1234567", "89"),
        ("https://telegram.me/joinchat/abc", "telegram", "joinchat", None),
        ("tg://resolve?domain=somechannel&post=5", "telegram", "somechannel", "5"),
        ("https://x.com/user/status/1", "x", None, None),
        ("https://pbs.twimg.com/media/a.jpg", "x", None, None),
        ("https://www.instagram.com/p/xyz/", "meta", None, None),
        ("https://scontent.cdninstagram.com/v/a.jpg", "meta", None, None),
        ("https://m.facebook.com/story.php?id=1", "meta", None, None),
        ("https://vm.tiktok.com/abc/", "tiktok", None, None),
        ("https://www.google.co.kr/search?q=x&tbm=isch", "google_search", None, None),
        ("https://boards.4chan.org/b/thread/1", "image_board", None, None),
    ],
)
def test_known_links_resolve(url: str, platform: str, chat: str | None, post: str | None) -> None:
    r = resolve_url(url)
    assert (r.platform.key, r.chat, r.post, r.fallback) == (platform, chat, post, False)
    assert r.note is None


def test_unknown_host_falls_back_to_generic_and_says_so() -> None:
    r = resolve_url("https://files.example-host.net/x.jpg")
    assert r.platform.key == "generic_host" and r.fallback
    assert r.note and "files.example-host.net" in r.note and "--to" in r.note
    # a look-alike domain is not the platform
    assert resolve_url("https://not-t.me/x").platform.key == "generic_host"
    assert resolve_url("https://t.me.evil.example/x").platform.key == "generic_host"


def test_unknown_platform_key_falls_back_with_a_note() -> None:
    p, note = platform_or_generic("telgram")
    assert p.key == "generic_host" and note and "telgram" in note and "telegram" in note


def test_bad_links_are_refused_clearly() -> None:
    with pytest.raises(ValidationError):
        resolve_url("")
    with pytest.raises(ValidationError, match="scheme"):
        resolve_url("ftp://example.org/x.jpg")


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(sub=st.lists(labels, max_size=3), path=st.text(max_size=30))
def test_any_subdomain_of_a_platform_resolves_to_it(sub: list[str], path: str) -> None:
    for domain, key in (("t.me", "telegram"), ("twitter.com", "x"), ("tiktok.com", "tiktok")):
        host = ".".join([*sub, domain])
        assert resolve_url(f"https://{host}/{path}").platform.key == key


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_resolver_never_crashes(text: str) -> None:
    try:
        r = resolve_url(text)
    except ValidationError:
        return
    assert r.platform.key in load_directory()


def test_extra_platform_dir_adds_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "naver.yaml").write_text(
        "key: naver_blog\nname: Naver Blog\nchannel: web_form\ndomains: [blog.naver.com]\n"
        "languages: [ko]\ndefault_lang: ko\ntemplate: generic_host\n"
        "contacts: [{purpose: report, channel: web_form, address: 'https://example.invalid', "
        "verify_before_use: true}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("JIKIMI_PLATFORMS_DIR", str(tmp_path))
    assert resolve_url("https://blog.naver.com/someone/1").platform.key == "naver_blog"
    (tmp_path / "bad.yaml").write_text("key: bad\nname: Bad\nchannel: fax\n", encoding="utf-8")
    _directory.cache_clear()
    with pytest.raises(ConfigError, match="channel"):
        load_directory()
    _directory.cache_clear()
