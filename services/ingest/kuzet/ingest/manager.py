"""Runs a pipeline for every enabled camera of the registry that this replica owns."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kuzet.common.errors import KuzetError
from kuzet.ingest.cameras import CameraCfg, to_config
from kuzet.ingest.pipeline import CameraPipeline
from kuzet.ingest.shard import ShardOwner
from kuzet.ingest.store import CameraStore

log = logging.getLogger(__name__)


class PipelineManager:
    def __init__(
        self,
        store: CameraStore,
        shard: ShardOwner,
        make_pipeline: Callable[[CameraCfg], CameraPipeline],
        *,
        reconcile_s: float = 5.0,
        allow_file: bool = True,
    ) -> None:
        self.store, self.shard, self._make = store, shard, make_pipeline
        self.reconcile_s, self.allow_file = reconcile_s, allow_file
        self.pipelines: dict[str, CameraPipeline] = {}
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._guard_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._seen: tuple[object, ...] | None = None

    def owned(self) -> list[str]:
        return sorted(self.pipelines)

    async def start(self) -> None:
        await self.shard.start()
        await self.reconcile()
        self._task = asyncio.create_task(self._loop(), name="ingest-reconcile")
        self._guard_task = asyncio.create_task(self._guard(), name="ingest-ownership-guard")

    async def stop(self) -> None:
        for task in (self._task, self._guard_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        # Cameras first, then the shard (which gives up our lease): the replicas that take them
        # over on our departure must not start them while we still run them.
        await asyncio.gather(*(p.stop() for p in self.pipelines.values()), return_exceptions=True)
        self.pipelines.clear()
        await self.shard.stop()

    def kick(self) -> None:
        """Reconcile now (after a registry change)."""
        self._kick.set()

    async def _loop(self) -> None:
        while True:
            waits = [asyncio.create_task(self._kick.wait()), asyncio.create_task(self.shard.changed.wait())]
            await asyncio.wait(waits, timeout=self.reconcile_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            forced = self._kick.is_set() or self.shard.changed.is_set()
            self._kick.clear()
            self.shard.changed.clear()
            try:
                await self.reconcile(force=forced)
            except Exception:
                log.exception("reconcile failed; retrying in %.0fs", self.reconcile_s)

    async def _guard(self) -> None:
        # Beside the reconcile loop, which may be waiting on the very database that went away:
        # cameras we cannot prove are ours stop now, not after a registry read times out.
        while True:
            await asyncio.sleep(0.2)
            if self.pipelines and not self.shard.lease_held:
                stopping = list(self.pipelines.values())
                self.pipelines.clear()
                await asyncio.gather(*(p.stop() for p in stopping), return_exceptions=True)
                for pipeline in stopping:
                    log.warning(
                        "camera %s stopped: this replica cannot prove it owns it",
                        pipeline.cfg.id,
                        extra={"agency": pipeline.cfg.agency},
                    )

    async def reconcile(self, *, force: bool = True) -> None:
        async with self._lock:
            # The periodic pass (other replicas' registry changes) reads every camera only when
            # the registry changed: thousands of cameras are not re-parsed every few seconds.
            seen = (*await self.store.fingerprint(), self.shard.replicas)
            if not force and seen == self._seen:
                return
            self._seen = seen
            desired: dict[str, CameraCfg] = {}
            for stored in await self.store.all():
                cam = stored.camera
                if not cam.enabled or not self.shard.mine(cam.id):
                    continue
                try:
                    desired[cam.id] = to_config(
                        cam, stored.username, stored.password, allow_file=self.allow_file
                    )
                except KuzetError as exc:  # stored before a rule change; skip it, keep the others
                    log.error("camera %s not started: %s", cam.id, exc.message)
            # Stopped together: a decode thread blocked on an unreachable camera takes up to the
            # connect timeout to notice, and changes to many cameras must not add those up.
            stopping = [
                self.pipelines.pop(c) for c, p in list(self.pipelines.items()) if desired.get(c) != p.cfg
            ]
            await asyncio.gather(*(p.stop() for p in stopping))
            for pipeline in stopping:
                log.info("camera %s stopped", pipeline.cfg.id, extra={"agency": pipeline.cfg.agency})
            for cam_id, cfg in desired.items():
                # Asked again: ownership may have lapsed while the others were stopping.
                if cam_id not in self.pipelines and self.shard.mine(cam_id):
                    pipeline = self._make(cfg)
                    pipeline.start()
                    self.pipelines[cam_id] = pipeline
                    log.info(
                        "camera %s started (%s fps)", cam_id, cfg.analytic_fps, extra={"agency": cfg.agency}
                    )
