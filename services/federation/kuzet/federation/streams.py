"""The JetStream streams that join a facility to its hub, their subjects and message ids.

Every release runs its own NATS server with JetStream in its own domain (the site id at a
facility, ``hub`` at the hub); a facility's server is a leaf node of the hub's. Upward streams
are written at the facility, where they keep working through a WAN cut, and the hub's stream of
the same name *sources* each facility's across domains (``$JS.<site>.API``), so a backlog flows
in the facility's order when the link returns. The downward stream is written at the hub and
*mirrored* into every facility.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ExternalStream, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

ALERTS = "KUZET_FED_ALERTS"
AUDIT = "KUZET_FED_AUDIT"
WATCHLIST = "KUZET_FED_WATCHLIST"
# At a region hub under a nation: the nation's watchlist changes, mirrored to be applied to the
# region's identity (and so forwarded to the region's facilities as the region's own).
WATCHLIST_UP = "KUZET_FED_WATCHLIST_UP"

# Headers: the facility alerting's update-log cursor (where a restarted follower resumes) and
# the JetStream de-duplication id.
CURSOR_HEADER = "Kuzet-Cursor"
MSG_ID_HEADER = "Nats-Msg-Id"


def alerts_subject(site: str) -> str:
    return f"kuzet.fed.{site}.alerts"


def audit_subject(site: str, service: str) -> str:
    return f"kuzet.fed.{site}.audit.{service}"


def watchlist_subject(hub: str, agency: str) -> str:
    # The hub's domain in it: a region's and its nation's streams, joined by a leaf connection,
    # must not capture each other's changes.
    return f"kuzet.fed.{hub}.watchlist.{agency}"


def search_subject(site: str) -> str:
    """A facility's cross-site search requests (NATS request-reply; no stream keeps them)."""
    return f"kuzet.fed.{site}.search"


def alert_msg_id(site: str, alert_id: str, cursor: int) -> str:
    """One alert update of one facility: the same update written twice is stored once."""
    return f"{site}.{alert_id}.{cursor}"


def api_prefix(domain: str) -> str:
    return f"$JS.{domain}.API"


def facility_streams(
    site: str, *, hub_domain: str, duplicate_window_s: float, max_age_s: float
) -> list[StreamConfig]:
    """What a facility's own server holds: its alerts and audit heads, and the hub's watchlist changes."""
    return [
        StreamConfig(
            name=ALERTS,
            subjects=[alerts_subject(site)],
            duplicate_window=duplicate_window_s,
            max_age=max_age_s,
            # Refuse new writes rather than drop unsent alerts when the store is full.
            discard=DiscardPolicy.NEW,
        ),
        StreamConfig(
            name=AUDIT,
            subjects=[audit_subject(site, "*")],
            duplicate_window=duplicate_window_s,
            max_age=max_age_s,
        ),
        watchlist_mirror(WATCHLIST, hub_domain, max_age_s=max_age_s),
    ]


def hub_streams(
    facilities: list[str], *, hub: str, upstream: str = "", duplicate_window_s: float, max_age_s: float
) -> list[StreamConfig]:
    """What the hub's server holds: every facility's alerts and audit heads (sourced straight from
    each facility, through any region between), its own watchlist changes and, under an
    ``upstream`` hub (a region under its nation), that hub's watchlist changes."""

    def sources(stream: str) -> list[StreamSource]:
        return [
            StreamSource(name=stream, external=ExternalStream(api=api_prefix(site))) for site in facilities
        ]

    configs = [
        StreamConfig(name=ALERTS, sources=sources(ALERTS), max_age=max_age_s),
        StreamConfig(name=AUDIT, sources=sources(AUDIT), max_age=max_age_s),
        StreamConfig(
            name=WATCHLIST,
            subjects=[watchlist_subject(hub, "*")],
            duplicate_window=duplicate_window_s,
            max_age=max_age_s,
        ),
    ]
    if upstream:
        configs.append(watchlist_mirror(WATCHLIST_UP, upstream, max_age_s=max_age_s))
    return configs


def watchlist_mirror(name: str, hub: str, *, max_age_s: float) -> StreamConfig:
    """``hub``'s watchlist changes, mirrored into this server (they arrive in order after a cut)."""
    return StreamConfig(
        name=name,
        mirror=StreamSource(name=WATCHLIST, external=ExternalStream(api=api_prefix(hub))),
        max_age=max_age_s,
    )


async def ensure_streams(js: JetStreamContext, configs: list[StreamConfig]) -> None:
    """Create the streams, or bring existing ones to ``configs`` (a hub that gained a facility)."""
    for config in configs:
        try:
            await js.stream_info(str(config.name))
        except NotFoundError:
            await js.add_stream(config)
            log.info("created stream %s", config.name)
        else:
            await js.update_stream(config)
