"""The demo behind ``make demo``: sample data, then the whole loop on the embedded SQLite default.

It enrols a consenting person (photos from ``../shared/faces/portraits``), builds a small bank of a "known"
image, writes a sample folder and a sample Telegram Desktop export (benign photos and generated pictures
only), scans both, prints the cases, confirms one finding so a takedown notice is drafted, verifies the
audit chain, and finally starts the web app with a demo login.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from jikimi.config import SHARED_DIR

PORTRAITS = SHARED_DIR / "faces" / "portraits"
DEMO_PERSON = "Demo Person (obama)"
DEMO_BANK = "demo-known"
DEMO_USER = "demo"
DEMO_PASSWORD = "guardian-2026-review"


@dataclass
class DemoData:
    """Where the generated sample data lives and what it contains."""

    root: Path
    enrol_photos: list[Path] = field(default_factory=list)
    known_image: Path | None = None
    folder: Path | None = None
    export: Path | None = None

    @property
    def has_faces(self) -> bool:
        return bool(self.enrol_photos)


def _pattern(seed: int, size: tuple[int, int] = (900, 640), label: str = "") -> Image.Image:
    """A colourful, structured picture (stands in for content; PDQ quality is high on it)."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        fx, fy = rng.uniform(0.005, 0.03, 2).tolist()
        ph = rng.uniform(0, 6.28)
        img[..., c] = 127 + 120 * np.sin(x * fx + y * fy + ph)
    pil = Image.fromarray(img.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, w - 80)), int(rng.integers(0, h - 80))
        x1, y1 = x0 + int(rng.integers(30, 200)), y0 + int(rng.integers(30, 200))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.ellipse((x0, y0, x1, y1), fill=colour)
    if label:
        draw.text((20, 20), label, fill=(255, 255, 255))
    return pil


def _jpeg(img: Image.Image, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path, "JPEG", quality=quality)
    return path


def _copy_of_known(known: Image.Image) -> Image.Image:
    """A re-uploaded copy: cropped a little, resized, re-encoded (a PDQ near-duplicate, other bytes)."""
    w, h = known.size
    cropped = known.crop((8, 6, w - 10, h - 8)).resize((int(w * 0.7), int(h * 0.7)))
    buf = io.BytesIO()
    cropped.save(buf, "JPEG", quality=70)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _portrait(person: str, name: str) -> Path | None:
    p = PORTRAITS / person / name
    return p if p.is_file() else None


