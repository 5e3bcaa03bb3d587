"""Property-based API testing with schemathesis against our OpenAPI schema: no request, however odd, gets a
server error. Runs as an administrator (every endpoint reachable), a few examples per operation.

(The operations are driven directly with Hypothesis: schemathesis' lazy pytest plug-in does not work with
this pytest version.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api_harness import make_harness

EXAMPLES = 5


def test_no_server_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIKIMI_ORG_NAME", "Test Support Centre")
    h = make_harness(f"sqlite:///{tmp_path / 'st.db'}")
    h.add_user("root", "admin")
    schema = schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", h.app, headers={"Authorization": f"Bearer {h.token('root')}"}
    )
    failures: list[str] = []
    operations = 0
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            # A fresh token each time: a generated DELETE /api/v1/auth/tokens/{id} may revoke the last one.
            headers = {"Authorization": f"Bearer {h.token('root')}"}
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            run()
        except Exception as exc:  # collect every failing operation, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:2000]}")
    assert operations >= 30
    # The requests really reached the endpoints: successes and validation errors, not only auth failures.
    assert sum(n for code, n in statuses.items() if code < 300) >= operations, statuses
    assert statuses.get(422, 0) > 0 and statuses.get(401, 0) < sum(statuses.values()) // 10, statuses
    assert not failures, "\n\n".join(failures)
