"""jikimi.media: type from bytes, every format and colour mode, limits, and a clear error per bad input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from jikimi.media import Limits, Media, MediaError, load, sniff

MODES = Path("reference/pdq/misc-images/modes")


def photo(w: int = 96, h: int = 64) -> Image.Image:
    """A small picture with structure (gradients and a square), generated here."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1)).astype(np.uint8)
    g = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    b = (((x // 8 + y // 8) % 2) * 200).astype(np.uint8)
    a = np.dstack([r, g, b])
    a[h // 4 : h // 2, w // 4 : w // 2] = (250, 250, 30)
    return Image.fromarray(a, "RGB")


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def make_video(path: Path, frames: int = 12, fps: int = 6, size: tuple[int, int] = (64, 48)) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            a = np.asarray(photo(*size)).copy()
            a[:, : (i * 5) % size[0]] //= 2
            for packet in stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF"])
def test_every_image_format_loads_from_bytes_and_path(tmp_path: Path, fmt: str) -> None:
    data = encode(photo(), fmt)
    # The name says nothing: the type must come from the bytes.
    path = tmp_path / "no-extension.bin"
    path.write_bytes(data)
    for m in (load(data, name="x"), load(path)):
        assert m.kind == "image"
        assert m.format == fmt
        assert (m.width, m.height) == (96, 64)
        rgb = m.rgb()
        assert rgb.shape == (64, 96, 3) and rgb.dtype == np.uint8
        assert m.image.mode == "RGB"
        assert len(m.md5) == 32 and len(m.sha256) == 64
        assert m.size == len(data)
        frames = list(m.frames())
        assert len(frames) == 1 and frames[0].index == 0 and frames[0].rgb.shape == (64, 96, 3)
    import hashlib

    assert load(data).sha256 == hashlib.sha256(data).hexdigest()


def test_sniff_ignores_the_file_name(tmp_path: Path) -> None:
    png_named_jpg = tmp_path / "really-a-png.jpg"
    png_named_jpg.write_bytes(encode(photo(), "PNG"))
    assert load(png_named_jpg).format == "PNG"
    assert sniff(b"hello world") is None
    s = sniff(encode(photo(), "WEBP")[:64])
    assert s is not None and s.kind == "image" and s.format == "WEBP"


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"]
)
def test_every_colour_mode_converts_to_rgb(mode: str) -> None:
    im = photo().convert(mode) if mode not in ("LAB",) else photo().convert("RGB")
    if mode == "LAB":
        from PIL import ImageCms

        im = ImageCms.profileToProfile(
            photo(), ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), outputMode="LAB"
        )
    m = Media(
        kind="image", name=mode, size=1, md5="", sha256="", format="TEST", path=None, data=None,
        limits=Limits(), pil=im, width=im.width, height=im.height,
    )  # fmt: skip
    rgb = m.rgb()
    assert rgb.shape == (64, 96, 3) and rgb.dtype == np.uint8
    ref = np.asarray(photo()).astype(int)
    if mode in ("RGB", "RGBA", "CMYK", "YCbCr", "HSV", "LAB", "P", "PA"):
        assert np.abs(rgb.astype(int) - ref).mean() < 12  # colour survives
    elif mode == "1":  # dithered black and white: same overall brightness
        assert set(np.unique(rgb)) <= {0, 255}
        assert abs(rgb.mean() - np.asarray(photo().convert("L")).mean()) < 20
    else:
        grey = np.asarray(photo().convert("L")).astype(int)
        assert np.abs(rgb[..., 0].astype(int) - grey).mean() < 2


def test_shared_mode_samples_all_load(shared: Path) -> None:
    for path in sorted((shared / MODES).iterdir()):
        if path.suffix == ".md":
            continue
        m = load(path)
        assert m.rgb().shape == (1004, 1600, 3), path.name


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = (np.arange(256, dtype=np.uint32)[None, :].repeat(8, 0) * 257).astype(np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(ramp).save(p)
    m = load(p)
    assert m.mode is not None and (m.mode.startswith("I;16") or m.mode == "I")
    row = m.rgb()[0, :, 0]
    assert row[0] == 0 and row[-1] == 255 and row[128] == 128  # Pillow's own convert would give 255 from 1 on


def test_exif_orientation_is_reported_not_applied(shared: Path) -> None:
    m = load(shared / "reference/pdq/reg-test-input/exif-rotn/exif-rotn-6.jpg")
    assert m.orientation == 6
    assert m.image.size == (m.width, m.height)  # as stored, like the PDQ reference
    assert m.upright().size == (m.height, m.width)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_image_is_a_video(tmp_path: Path, fmt: str) -> None:
    frames = [photo().rotate(i * 30) for i in range(6)]
    p = tmp_path / "anim.bin"
    frames[0].save(p, format=fmt, save_all=True, append_images=frames[1:], duration=500, loop=0)
    m = load(p)
    assert m.kind == "video" and m.format == fmt and m.animated
    assert m.duration == pytest.approx(3.0)
    every = list(m.frames(0))
    assert [f.index for f in every] == list(range(6))
    assert [f.timestamp for f in every] == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5])
    per_second = list(m.frames(1.0))
    assert [f.index for f in per_second] == [0, 2, 4]
    with pytest.raises(MediaError, match="video"):
        m.rgb()


def test_video_loads_and_samples_frames(tmp_path: Path) -> None:
    p = make_video(tmp_path / "clip.bin", frames=12, fps=6)
    m = load(p)
    assert m.kind == "video" and m.format == "MP4"
    assert (m.width, m.height) == (64, 48)
    assert m.duration == pytest.approx(2.0, abs=0.2)
    frames = list(m.frames(1.0))
    assert [f.index for f in frames] == [0, 6]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 1.0])
    assert frames[0].rgb.shape == (48, 64, 3)
    assert len(list(m.frames(0))) == 12
    from_bytes = load(p.read_bytes())
    assert from_bytes.md5 == m.md5 and len(list(from_bytes.frames(0))) == 12


