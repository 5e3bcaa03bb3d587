"""The evidence vault: originals kept content-addressed by SHA-256, encrypted at rest with AES-256-GCM.

Files live under ``get_settings().vault_dir`` as ``<sha256[:2]>/<sha256>.jkv``: ``b"JKV1"``, the 8-byte key
id, a 12-byte random nonce, then the AES-256-GCM ciphertext and tag of the original. The associated data binds
the ciphertext to its name, and reading re-checks the SHA-256 of the plaintext, so a swapped or damaged file
is refused. Keys are in ``get_settings().key_file`` (mode 0600, created on first use): one ``jkv1:<id>:<hex>``
line per key, the first is used for new objects, the others only to read objects written before a rotation.

``put(session, data, capture)`` stores an original and records where and when it was captured (idempotent:
the same capture twice is recorded once); ``get(session, sha256, actor=..., purpose=...)`` returns it and
writes a ``vault.view`` audit entry. ``rotate_key`` re-encrypts everything under a fresh key (see
docs/evidence.md). ``load_keys``/``load_key``/``encrypt``/``decrypt`` are reusable by other packages that keep
secrets at rest.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jikimi.config import get_settings
from jikimi.errors import JikimiError, NotFoundError, ValidationError
from jikimi.store import audit
from jikimi.store.schema.base import utcnow
from jikimi.store.schema.evidence import Capture, VaultObject

__all__ = [
    "CaptureMetadata",
    "Vault",
    "VaultError",
    "VaultKey",
    "add_capture",
    "captures",
    "decrypt",
    "encrypt",
    "get",
    "has",
    "load_key",
    "load_keys",
    "put",
    "register_reencrypt_hook",
    "rotate_key",
    "seal",
    "unseal",
]

MAGIC = b"JKV1"
NONCE_BYTES = 12
KEY_ID_BYTES = 8
_HEADER = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_KEY_LINE = re.compile(r"^jkv1:([0-9a-f]{16}):([0-9a-f]{64})$")


class VaultError(JikimiError):
    """The vault or its key cannot be used (missing, unreadable, tampered, wrong key)."""


@dataclass(frozen=True)
class VaultKey:
    """One AES-256 key and its id (the first 16 hex digits of SHA-256 over the key)."""

    key_id: str
    key: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> VaultKey:
        key = secrets.token_bytes(32)
        return cls(hashlib.sha256(key).hexdigest()[:16], key)


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise VaultError(
            "the key file {path} can be read by other users (mode {mode})",
            "ask an administrator to make the key file readable by its owner only",
            code="vault.key_file_open",
            cli_hint="run: chmod 600 {path}",
            path=str(path),
            mode=f"{mode:o}",
        )


def _write_private(path: Path, text: str, *, exclusive: bool) -> bool:
    """Write ``text`` to ``path`` (mode 0600) atomically; ``exclusive`` never replaces an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
            tmp = ""
        return True
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def _format_keys(keys: list[VaultKey]) -> str:
    lines = [
        "# Jikimi evidence vault keys (AES-256-GCM). The first key encrypts new objects.",
        "# Keep an offline backup: without this file the vault cannot be read. See docs/evidence.md.",
    ]
    lines += [f"jkv1:{k.key_id}:{k.key.hex()}" for k in keys]
    return "\n".join(lines) + "\n"


def load_keys(key_file: Path | None = None, *, create: bool = True) -> list[VaultKey]:
    """Read the vault keys (newest first), creating the key file with a fresh key (mode 0600) if missing."""
    path = key_file or get_settings().key_file
    if not path.exists():
        if not create:
            raise VaultError(
                "no vault key at {path}",
                "restore the key file from its backup",
                code="vault.key_missing",
                path=str(path),
            )
        _write_private(path, _format_keys([VaultKey.generate()]), exclusive=True)
    _check_private(path)
    keys: list[VaultKey] = []
    for raw in path.read_text(encoding="ascii").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _KEY_LINE.match(line)
        if not m:
            raise VaultError(
                "the vault key file {path} is damaged",
                "restore it from its backup",
                code="vault.key_file_damaged",
                path=str(path),
            )
        key = VaultKey(m.group(1), bytes.fromhex(m.group(2)))
        if hashlib.sha256(key.key).hexdigest()[:16] != key.key_id:
            raise VaultError(
                "the vault key file {path} is damaged (key id mismatch)",
                "restore it from backup",
                code="vault.key_file_damaged",
                path=str(path),
            )
        keys.append(key)
    if not keys:
        raise VaultError(
            "the vault key file {path} holds no key",
            "restore it from its backup",
            code="vault.key_file_damaged",
            path=str(path),
        )
    return keys


