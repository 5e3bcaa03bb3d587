"""The partner feed end to end with the real python-threatexchange CLI: our server on 127.0.0.1, pytx with
its own state dir loading ``jikimi.exchange.pytx_ext``, fetching, matching, and dropping what we withdraw."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from api_harness import make_harness
from jikimi.store import banks, feed
from web_e2e_harness import running_server

TX = str(Path(sys.executable).with_name("threatexchange"))
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    img = (
        Image.fromarray(small)
        .resize((640, 480), Image.Resampling.BICUBIC)
        .filter(ImageFilter.GaussianBlur(3))
    )
    img.save(path)
    return path


def _modified(src: Path, dst: Path) -> Path:
    """A re-encoded, resized, slightly brightened copy, as a re-upload would be."""
    img = Image.open(src).convert("RGB").resize((512, 384))
    img = img.point(lambda v: min(255, int(v * 1.05) + 3))
    img.save(dst, quality=75)
    return dst


def _tx(state: Path, *args: str) -> str:
    env = {**os.environ, "TX_STATEDIR": str(state), "PYTHONPATH": SRC}
    r = subprocess.run([TX, *args], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"threatexchange {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _held(state: Path) -> dict[str, object]:
    """What pytx's own store holds for the collab: entry id -> record."""
    with (state / "fetched" / "jikimi" / "centre.state.pickle").open("rb") as f:
        delta = pickle.load(f)
    return dict(delta.updates)


def test_pytx_fetches_matches_and_drops_withdrawals(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'j.db'}")
    h.add_user("tube", "partner", partner="ExampleTube")
    h.add_user("other", "partner", partner="OtherSite")
    token = h.token("tube")
    a, b, c, d, e = (_photo(tmp_path / f"{n}.png", i) for i, n in enumerate("abcde"))
    with h.store.session() as s:
        shared = banks.create_bank(s, "shared-ncii")
        private = banks.create_bank(s, "private")
        ida = banks.add_entry(s, shared, banks.entry_from_file(a, labels=["ncii"])).entry_id
        idc = banks.add_entry(s, shared, banks.entry_from_file(c)).entry_id
        banks.add_entry(s, private, banks.entry_from_file(b))
        feed.share_bank(s, shared, "ExampleTube")
        feed.share_bank(s, private, "OtherSite")
        # A second shared bank that stays: pytx 1.2.17's CLI leaves a stale index behind when a signal type
        # drops to zero signals (CliIndexStore.clear compares whole paths with type names).
        other = banks.create_bank(s, "shared-other")
        ide = banks.add_entry(s, other, banks.entry_from_file(e)).entry_id
        feed.share_bank(s, other, "ExampleTube")

    state = tmp_path / "tx"
    with running_server(h.app) as url:
        _tx(state, "config", "extensions", "add", "jikimi.exchange.pytx_ext")
        _tx(state, "config", "collab", "edit", "jikimi", "centre", "--create", "--url", url,
            "--token", token, "--page-size", "1")  # fmt: skip
        _tx(state, "fetch")
        held = _held(state)
        assert set(held) == {str(ida), str(idc), str(ide)}  # not the bank shared with another platform
        out = _tx(state, "match", "photo", str(_modified(a, tmp_path / "a2.jpg")))
        assert "centre" in out and "ncii" in out, out
        assert "centre" not in _tx(state, "match", "photo", str(_modified(b, tmp_path / "b2.jpg")))

        # An addition, a disabled entry: the next fetch resumes from the checkpoint.
        with h.store.session() as s:
            idd = banks.add_entry(s, "shared-ncii", banks.entry_from_file(d, labels=["x"])).entry_id
            banks.set_entry_enabled(s, idc, False)
        _tx(state, "fetch")
        assert set(_held(state)) == {str(ida), str(idd), str(ide)}
        assert "centre" in _tx(state, "match", "photo", str(_modified(d, tmp_path / "d2.jpg")))
        assert "centre" not in _tx(state, "match", "photo", str(_modified(c, tmp_path / "c2.jpg")))

        # Re-enabled, then the bank unshared, then deleted: everything is withdrawn.
        with h.store.session() as s:
            banks.set_entry_enabled(s, idc, True)
        _tx(state, "fetch")
        assert set(_held(state)) == {str(ida), str(idc), str(idd), str(ide)}
        with h.store.session() as s:
            feed.unshare_bank(s, banks.get_bank(s, "shared-ncii"), "ExampleTube")
        _tx(state, "fetch")
        assert set(_held(state)) == {str(ide)}
        assert "centre" not in _tx(state, "match", "photo", str(_modified(a, tmp_path / "a3.jpg")))
        with h.store.session() as s:
            feed.share_bank(s, banks.get_bank(s, "shared-ncii"), "ExampleTube")
        _tx(state, "fetch")
        assert len(_held(state)) == 4
        with h.store.session() as s:
            banks.delete_bank(s, "shared-ncii")
        _tx(state, "fetch")
        assert set(_held(state)) == {str(ide)}
        assert "centre" not in _tx(state, "match", "photo", str(_modified(d, tmp_path / "d3.jpg")))


def test_feed_pages_and_partner_isolation(tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'j.db'}")
    h.add_user("tube", "partner", partner="ExampleTube")
    client = h.client()
    auth = {"Authorization": f"Bearer {h.token('tube')}"}
    with h.store.session() as s:
        bank = banks.create_bank(s, "shared")
        feed.share_bank(s, bank, "ExampleTube")
        for i in range(5):
            banks.add_entry(
                s, bank, banks.EntryInput.from_hashes({"md5": f"{i:032x}"}, note="case secret", case_ref="7")
            )
    r = client.get("/api/v1/feed?limit=2", headers=auth).json()
    assert [c["entry"]["md5"] for c in r["changes"]] == [f"{i:032x}" for i in range(2)] and r["more"]
    assert "note" not in r["changes"][0]["entry"] and "case_ref" not in r["changes"][0]["entry"]
    with h.store.session() as s:  # added mid-fetch: served after the first five, nothing skipped
        banks.add_entry(s, "shared", banks.EntryInput.from_hashes({"md5": f"{9:032x}"}))
    seen = [c["entry"]["md5"] for c in r["changes"]]
    while r["more"]:
        r = client.get(f"/api/v1/feed?limit=2&after={r['checkpoint']}", headers=auth).json()
        seen += [c["entry"]["md5"] for c in r["changes"]]
    assert seen == [f"{i:032x}" for i in (0, 1, 2, 3, 4, 9)]
    # A partner cannot read another platform's feed by asking for it.
    other = client.get("/api/v1/feed?platform=OtherSite", headers=auth).json()
    assert len(other["changes"]) == 6 and all(c["entry"] for c in other["changes"])  # its own, not null