def make_demo_data(root: Path) -> DemoData:
    """Write the sample folder and Telegram export under ``root`` (replacing an older copy)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data = DemoData(root=root)

    enrol = _portrait("obama", "obama.jpg")
    if enrol is not None:
        data.enrol_photos = [enrol]

    known = _pattern(7, label="KNOWN (demo stand-in for a confirmed fake)")
    data.known_image = _jpeg(known, root / "bank" / "known.jpg", quality=95)

    folder = root / "downloads"
    _jpeg(_copy_of_known(known), folder / "reupload-of-known.jpg")
    for i in range(4):
        _jpeg(_pattern(100 + i), folder / f"unrelated-{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this JPEG stops here")
    (folder / "notes.txt").write_text("not an image — reported as an error, the scan goes on\n")
    for person, name in (("obama", "obama2.jpg"), ("biden", "biden.jpg")):
        src = _portrait(person, name)
        if src is not None:
            shutil.copyfile(src, folder / f"{person}-{name}")
    data.folder = folder

    data.export = _telegram_export(root / "telegram-export", known)
    return data


def _telegram_export(root: Path, known: Image.Image) -> Path:
    """A single-chat Telegram Desktop JSON export (``result.json`` + ``photos/``), as the app writes it."""
    photos = root / "photos"
    base = datetime(2026, 11, 2, 21, 5, tzinfo=UTC)
    messages: list[dict[str, object]] = [
        {
            "id": 1,
            "type": "service",
            "date": "2026-11-02T21:00:00",
            "date_unixtime": str(int((base - timedelta(minutes=5)).timestamp())),
            "actor": "Room Admin",
            "actor_id": "user1000",
            "action": "create_group",
            "title": "Demo room",
            "text": "",
        }
    ]

    def photo_message(mid: int, rel: str, text: str, minutes: int, **extra: object) -> dict[str, object]:
        when = base + timedelta(minutes=minutes)
        msg: dict[str, object] = {
            "id": mid,
            "type": "message",
            "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(when.timestamp())),
            "from": "Anonymous poster",
            "from_id": "user2002",
            "photo": rel,
            "width": 640,
            "height": 480,
            "text": text,
        }
        msg.update(extra)
        return msg

    _jpeg(_copy_of_known(known), photos / "photo_1@02-11-2026_21-05-00.jpg")
    messages.append(
        photo_message(
            2,
            "photos/photo_1@02-11-2026_21-05-00.jpg",
            "again, from the other room",
            0,
            forwarded_from="Other room",
        )
    )
    face = _portrait("obama", "obama2.jpg")
    if face is not None:
        shutil.copyfile(face, photos / "photo_2@02-11-2026_21-09-00.jpg")
        messages.append(
            photo_message(
                3,
                "photos/photo_2@02-11-2026_21-09-00.jpg",
                "she goes to 한빛고등학교, call 010-1234-5678",
                4,
            )
        )
    _jpeg(_pattern(300), photos / "photo_3@02-11-2026_21-12-00.jpg")
    messages.append(photo_message(4, "photos/photo_3@02-11-2026_21-12-00.jpg", "landscape", 7))
    messages.append(
        photo_message(
            5, "(File not included. Change data exporting settings to download.)", "more in the next room", 9
        )
    )
    root.mkdir(parents=True, exist_ok=True)
    chat = {"name": "Demo room", "type": "private_supergroup", "id": 1234567890, "messages": messages}
    (root / "result.json").write_text(json.dumps(chat, ensure_ascii=False, indent=1), encoding="utf-8")
    return root


def make_reupload(root: Path) -> Path:
    """A later Telegram export in which the taken-down picture is posted again (re-encoded once more)."""
    export = root / "later-export"
    photos = export / "photos"
    known = Image.open(root / "bank" / "known.jpg").convert("RGB")
    _jpeg(_copy_of_known(known), photos / "photo_9@20-11-2026_22-00-00.jpg", quality=75)
    when = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    chat = {
        "name": "Demo room",
        "type": "private_supergroup",
        "id": 1234567890,
        "messages": [
            {
                "id": 77,
                "type": "message",
                "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(int(when.timestamp())),
                "from": "Anonymous poster",
                "from_id": "user2002",
                "photo": "photos/photo_9@20-11-2026_22-00-00.jpg",
                "text": "reposting it",
            }
        ],
    }
    (export / "result.json").write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")
    return export


def platform_reply(root: Path, sent: bytes) -> Path:
    """The platform's answer to the sent notice, as its ticket system would write it (an ``.eml`` file)."""
    from email import message_from_bytes, policy
    from email.message import EmailMessage
    from email.utils import make_msgid

    notice = message_from_bytes(sent, policy=policy.default)
    reply = EmailMessage()
    reply["From"] = "abuse@platform.example"
    reply["To"] = str(notice["From"] or "")
    reply["Subject"] = f"Re: {notice['Subject']}"
    reply["Message-ID"] = make_msgid(domain="platform.example")
    reply["In-Reply-To"] = str(notice["Message-ID"] or "")
    reply["References"] = str(notice["Message-ID"] or "")
    reply.set_content("Thank you. We have received your report and are reviewing the content.\n")
    path = root / "replies" / "reply-1.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(reply.as_bytes())
    return path


@contextmanager
def demo_outbox(folder: Path | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """A local SMTP server on 127.0.0.1 that keeps the messages it receives (the demo's outbox); with
    ``folder``, each message is also written there as ``<n>.eml``. Stopped when the block ends."""
    from aiosmtpd.controller import Controller

    received: list[bytes] = []
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            data = bytes(getattr(envelope, "content", b"") or b"")
            received.append(data)
            if folder is not None:
                stamp = time.strftime("%Y%m%d-%H%M%S")
                (folder / f"{stamp}-{len(received):04d}.eml").write_bytes(data)
            return "250 OK"

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()