def load_key(key_file: Path | None = None, *, create: bool = True) -> VaultKey:
    """The current vault key (the one new objects are encrypted with)."""
    return load_keys(key_file, create=create)[0]


def encrypt(key: VaultKey, data: bytes, aad: bytes = b"") -> bytes:
    """AES-256-GCM: ``b"JKV1" + key id + nonce + ciphertext/tag``; ``aad`` must be given again to decrypt."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return MAGIC + bytes.fromhex(key.key_id) + nonce + AESGCM(key.key).encrypt(nonce, data, aad)


def blob_key_id(blob: bytes) -> str:
    if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise VaultError(
            "not a Jikimi vault object (bad header)",
            "the file was damaged or replaced",
            code="vault.object_damaged",
        )
    return blob[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES].hex()


def decrypt(keys: list[VaultKey], blob: bytes, aad: bytes = b"") -> bytes:
    """Decrypt a blob written by ``encrypt`` with whichever of ``keys`` it names."""
    key_id = blob_key_id(blob)
    key = next((k for k in keys if k.key_id == key_id), None)
    if key is None:
        raise VaultError(
            "the vault key {key_id} is not in the key file",
            "restore the key file from its backup",
            code="vault.key_unknown",
            key_id=key_id,
        )
    nonce = blob[len(MAGIC) + KEY_ID_BYTES : _HEADER]
    try:
        return AESGCM(key.key).decrypt(nonce, blob[_HEADER:], aad)
    except InvalidTag as exc:
        raise VaultError(
            "a vault object failed authentication",
            "the file was damaged or tampered with",
            code="vault.object_tampered",
        ) from exc


def seal(data: bytes, *, purpose: str, key_file: Path | None = None) -> str:
    """Encrypt a small secret for a database column (base64 text), bound to ``purpose``."""
    import base64

    blob = encrypt(load_key(key_file), data, b"jikimi-seal-v1:" + purpose.encode("utf-8"))
    return base64.b64encode(blob).decode("ascii")


def unseal(text: str, *, purpose: str, key_file: Path | None = None) -> bytes:
    """Decrypt what ``seal`` produced (with whichever vault key it names)."""
    import base64

    return decrypt(load_keys(key_file), base64.b64decode(text), b"jikimi-seal-v1:" + purpose.encode("utf-8"))


def _check_sha(sha256: str) -> str:
    sha = sha256.strip().lower()
    if not _SHA_RE.match(sha):
        raise ValidationError(
            "not a SHA-256 hex digest: {value!r}",
            "give 64 hexadecimal characters",
            code="vault.sha256_invalid",
            value=sha256,
        )
    return sha


def _aad(sha256: str) -> bytes:
    return b"jikimi-vault-v1:" + sha256.encode("ascii")


class Vault:
    """The vault's files (no database): write, read and re-encrypt content-addressed objects."""

    def __init__(self, root: Path | None = None, key_file: Path | None = None) -> None:
        settings = get_settings() if root is None or key_file is None else None
        self.root = root or (settings.vault_dir if settings else Path())
        self.key_file = key_file or (settings.key_file if settings else Path())
        self._keys: list[VaultKey] | None = None

    @property
    def keys(self) -> list[VaultKey]:
        if self._keys is None:
            self._keys = load_keys(self.key_file)
        return self._keys

    def reload_keys(self) -> None:
        self._keys = None

    def path_for(self, sha256: str) -> Path:
        sha = _check_sha(sha256)
        return self.root / sha[:2] / f"{sha}.jkv"

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def _write_file(self, path: Path, blob: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".obj-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def write(self, data: bytes) -> tuple[str, str]:
        """Store ``data``; return its SHA-256 and the id of the key it is encrypted with (idempotent)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha)
        if path.exists():
            with open(path, "rb") as fh:
                return sha, blob_key_id(fh.read(_HEADER + 16))
        key = self.keys[0]
        self._write_file(path, encrypt(key, data, _aad(sha)))
        return sha, key.key_id

    def read(self, sha256: str) -> bytes:
        """The original bytes, after checking the authentication tag and the SHA-256."""
        sha = _check_sha(sha256)
        path = self.path_for(sha)
        try:
            blob = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(
                "no original {sha} in the vault",
                "check the hash; it may never have been stored",
                code="vault.not_found",
                sha=sha,
            ) from exc
        data = decrypt(self.keys, blob, _aad(sha))
        if hashlib.sha256(data).hexdigest() != sha:
            raise VaultError(
                "vault object {sha} does not match its hash",
                "the vault file was tampered with",
                code="vault.object_tampered",
                sha=sha,
            )
        return data

    def reencrypt(self, sha256: str) -> bool:
        """Re-encrypt one object under the current key; False when it already was."""
        path = self.path_for(sha256)
        blob = path.read_bytes()
        if blob_key_id(blob) == self.keys[0].key_id:
            return False
        data = decrypt(self.keys, blob, _aad(sha256))
        self._write_file(path, encrypt(self.keys[0], data, _aad(sha256)))
        return True

    def iter_objects(self) -> Iterator[str]:
        for path in sorted(self.root.glob("??/*.jkv")):
            yield path.stem


@dataclass(frozen=True)
class CaptureMetadata:
    """Where one copy of an original came from: ``source`` (a path, chat or site), ``link`` (URL or message
    link), ``retrieved_at`` (when it was collected; now if unknown), ``key`` (stable id of this copy, e.g. the
    source item key, so re-recording it is idempotent) and free-form ``details``."""

    source: str
    link: str | None = None
    retrieved_at: datetime | None = None
    key: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def coerce(cls, value: CaptureMetadata | Mapping[str, Any] | None) -> CaptureMetadata:
        if value is None:
            return cls(source="unknown")
        if isinstance(value, CaptureMetadata):
            return value
        known = {k: value[k] for k in ("source", "link", "retrieved_at", "key") if k in value}
        extra = {k: v for k, v in value.items() if k not in known and k != "details"}
        details = {**dict(value.get("details") or {}), **extra}
        return cls(**{"source": "unknown", **known, "details": details})

    def capture_key(self) -> str:
        ident = self.key if self.key is not None else audit.canonical_json([self.source, self.link])
        return hashlib.sha256(ident.encode("utf-8")).hexdigest()


_default_vault: Vault | None = None


def default_vault() -> Vault:
    """The vault of the current settings (cached per data directory)."""
    global _default_vault
    settings = get_settings()
    if _default_vault is None or _default_vault.root != settings.vault_dir:
        _default_vault = Vault(settings.vault_dir, settings.key_file)
    return _default_vault


def put(
    session: Session,
    data: bytes,
    capture: CaptureMetadata | Mapping[str, Any] | None = None,
    *,
    actor: str = "system",
    vault: Vault | None = None,
) -> str:
    """Keep an original in the vault with its capture metadata; return its SHA-256.

    Idempotent: the same bytes are stored once; the same capture (same ``key``, or same source and link) is
    recorded once. A new object or capture writes an audit entry (``vault.put`` / ``vault.capture``).
    """
    v = vault or default_vault()
    meta = CaptureMetadata.coerce(capture)
    sha, key_id = v.write(data)
    if session.get(VaultObject, sha) is None:
        created = False
        try:
            with session.begin_nested():
                session.add(VaultObject(sha256=sha, size=len(data), key_id=key_id))
            created = True
        except IntegrityError:
            pass  # stored concurrently by another writer
        if created:
            audit.append(
                session,
                actor=actor,
                action="vault.put",
                subject=f"media:{sha}",
                details={"size": len(data), "source": meta.source},
            )
    add_capture(session, sha, meta, actor=actor)
    return sha


def add_capture(
    session: Session,
    sha256: str,
    capture: CaptureMetadata | Mapping[str, Any] | None,
    *,
    actor: str = "system",
) -> bool:
    """Record one more place and time an original already in the vault was captured (``vault.capture`` in the
    audit log); False when that capture was already recorded."""
    sha = _check_sha(sha256)
    meta = CaptureMetadata.coerce(capture)
    ckey = meta.capture_key()
    exists = session.execute(
        select(Capture.id).where(Capture.sha256 == sha, Capture.capture_key == ckey)
    ).scalar()
    if exists is not None:
        return False
    row = Capture(
        sha256=sha,
        capture_key=ckey,
        source=meta.source,
        link=meta.link,
        retrieved_at=meta.retrieved_at or utcnow(),
        captured_by=actor,
        details_json=audit.canonical_json(dict(meta.details)),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    audit.append(
        session,
        actor=actor,
        action="vault.capture",
        subject=f"media:{sha}",
        details={"source": meta.source, "link": meta.link, "retrieved_at": row.retrieved_at},
    )
    return True


def get(session: Session, sha256: str, *, actor: str, purpose: str, vault: Vault | None = None) -> bytes:
    """Return an original from the vault and audit the view (``vault.view``, with the purpose)."""
    sha = _check_sha(sha256)
    if session.get(VaultObject, sha) is None:
        raise NotFoundError(
            "no original {sha} in the vault",
            "check the hash; it may never have been stored",
            code="vault.not_found",
            sha=sha,
        )
    data = (vault or default_vault()).read(sha)
    audit.append(
        session, actor=actor, action="vault.view", subject=f"media:{sha}", details={"purpose": purpose}
    )
    return data


def has(session: Session, sha256: str) -> bool:
    return session.get(VaultObject, _check_sha(sha256)) is not None


def captures(session: Session, sha256: str) -> list[Capture]:
    """Every recorded capture of an original, oldest first."""
    return list(
        session.execute(
            select(Capture)
            .where(Capture.sha256 == _check_sha(sha256))
            .order_by(Capture.retrieved_at, Capture.id)
        ).scalars()
    )


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    reencrypted: int
    already_current: int
    sealed_values: int
    retired_key_ids: list[str]


ReencryptHook = Callable[[Session, list[VaultKey]], int]
REENCRYPT_HOOKS: list[ReencryptHook] = []
"""Packages that keep other data encrypted with the vault keys register ``hook(session, keys) -> count`` here
(``keys[0]`` is the new key); ``rotate_key`` calls each, so nothing is left under a retired key."""


def register_reencrypt_hook(hook: ReencryptHook) -> ReencryptHook:
    if hook not in REENCRYPT_HOOKS:
        REENCRYPT_HOOKS.append(hook)
    return hook


def _reseal_personal_data(session: Session, keys: list[VaultKey]) -> int:
    import base64

    from jikimi.store.schema.scans import PersonalDataRecord

    aad = b"jikimi-seal-v1:personal-data"
    n = 0
    for row in session.execute(select(PersonalDataRecord)).scalars():
        blob = base64.b64decode(row.value_enc)
        if blob_key_id(blob) != keys[0].key_id:
            row.value_enc = base64.b64encode(encrypt(keys[0], decrypt(keys, blob, aad), aad)).decode("ascii")
            n += 1
    return n


def _reencrypt_person_sources(session: Session, keys: list[VaultKey]) -> int:
    """Her source photos and their features (``jikimi.store.source_photos``) under the new key."""
    from jikimi.store.schema.people import PersonSource

    n = 0
    for row in session.execute(select(PersonSource)).scalars():
        for column, aad in (
            ("ciphertext", PersonSource.photo_aad(row.sha256)),
            ("features_enc", PersonSource.features_aad(row.sha256)),
        ):
            blob = getattr(row, column)
            if blob_key_id(blob) != keys[0].key_id:
                setattr(row, column, encrypt(keys[0], decrypt(keys, blob, aad), aad))
                n += 1
    return n


def rotate_key(
    session: Session, *, actor: str, vault: Vault | None = None, resume: bool = False, retire: bool = False
) -> RotationReport:
    """Put a fresh key first in the key file and re-encrypt every vault object and sealed value under it.

    The old keys stay in the file (read-only, for anything encrypted outside the vault) unless ``retire``:
    then they are removed once everything is re-encrypted. Crash-safe: run again with ``resume=True`` to
    finish under the key already added instead of adding another one.
    """
    v = vault or default_vault()
    keys = load_keys(v.key_file)
    if not resume:
        keys = [VaultKey.generate(), *keys]
        _write_private(v.key_file, _format_keys(keys), exclusive=False)
    v.reload_keys()
    current = v.keys[0]
    done = skipped = 0
    for sha in v.iter_objects():
        if v.reencrypt(sha):
            done += 1
        else:
            skipped += 1
        row = session.get(VaultObject, sha)
        if row is not None and row.key_id != current.key_id:
            row.key_id = current.key_id
    sealed = _reseal_personal_data(session, v.keys) + _reencrypt_person_sources(session, v.keys)
    for hook in REENCRYPT_HOOKS:
        sealed += hook(session, v.keys)
    session.flush()
    retired = [k.key_id for k in keys[1:]] if retire else []
    if retire:
        _write_private(v.key_file, _format_keys([current]), exclusive=False)
    v.reload_keys()
    audit.append(
        session,
        actor=actor,
        action="vault.rotate_key",
        subject="vault",
        details={"new_key_id": current.key_id, "retired": retired, "reencrypted": done, "sealed": sealed},
    )
    return RotationReport(current.key_id, done, skipped, sealed, retired)
