"""The administrative-offence register's REST API, as the exporter uses it.

    POST <url>   {"citations": [{"idempotency_key": K, "citation": {...}}, ...]}
    200          {"results": [{"idempotency_key": K, "outcome": "accepted", "register_id": R}
                              | {"idempotency_key": K, "outcome": "rejected", "reason": "..."}]}

A citation the answer does not name was not acknowledged: it is sent again, with the same key, by
a later run. Any other answer (connection refused, a timeout, a non-200 status, a body of another
shape) acknowledges nothing of the batch and is a RegisterUnavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class RegisterUnavailable(Exception):
    """The register did not answer the batch (the message says how); nothing was acknowledged."""


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    register_id: str = ""
    reason: str = ""


class RegisterClient:
    def __init__(self, url: str, *, token: str = "", timeout_s: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the register URL starts with http:// or https://, got {url!r}")
        self.url = url
        self._timeout = timeout_s
        # The token travels in a header only: the URL is audited, the header never is.
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> RegisterClient:
        self._client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def send(self, items: dict[str, dict[str, Any]]) -> dict[str, Outcome]:
        """Post citations keyed by idempotency key; the outcome of each the register answered for."""
        assert self._client is not None, "use the client as an async context manager"
        body = {"citations": [{"idempotency_key": k, "citation": c} for k, c in items.items()]}
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.TransportError as exc:
            raise RegisterUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise RegisterUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            results = response.json()["results"]
            outcomes = {str(r["idempotency_key"]): _outcome(r) for r in results}
        except (ValueError, KeyError, TypeError) as exc:
            raise RegisterUnavailable(f"the answer is not a list of results ({exc})") from None
        return {k: v for k, v in outcomes.items() if k in items}


def _outcome(result: dict[str, Any]) -> Outcome:
    if result["outcome"] == "accepted":
        register_id = str(result.get("register_id") or "")
        if not register_id:
            raise ValueError(f"{result['idempotency_key']} accepted without a register_id")
        return Outcome(True, register_id=register_id)
    if result["outcome"] == "rejected":
        return Outcome(False, reason=str(result.get("reason") or "rejected without a reason"))
    raise ValueError(f"unknown outcome {result['outcome']!r}")
