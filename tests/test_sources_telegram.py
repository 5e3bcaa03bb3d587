"""Telegram Desktop exports: the samples in ../shared/telegram with generated media, and hostile variants."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from jikimi.sources import (
    Item,
    SourceError,
    SourceLimits,
    TelegramExportSource,
    flatten_text,
    is_telegram_export,
    open_source,
)

NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"


def image_bytes(path: str, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A small real image in the format the file name asks for (videos get an MP4 header only)."""
    ext = Path(path).suffix.lower()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".gif": "GIF"}.get(ext)
    if fmt is None:
        return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buf, format=fmt)
    return buf.getvalue()


def write_media(root: Path, rel: str, data: bytes | None = None) -> bytes:
    data = image_bytes(rel) if data is None else data
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return data


def referenced_paths(messages: list[dict[str, Any]]) -> set[str]:
    out = set()
    for m in messages:
        for key in ("photo", "file", "thumbnail"):
            value = m.get(key)
            if isinstance(value, str) and not value.startswith("("):
                out.add(value)
    return out


def by_status(items: list[Item], status: str) -> list[Item]:
    return [i for i in items if i.status == status]


@pytest.fixture
def alice_export(shared: Path, tmp_path: Path) -> Path:
    """tkonverter_result.json as result.json with a small file at every path it references."""
    root = tmp_path / "ChatExport_alice"
    root.mkdir()
    src = shared / "telegram" / "tkonverter_result.json"
    shutil.copyfile(src, root / "result.json")
    for rel in referenced_paths(json.loads(src.read_text(encoding="utf-8"))["messages"]):
        write_media(root, rel)
    return root


def test_json_single_chat_media_with_context(alice_export: Path) -> None:
    src = open_source(alice_export)
    assert isinstance(src, TelegramExportSource) and src.format == "json"
    items = list(src)
    media = {i.sighting.message_id: i for i in by_status(items, "media")}
    # photo, sticker, video message, animation, video file, and the two service photos; no voice, no audio.
    assert set(media) == {3, 4, 5, 7, 8, 25, 60}
    photo = media[3]
    s = photo.sighting
    assert (s.chat_name, s.chat_type, s.chat_id) == ("Alice Example", "personal_chat", "10001")
    assert s.date == datetime.fromtimestamp(1769936640, UTC) and s.date.tzinfo is not None
    assert s.date_local == "2026-02-01T09:04:00"
    assert (s.sender, s.sender_id, s.text, s.media_type) == ("Alice Example", "user10001", "Photo", "photo")
    assert s.location == "photos/p1.jpg"
    assert s.link is None  # personal chats have no t.me/c link
    assert photo.read() == (alice_export / "photos" / "p1.jpg").read_bytes()
    assert media[5].sighting.media_type == "video_message" and media[5].name == "video_note.mp4"
    assert media[25].sighting.media_type == "chat_photo" and media[25].sighting.extra == {"service": True}
    assert src.counts["media"] == 7
    assert not by_status(items, "failed")


def test_keys_are_stable_and_unique(alice_export: Path) -> None:
    first = [i.key for i in open_source(alice_export)]
    second = [i.key for i in open_source(alice_export)]
    assert first == second
    assert len(set(first)) == len(first)


def test_not_exported_media_are_unresolved_sightings(shared: Path, tmp_path: Path) -> None:
    root = tmp_path / "dash"
    root.mkdir()
    shutil.copyfile(shared / "telegram" / "tele_dashboard_sample.json", root / "result.json")
    items = list(TelegramExportSource(root))
    unresolved = by_status(items, "unresolved")
    photos = [i for i in unresolved if i.sighting.media_type == "photo"]
    assert len(photos) == 14
    assert any(i.sighting.media_type == "sticker" for i in unresolved)
    assert all("File not included" in (i.reason or "") for i in unresolved)
    assert not by_status(items, "media") and not by_status(items, "failed")
    one = photos[0]
    # Every id in this sample is 69420 and date_unixtime is zero: no invented UTC date, keys still unique.
    assert one.sighting.message_id == 69420 and one.sighting.date is None and one.sighting.date_local
    assert one.sighting.location == "result.json#message69420"
    assert len({i.key for i in items}) == len(items)
    with pytest.raises(SourceError, match="File not included"):
        one.read()


def test_group_sample_pdf_skipped_and_oversize_file_unresolved(shared: Path, tmp_path: Path) -> None:
    root = tmp_path / "team"
    root.mkdir()
    shutil.copyfile(shared / "telegram" / "tkonverter_result_group.json", root / "result.json")
    write_media(root, "photos/group_shared.jpg")
    write_media(root, "files/document.pdf", b"%PDF-1.4\n")
    items = list(TelegramExportSource(root))
    media = by_status(items, "media")
    assert [i.sighting.message_id for i in media] == [29]
    assert media[0].sighting.chat_type == "private_group" and media[0].sighting.text == "Shared photo"
    unresolved = {i.sighting.message_id: i for i in by_status(items, "unresolved")}
    # group_photo.jpg is referenced but absent: unresolved with the reason; 31 and 32 were not exported.
    assert "missing" in (unresolved[3].reason or "")
    assert "exceeds maximum size" in (unresolved[31].reason or "")
    assert 32 in unresolved


