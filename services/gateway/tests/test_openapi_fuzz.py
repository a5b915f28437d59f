"""schemathesis against the gateway's OpenAPI document: no request it can generate gets a 5xx.

The gateway runs under uvicorn with every real service it fronts behind it (alerting, identity,
inference, ingest, badge, drone, traffic), in a background thread with its own event loop, since
schemathesis drives plain blocking requests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import uvicorn

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.common.config import Endpoints
from kuzet.common.testing import free_port_number, openapi_server_errors
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import build_gateway
from kuzet.gateway.localissuer import DemoUser
from kuzet.gateway.roles import ROLES
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

EXAMPLES = 6


class Stack(threading.Thread):
    """The whole stack on its own event loop; `url` once ready, stopped by `close()`."""

    def __init__(self, root: Path, start_fleet: Any) -> None:
        super().__init__(daemon=True, name="fuzz-stack")
        self.root = root
        self.start_fleet = start_fleet
        self.ready = threading.Event()
        self.url = ""
        self.token = ""
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self._loop, self._halt = asyncio.get_running_loop(), asyncio.Event()
        alerting, _ = await build_alerting(
            AlertingSettings(
                database_url=f"sqlite:///{self.root / 'alerting.db'}",
                data_dir=self.root / "a",
                escalation_interval_s=3600,
            ),
            port=0,
        )
        await alerting.start()
        inference = await build_inference(
            InferenceSettings(port=free_port_number(), data_dir=self.root / "i")
        )
        inference_address = await inference.start()
        identity, _ = await build_identity(
            IdentitySettings(
                database_url=f"sqlite:///{self.root / 'identity.db'}", data_dir=self.root / "id", port=0
            ),
            port=0,
            endpoints=Endpoints(alerting=alerting.address, inference=inference_address),
        )
        await identity.start()
        base = Endpoints(alerting=alerting.address, identity=identity.address, inference=inference_address)
        extra = await self.start_fleet(self.root, base)
        endpoints = base.model_copy(update={name: srv.address for name, srv in extra.items()})
        port = free_port_number()
        gw_settings = GatewaySettings(
            data_dir=self.root / "gw",
            port=port,
            rate_limit_per_second=10_000,
            rate_limit_burst=10_000,
            max_body_bytes=256 * 1024,
            local_users=[
                DemoUser(username="fuzz", password="fuzz-pass", agency="prison", roles=sorted(ROLES))
            ],
        )
        gw = build_gateway(gw_settings, endpoints=endpoints)
        assert gw.local_issuer is not None
        self.token = gw.local_issuer.issue(gw.local_issuer.user("fuzz"))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(gw_settings, gateway=gw),
                host="127.0.0.1",
                port=port,
                log_config=None,
                lifespan="off",
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # uvicorn offers no started event  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        self.ready.set()
        await self._halt.wait()
        server.should_exit = True
        await serving
        await gw.close()
        for s in (*extra.values(), identity, inference, alerting):
            await s.stop(0)

    def close(self) -> None:
        if self._loop is not None and self._halt is not None:
            self._loop.call_soon_threadsafe(self._halt.set)
        self.join(30)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fleet_starter: Any) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("fuzz"), fleet_starter)
    s.start()
    assert s.ready.wait(120), "the stack did not start"
    if s.error:
        raise s.error
    yield s
    s.close()


def test_no_server_errors(stack: Stack) -> None:
    """Every operation, a bounded number of generated requests each (derandomised)."""
    headers = {"Authorization": f"Bearer {stack.token}"}
    operations, failures = openapi_server_errors(
        stack.url + "/openapi.json", EXAMPLES, lambda case: case.call(headers=headers, timeout=30)
    )
    assert operations >= 15
    assert not failures, "\n\n".join(failures)


def test_fuzz_user_is_real(stack: Stack) -> None:
    import httpx

    me = httpx.get(stack.url + "/api/v1/me", headers={"Authorization": f"Bearer {stack.token}"}).json()
    assert set(me["roles"]) == set(ROLES)
    assert grpc is not None
