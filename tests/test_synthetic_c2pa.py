"""C2PA evidence: manifests signed here with a throw-away ES256 certificate chain (made in the test) declaring
generated or composited content are read back with their claim generator, actions, digital source type and
validation state; tampering shows in the state; a file without a manifest gives no evidence."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from jikimi.media import load
from jikimi.signals.synthetic import EVIDENCE, NO_EVIDENCE, SyntheticSignal, combine
from jikimi.signals.synthetic.manifest import read_store, summarise

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Jikimi test"),
        ]
    )


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="module")
def signer_info() -> tuple[bytes, bytes]:
    """(certificate chain PEM, private key PEM): a throw-away CA and an ES256 signing certificate under it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Jikimi test CA"))
        .issuer_name(_name("Jikimi test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Jikimi test signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, pem


def picture(fmt: str, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).resize((320, 240))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def sign(data: bytes, mime: str, manifest: dict[str, Any], info: tuple[bytes, bytes]) -> bytes:
    chain, key = info
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
    builder = c2pa.Builder(json.dumps(manifest))
    out = io.BytesIO()
    builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


def generated_manifest(source_type: str, agent: str) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "Jikimi test generator", "version": "1.0"}],
        "title": "generated",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC + source_type,
                            "softwareAgent": {"name": agent},
                        }
                    ]
                },
            }
        ],
    }


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_a_generated_image_manifest_is_evidence(
    signer_info: tuple[bytes, bytes], fmt: str, mime: str
) -> None:
    data = sign(
        picture(fmt), mime, generated_manifest("trainedAlgorithmicMedia", "Stable Diffusion XL"), signer_info
    )
    out = SyntheticSignal().extract(load(data))
    assert out["conclusion"] == EVIDENCE
    summary = out["c2pa"]
    assert summary["claim_generator"].startswith("Jikimi test generator")
    assert summary["signer"] == "Jikimi test signer"
    assert summary["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert summary["actions"][0]["action"] == "c2pa.created"
    # Signed correctly but by a certificate nobody trusts: the claims are reported with that state.
    assert summary["validation_state"] in {"Valid", "Invalid"}
    assert "signingCredential.untrusted" in summary["validation_failures"]
    kinds = [(e["kind"], e["finding"]) for e in out["evidence"]]
    assert ("c2pa", "generated by a trained model (IPTC trainedAlgorithmicMedia)") in kinds
    assert any("Stable Diffusion" in f for k, f in kinds if k == "c2pa")
    assert all(e["detail"]["validation_state"] == summary["validation_state"] for e in out["evidence"])


def test_composite_and_edit_actions(signer_info: tuple[bytes, bytes]) -> None:
    manifest = generated_manifest("compositeWithTrainedAlgorithmicMedia", "Some generator")
    actions = manifest["assertions"][0]["data"]["actions"]
    actions.append({"action": "c2pa.edited", "softwareAgent": {"name": "Some editor"}})
    data = sign(picture("PNG", 1), "image/png", manifest, signer_info)
    out = SyntheticSignal().extract(load(data))
    findings = [e["finding"] for e in out["evidence"]]
    assert any("compositeWithTrainedAlgorithmicMedia" in f for f in findings)
    assert "declares an edit (c2pa.edited) with Some editor" in findings
    assert [a["action"] for a in out["c2pa"]["actions"]] == ["c2pa.created", "c2pa.edited"]


def test_tampering_shows_in_the_validation_state(signer_info: tuple[bytes, bytes]) -> None:
    data = bytearray(
        sign(
            picture("JPEG", 2), "image/jpeg", generated_manifest("trainedAlgorithmicMedia", "x"), signer_info
        )
    )
    data[-40] ^= 0xFF  # inside the JPEG scan data, before the end-of-image marker
    store = read_store("JPEG", data=bytes(data))
    assert store is not None
    summary, findings = summarise(store)
    assert summary["validation_state"] == "Invalid"
    assert any(code and "mismatch" in code for code in summary["validation_failures"])
    assert findings  # the manifest still says what it says; its state says it no longer matches


def test_no_manifest_is_no_evidence() -> None:
    out = SyntheticSignal().extract(load(picture("PNG", 3)))
    assert out["c2pa"] is None and out["checks"]["c2pa"] == "no C2PA manifest"
    assert out["conclusion"] == NO_EVIDENCE and "authentic" not in out["conclusion"]


def test_face_swap_joins_the_evidence_only_at_its_threshold() -> None:
    syn = {"evidence": [], "conclusion": NO_EVIDENCE}
    below = combine({"synthetic": syn, "faceswap": {"score": 0.3, "threshold": 0.6, "model": "m"}})
    assert below["conclusion"] == NO_EVIDENCE and below["evidence"] == []
    above = combine({"synthetic": syn, "faceswap": {"score": 0.7, "threshold": 0.6, "model": "m"}})
    assert above["conclusion"] == EVIDENCE and above["evidence"][0]["kind"] == "faceswap"
    none = combine({"synthetic": syn, "faceswap": {"score": None, "threshold": 0.6}})
    assert none["conclusion"] == NO_EVIDENCE
