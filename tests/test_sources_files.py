"""Folders, single files and zip archives: media found, the rest skipped, hostile input fails per item."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from jikimi.sources import FolderSource, Item, SourceError, SourceLimits, ZipSource, open_source, sniff_mime


def png(color: tuple[int, int, int] = (10, 120, 200), size: tuple[int, int] = (20, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(color: tuple[int, int, int] = (220, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="JPEG")
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def member(item: Item) -> str:
    """The file name, or for archive members the path inside the (outermost) archive."""
    loc = item.sighting.location
    return loc.split("!", 1)[1] if "!" in loc else Path(loc).name


def statuses(items: list[Item]) -> dict[str, str]:
    return {member(i): i.status for i in items}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "phone_dump"
    (root / "DCIM" / "sub").mkdir(parents=True)
    (root / "DCIM" / "a.jpg").write_bytes(jpeg())
    (root / "DCIM" / "sub" / "b.png").write_bytes(png())
    (root / "noext_image").write_bytes(png((1, 2, 3)))
    (root / "notes.txt").write_text("just text", encoding="utf-8")
    (root / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(32))
    (root / "bundle.zip").write_bytes(zip_bytes({"in/zipped.png": png(), "readme.txt": b"hi"}))
    os.symlink(root, root / "DCIM" / "loop")  # a link back to the root: must not loop
    os.symlink(root / "gone.jpg", root / "dangling.jpg")
    os.symlink(root / "self.jpg", root / "self.jpg")  # a link to itself
    return root


def test_folder_walk(folder: Path) -> None:
    src = open_source(folder)
    assert isinstance(src, FolderSource)
    items = list(src)
    st = statuses(items)
    assert st == {
        "a.jpg": "media",
        "b.png": "media",
        "in/zipped.png": "media",
        "clip.mp4": "media",
        "dangling.jpg": "failed",
        "noext_image": "media",
        "self.jpg": "failed",
    }
    assert src.counts["skipped"] == 2  # notes.txt and readme.txt inside the zip
    by_name = {i.name: i for i in items}
    assert by_name["a.jpg"].read() == (folder / "DCIM" / "a.jpg").read_bytes()
    assert by_name["zipped.png"].read() == png()
    assert by_name["zipped.png"].sighting.source_kind == "zip"
    assert by_name["noext_image"].sighting.mime_type == "image/png"
    assert "broken symbolic link" in (by_name["dangling.jpg"].reason or "")
    assert "symbolic links" in (by_name["self.jpg"].reason or "")
    keys = [i.key for i in items]
    assert len(set(keys)) == len(keys)
    assert keys == [i.key for i in open_source(folder)]


def test_folder_order_is_deterministic(folder: Path) -> None:
    names = [i.sighting.location for i in FolderSource(folder)]
    assert names == [i.sighting.location for i in FolderSource(folder)]
    assert names.index(str(folder / "DCIM" / "a.jpg")) < names.index(str(folder / "DCIM" / "sub" / "b.png"))


def test_symlinks_not_followed_when_asked(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.png").write_bytes(png())
    os.symlink(outside, folder / "linked")
    followed = {i.name for i in FolderSource(folder)}
    assert "x.png" in followed
    src = FolderSource(folder, follow_symlinks=False)
    assert "x.png" not in {i.name for i in src}


def test_single_file_and_size_limit(tmp_path: Path) -> None:
    f = tmp_path / "one.png"
    f.write_bytes(png())
    items = list(open_source(f))
    assert len(items) == 1 and items[0].read() == png() and items[0].path == f.resolve()
    big = list(FolderSource(f, SourceLimits(max_item_bytes=10)))
    assert big[0].status == "failed" and "limit" in (big[0].reason or "")
    # The file growing past the limit after listing is caught when reading.
    items = list(FolderSource(f, SourceLimits(max_item_bytes=len(png()) + 5)))
    f.write_bytes(png() + bytes(100))
    with pytest.raises(SourceError, match="limit"):
        items[0].read()


def test_missing_argument() -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source("/nonexistent/path/for/jikimi")
    with pytest.raises(SourceError, match="only http and https"):
        open_source("ftp://example.com/a.jpg")


def test_zip_hostile_members(tmp_path: Path) -> None:
    bomb = bytes(5 * 1024 * 1024)
    members = {
        "ok/good.png": png(),
        "../escape.png": png(),
        "/abs.png": png(),
        "C:/win.png": png(),
        "bomb.jpg": bomb,
        "doc.txt": b"text",
    }
    path = tmp_path / "evidence.zip"
    path.write_bytes(zip_bytes(members))
    src = open_source(path)
    assert isinstance(src, ZipSource)
    items = list(src)
    st = statuses(items)
    assert st == {
        "ok/good.png": "media",
        "../escape.png": "failed",
        "/abs.png": "failed",
        "C:/win.png": "failed",
        "bomb.jpg": "failed",
    }
    reasons = {i.sighting.location.split("!", 1)[1]: i.reason or "" for i in items}
    assert "escapes" in reasons["../escape.png"] and "absolute" in reasons["/abs.png"]
    assert "zip bomb" in reasons["bomb.jpg"]
    good = next(i for i in items if i.ok)
    assert good.read() == png() and good.size == len(png())
    assert src.counts == {"media": 1, "unresolved": 0, "failed": 4, "skipped": 1}


def test_zip_limits(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    many.write_bytes(zip_bytes({f"{n}.png": png() for n in range(10)}))
    items = list(ZipSource(many, SourceLimits(zip_max_entries=5)))
    assert len(items) == 1 and items[0].status == "failed" and "entries" in (items[0].reason or "")
    stored = tmp_path / "stored.zip"
    stored.write_bytes(zip_bytes({f"{n}.png": png() for n in range(4)}, compression=zipfile.ZIP_STORED))
    total = len(png()) * 2 + 10
    items = list(ZipSource(stored, SourceLimits(zip_max_total_bytes=total)))
    assert [i.status for i in items] == ["media", "media", "failed", "failed"]
    assert "total" in (items[2].reason or "")
    items = list(ZipSource(stored, SourceLimits(max_item_bytes=10)))
    assert all(i.status == "failed" and "limit" in (i.reason or "") for i in items)


def test_nested_zips_follow_depth_limit(tmp_path: Path) -> None:
    inner = zip_bytes({"deep.png": png((9, 9, 9))})
    middle = zip_bytes({"inner.zip": inner, "mid.png": png((5, 5, 5))})
    outer = tmp_path / "outer.zip"
    outer.write_bytes(zip_bytes({"middle.zip": middle, "top.jpg": jpeg()}))
    items = list(ZipSource(outer))  # default depth 2: outer and middle opened, inner not
    st = statuses(items)
    assert st == {"middle.zip!inner.zip": "failed", "middle.zip!mid.png": "media", "top.jpg": "media"}
    mid = next(i for i in items if i.name == "mid.png")
    assert mid.read() == png((5, 5, 5))
    deeper = list(ZipSource(outer, SourceLimits(zip_max_depth=3)))
    deep = next(i for i in deeper if i.name == "deep.png")
    assert deep.ok and deep.read() == png((9, 9, 9))
    assert deep.sighting.location.endswith("outer.zip!middle.zip!inner.zip!deep.png")
    flat = list(ZipSource(outer, SourceLimits(zip_max_depth=1)))
    assert statuses(flat) == {"middle.zip": "failed", "top.jpg": "media"}


def test_corrupt_zip_is_one_failed_item(tmp_path: Path) -> None:
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    items = list(open_source(bad))
    assert len(items) == 1 and items[0].status == "failed" and "zip" in (items[0].reason or "")


def test_corrupt_member_fails_on_read(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({"a.png": png()}, compression=zipfile.ZIP_STORED))
    offset = data.find(b"IHDR")
    data[offset + 8] ^= 0xFF  # flip a byte inside the stored member: CRC mismatch
    path = tmp_path / "crc.zip"
    path.write_bytes(bytes(data))
    (item,) = list(ZipSource(path))
    with pytest.raises(SourceError, match=r"corrupt|CRC|Bad"):
        item.read()


def test_sniff_mime() -> None:
    assert sniff_mime(png()) == "image/png"
    assert sniff_mime(jpeg()) == "image/jpeg"
    assert sniff_mime(b"hello") is None
    assert sniff_mime(b"") is None


def test_telegram_exports_inside_a_folder(tmp_path: Path) -> None:
    root = tmp_path / "case_intake"
    export = root / "ChatExport_2024-05-01"
    (export / "photos").mkdir(parents=True)
    (export / "photos" / "p.png").write_bytes(png())
    (export / "result.json").write_text(
        '{"name": "Room", "type": "private_group", "id": 5, "messages": '
        '[{"id": 1, "type": "message", "from": "X", "photo": "photos/p.png", "text": "hi"}]}',
        encoding="utf-8",
    )
    broken = root / "ChatExport_broken"
    broken.mkdir()
    (broken / "result.json").write_text("{oops", encoding="utf-8")
    (root / "loose.png").write_bytes(png())
    items = list(open_source(root))
    by_name = {i.name: i for i in items}
    assert by_name["p.png"].sighting.source_kind == "telegram"
    assert by_name["p.png"].sighting.chat_name == "Room" and by_name["p.png"].sighting.text == "hi"
    assert by_name["loose.png"].sighting.source_kind == "file"
    failed = [i for i in items if i.status == "failed"]
    assert len(failed) == 1 and "not valid JSON" in (failed[0].reason or "")
    assert len(items) == 3
    plain = list(FolderSource(root, exports=False))
    assert {i.sighting.source_kind for i in plain} == {"file"} and len(plain) == 2


def test_items_decode_with_jikimi_media(shared: Path, tmp_path: Path) -> None:
    """The contract with the scan: ``media.load(item.read(), name=item.name)`` for every media item."""
    from jikimi.media import load

    scenes = shared / "faces" / "portraits" / "_scenes"
    pictures = sorted(scenes.glob("*.jpg"))[:2]
    assert pictures, f"no pictures in {scenes}"
    archive = tmp_path / "scenes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in pictures:
            zf.write(p, f"sent/{p.name}")
    items = [i for i in FolderSource(scenes) if i.name in {p.name for p in pictures}] + list(
        ZipSource(archive)
    )
    assert len(items) == 4
    for item in items:
        media = load(item.read(), name=item.name)
        assert media.kind == "image" and media.size == item.size