def test_full_account_export_and_supergroup_links(tmp_path: Path) -> None:
    root = tmp_path / "DataExport"
    chat = {
        "name": "Room",
        "type": "private_supergroup",
        "id": 1555,
        "messages": [
            {
                "id": 7,
                "type": "message",
                "date": "2024-05-01T10:00:00",
                "date_unixtime": "1714557600",
                "from": "Poster",
                "from_id": "user42",
                "forwarded_from": "Source Channel",
                "forwarded_from_id": "channel9",
                "photo": "chats/chat_001/photos/a.jpg",
                "photo_file_size": 1000,
                "text": ["see ", {"type": "mention", "text": "@someone"}, " here"],
            }
        ],
    }
    other = {"name": "DM", "type": "personal_chat", "id": 9, "messages": [{"id": 1, "type": "message"}]}
    data = {"about": "x", "personal_information": {}, "chats": {"about": "y", "list": [chat, other]}}
    root.mkdir()
    (root / "result.json").write_text(json.dumps(data), encoding="utf-8")
    write_media(root, "chats/chat_001/photos/a.jpg")
    items = list(open_source(root / "result.json"))
    assert len(items) == 1
    s = items[0].sighting
    assert s.chat_name == "Room" and s.link == "https://t.me/c/1555/7"
    assert s.forwarded_from == "Source Channel" and s.forwarded_from_id == "channel9"
    assert s.text == "see @someone here"
    assert s.to_dict()["date"] == "2024-05-01T10:00:00+00:00"


def test_renamed_json_file(alice_export: Path) -> None:
    renamed = alice_export / "alice_chat.json"
    (alice_export / "result.json").rename(renamed)
    items = list(open_source(renamed))
    assert sum(i.ok for i in items) == 7
    assert items[0].sighting.location == "photos/p1.jpg" and items[0].sighting.chat_name == "Alice Example"


def test_flatten_text() -> None:
    assert flatten_text("plain") == "plain"
    assert flatten_text(["a", {"type": "bold", "text": "b"}, {"type": "x"}, 5, "c"]) == "abc"
    assert flatten_text(None) == "" and flatten_text({"text": "x"}) == ""


