"""A REST source: an HTTP JSON API read page by page.

    GET <url>?page_size=N[&page_token=T]  ->  {"records": [...], "next_page_token": "T2"}

An empty or missing next_page_token ends the listing. A page that fails (connection refused,
timeout, 429 or 5xx) is asked for again with exponential backoff; when the retries are spent,
or on any other error status, the run fails as a whole (SourceFailed) and nothing is applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from kuzet.common.connectors.base import RawRecord, RowRejected, SourceFailed
from kuzet.common.connectors.formats import json_records

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1))


class RestSource:
    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        page_size: int = 500,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
        max_pages: int = 100_000,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"a REST source URL starts with http:// or https://, got {url!r}")
        self.url = url
        self.page_size = page_size
        self.retry = retry or Retry()
        self.max_pages = max_pages
        self._timeout = timeout_s
        # The token travels in a header only: the URL is logged and audited, the header never is.
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    @property
    def name(self) -> str:
        return self.url

    async def rows(self) -> AsyncIterator[RawRecord]:
        token = ""
        seen: set[str] = set()
        next_row = 1
        async with httpx.AsyncClient(timeout=self._timeout, headers=self._headers) as client:
            for page in range(1, self.max_pages + 1):
                doc = await self._page(client, page, token)
                for record in json_records(doc, f"{self.url} page {page}", first_row=next_row):
                    yield record
                    next_row += 1
                token = (doc.get("next_page_token") or "") if isinstance(doc, dict) else ""
                if not isinstance(token, str):
                    raise SourceFailed(f"{self.url}: page {page}: next_page_token is not a string")
                if not token:
                    return
                if token in seen:
                    raise SourceFailed(f"{self.url}: page {page} repeats an earlier page token")
                seen.add(token)
        raise SourceFailed(f"{self.url}: more than {self.max_pages} pages")

    async def _page(self, client: httpx.AsyncClient, page: int, token: str) -> Any:
        params: dict[str, str | int] = {"page_size": self.page_size}
        if token:
            params["page_token"] = token
        problem = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = await client.get(self.url, params=params)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise SourceFailed(f"{self.url}: page {page} is not JSON") from None
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRIED_STATUSES:
                    break
            if attempt < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt))
        raise SourceFailed(f"{self.url}: page {page} failed after {attempt} attempt(s): {problem}")

    async def attachment(self, path: str) -> bytes:
        raise RowRejected("a REST source sends its photos inline, as base64 in 'photo'")
