"""Who may call which RPC, and whose data a call acts on.

Two callers reach this service. Ingest, as itself (``service:ingest``, role ``service``), records
what its traffic cameras observe and reads their profiles. The gateway calls everything else on
behalf of a signed-in user, whose roles and agency the caller token carries; a user never records
observations, and another service never searches plates or edits hotlists on its own behalf.
"""

from __future__ import annotations

from kuzet.common.caller import Caller
from kuzet.common.errors import InvalidArgument, PermissionDenied

INGEST = "service:ingest"
READERS = ("operator", "investigator", "reviewer", "admin", "auditor")
# SearchPlates is a search for a person's vehicle: the roles that may search identities.
SEARCHERS = ("operator", "investigator", "admin")
HOTLIST_READERS = ("operator", "investigator", "admin", "auditor")
HOTLIST_EDITORS = ("admin",)
CAMERA_EDITORS = ("admin",)

# RPC -> (service subjects allowed, user roles allowed)
POLICY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ConfigureCamera": ((), CAMERA_EDITORS),
    "RecordObservations": ((INGEST,), ()),
    "GetCamera": ((INGEST,), READERS),
    "ListCameras": ((), READERS),
    "GetCounts": ((), READERS),
    "GetSpeedDistribution": ((), READERS),
    "SearchPlates": ((), SEARCHERS),
    "UpsertHotlistEntries": ((), HOTLIST_EDITORS),
    "RemoveHotlistEntry": ((), HOTLIST_EDITORS),
    "ListHotlistEntries": ((), HOTLIST_READERS),
    "ListHotlistHits": ((), HOTLIST_READERS),
}


def authorise(caller: Caller, rpc: str) -> None:
    """PERMISSION_DENIED unless ``caller`` is a service or user ``rpc`` is meant for."""
    services, roles = POLICY[rpc]
    if caller.has_role("service"):
        if caller.subject in services:
            return
        raise PermissionDenied(
            f"{rpc} is not for {caller.subject or 'an anonymous service'}"
            + (f"; only {', '.join(services)} calls it" if services else "; it is called for a user")
        )
    if not roles:
        raise PermissionDenied(f"{rpc} is called by {', '.join(services)} only, not on behalf of a user")
    caller.require_role(*roles)


def user_agency(caller: Caller, requested: str = "") -> str:
    """The agency a user's call acts on: their own (another's is PERMISSION_DENIED)."""
    agency = requested or caller.agency
    if not agency:
        raise InvalidArgument("agency_id is required (the caller has no agency)")
    caller.require_agency(agency)
    return agency
