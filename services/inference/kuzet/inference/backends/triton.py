"""NVIDIA Triton over the KServe v2 gRPC protocol (tritonclient.grpc.aio): production inference."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from kuzet.common.errors import Unavailable
from kuzet.common.tls import client_credentials
from kuzet.inference.backends.base import Backend, BackendKind, ModelCounters, ModelState
from kuzet.inference.catalog import Catalog, ModelSpec

if TYPE_CHECKING:
    from kuzet.inference.config import InferenceSettings

log = logging.getLogger(__name__)

# Status strings tritonclient reports when the server cannot be reached at all.
_TRANSPORT_CODES = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED")


def _is_transport(exc: InferenceServerException) -> bool:
    return str(exc.status()) in _TRANSPORT_CODES


class TritonBackend:
    """Sends each execution to Triton. A lost connection is retried with backoff for up to
    ``retry_s`` seconds (a restarting server comes back), then callers get UNAVAILABLE."""

    name = "triton"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        retry_s: float = 2.0,
        model_version: str = "",
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.model_version = model_version
        self._client: InferenceServerClient | None = None
        # Channels given up on, closed once the calls still on them have ended (see _reset).
        self._retiring: set[asyncio.Task[None]] = set()

    def _connect(self) -> InferenceServerClient:
        if self._client is None:
            # mTLS with this process's certificate, as to every Kuzet service (plaintext-dev: none).
            self._client = InferenceServerClient(url=self.url, creds=client_credentials())
        return self._client

    async def _reset(self) -> None:
        """The next call opens a fresh channel, skipping gRPC's own reconnect backoff (it can grow
        to minutes). The old channel is closed only after ``timeout_s``: closing it at once
        cancelled the calls other tasks still had on it with CancelledError, which killed the
        health follower and left a DetectFaces call unanswered until its caller's deadline."""
        client, self._client = self._client, None
        if client is not None:
            task = asyncio.create_task(self._close_later(client), name="triton-channel-close")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _close_later(self, client: InferenceServerClient) -> None:
        try:
            await asyncio.sleep(self.timeout_s)
        finally:
            try:
                await client.close()
            except Exception as exc:  # closing a broken channel may fail; nothing to do about it
                log.debug("closing Triton channel: %s", exc)

    async def start(self) -> None:
        # Not fatal: the service starts and reports UNAVAILABLE until Triton is up.
        try:
            ready = await self._connect().is_server_ready(client_timeout=self.timeout_s)
            log.info("Triton at %s ready: %s", self.url, ready)
        except InferenceServerException as exc:
            log.warning("Triton at %s not reachable yet: %s", self.url, exc.message())

    async def close(self) -> None:
        await self._reset()
        for task in list(self._retiring):
            task.cancel()  # closes its channel now
        await asyncio.gather(*self._retiring, return_exceptions=True)

    async def server_ready(self) -> bool:
        try:
            return bool(await self._connect().is_server_ready(client_timeout=self.timeout_s))
        except InferenceServerException:
            await self._reset()
            return False

    async def metadata(self, model: ModelSpec) -> dict[str, object]:
        result = await self._call(model, "metadata", lambda c: c.get_model_metadata(
            model.name, self.model_version, as_json=True, client_timeout=self.timeout_s))  # fmt: skip
        return dict(result)

    async def infer(
        self, model: ModelSpec, inputs: Mapping[str, np.ndarray], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        infer_inputs = []
        for name, array in inputs.items():
            tensor = InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(np.ascontiguousarray(array))
            infer_inputs.append(tensor)
        requested = [InferRequestedOutput(name) for name in outputs]
        result = await self._call(model, "inference", lambda c: c.infer(
            model.name, infer_inputs, model_version=self.model_version, outputs=requested,
            client_timeout=self.timeout_s))  # fmt: skip
        values = {}
        for name in outputs:
            value = result.as_numpy(name)
            if value is None:
                raise Unavailable(f"Triton model {model.name} returned no output {name!r}")
            values[name] = value
        return values

    async def _call(self, model: ModelSpec, what: str, action):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + self.retry_s
        delay = 0.05
        while True:
            try:
                return await action(self._connect())
            except InferenceServerException as exc:
                if not _is_transport(exc):
                    raise Unavailable(
                        f"Triton at {self.url} refused {what} on model {model.name}: {exc.message()}"
                    ) from None
                await self._reset()
                if time.monotonic() + delay > deadline:
                    raise Unavailable(
                        f"Triton at {self.url} is unreachable ({what} on model {model.name}): {exc.message()}"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def model_state(self, model: ModelSpec) -> ModelState:
        try:
            client = self._connect()
            if not await client.is_server_live(client_timeout=self.timeout_s):
                return ModelState(False, f"Triton at {self.url} is not live")
            if await client.is_model_ready(model.name, self.model_version, client_timeout=self.timeout_s):
                return ModelState(True)
            return ModelState(False, f"model {model.name} is not loaded on Triton at {self.url}")
        except InferenceServerException as exc:
            await self._reset()
            return ModelState(False, f"Triton at {self.url} is unreachable: {exc.message()}")

    async def counters(self, model: ModelSpec) -> ModelCounters:
        try:
            stats = await self._connect().get_inference_statistics(
                model.name, self.model_version, as_json=True, client_timeout=self.timeout_s
            )
        except InferenceServerException as exc:
            raise Unavailable(f"Triton at {self.url}: statistics of {model.name}: {exc.message()}") from None
        total = ModelCounters()
        for entry in stats.get("model_stats", []):
            inference = entry.get("inference_stats", {})
            compute = inference.get("compute_infer", {})
            executions = int(entry.get("execution_count", 0))
            mean = int(compute.get("ns", 0)) / 1e6 / executions if executions else 0.0
            total = ModelCounters(
                total.inference_count + int(entry.get("inference_count", 0)),
                total.execution_count + executions,
                total.failure_count + int(inference.get("fail", {}).get("count", 0)),
                mean,
            )
        return total


def _create(settings: InferenceSettings, catalog: Catalog) -> Backend:
    # Triton serves its own model repository (kuzet-triton-repo builds it from the catalog).
    return TritonBackend(
        settings.triton_url, timeout_s=settings.triton_timeout_s, retry_s=settings.triton_retry_s
    )


KIND = BackendKind("triton", "a Triton server (production)", _create)
