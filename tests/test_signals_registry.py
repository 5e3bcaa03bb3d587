"""The signal plug-in interface and registry: lookup, compute on one decoded Media, errors per signal."""

from __future__ import annotations

import io
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from jikimi.errors import JikimiError, NotFoundError, ValidationError
from jikimi.media import Media, MediaError, load
from jikimi.signals import HashSignal, Signal, compute, compute_each, get, hash_signal, names, signal_class
from jikimi.signals.base import IMAGE, VIDEO
from jikimi.signals.pdq import PDQSignal


def png(w: int = 120, h: int = 90) -> bytes:
    rng = np.random.default_rng(1)
    a = (rng.random((h // 10, w // 10, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).resize((w, h), Image.Resampling.BICUBIC).save(buf, "PNG")
    return buf.getvalue()


def test_hash_signals_are_registered() -> None:
    assert names()[:4] == ["md5", "sha256", "pdq", "vpdq"]
    for name in ("md5", "sha256", "pdq", "vpdq"):
        sig = get(name)
        assert isinstance(sig, HashSignal) and sig.name == name
        assert signal_class(name) is type(sig)
        assert get(name) is sig  # one shared default instance
    assert get("pdq").kinds == {IMAGE} and get("vpdq").kinds == {VIDEO}
    assert hash_signal("pdq").default_threshold == 31
    assert hash_signal("pdq").trusted(50) and not hash_signal("pdq").trusted(49)
    assert hash_signal("md5").trusted(None)


def test_unknown_signal() -> None:
    with pytest.raises(NotFoundError, match="no signal named 'nope'"):
        get("nope")


def test_compute_on_an_image_runs_the_applicable_signals() -> None:
    data = png()
    media = load(data)
    out = compute(media, ["md5", "sha256", "pdq", "vpdq"])
    assert set(out) == {"md5", "sha256", "pdq"}  # vpdq does not apply to an image
    import hashlib

    assert out["md5"] == hashlib.md5(data).hexdigest()
    assert out["sha256"] == hashlib.sha256(data).hexdigest()
    assert len(out["pdq"]["hash"]) == 64 and 0 <= out["pdq"]["quality"] <= 100
    assert len(out["pdq"]["dihedral"]) == 8


class _MeanBrightness(Signal):
    """A tiny analyser written the way face/nudity plug-ins are: extract(media) -> JSON."""

    name: ClassVar[str] = "test-brightness"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})

    def __init__(self) -> None:
        self.seen: list[int] = []

    def extract(self, media: Media) -> dict[str, float]:
        frames = list(media.frames())
        self.seen.append(id(frames[0].rgb) if media.kind == "image" else 0)
        return {"mean": float(np.mean([f.rgb.mean() for f in frames]))}


class _Broken(Signal):
    name: ClassVar[str] = "test-broken"

    def extract(self, media: Media) -> None:
        raise MediaError("this analyser cannot read it")


def test_analysers_plug_in_and_share_the_decoded_pixels() -> None:
    media = load(png())
    a, b = _MeanBrightness(), _MeanBrightness()
    out = compute(media, [a, b, "pdq"])
    assert out["test-brightness"]["mean"] == pytest.approx(media.rgb().mean())
    assert a.seen == b.seen  # the same decoded array, not a second decode


def test_compute_each_keeps_going_after_a_failure() -> None:
    media = load(png())
    results, errors = compute_each(media, [_Broken(), "md5", "pdq"])
    assert set(results) == {"md5", "pdq"}
    assert errors == {"test-broken": "this analyser cannot read it"}
    with pytest.raises(JikimiError, match="cannot read"):
        compute(media, [_Broken(), "md5"])


def test_exact_hash_distance_and_validation() -> None:
    md5 = hash_signal("md5")
    assert md5.distance("A" * 32, "a" * 32) == 0
    assert md5.distance("a" * 32, "b" * 32) == 1
    with pytest.raises(ValidationError, match="32 hex digits"):
        md5.validate("xyz")
    with pytest.raises(ValidationError, match="differ in length"):
        from jikimi.signals.base import hamming_hex

        hamming_hex("ab", "abc")


def test_pdq_hashes_of_result() -> None:
    out = PDQSignal().extract(load(png()))
    assert PDQSignal.hashes_of(out) == [out["hash"]]
