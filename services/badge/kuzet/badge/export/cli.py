"""`kuzet export-citations`: an agency's new and changed citations to the offence register.

See services/badge/README.md for the register's protocol.

    kuzet export-citations --register URL --agency AGENCY --operator WHO
        [--batch-size N] [--retry-rejected] [--json]

It reads and updates the badge database (KUZET_BADGE_* settings, as the service) and audits the
run in the badge service's trail. The register's bearer token comes from
KUZET_REGISTER_TOKEN, never from the command line. Run it on a schedule: what one run could not
deliver the next one sends. Exit status: 0 every citation sent was acknowledged or rejected,
1 some could not be delivered (the register failed or left some unanswered), 2 bad usage or
settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TextIO

from kuzet.badge.config import BadgeSettings
from kuzet.badge.export.exporter import CitationExporter, ExportReport
from kuzet.badge.export.register import RegisterClient
from kuzet.common.audit import open_audit_log
from kuzet.common.config import load_settings
from kuzet.common.db import Database, migrate
from kuzet.common.errors import ConfigError

TOKEN_ENV = "KUZET_REGISTER_TOKEN"  # noqa: S105 - an environment variable's name, not a secret


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kuzet export-citations", description=__doc__.splitlines()[0])
    p.add_argument("--register", required=True, help="URL the register takes citation batches at")
    p.add_argument("--agency", required=True, help="the agency whose citations are exported")
    p.add_argument("--operator", required=True, help="who runs the export (named in the audit record)")
    p.add_argument("--batch-size", type=int, default=100, help="citations per request (default 100)")
    p.add_argument(
        "--retry-rejected",
        action="store_true",
        help="send again the citations the register rejected (after the cause was fixed)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


async def export_citations(opts: argparse.Namespace, settings: BadgeSettings | None = None) -> ExportReport:
    settings = settings or load_settings(BadgeSettings)
    register = RegisterClient(opts.register, token=os.environ.get(TOKEN_ENV, ""))
    database = Database(settings.effective_database_url)
    try:
        await asyncio.to_thread(migrate, database, "kuzet.badge.migrations")
        audit = await asyncio.to_thread(open_audit_log, settings, database)
        exporter = CitationExporter(database, audit, register, batch_size=opts.batch_size)
        return await exporter.run(opts.agency, opts.operator, retry_rejected=opts.retry_rejected)
    finally:
        database.dispose()


def print_report(report: ExportReport, as_json: bool, out: TextIO = sys.stdout) -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2), file=out)
        return
    counts = ", ".join(f"{n} {what}" for what, n in report.counts().items())
    print(
        f"{report.outcome}: agency {report.agency} to {report.register} (run {report.run_id}): {counts}",
        file=out,
    )
    if report.error:
        print(f"error: {report.error}", file=out)
    for r in report.rejected:
        print(f"rejected {r.citation_id}: {r.reason}", file=out)


def main(argv: list[str] | None = None) -> int:
    opts = parser().parse_args(argv)
    try:
        report = asyncio.run(export_citations(opts))
    except (ConfigError, ValueError) as exc:
        print(f"kuzet export-citations: {exc}", file=sys.stderr)
        return 2
    print_report(report, opts.json)
    return 0 if report.outcome == "exported" and not report.unacknowledged else 1


if __name__ == "__main__":
    raise SystemExit(main())