def test_webm_avi_mov_mkv_containers(tmp_path: Path) -> None:
    for codec, fmt, want in (
        ("libvpx", "webm", "WEBM"),
        ("mpeg4", "avi", "AVI"),
        ("mpeg4", "mov", "MOV"),
        ("mpeg4", "matroska", "MKV"),
    ):
        p = tmp_path / f"v.{fmt}"
        with av.open(str(p), "w", format=fmt) as out:
            stream = out.add_stream(codec, rate=5)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for _ in range(5):
                for pk in stream.encode(
                    av.VideoFrame.from_ndarray(np.asarray(photo(64, 48)), format="rgb24")
                ):
                    out.mux(pk)
            for pk in stream.encode():
                out.mux(pk)
        m = load(p)
        assert (m.kind, m.format) == ("video", want)
        assert len(list(m.frames(0))) == 5


# ---- bad input: each gets its own clear reason -------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty file \(0 bytes\)"):
        load(p)
    with pytest.raises(MediaError, match="empty file"):
        load(b"")


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = encode(photo(400, 300), "JPEG", quality=90)
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 2])
    m = load(p)  # the header is fine: the damage shows when decoding
    with pytest.raises(MediaError, match="truncated JPEG"):
        m.rgb()


def test_text_file_named_jpg(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture\n")
    with pytest.raises(MediaError, match=r"not an image or video \(looks like text\)"):
        load(p)


def test_png_declaring_30000_square_is_refused_before_decoding(tmp_path: Path) -> None:
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    # Rewrite IHDR's width and height (big endian at offsets 16 and 20) and fix its CRC.
    import struct
    import zlib

    data[16:24] = struct.pack(">II", 30000, 30000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    p = tmp_path / "bomb.png"
    p.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"image is 30000x30000, over the 100 MP limit"):
        load(p)


def test_pixel_limit_is_configurable() -> None:
    data = encode(photo(100, 100), "PNG")
    with pytest.raises(MediaError, match=r"100x100, over the"):
        load(data, limits=Limits(max_pixels=5000))
    assert load(data, limits=Limits(max_pixels=10_000)).rgb().shape == (100, 100, 3)


def test_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_MEDIA_MAX_PIXELS", "1234")
    monkeypatch.setenv("JIKIMI_MEDIA_MAX_VIDEO_SECONDS", "2.5")
    lim = Limits.from_env()
    assert lim.max_pixels == 1234 and lim.max_video_seconds == 2.5
    with pytest.raises(MediaError, match="over the"):
        load(encode(photo(), "PNG"))


def test_file_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    p.write_bytes(encode(photo(), "PNG"))
    with pytest.raises(MediaError, match=r"file is .* over the .* limit"):
        load(p, limits=Limits(max_file_bytes=100))


def test_video_duration_and_resolution_limits(tmp_path: Path) -> None:
    p = make_video(tmp_path / "clip.mp4", frames=12, fps=6)
    with pytest.raises(MediaError, match=r"video is 2\.0 s long, over the 1\.0 s limit"):
        load(p, limits=Limits(max_video_seconds=1.0))
    with pytest.raises(MediaError, match=r"video is 64x48, over the"):
        load(p, limits=Limits(max_video_pixels=1000))


def test_corrupt_mp4(tmp_path: Path) -> None:
    good = make_video(tmp_path / "clip.mp4").read_bytes()
    p = tmp_path / "corrupt.mp4"
    # Keep the 'ftyp' box so the bytes still look like MP4, destroy everything after it.
    p.write_bytes(good[:32] + bytes(len(good) - 32))
    with pytest.raises(MediaError, match=r"damaged or unreadable MP4 video|no video stream|damaged MP4"):
        load(p)


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # chmod cannot stop root; a FIFO named .jpg is the honest "cannot be read as a file" case here.
        p = tmp_path / "pipe.jpg"
        os.mkfifo(p)
        with pytest.raises(MediaError, match=r"not a regular file \(it is a named pipe"):
            load(p)
    else:
        p = tmp_path / "secret.jpg"
        p.write_bytes(encode(photo(), "JPEG"))
        p.chmod(0)
        with pytest.raises(MediaError, match="permission denied"):
            load(p)


def test_folder_named_jpg(tmp_path: Path) -> None:
    d = tmp_path / "folder.jpg"
    d.mkdir()
    with pytest.raises(MediaError, match="is a folder, not a file"):
        load(d)


def test_symlink_loop(tmp_path: Path) -> None:
    p = tmp_path / "loop.jpg"
    p.symlink_to(p.name)
    with pytest.raises(MediaError, match="symbolic link loop"):
        load(p)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        load(tmp_path / "nope.png")
    broken = tmp_path / "broken.png"
    broken.symlink_to(tmp_path / "gone.png")
    with pytest.raises(MediaError, match="broken symbolic link"):
        load(broken)


def test_media_error_is_a_jikimi_error_with_reason() -> None:
    from jikimi.errors import JikimiError

    with pytest.raises(JikimiError) as info:
        load(b"%PDF-1.7 whatever")
    assert isinstance(info.value, MediaError)
    assert info.value.reason == "not an image or video (looks like a PDF document)"


def test_image_byte_limit() -> None:
    data = encode(photo(), "PNG")
    with pytest.raises(MediaError, match=r"image file is .* over the .* limit"):
        load(data, limits=Limits(max_image_bytes=200))


def test_errors_are_data_in_korean_with_a_hint_per_surface(tmp_path: Path) -> None:
    """Codes and parameters, not prose: the edges render them (Korean pages, English CLI with commands)."""
    from jikimi.errors import Message
    from jikimi.web.i18n import translator

    ko = translator("ko")
    with pytest.raises(MediaError) as info:
        load(encode(photo(), "PNG"), limits=Limits(max_image_bytes=200))
    e = info.value
    assert e.code == "media.file_too_large" and e.params["limit"] == "200 bytes"
    assert "JIKIMI_MEDIA_MAX_IMAGE_BYTES" in (e.cli_hint or "") and "administrator" in (e.hint or "")
    assert "JIKIMI" not in (e.hint or "") and "Limits." not in (e.hint or "")
    assert ko.message(e).startswith("이미지 파일 크기(") and "관리자" in (ko.hint(e) or "")
    assert "JIKIMI_MEDIA_MAX_IMAGE_BYTES" in (ko.hint(e, cli=True) or "")

    clip = make_video(tmp_path / "clip.mp4", frames=12, fps=6)
    with pytest.raises(MediaError) as info:
        load(clip, limits=Limits(max_video_seconds=1.0))
    assert info.value.code == "media.too_long"
    assert ko.message(info.value) == "동영상 길이(2.0초)가 한도(1.0초)를 넘습니다"
    kept = Message.from_json(info.value.message.dumps())  # as a failure record keeps it
    assert kept.render() == info.value.reason and kept.render(ko.gettext) == ko.message(info.value)

    data = encode(photo(), "JPEG")
    with pytest.raises(MediaError) as info:
        load(data[: len(data) // 2]).image  # noqa: B018
    assert info.value.code == "media.truncated"
    assert ko.message(info.value).startswith("JPEG 파일이 잘려 있습니다")
    with pytest.raises(MediaError) as info:
        load(b"%PDF-1.7 whatever")
    assert info.value.to_json(ko.gettext)["detail"] == "이미지나 동영상 파일이 아닙니다(PDF 문서로 보입니다)"
    d = tmp_path / "folder.jpg"
    d.mkdir()
    with pytest.raises(MediaError) as info:
        load(d)
    assert "--recursive" in (info.value.cli_hint or "") and "--" not in (info.value.hint or "")


def test_korean_text_is_recognised_as_text(tmp_path: Path) -> None:
    p = tmp_path / "메모.png"
    p.write_text("이것은 사진이 아닙니다. " * 20, encoding="utf-8")
    with pytest.raises(MediaError, match=r"looks like text"):
        load(p)


def test_phone_mpo_jpeg_is_one_image_not_a_video() -> None:
    """Phone cameras write MPO (a JPEG with a second picture inside): it is a photo, hashed on the first."""
    buf = io.BytesIO()
    photo(1600, 1200).save(buf, "MPO", save_all=True, append_images=[photo(1600, 1200).rotate(90)])
    m = load(buf.getvalue())
    assert (m.kind, m.format) == ("image", "JPEG")
    assert m.rgb().shape == (1200, 1600, 3)
    small = m.reduced(512)
    assert small is not None and small.size == (800, 600)
