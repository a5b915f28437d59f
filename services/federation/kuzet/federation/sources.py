"""Hub side: a facility's sources restarted as soon as its link is back.

When a leaf connection drops, the hub's sources of that facility stall, and nats-server (2.9)
notices a stalled source only on its periodic health check, every ten seconds: a returning
facility's backlog would wait up to that long. The hub therefore asks each facility's JetStream
API (``$JS.<site>.API.INFO``, answered across the leaf connection) whether it is reachable, and
when a facility that was not answers again, takes its sources out of the hub's streams and puts
them back. JetStream starts a re-added source after the last message the hub's stream already
holds from it (it reads that from the stream), so nothing is skipped or stored twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from kuzet.federation import streams

log = logging.getLogger(__name__)


class SourceKicker:
    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        configs: list[StreamConfig],
        sites: list[str],
        *,
        interval_s: float = 0.5,
    ) -> None:
        self.nc = nc
        self.js = js
        # Only the sourcing streams: their configs as ensure_streams set them.
        self.configs = [config for config in configs if config.sources]
        self.sites = sites
        self.interval_s = interval_s
        # None until first asked: a facility reachable from the start needs no kick.
        self.reachable: dict[str, bool | None] = dict.fromkeys(sites)
        self.kicks = 0

    async def _answers(self, site: str) -> bool:
        try:
            await self.nc.request(f"{streams.api_prefix(site)}.INFO", b"", timeout=self.interval_s)
        except (NoRespondersError, NatsTimeout, TimeoutError):
            return False
        return True

    async def kick(self, site: str) -> None:
        """Take ``site``'s sources out of the hub's streams and put them back."""
        prefix = streams.api_prefix(site)
        for config in self.configs:
            assert config.sources is not None
            others = [s for s in config.sources if s.external is None or s.external.api != prefix]
            await self.js.update_stream(dataclasses.replace(config, sources=others))
            await self.js.update_stream(config)
        self.kicks += 1
        log.info("restarted the sources of %s: its link is back", site)

    async def check_once(self) -> None:
        answers = await asyncio.gather(*(self._answers(site) for site in self.sites))
        for site, up in zip(self.sites, answers, strict=True):
            if up and self.reachable[site] is False:
                await self.kick(site)
            self.reachable[site] = up

    async def run(self) -> None:
        while True:
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the hub's NATS server restarting
                log.warning("source check: %r", exc)
            await asyncio.sleep(self.interval_s)
