"""What the parts of the evidence store share: its collaborators, who may read an item, and the
retry of custody writes."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.badge import convert, sites
from kuzet.badge.config import BadgeSettings
from kuzet.badge.models import EvidenceRow, EvidenceShareRow
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import NotFound, PermissionDenied
from kuzet.common.holds import ensure_tables
from kuzet.common.objectstore import ObjectStore

CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def actor_of(caller: Caller) -> str:
    return caller.subject or "anonymous"


class EvidenceBase:
    """The store's collaborators and state, shared by its upload, access, retention and verification."""

    def __init__(
        self, settings: BadgeSettings, database: Database, objects: ObjectStore, audit: AuditLog
    ) -> None:
        self.settings = settings
        self.database = database
        self.objects = objects
        self.audit = audit
        self.staging = settings.effective_staging_dir(objects.staging_dir)
        self.staging.mkdir(parents=True, exist_ok=True)
        # A store that keeps the staged file (local) fsyncs it in put_file: its bytes may as well
        # go to disk while the rest arrives. One that streams it elsewhere (S3) deletes it: no need.
        self.writeback = objects.staging_dir is not None
        ensure_tables(database)  # the release requests of the two-person release

    def _readable(self, session: Session, caller: Caller, evidence_id: str) -> EvidenceRow:
        convert.check_id(evidence_id, "evidence_id")
        row = session.get(EvidenceRow, evidence_id)
        if row is None:
            raise NotFound(f"evidence {evidence_id} not found")
        if not caller.sees_agency(row.agency_id):
            shared = session.get(EvidenceShareRow, (evidence_id, caller.agency))
            if shared is None:
                raise PermissionDenied(f"evidence {evidence_id} belongs to another agency and was not shared")
        if not sites.sees_evidence(session, caller, row):
            raise NotFound(f"evidence {evidence_id} not found")
        return row

    async def _with_retry(self, work: Any, *args: Any) -> Any:
        """Two custody writers on one item collide on (evidence_id, seq): the loser tries again."""
        for attempt in range(5):
            try:
                return await self.database.run(work, *args)
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")
