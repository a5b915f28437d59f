"""The site limit of a caller (Caller.sites) as the drone service applies it.

A drone's site is its ``site_id``; its plans, missions and telemetry belong to that site. A caller
limited to some sites sees its agency's drones at those sites only: another drone is answered as
missing (its existence is not confirmed) and left out of lists, suggestions and telemetry streams,
and registering a drone at another site is refused. A drone with no site is agency-wide and lies in
no site, so only callers without a site limit see it: a limited pilot never learns of, or flies, a
drone nobody placed in its sites.

Zones, protected areas and coverage plans stay agency-wide: a geofence or a reserve constrains every
drone of the agency whatever its site, so a limited caller reads them as any caller of the agency.
"""

from __future__ import annotations

from kuzet.common.caller import Caller
from kuzet.common.errors import PermissionDenied
from kuzet.drone.v1 import drone_pb2


def within(caller: Caller, agency: str) -> frozenset[str] | None:
    """The sites ``caller`` is limited to within ``agency``'s data; None: no limit there."""
    # Ingest and the other services act for whole agencies whatever a token might claim.
    if caller.has_role("service") or not caller.sites or agency != caller.agency:
        return None
    return caller.sites


def sees(caller: Caller, drone: drone_pb2.Drone) -> bool:
    return within(caller, drone.agency_id) is None or drone.site_id in caller.sites


def require_site(caller: Caller, drone: drone_pb2.Drone) -> None:
    """PERMISSION_DENIED when ``drone`` (as it is or as it would be) lies outside the caller's sites."""
    if not sees(caller, drone):
        raise PermissionDenied(
            f"drone {drone.drone_id} site {drone.site_id or '(agency-wide)'} is outside "
            f"{caller.subject or 'the caller'}'s sites ({', '.join(sorted(caller.sites))})"
        )
