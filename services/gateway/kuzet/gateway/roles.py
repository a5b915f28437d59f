"""Who may do what through the gateway: one table, checked on every route.

The services check roles again (defence in depth); this table is what the API documents and
what the authorisation tests walk through. Roles are per agency: a token carries one agency and
the roles its holder has there, so every permission below is implicitly "in the caller's agency".
"""

from __future__ import annotations

from enum import StrEnum

OPERATOR = "operator"
REVIEWER = "reviewer"
INVESTIGATOR = "investigator"
PILOT = "pilot"
AUDITOR = "auditor"
ADMIN = "admin"
# Reads integrity (bribery attempt) reports filed from badges; kept apart from the chain of
# command those reports may be about.
INTERNAL_AFFAIRS = "internal_affairs"
# An oversight agency's (ombudsman, prosecutor) read-only role: the signs of abuse by staff of the
# agencies it oversees (alerting's KUZET_ALERTING_OVERSIGHT_AGENCIES); it changes nothing, and
# alerting refuses every write of a token that carries it.
OVERSIGHT = "oversight"

ROLES: frozenset[str] = frozenset(
    {OPERATOR, REVIEWER, INVESTIGATOR, PILOT, AUDITOR, ADMIN, INTERNAL_AFFAIRS, OVERSIGHT}
)


class Permission(StrEnum):
    ALERTS_READ = "alerts.read"
    ALERTS_ACT = "alerts.act"  # acknowledge, resolve
    SITES_ADMIN = "sites.admin"  # duty rosters, shared routes, webhooks
    REVIEWS_READ = "reviews.read"
    REVIEWS_DECIDE = "reviews.decide"
    GALLERIES_READ = "galleries.read"
    GALLERIES_ADMIN = "galleries.admin"  # create, share
    PEOPLE_ENROL = "people.enrol"
    PEOPLE_ERASE = "people.erase"
    IDENTIFY = "identify"  # 1:N search and 1:1 verification
    SITES_SEARCH = "federation.search"  # a face searched in the facilities' galleries, from a hub
    CAMERAS_READ = "cameras.read"
    CAMERAS_ADMIN = "cameras.admin"  # cameras, zones, rules
    EVIDENCE_VIEW = "evidence.view"
    # The snapshot of an alert that alerting has just returned to the caller: not live cameras,
    # not review faces, not traffic observations.
    ALERT_EVIDENCE_VIEW = "alert_evidence.view"
    AUDIT_READ = "audit.read"
    BADGES_READ = "badges.read"
    INTEGRITY_READ = "integrity.read"
    DRONES_READ = "drones.read"
    DRONES_COMMAND = "drones.command"  # dispatch, plan, control
    DRONES_ADMIN = "drones.admin"  # registry, geofences
    HOLDS_READ = "holds.read"  # legal holds and their release requests
    HOLDS_MANAGE = "holds.manage"  # place a hold; ask for or complete its two-person release
    TRAFFIC_READ = "traffic.read"  # traffic cameras, lane counts, speeds, hotlist hits
    PLATES_SEARCH = "plates.search"  # where and when a plate was seen (audited by traffic)
    TRAFFIC_ADMIN = "traffic.admin"  # camera profiles (lanes, calibration, limit), hotlists
    RECORDINGS_READ = "recordings.read"  # badge evidence items and their chain of custody
    EVIDENCE_EXPORT = "evidence.export"  # export badge evidence with a verified hash manifest
    CITATIONS_READ = "citations.read"
    CITATIONS_RECORD = "citations.record"  # a payment or a contest of a citation
    CITATIONS_DECIDE = "citations.decide"  # uphold or void a citation
    STATISTICS_READ = "statistics.read"  # the figures ministries report


