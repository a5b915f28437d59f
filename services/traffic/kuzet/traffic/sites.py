"""The site limit of a caller (Caller.sites) as the traffic service applies it.

A traffic camera's site is its ``site_id``; an observation, a lane count and a hotlist hit belong
to the site of the camera that made them (as the camera is configured now). A caller limited to
some sites sees its agency's cameras at those sites only: another is answered as missing (its
existence is not confirmed) and what it observed is left out of searches and lists; configuring
a camera at another site is refused.
"""

from __future__ import annotations

from kuzet.common.caller import Caller
from kuzet.common.errors import PermissionDenied
from kuzet.traffic.v1 import traffic_pb2


def within(caller: Caller, agency: str) -> frozenset[str] | None:
    """The sites ``caller`` is limited to within ``agency``'s data; None: no limit there."""
    # Ingest acts for whole agencies whatever a token might claim.
    if caller.has_role("service") or not caller.sites or agency != caller.agency:
        return None
    return caller.sites


def sees(caller: Caller, camera: traffic_pb2.TrafficCamera) -> bool:
    return within(caller, camera.agency_id) is None or camera.site_id in caller.sites


def require_site(caller: Caller, camera: traffic_pb2.TrafficCamera) -> None:
    """PERMISSION_DENIED when ``camera`` (as it is or as it would be) lies outside the caller's sites."""
    if not sees(caller, camera):
        raise PermissionDenied(
            f"traffic camera {camera.camera_id} is at a site outside "
            f"{caller.subject or 'the caller'}'s sites ({', '.join(sorted(caller.sites))})"
        )
