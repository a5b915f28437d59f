"""schemathesis over the OpenAPI document of the platform's gateway, signed in as several roles of
both agencies: no generated request gets a 5xx.

The gateway and every service behind it run as `kuzet up` runs them (the session's platform).
Requests the rate limit turns away (429) are sent again once it allows, so that each example
reaches the route it was made for.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kuzet.common.testing import openapi_server_errors
from kuzet.e2e.platform import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# One user per role that reaches different routes, in both agencies.
USERS = ["prison-admin", "police-operator", "prison-reviewer", "police-investigator", "prison-auditor"]
EXAMPLES = 3


def _call(case: Any, headers: dict[str, str]) -> Any:
    for _ in range(20):
        response = case.call(headers=headers, timeout=30)
        if response.status_code != 429:
            return response
        # schemathesis gives headers by lower-case name, each as the list of its values.
        time.sleep(float(response.headers.get("retry-after", ["1"])[0]))
    raise AssertionError(f"{case.method} {case.path}: still rate limited after 20 tries")


@pytest.mark.parametrize("user", USERS)
def test_no_generated_request_gets_a_server_error(platform: Platform, user: str) -> None:
    headers = {"Authorization": f"Bearer {platform.token(user)}"}
    operations, failures = openapi_server_errors(
        platform.address("gateway") + "/openapi.json", EXAMPLES, lambda case: _call(case, headers)
    )
    assert operations >= 40
    assert not failures, f"as {user}:\n\n" + "\n\n".join(failures)
