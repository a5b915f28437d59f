"""Oversight of abuse by staff: which agency oversees which, and the audit of every read.

Alerts of the oversight types (``kuzet.common.events.OVERSIGHT_TYPES``: violence with staff
present, staff alone with a detainee, a camera obscured with staff in view) belong to the agency
whose camera saw them, but only its oversight agency (an ombudsman, a prosecutor) may read them,
and only with the read-only ``oversight`` role. Who oversees whom is a deployment setting
(``KUZET_ALERTING_OVERSIGHT_AGENCIES``), not data an agency's admins can change through the API:
the agency being overseen must not be able to choose, or silence, its overseer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.errors import PermissionDenied
from kuzet.common.events import OVERSIGHT_TYPES

log = logging.getLogger(__name__)

OVERSIGHT_ROLE = "oversight"
READ_ACTION = "alert.oversight.read"


def validate_oversight_agencies(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """Validator of the setting: every overseen agency names at least one other agency."""
    for agency, overseers in values.items():
        if not agency or not overseers or any(not o for o in overseers):
            raise ValueError(f"oversight of agency {agency!r} must name at least one oversight agency")
        if agency in overseers:
            raise ValueError(f"agency {agency} cannot be its own oversight agency")
    return values


def require_writer(caller: Caller) -> None:
    """The oversight role reads and changes nothing, whatever other roles its token carries (an
    overseer who could also act would be part of what it oversees)."""
    if caller.has_role(OVERSIGHT_ROLE):
        raise PermissionDenied(
            f"{caller.subject or 'caller'} holds the read-only {OVERSIGHT_ROLE} role: it may change nothing"
        )


class Oversight:
    """Who oversees whom (from the settings) and the audit trail of oversight reads."""

    def __init__(self, agencies: Mapping[str, Sequence[str]], audit: AuditLog) -> None:
        self.overseers = {owner: frozenset(targets) for owner, targets in agencies.items()}
        self.audit = audit

    def overseen_by(self, caller: Caller) -> frozenset[str]:
        """The agencies whose oversight alerts ``caller`` may read (none without the role)."""
        if not caller.has_role(OVERSIGHT_ROLE) or not caller.agency:
            return frozenset()
        return frozenset(owner for owner, targets in self.overseers.items() if caller.agency in targets)

    def warn_unrouted(self, updates: list[pb.AlertUpdate]) -> None:
        """An oversight alert of an agency nobody oversees is kept, hidden from everyone, until
        the setting names an overseer (visibility is decided when read: it then sees it)."""
        for update in updates:
            alert = update.alert
            if update.kind != pb.ALERT_UPDATE_KIND_CREATED or alert.type not in OVERSIGHT_TYPES:
                continue
            if not self.overseers.get(alert.agency_id):
                log.warning(
                    "oversight alert %s (%s) has no oversight agency to go to: "
                    "set KUZET_ALERTING_OVERSIGHT_AGENCIES",
                    alert.alert_id,
                    alert.type,
                    extra={"agency": alert.agency_id},
                )

    def record_reads(self, caller: Caller, alerts: Iterable[pb.Alert], via: str) -> None:
        """One audit record per read naming the oversight alerts it returned. It is filed under the
        reader's agency, not the owner's: the overseen agency's auditors must not learn from their
        own trail that an oversight alert exists."""
        read = [a for a in alerts if a.type in OVERSIGHT_TYPES]
        if not read:
            return
        self.audit.append(
            READ_ACTION,
            ",".join(dict.fromkeys(a.alert_id for a in read))[:512],
            details={
                "via": via,
                "alerts": [
                    {"alert_id": a.alert_id, "agency": a.agency_id, "type": a.type, "state": a.state}
                    for a in read
                ],
            },
            agency=caller.agency,
            actor=caller.subject,
        )
