"""Camera ownership through leases: the replica set from a membership, and when to trust it.

Every ingest replica holds a membership lease (kuzet.common.k8s.LeaseMembership in a cluster,
kuzet.common.dblease.DatabaseMembership on one machine: same code) and lists the live leases every
``poll_s``; each camera goes to the rendezvous-hash owner among the live replicas (shard.py). A
replica runs cameras only while it can prove that the others agree, which gives two rules, with
``L`` the lease's duration and ``h`` = L / 3 the renewal period:

1. Authority. A replica counts itself an owner only while (a) its own lease has more than ``h``
   left on its own clock, counted from before its last successful renewal went out, and (b) its
   view of the members is younger than ``h`` (the listing *started* less than ``h`` ago). When
   either fails (lost database or API server, a stalled listing) it stops every camera and says
   so (ShardStatus ``lease_held``, the log), before anybody else could take them: it gives up at
   most ``L - h`` after its last renewal began, the others judge its lease expired no earlier than
   ``L`` after they saw that renewal, and they saw it after it began, so the replica has at least
   ``h`` to stop its pipelines.
2. Hand-over. A camera that another live replica ran under a view we held in the last ``2h``
   is not started yet. That replica sees the same change within ``h`` (rule 1b: a listing started
   after the change was written, else it has stopped everything) and then stops the camera; ``2h``
   leaves it ``h`` to do so. Joining counts as a change from "everybody but us", and so does
   regaining authority when our lease may have expired for the others meanwhile. A short lapse
   within our own lease term does not, nor does a restart (same replica id) within the previous
   incarnation's lease, judged by its renew time on our clock with ``h`` to spare for skew:
   nobody could have counted us gone, so nobody ran our cameras. A camera whose previous owner is
   gone from the live set starts at once: that owner left gracefully (it stops its cameras before
   deleting its lease) or its lease expired (rule 1 stopped it at least ``h`` earlier).

So no camera runs on two replicas except while one of them is stopping it, which rule 2 bounds by
one renewal period.

Takeover after kill -9. The setting is the takeover goal ``T`` (KUZET_INGEST_LEASE_DURATION_S,
15 s): the killed replica's cameras run again on the survivors within ``T`` of the kill.
:func:`lease_timing` makes the lease ``L`` = 3T/5 (whole seconds; 9 s at the default), renewed
every ``h`` = L / 3 (3 s). The last renewal the survivors see was written before the kill (or was
in flight then). They see it at their first listing after it was written, at most ``poll_s`` plus
one listing later; they judge it expired ``L`` after that, at their first listing past that
instant, at most ``poll_s`` plus one listing later again; the reconcile loop is woken at once and
starts the cameras. So the takeover takes at most ``L + 2 * (poll_s + a listing)`` plus a reconcile
and the first frame, and the ``2T/5`` left after ``L`` (6 s at the default) covers that with
room to spare (two 0.5 s polls, listings and a reconcile of tens of ms, a first frame within a
second on a loaded machine). A shorter lease for the same goal would leave the holder less time
to renew (rule 1a gives each renewal ``h`` to complete) and to stop (``h`` as well).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from kuzet.common.k8s import TRANSIENT_ERRORS, LeaseMembership, LeaseRecord
from kuzet.common.waiting import within
from kuzet.ingest.shard import ShardOwner, owner

log = logging.getLogger(__name__)

# The part of the takeover goal given to the lease; the rest is for noticing expiry and starting.
LEASE_SHARE = 3 / 5


def lease_timing(takeover_s: float) -> tuple[float, float]:
    """(lease duration, renewal period) for cameras taken over within ``takeover_s`` of a kill.

    The lease is three fifths of the goal in whole seconds (a Lease records no fractions), at
    least 3 s, and renewed every third of it; see the module docstring for why that meets the goal.
    """
    lease_s = float(max(3, math.floor(takeover_s * LEASE_SHARE)))
    return lease_s, lease_s / 3


class LeaseShardOwner(ShardOwner):
    """A ShardOwner whose replica set and right to run cameras come from a lease membership."""

    def __init__(self, membership: LeaseMembership, *, poll_s: float = 0.5) -> None:
        super().__init__(membership.identity, self._no_source, poll_s=poll_s)
        self.membership = membership
        self.kind = type(membership).__name__
        self.period_s = membership.renew_interval_s
        if poll_s >= self.period_s:
            raise ValueError("the membership poll must be shorter than the lease renewal period")
        self.replicas = ()
        self._listed_at = float("-inf")  # monotonic start of the last successful listing
        self._authority = False
        # Views we held recently: (replicas, until when a camera they gave to a live replica waits).
        self._recent: list[tuple[tuple[str, ...], float]] = []
        self._joined = False
        # Until when (monotonic) nobody could have judged our lease expired, as far as we know.
        self._covered_until = float("-inf")

    @staticmethod
    def _no_source() -> tuple[str, ...]:
        return ()

    @property
    def lease_held(self) -> bool:
        """Whether this replica may run cameras now (rule 1 of the module docstring)."""
        return self._authority and self._provable()

    def _provable(self) -> bool:
        now = time.monotonic()
        return (
            self._joined
            and self.membership.holding_for_s > self.period_s
            and now - self._listed_at < self.period_s
        )

    def mine(self, camera_id: str) -> bool:
        # Checked on every call, not only by the follower task (which may be waiting on a stalled
        # listing): the answer must lapse on time.
        if not self.lease_held or owner(camera_id, self.replicas) != self.replica_id:
            return False
        now = time.monotonic()
        for view, until in self._recent:
            if now < until:
                previous = owner(camera_id, view)
                if previous is not None and previous != self.replica_id and previous in self.replicas:
                    return False
        return True

    def _remember(self, view: tuple[str, ...]) -> None:
        now = time.monotonic()
        self._recent = [(v, until) for v, until in self._recent if until > now]
        self._recent.append((view, now + 2 * self.period_s))

    def _set(self, ids: Iterable[str]) -> None:
        new = tuple(sorted(set(ids)))
        if new != self.replicas:
            log.info("replica set changed: %s -> %s", ",".join(self.replicas), ",".join(new))
            self._remember(self.replicas)
            self.replicas = new
            self.changed.set()

    async def start(self) -> None:
        try:
            previous = await self.membership.read_own()
        except TRANSIENT_ERRORS:
            previous = None
        await self.membership.__aenter__()
        self._joined = True
        self._resume_term(previous)
        await self._list()
        self._task = asyncio.create_task(self._follow(), name="shard-leases")

    def _resume_term(self, previous: LeaseRecord | None) -> None:
        """After a restart within our previous incarnation's lease, resume its cameras at once.

        Nobody could have judged that lease expired yet (they count the duration from when they
        saw its last renewal), so every view counted us live and nobody ran our cameras: no
        hand-over to wait for. One renewal period of margin covers the clock reading and the skew.
        """
        if previous is None or previous.holder != self.replica_id or previous.renew_time is None:
            return
        age_s = (datetime.now(UTC) - previous.renew_time).total_seconds()
        left_s = previous.duration_s - age_s - self.period_s
        if left_s > 0:
            self._covered_until = time.monotonic() + left_s
            log.info("%s restarted within its lease: resuming its cameras at once", self.replica_id)

    async def stop(self) -> None:
        """Leave the membership (the caller has stopped its cameras first)."""
        await super().stop()
        if self._joined:
            self._joined = False
            self._authority = False
            await self.membership.__aexit__(None, None, None)

    async def _list(self) -> None:
        started = time.monotonic()
        try:
            members = await self.membership.live_members()
        except TRANSIENT_ERRORS as exc:
            log.warning("listing ingest replicas failed (keeping the last view): %s", exc)
        else:
            self._listed_at = started
            self._set(members)
            self._check_authority()

    def _check_authority(self) -> None:
        now = time.monotonic()
        held = self._provable()
        if held and not self._authority:
            if now >= self._covered_until:
                # Joining, or back after our lease may have expired for the others: whoever ran
                # our cameras meanwhile must see us before we start them.
                self._remember(tuple(r for r in self.replicas if r != self.replica_id))
            log.info("%s owns cameras (lease renewed, view fresh)", self.replica_id)
        elif self._authority and not held:
            log.warning(
                "%s cannot prove it owns cameras (lease %.1fs left, view %.1fs old): stopping them",
                self.replica_id,
                self.membership.holding_for_s,
                now - self._listed_at,
            )
        if self.membership.holding_for_s > 0:
            self._covered_until = now + self.membership.holding_for_s
        if held != self._authority:
            self._authority = held
            self.changed.set()
        elif self._recent and self._recent[0][1] <= now:
            # A hand-over wait ran out: the cameras it held back may start now.
            self._recent.pop(0)
            self.changed.set()

    async def _follow(self) -> None:
        # Listings and authority checks run apart: a listing stalled on the database must not
        # hold up noticing that authority lapsed (nor the hand-over waits that ran out).
        lister = asyncio.create_task(self._list_every_poll(), name="shard-leases-list")
        try:
            while True:
                await asyncio.sleep(0.2)
                try:
                    self._check_authority()
                except Exception:  # keep watching; mine() checks authority itself meanwhile
                    log.exception("checking ingest ownership failed; retrying")
        finally:
            lister.cancel()
            await asyncio.gather(lister, return_exceptions=True)

    async def _list_every_poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await within(self.period_s, self._list())
            except TimeoutError:
                log.warning("listing ingest replicas took over %.1fs; keeping the last view", self.period_s)
            except Exception:  # keep listing: a stale view stops our cameras by itself (rule 1b)
                log.exception("listing ingest replicas failed; retrying")
