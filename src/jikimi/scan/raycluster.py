"""Joining a Ray cluster as Ray users expect: the address ``ray start --head`` prints, token authentication
from Ray's own settings, TLS when the cluster uses it, and an error that says which of these is missing.

Ray (2.59 and later) turns token authentication on for the clusters ``ray start`` starts, but a process that
joins an explicit address only sends a token when ``RAY_AUTH_MODE=token`` is set; without it, joining fails
after 20 s of retries with "Failed to connect to Ray cluster". Here, when ``RAY_AUTH_MODE`` is unset and a
token is at hand where Ray looks for one (``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH``, or
``~/.ray/auth_token``), token mode is turned on; ``RAY_AUTH_MODE=disabled`` is respected. Before Ray's
own (slow, retrying) connection, the address is checked in about a second: something listens there, and the
cluster accepts this process's credentials. TLS uses Ray's variables (``RAY_USE_TLS=1``,
``RAY_TLS_SERVER_CERT``, ``RAY_TLS_SERVER_KEY``, ``RAY_TLS_CA_CERT``)."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from jikimi.errors import ConfigError, Message

#: What to do next, for the command line (commands and variables) and in words for the other surfaces.
TOKEN_HINT = (
    "set RAY_AUTH_MODE=token and give this machine the cluster's token: copy the output of "
    "`ray get-auth-token` on the head into ~/.ray/auth_token, or set RAY_AUTH_TOKEN (the token) or "
    "RAY_AUTH_TOKEN_PATH (its file)"
)
TOKEN_WORDS = (
    "turn on Ray token authentication and give this machine the cluster's token (the head prints it)"
)
TLS_VARS = ("RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT")
ADDRESS_HINT = (
    "pass the address `ray start --head` prints for other nodes (ray start --address='HOST:PORT', "
    "port 6379 unless --port was given), e.g. --ray-address HOST:6379"
)
ADDRESS_WORDS = (
    "give the address the Ray head prints for other nodes (HOST:PORT, port 6379 unless another was chosen)"
)


@dataclass(frozen=True)
class Auth:
    """How this process authenticates to Ray: ``mode`` ("token" or "disabled") and where the token is."""

    mode: str
    token_source: str | None

    def describe(self) -> str:
        if self.mode != "token":
            return "without a token (RAY_AUTH_MODE is not 'token')"
        return f"with the token from {self.token_source}"

    def describe_message(self) -> Message:
        """:meth:`describe`, catalogued."""
        if self.mode != "token":
            return Message("without a token (RAY_AUTH_MODE is not 'token')")
        return Message("with the token from {source}", {"source": self.token_source})


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` as ``ray start`` prints it (quotes and spaces around it are ignored)."""
    text = address.strip().strip("'\"").strip()
    if text.startswith("ray://"):
        raise ConfigError(
            "{text} is a Ray Client address; a scan joins the cluster itself",
            code="scan.ray_address",
            hint=ADDRESS_WORDS,
            cli_hint=ADDRESS_HINT,
            text=text,
        )
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            "{address!r} is not a Ray cluster address (HOST:PORT)",
            code="scan.ray_address",
            hint=ADDRESS_WORDS,
            cli_hint=ADDRESS_HINT,
            address=address,
        )
    return host, int(port)


def _token_source() -> str | None:
    """Where Ray would read the token from, in Ray's order, or None when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    path_var = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path_var:
        path = Path(path_var).expanduser()
        if not path.is_file():
            raise ConfigError(
                "RAY_AUTH_TOKEN_PATH is {path}, but there is no such file",
                code="scan.ray_token",
                hint="give the Ray token setting the file holding the cluster's token, or remove that "
                "setting",
                cli_hint="point RAY_AUTH_TOKEN_PATH at the file holding the cluster's token "
                "(`ray get-auth-token` on the head prints it), or unset it",
                path=path_var,
            )
        return f"RAY_AUTH_TOKEN_PATH ({path})"
    default = Path.home() / ".ray" / "auth_token"
    if default.is_file() and default.read_text(errors="replace").strip():
        return str(default)
    return None


def configure_auth() -> Auth:
    """Ray's token settings for joining a cluster; turns token mode on when a token is found and
    ``RAY_AUTH_MODE`` is unset (as ``ray start`` does)."""
    mode = os.environ.get("RAY_AUTH_MODE", "").strip().lower()
    source = _token_source()
    if not mode and source is not None:
        mode = "token"
        os.environ["RAY_AUTH_MODE"] = "token"
    if mode == "token" and source is None:
        raise ConfigError(
            "RAY_AUTH_MODE is 'token' but no Ray token was found on this machine",
            code="scan.ray_token",
            hint=TOKEN_WORDS,
            cli_hint=TOKEN_HINT,
        )
    _reload_ray_auth()
    return Auth(mode or "disabled", source if mode == "token" else None)


def _reload_ray_auth() -> None:
    """Make Ray's loaded settings and cached token follow the environment just checked (Ray caches both
    per process; ``ray start`` reloads them the same way)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - the pinned Ray has them
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def check_tls() -> bool:
    """Whether TLS is on (``RAY_USE_TLS``); when it is, each certificate variable must name a file."""
    if os.environ.get("RAY_USE_TLS", "0").strip().lower() not in ("1", "true"):
        return False
    for var in TLS_VARS:
        value = os.environ.get(var)
        if not value:
            raise ConfigError(
                "RAY_USE_TLS is on but {var} is not set",
                code="scan.ray_tls",
                hint="give the Ray TLS settings the certificate files the cluster's nodes use, or turn TLS "
                "off",
                cli_hint="set RAY_TLS_SERVER_CERT, RAY_TLS_SERVER_KEY, RAY_TLS_CA_CERT to the files the "
                "cluster's nodes use (or unset RAY_USE_TLS)",
                var=var,
            )
        if not Path(value).expanduser().is_file():
            raise ConfigError(
                "{var} is {value}, but there is no such file",
                code="scan.ray_tls",
                hint="give that Ray TLS setting the certificate file",
                cli_hint="point {var} at the file",
                var=var,
                value=value,
            )
    return True