_R = frozenset
ROLE_TABLE: dict[Permission, frozenset[str]] = {
    # Integrity alerts reach internal affairs only: alerting hides them from every other role.
    # Oversight alerts reach the oversight role of the overseeing agency only (alerting decides).
    Permission.ALERTS_READ: _R({OPERATOR, REVIEWER, INVESTIGATOR, PILOT, ADMIN, INTERNAL_AFFAIRS, OVERSIGHT}),
    Permission.ALERTS_ACT: _R({OPERATOR}),
    Permission.SITES_ADMIN: _R({ADMIN}),
    # A face match is a candidate until a reviewer confirms it: only reviewers decide.
    Permission.REVIEWS_READ: _R({REVIEWER}),
    Permission.REVIEWS_DECIDE: _R({REVIEWER}),
    # Same sets as the identity service enforces (operators enrol at intake, roll-call search).
    Permission.GALLERIES_READ: _R({OPERATOR, INVESTIGATOR, REVIEWER, ADMIN}),
    Permission.GALLERIES_ADMIN: _R({ADMIN}),
    Permission.PEOPLE_ENROL: _R({OPERATOR, ADMIN}),
    Permission.PEOPLE_ERASE: _R({ADMIN}),
    Permission.IDENTIFY: _R({OPERATOR, INVESTIGATOR, ADMIN}),
    # An investigation across facilities: investigators only, as federation enforces.
    Permission.SITES_SEARCH: _R({INVESTIGATOR}),
    Permission.CAMERAS_READ: _R({OPERATOR, INVESTIGATOR, ADMIN}),
    Permission.CAMERAS_ADMIN: _R({ADMIN}),
    Permission.EVIDENCE_VIEW: _R({OPERATOR, REVIEWER, INVESTIGATOR}),
    # An overseer sees the evidence of the alerts it may read (alerting decides which), never a
    # camera's live view: that would watch the prison, not the alerts about it.
    Permission.ALERT_EVIDENCE_VIEW: _R({OPERATOR, REVIEWER, INVESTIGATOR, OVERSIGHT}),
    # Separation of duties: auditors read every trail, nobody else does.
    Permission.AUDIT_READ: _R({AUDITOR}),
    Permission.BADGES_READ: _R({OPERATOR, INVESTIGATOR, ADMIN}),
    Permission.INTEGRITY_READ: _R({INTERNAL_AFFAIRS}),
    Permission.DRONES_READ: _R({PILOT, OPERATOR, ADMIN}),
    Permission.DRONES_COMMAND: _R({PILOT}),
    Permission.DRONES_ADMIN: _R({ADMIN}),
    # Investigators and admins place holds; releasing takes two of them (the services enforce it).
    Permission.HOLDS_READ: _R({INVESTIGATOR, ADMIN, AUDITOR}),
    Permission.HOLDS_MANAGE: _R({INVESTIGATOR, ADMIN}),
    Permission.TRAFFIC_READ: _R({OPERATOR, INVESTIGATOR, ADMIN}),
    # A plate is personal data: searched by the roles that may search faces, with a purpose.
    Permission.PLATES_SEARCH: _R({OPERATOR, INVESTIGATOR, ADMIN}),
    # What the hotlist holds, and why, is for the admins who keep it.
    Permission.TRAFFIC_ADMIN: _R({ADMIN}),
    # The sets badge enforces for evidence (any role of the agency may list; export is an
    # investigator's or an admin's) and for the citation life cycle (lifecycle.py there):
    # operators record payments and contests, deciding a contest or voiding is a supervisor's.
    Permission.RECORDINGS_READ: _R({INVESTIGATOR, ADMIN, AUDITOR}),
    Permission.EVIDENCE_EXPORT: _R({INVESTIGATOR, ADMIN}),
    Permission.CITATIONS_READ: _R({OPERATOR, INVESTIGATOR, ADMIN, AUDITOR}),
    Permission.CITATIONS_RECORD: _R({OPERATOR, ADMIN}),
    Permission.CITATIONS_DECIDE: _R({ADMIN}),
    # Roles both badge and drone let read their figures; the bribery figure is INTEGRITY_READ's.
    Permission.STATISTICS_READ: _R({OPERATOR, ADMIN, AUDITOR}),
}

assert set(ROLE_TABLE) == set(Permission), "every permission needs a row"


def allowed(roles: frozenset[str] | set[str], permission: Permission) -> bool:
    return not ROLE_TABLE[permission].isdisjoint(roles)


def permissions_of(roles: frozenset[str] | set[str]) -> list[str]:
    """What the console may offer to a user with these roles (the server checks again)."""
    return sorted(p.value for p in Permission if allowed(roles, p))