def hostile_export(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "hostile"
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(image_bytes("x.jpg"))
    (root / "photos").mkdir(parents=True)
    os.symlink(outside, root / "photos" / "link.jpg")
    os.symlink(root / "photos" / "nowhere.jpg", root / "photos" / "dangling.jpg")
    write_media(root, "photos/big.jpg", image_bytes("x.jpg") + bytes(300_000))
    write_media(root, "photos/ok.jpg")
    (root / "photos" / "dir.jpg").mkdir()
    msgs: list[Any] = [
        {"id": 1, "type": "message", "photo": "../outside.jpg"},
        {"id": 2, "type": "message", "photo": "/etc/passwd"},
        {"id": 3, "type": "message", "photo": "C:\\Windows\\x.jpg"},
        {"id": 4, "type": "message", "photo": "photos/link.jpg"},
        {"id": 5, "type": "message", "photo": "photos/big.jpg", "photo_file_size": 1000},
        {"id": 6, "type": "message", "photo": "photos/missing.jpg"},
        {"id": 7, "type": "message", "photo": "photos/dangling.jpg"},
        {"id": 8, "type": "message", "photo": "photos/dir.jpg"},
        {"id": 9, "type": "message", "photo": 12345},
        "not an object",
        {"id": 11, "type": "message", "photo": "photos/./sub/../../ok.jpg"},
        {"id": 12, "type": "message", "photo": "photos/ok.jpg", "text": [{"type": "plain"}, 7]},
        {"id": 13, "type": "message", "photo": "photos/link.jpg"},  # again, now that photos/ is known
        {"id": 14, "type": "message", "photo": "photos/C:x.jpg"},
    ]
    (root / "result.json").write_text(
        json.dumps({"name": "H", "type": "private_group", "id": 3, "messages": msgs}), encoding="utf-8"
    )
    return root, outside


def test_hostile_paths_fail_one_item_each(tmp_path: Path) -> None:
    root, _outside = hostile_export(tmp_path)
    items = list(TelegramExportSource(root))
    by_index = {i.sighting.location: i for i in items}
    reasons = {i.sighting.message_id: (i.status, i.reason or "") for i in items}
    assert reasons[1][0] == "failed" and "escapes" in reasons[1][1]
    assert reasons[2][0] == "failed" and "absolute" in reasons[2][1]
    assert reasons[3][0] == "failed" and "absolute" in reasons[3][1]
    assert reasons[4][0] == "failed" and "outside" in reasons[4][1]
    assert reasons[5][0] == "failed" and "export states 1000" in reasons[5][1]
    assert reasons[6][0] == "unresolved" and "missing" in reasons[6][1]
    assert reasons[7][0] == "failed" and "broken symbolic link" in reasons[7][1]
    assert reasons[8][0] == "failed" and "not a regular file" in reasons[8][1]
    assert reasons[9][0] == "failed" and "not a path string" in reasons[9][1]
    assert reasons[11][0] == "failed" and "escapes" in reasons[11][1]
    assert reasons[12][0] == "media"
    assert reasons[13][0] == "failed" and "outside" in reasons[13][1]
    assert reasons[14][0] == "unresolved" and "missing" in reasons[14][1]
    assert by_index["photos/ok.jpg"].read() == (root / "photos" / "ok.jpg").read_bytes()
    non_object = [i for i in items if "not a JSON object" in (i.reason or "")]
    assert len(non_object) == 1 and non_object[0].status == "failed"
    for item in items:
        if item.status != "media":
            with pytest.raises(SourceError):
                item.read()


def test_item_limit_and_symlink_swap_after_listing(tmp_path: Path) -> None:
    root, outside = hostile_export(tmp_path)
    limits = SourceLimits(max_item_bytes=100)
    items = {i.sighting.message_id: i for i in TelegramExportSource(root, limits)}
    assert items[12].status == "failed" and "100-byte limit" in (items[12].reason or "")
    # A file replaced by a link to the outside after the walk is not read through the link.
    items = {i.sighting.message_id: i for i in TelegramExportSource(root)}
    ok = root / "photos" / "ok.jpg"
    ok.unlink()
    os.symlink(outside, ok)
    with pytest.raises(SourceError):
        items[12].read()


def test_deeply_nested_and_oversized_json(tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "result.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    with pytest.raises(SourceError, match=r"nested too deeply|not a JSON object"):
        list(TelegramExportSource(deep))
    big = tmp_path / "big"
    big.mkdir()
    (big / "result.json").write_text(
        json.dumps({"messages": [{"id": i} for i in range(500)]}), encoding="utf-8"
    )
    with pytest.raises(SourceError, match="limit"):
        list(TelegramExportSource(big, SourceLimits(telegram_max_json_bytes=1000)))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "result.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match="not valid JSON"):
        list(TelegramExportSource(bad))
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(big / "result.json", linked / "result.json")
    with pytest.raises(SourceError, match="regular file"):
        list(TelegramExportSource(linked))
    (bad / "result.json").write_text('{"about": "account only"}', encoding="utf-8")
    with pytest.raises(SourceError, match="no messages"):
        list(TelegramExportSource(bad))


def test_html_sample(shared: Path, tmp_path: Path) -> None:
    root = tmp_path / "html_export"
    root.mkdir()
    shutil.copyfile(shared / "telegram" / "ttb_example_messages.html", root / "messages.html")
    data = write_media(root, "photos/photo_1@26-02-2020_20-50-41.jpg")
    assert is_telegram_export(root)
    src = open_source(root)
    assert isinstance(src, TelegramExportSource) and src.format == "html"
    items = list(src)
    # Two photos are referenced; only the first was generated, so the second is an unresolved sighting.
    assert [i.status for i in items] == ["media", "unresolved"]
    assert items[1].sighting.message_id == 23925 and "missing" in (items[1].reason or "")
    item = items[0]
    s = item.sighting
    assert item.status == "media" and item.read() == data
    assert s.chat_name == "ych_bot" and s.message_id == 23921
    assert s.sender == "ych_bot"  # a "joined" message: the sender comes from the message before
    assert s.date is None and s.date_local == "2020-02-26T20:50:41"
    assert "here's your plot!" in s.nearby_text
    assert s.location == "photos/photo_1@26-02-2020_20-50-41.jpg"


HTML_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"/><title>Exported Data</title>
 </head><body>
<div class="page_wrap"><div class="page_header"><div class="content">
 <div class="text bold">Bad Room</div></div></div>
<div class="page_body chat_page"><div class="history">
<div class="message service" id="message-1"><div class="body details">1 May 2024</div></div>
<div class="message service" id="message9"><div class="body details">Admin changed group photo</div>
 <div class="userpic_wrap"><a class="userpic_link" href="photos/group.jpg">
 <img class="userpic" src="x"/></a></div></div>
<div class="message default clearfix" id="message10"><div class="pull_left userpic_wrap"></div>
 <div class="body"><div class="pull_right date details" title="01.05.2024 12:30:00 UTC+09:00">12:30</div>
 <div class="from_name">Uploader <span class="details">via @somebot</span></div>
 <div class="forwarded body">
 <div class="from_name">Origin Channel<span class="date details" title="x"> 30.04.2024</span></div>
 <div class="media_wrap clearfix">
 <a class="video_file_wrap clearfix pull_left" href="video_files/clip.mp4">
 <div class="video_play_bg"><div class="video_play"></div></div>
 <img class="video_file" src="video_files/clip.mp4_thumb.jpg"/></a></div>
 <div class="text">address 서울특별시 강남구 테헤란로 152<br>call 010-1234-5678</div></div></div></div>
<div class="message default clearfix joined" id="message11"><div class="body">
 <div class="pull_right date details" title="01.05.2024 12:31:00 UTC+09:00">12:31</div>
 <div class="media_wrap clearfix"><div class="media clearfix pull_left media_photo">
 <div class="fill pull_left"></div>
 <div class="body"><div class="title bold">Photo</div>
 <div class="description">Not included, change data exporting settings to download.</div>
 <div class="status details">1280x720, 100.0 KB</div></div></div></div></div></div>
<div class="message default clearfix joined" id="message12"><div class="body">
 <div class="pull_right date details" title="01.05.2024 12:32:00">12:32</div>
 <div class="media_wrap clearfix"><a class="photo_wrap clearfix pull_left" href="../../etc/x.jpg">
 <img class="photo" src="x"/></a></div>
 </div></div>
<div class="message default clearfix" id="message13"><div class="body">
 <div class="pull_right date details" title="01.05.2024 12:33:00">12:33</div>
 <div class="from_name">Second</div>
 <div class="media_wrap clearfix">
 <a class="media clearfix pull_left block_link media_voice_message" href="voice_messages/a.ogg">
 <div class="body"><div class="title bold">Voice message</div></div></a></div>
 <div class="media_wrap clearfix">
 <a class="media clearfix pull_left block_link media_location" href="https://maps.google.com/?q=1,2"></a></div>
 <div class="media_wrap clearfix"><a class="photo_wrap clearfix pull_left" href="photos/b.png">
 <img src="photos/b_thumb.png"/></a></div>
 </div></div>
</div></div></div></body></html>
"""


def test_html_forwarded_unresolved_and_hostile(tmp_path: Path) -> None:
    root = tmp_path / "h"
    root.mkdir()
    (root / "messages.html").write_text(HTML_PAGE, encoding="utf-8")
    (root / "messages2.html").write_text(
        HTML_PAGE.replace('id="message1', 'id="message2')
        .replace('id="message9"', 'id="message19"')
        .replace("photos/b.png", "photos/c.png"),
        encoding="utf-8",
    )
    clip = write_media(root, "video_files/clip.mp4")
    write_media(root, "photos/b.png")
    items = list(TelegramExportSource(root))
    first_page = [i for i in items if i.sighting.message_id in (9, 10, 11, 12, 13)]
    by_id = {i.sighting.message_id: i for i in first_page}
    video = by_id[10]
    s = video.sighting
    assert video.status == "media" and video.read() == clip and s.media_type == "video_file"
    assert s.chat_name == "Bad Room" and s.sender == "Uploader" and s.forwarded_from == "Origin Channel"
    assert s.date == datetime(2024, 5, 1, 3, 30, tzinfo=UTC) and s.date_local == "2024-05-01T12:30:00"
    assert s.text == "address 서울특별시 강남구 테헤란로 152\ncall 010-1234-5678"
    assert by_id[11].status == "unresolved" and "Not included" in (by_id[11].reason or "")
    assert by_id[11].sighting.sender == "Uploader"
    assert by_id[12].status == "failed" and "escapes" in (by_id[12].reason or "")
    assert by_id[13].status == "media" and by_id[13].sighting.sender == "Second"
    assert by_id[9].status == "unresolved" and by_id[9].sighting.media_type == "chat_photo"
    second_page = {i.sighting.message_id: i for i in items if i.sighting.message_id in (20, 21, 22, 23)}
    assert second_page[23].status == "unresolved" and "missing" in (second_page[23].reason or "")
    assert len({i.key for i in items}) == len(items) == 10


def test_html_deep_nesting_does_not_crash(tmp_path: Path) -> None:
    root = tmp_path / "deep_html"
    root.mkdir()
    page = HTML_PAGE.replace('<div class="history">', '<div class="history">' + "<div>" * 50_000)
    (root / "messages.html").write_text(page, encoding="utf-8")
    items = list(TelegramExportSource(root))
    assert all(i.status in ("media", "failed", "unresolved") for i in items)


def test_not_an_export(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a Telegram Desktop export"):
        TelegramExportSource(tmp_path)
