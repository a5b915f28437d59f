"""The whole platform as separate local processes, with a trace receiver and log access."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from kuzet.common.launcher import Backoff, Launcher
from kuzet.e2e.otlp import OtlpReceiver

DEMO_PASSWORD = "kuzet-demo"
# The demo users' oversight agency (gateway localissuer) oversees the prison.
DEMO_OVERSIGHT = json.dumps({"prison": ["ombudsman"]})


class Platform:
    """Starts the chosen services on free loopback ports, all exporting traces to one receiver."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        replicas: dict[str, int] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._saved_tls: dict[str, str | None] = {}
        self.otlp = OtlpReceiver().start()
        self.launcher = Launcher(
            data_dir,
            env={
                "KUZET_OTLP_ENDPOINT": self.otlp.endpoint,
                # Export spans quickly so a scenario can read its trace seconds after the alert.
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "KUZET_LOG_LEVEL": "INFO",
                "KUZET_GATEWAY_DEMO_PASSWORD": DEMO_PASSWORD,
                "KUZET_ALERTING_OVERSIGHT_AGENCIES": DEMO_OVERSIGHT,
                **(env or {}),
            },
            replicas=replicas or {},
            free_ports=True,
            backoff=backoff or Backoff(),
        )

    @property
    def services(self) -> list[str]:
        return list(self.launcher.specs)

    def start(self, only: list[str] | None = None) -> list[str]:
        # Until stop, this process's clients present the launcher's client certificate.
        self._saved_tls = {k: os.environ.get(k) for k in self.launcher.client_tls_env}
        self.launcher.use_client_certificate()
        self.launcher.use_tools_key()
        return self.launcher.start_all(only)

    def address(self, service: str) -> str:
        return self.launcher.url(service)

    def stop(self) -> None:
        self.launcher.stop_all()
        self.otlp.stop()
        for key, value in self._saved_tls.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        """The JSON log lines of every replica of ``service``."""
        return [line for unit in self.launcher.units(service) for line in self.log_lines_of(unit.key)]

    def log_lines_of(self, key: str) -> list[dict[str, Any]]:
        """The JSON log lines of one process (a service's name, or a replica's ``<service>-<i>``)."""
        path = self.launcher.log_path(key)
        lines = []
        for raw in path.read_text(errors="replace").splitlines() if path.exists() else []:
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
        return lines

    def services_logging(self, trace_id: str) -> set[str]:
        """The services with at least one log line in ``trace_id``."""
        return {
            s
            for s in {u.service for u in self.launcher.units()}
            if any(line.get("trace_id") == trace_id for line in self.log_lines(s))
        }

    async def trace_reaches(self, traceparent: str, services: set[str], within: float = 15.0) -> set[str]:
        """Wait until ``services`` all exported spans and logged lines in the trace; what was seen."""
        trace_id = traceparent.split("-")[1]
        deadline = time.monotonic() + within
        while True:
            spans = {s.service for s in self.otlp.spans(trace_id)}
            seen = spans & self.services_logging(trace_id)
            if services <= seen or time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.3)

    def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        """An access token from the gateway's local issuer (one machine and tests only)."""
        reply = httpx.post(
            f"{self.address('gateway')}/oidc/token",
            data={"grant_type": "password", "username": username, "password": password},
            timeout=10,
        )
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    def api(self, username: str) -> httpx.Client:
        """A REST client of the gateway signed in as ``username``."""
        return httpx.Client(
            base_url=self.address("gateway"),
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=20,
        )
