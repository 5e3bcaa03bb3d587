"""Joining a Ray cluster: what is checked before Ray's own (slow, retrying) connection, without a cluster.
The checks against a running cluster (no token, a wrong token, the default token file) are in
tests/test_scan_ray_cluster.py (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jikimi.errors import ConfigError
from jikimi.scan.localcluster import free_port
from jikimi.scan.raycluster import check_cluster, configure_auth, parse_address


@pytest.fixture
def no_ray_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RAY_* variable and an empty home (no ~/.ray/auth_token); returns the home."""
    for k in [k for k in os.environ if k.startswith("RAY_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:6379", ("127.0.0.1", 6379)),
        ("'192.0.2.2:6390'", ("192.0.2.2", 6390)),  # as `ray start --head` prints it, quotes and all
        (" head.example.org:6379 ", ("head.example.org", 6379)),
        ("[::1]:6379", ("::1", 6379)),
    ],
)
def test_addresses_as_ray_prints_them(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["head", "head:", ":6379", "head:port", "head:70000"])
def test_bad_addresses_say_what_is_expected(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_address(text)
    assert "HOST:PORT" in err.value.reason and "ray start --head" in (err.value.cli_hint or "")


def test_a_ray_client_address_is_refused_with_the_right_one_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_address("ray://head:10001")
    assert "Ray Client address" in err.value.reason and "6379" in (err.value.cli_hint or "")


def test_token_settings(no_ray_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert configure_auth().mode == "disabled"
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    with pytest.raises(ConfigError) as err:
        configure_auth()
    assert "no Ray token" in err.value.reason and "~/.ray/auth_token" in (err.value.cli_hint or "")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(no_ray_env / "missing"))
    with pytest.raises(ConfigError) as err:
        configure_auth()
    assert "RAY_AUTH_TOKEN_PATH" in err.value.reason and "no such file" in err.value.reason
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH")
    monkeypatch.delenv("RAY_AUTH_MODE")
    (no_ray_env / ".ray").mkdir()
    (no_ray_env / ".ray" / "auth_token").write_text("0" * 64)
    auth = configure_auth()  # a token where Ray looks for one turns token mode on, as `ray start` does
    assert (auth.mode, auth.token_source) == ("token", str(no_ray_env / ".ray" / "auth_token"))
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # an explicit choice is respected
    assert configure_auth().mode == "disabled"


def test_tls_settings_name_what_is_missing(no_ray_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_USE_TLS", "1")
    with pytest.raises(ConfigError) as err:
        check_cluster("127.0.0.1:6379")
    assert "RAY_TLS_SERVER_CERT is not set" in err.value.reason
    for var in ("RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY"):
        (no_ray_env / var).write_text("pem")
        monkeypatch.setenv(var, str(no_ray_env / var))
    monkeypatch.setenv("RAY_TLS_CA_CERT", str(no_ray_env / "ca.pem"))
    with pytest.raises(ConfigError) as err:
        check_cluster("127.0.0.1:6379")
    assert "RAY_TLS_CA_CERT" in err.value.reason and "no such file" in err.value.reason


def test_nobody_at_the_address(no_ray_env: Path) -> None:
    port = free_port()
    with pytest.raises(ConfigError) as err:
        check_cluster(f"127.0.0.1:{port}")
    assert f"nothing answers at 127.0.0.1:{port}" in err.value.reason
    assert f"ray start --head --port={port}" in (err.value.cli_hint or "")
