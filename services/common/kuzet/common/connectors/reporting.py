"""What a run tells: the audit record's details (one record per run, whatever its outcome) and
the operator's summary on the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.connectors.base import ImportReport, Rejection

# The audit record lists the ids it changed and the rows it refused, up to this many each: a
# national list may have hundreds of thousands of rows, an audit record must stay readable.
AUDIT_LIST_LIMIT = 1000


def audit_details(report: ImportReport, *, snapshot: bool) -> dict[str, Any]:
    """The details every import's audit record carries; a sink adds what it changed."""

    def rows(found: Sequence[Rejection]) -> list[dict[str, Any]]:
        return [
            {"row": r.row, "external_id": r.external_id, "reason": r.reason} for r in found[:AUDIT_LIST_LIMIT]
        ]

    details: dict[str, Any] = {
        "feed": report.feed,
        "source": report.source,
        "run_id": report.run_id,
        "content_sha256": report.content_sha256,
        "mode": "snapshot" if snapshot else "delta",
        "counts": report.counts(),
    }
    if report.skipped:
        details["skipped_rows"] = rows(report.skipped)
    if report.rejected:
        details["rejected_rows"] = rows(report.rejected)
    if report.error:
        details["error"] = report.error
    return details


def append_audit(
    audit: AuditLog,
    session: Session,
    action: str,
    target: str,
    report: ImportReport,
    details: dict[str, Any],
    *,
    agency: str,
    actor: str,
) -> None:
    """The run's one audit record, in the transaction that applied it (if anything was)."""
    outcome = {"applied": "ok"}.get(report.outcome, report.outcome)
    audit.append(action, target, outcome, details, agency=agency, actor=actor, session=session)


def print_report(report: ImportReport, as_json: bool, out: TextIO | None = None) -> None:
    # Looked up at each call, not bound at import: whoever redirected stdout since is obeyed.
    out = out or sys.stdout
    if as_json:
        print(json.dumps(report.to_json(), indent=2, default=str), file=out)
        return
    counts = ", ".join(f"{n} {what}" for what, n in report.counts().items())
    print(
        f"{report.outcome}: feed {report.feed} from {report.source} (run {report.run_id}): {counts}", file=out
    )
    if report.error:
        print(f"error: {report.error}", file=out)
    for r in report.rejected:
        print(f"rejected row {r.row} ({r.external_id or 'no id'}): {r.reason}", file=out)
    for r in report.skipped:
        print(f"skipped row {r.row} ({r.external_id}): {r.reason}", file=out)
    if report.rejected:
        print("nothing was imported: correct the rows above and run the import again", file=out)
