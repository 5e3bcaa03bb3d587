"""The evidence vault: encrypted at rest, content-addressed, tamper-evident, audited, key rotation."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from jikimi.config import get_settings
from jikimi.errors import NotFoundError
from jikimi.store import open_store
from jikimi.store import vault as vault_mod
from jikimi.store.audit import verify
from jikimi.store.schema.evidence import AuditEntry
from jikimi.store.vault import CaptureMetadata, Vault, VaultError, load_keys

DATA = b"\x89PNG fake original bytes " + os.urandom(64)


def test_key_file_created_private_and_reused() -> None:
    key_file = get_settings().key_file
    assert not key_file.exists()
    k1 = vault_mod.load_key()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert vault_mod.load_key() == k1 and len(k1.key) == 32
    key_file.chmod(0o644)
    with pytest.raises(VaultError, match="can be read by other users") as err:
        vault_mod.load_key()
    assert "chmod 600" in (err.value.cli_hint or "")  # the command is for the command line


def test_encrypted_at_rest_and_round_trip(db_url: str) -> None:
    store = open_store(db_url)
    with store.session() as s:
        sha = vault_mod.put(
            s, DATA, {"source": "telegram:chat-1", "link": "https://t.me/c/1/2", "key": "item-1"}
        )
    assert sha == hashlib.sha256(DATA).hexdigest()
    path = vault_mod.default_vault().path_for(sha)
    raw = path.read_bytes()
    assert DATA not in raw and DATA[:16] not in raw
    with store.session() as s:
        assert vault_mod.get(s, sha, actor="test:alice", purpose="review") == DATA
        caps = vault_mod.captures(s, sha)
        assert [(c.source, c.link) for c in caps] == [("telegram:chat-1", "https://t.me/c/1/2")]
        actions = [e.action for e in s.query(AuditEntry).order_by(AuditEntry.id)]
        assert actions == ["vault.put", "vault.capture", "vault.view"]
        assert verify(s).ok
    store.dispose()


def test_put_is_idempotent_per_capture(db_url: str) -> None:
    store = open_store(db_url)
    for _ in range(2):
        with store.session() as s:
            vault_mod.put(s, DATA, CaptureMetadata(source="folder:/a", key="a/1.jpg"))
            vault_mod.put(s, DATA, CaptureMetadata(source="folder:/b", key="b/1.jpg"))
    with store.session() as s:
        sha = hashlib.sha256(DATA).hexdigest()
        assert sorted(c.source for c in vault_mod.captures(s, sha)) == ["folder:/a", "folder:/b"]
        assert s.query(AuditEntry).count() == 3
    assert len(list(vault_mod.default_vault().iter_objects())) == 1
    store.dispose()


def test_tampered_or_swapped_files_are_refused(tmp_path: Path) -> None:
    v = Vault(tmp_path / "v", tmp_path / "k")
    a, _ = v.write(b"first original")
    b, _ = v.write(b"second original")
    pa, pb = v.path_for(a), v.path_for(b)
    blob = bytearray(pa.read_bytes())
    blob[-1] ^= 1
    pa.write_bytes(bytes(blob))
    with pytest.raises(VaultError, match="authentication"):
        v.read(a)
    pa.write_bytes(pb.read_bytes())  # a valid ciphertext under the wrong name
    with pytest.raises(VaultError):
        v.read(a)
    assert v.read(b) == b"second original"
    with pytest.raises(NotFoundError):
        v.read("0" * 64)


def test_missing_key_cannot_read(tmp_path: Path) -> None:
    v = Vault(tmp_path / "v", tmp_path / "k")
    sha, _ = v.write(b"original")
    (tmp_path / "k").unlink()
    other = Vault(tmp_path / "v", tmp_path / "k")  # creates a different key
    with pytest.raises(VaultError, match="not in the key file"):
        other.read(sha)


def test_rotate_key_reencrypts_everything(db_url: str) -> None:
    store = open_store(db_url)
    originals = [os.urandom(200) for _ in range(3)]
    with store.session() as s:
        shas = [vault_mod.put(s, d, {"source": "test"}) for d in originals]
    v = vault_mod.default_vault()
    old = load_keys(v.key_file)
    with store.session() as s:
        report = vault_mod.rotate_key(s, actor="test:admin", retire=True)
    assert report.reencrypted == 3 and report.retired_key_ids == [old[0].key_id]
    new_keys = load_keys(v.key_file)
    assert [k.key_id for k in new_keys] == [report.new_key_id] != [old[0].key_id]
    assert stat.S_IMODE(v.key_file.stat().st_mode) == 0o600
    for sha, data in zip(shas, originals, strict=True):
        assert vault_mod.blob_key_id(v.path_for(sha).read_bytes()) == report.new_key_id
        assert v.read(sha) == data
    with store.session() as s:
        assert verify(s).ok
    store.dispose()