def _probe_gcs(address: str, timeout: float) -> BaseException | None:
    """Ask the cluster's GCS one question with this process's credentials: None when it answers, else the
    error (``TimeoutError`` when it does not answer in ``timeout`` seconds)."""
    try:
        from ray._raylet import GcsClient  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - the pinned Ray has it
        return None
    outcome: list[BaseException | None] = []

    def ask() -> None:
        try:
            GcsClient(address=address).internal_kv_get(b"session_name", b"session", timeout=timeout)
            outcome.append(None)
        except BaseException as exc:  # any failure is the answer
            outcome.append(exc)

    worker = threading.Thread(target=ask, name="jikimi-ray-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return TimeoutError(f"no answer in {timeout:.0f} s")
    return outcome[0]


def check_cluster(address: str, *, timeout: float = 10.0) -> tuple[str, Auth]:
    """Check that ``address`` is a Ray cluster this process may join; returns ``HOST:PORT`` and the auth
    used. Raises ``ConfigError`` saying which of address, token mode, token or TLS is wrong, and what to
    set."""
    host, port = parse_address(address)
    target = f"{host}:{port}"
    tls = check_tls()
    auth = configure_auth()
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 3.0)):
            pass
    except OSError as exc:
        raise ConfigError(
            "nothing answers at {target} ({detail}): no Ray head there",
            code="scan.ray_unavailable",
            hint=(
                "start the Ray head on port {port}, or give the address the Ray head prints for "
                "other nodes (HOST:PORT, port 6379 unless another was chosen)"
            ),
            cli_hint=(
                "start the head with `ray start --head --port={port}` or pass the address `ray "
                "start --head` prints for other nodes (ray start --address='HOST:PORT', port "
                "6379 unless --port was given), e.g. --ray-address HOST:6379"
            ),
            target=target,
            detail=str(exc.strerror or exc),
            port=port,
        ) from exc
    error = _probe_gcs(target, timeout)
    if error is None:
        return target, auth
    from ray.exceptions import AuthenticationError

    if isinstance(error, AuthenticationError):
        if auth.mode != "token":
            raise ConfigError(
                "the Ray cluster at {target} requires token authentication, and this process has no token "
                "(RAY_AUTH_MODE is not 'token' and no token was found)",
                code="scan.ray_token",
                hint=TOKEN_WORDS,
                cli_hint=TOKEN_HINT,
                target=target,
            ) from error
        raise ConfigError(
            "the Ray cluster at {target} rejected the token from {source}",
            code="scan.ray_token",
            hint="use the cluster's token, as the head prints it (every node and every process that joins "
            "needs the same token)",
            cli_hint="use the cluster's token: run `ray get-auth-token` on the head and put it in that place "
            "(every node and every process that joins needs the same token)",
            target=target,
            source=auth.token_source,
        ) from error
    first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    if tls:
        raise ConfigError(
            "the Ray cluster at {target} did not answer over TLS ({detail})",
            code="scan.ray_tls",
            hint=(
                "check that the certificate authority given signed the cluster's certificates "
                "and that the cluster uses TLS, or turn TLS off; give the address the Ray head "
                "prints for other nodes (HOST:PORT, port 6379 unless another was chosen)"
            ),
            cli_hint=(
                "check that RAY_TLS_CA_CERT signed the cluster's certificates and that the "
                "cluster uses TLS, or unset RAY_USE_TLS; pass the address `ray start --head` "
                "prints for other nodes (ray start --address='HOST:PORT', port 6379 unless "
                "--port was given), e.g. --ray-address HOST:6379"
            ),
            target=target,
            detail=first,
        ) from error
    raise ConfigError(
        "{target} does not answer as a Ray cluster ({detail}); joined {auth}",
        code="scan.ray_unavailable",
        hint=(
            "give the address the Ray head prints for other nodes (HOST:PORT, port 6379 unless "
            "another was chosen); if the cluster uses TLS, turn TLS on with the same "
            "certificates as its nodes"
        ),
        cli_hint=(
            "pass the address `ray start --head` prints for other nodes (ray start "
            "--address='HOST:PORT', port 6379 unless --port was given), e.g. --ray-address "
            "HOST:6379; if the cluster uses TLS, set RAY_USE_TLS=1 and RAY_TLS_SERVER_CERT, "
            "RAY_TLS_SERVER_KEY, RAY_TLS_CA_CERT as on its nodes"
        ),
        target=target,
        detail=first,
        auth=auth.describe_message(),
    ) from error
