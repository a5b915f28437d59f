"""`kuzet import-vehicles`: import a stolen or wanted vehicles list into an agency's hotlist
(docs/connectors.md).

    kuzet import-vehicles --agency AGENCY --feed NAME --operator WHO
        (--drop-store URL --drop-key KEY | --rest URL) [--legal-basis TEXT ...] [--delta] [--json]

It writes to the traffic database (KUZET_TRAFFIC_* settings, as the service); running traffic
replicas match plates against that database, so an applied import holds from the next read plate.
Sources, the REST token and the exit status are those of every import (kuzet.common.connectors.cli).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Collection

from kuzet.common.audit import open_audit_log
from kuzet.common.config import load_settings
from kuzet.common.connectors.base import ImportReport, RawSource, run_import
from kuzet.common.connectors.cli import import_parser, run_command, source_of
from kuzet.common.db import Database, migrate
from kuzet.traffic.config import TrafficSettings
from kuzet.traffic.connectors.hotlistsink import HotlistSink, HotlistTarget
from kuzet.traffic.connectors.vehicles import WantedVehiclesConnector


def parser() -> argparse.ArgumentParser:
    return import_parser(
        "kuzet import-vehicles",
        __doc__.splitlines()[0],
        [("--agency", "the agency whose hotlist the vehicles go on")],
        legal_basis_help="a legal basis records may cite (repeatable); default: any records state",
    )


async def import_into_hotlist(
    settings: TrafficSettings,
    source: RawSource,
    target: HotlistTarget,
    feed: str,
    legal_bases: Collection[str] = (),
) -> ImportReport:
    database = Database(settings.effective_database_url)
    try:
        await asyncio.to_thread(migrate, database, "kuzet.traffic.migrations")
        audit = await asyncio.to_thread(open_audit_log, settings, database)
        sink = HotlistSink(database, audit, target)
        return await run_import(WantedVehiclesConnector(source, legal_bases), sink, feed)
    finally:
        database.dispose()


async def import_vehicles(opts: argparse.Namespace, settings: TrafficSettings | None = None) -> ImportReport:
    settings = settings or load_settings(TrafficSettings)
    target = HotlistTarget(opts.agency, opts.operator, snapshot=not opts.delta)
    return await import_into_hotlist(settings, source_of(opts), target, opts.feed, opts.legal_basis)


def main(argv: list[str] | None = None) -> int:
    return run_command(parser(), argv, import_vehicles)


if __name__ == "__main__":
    raise SystemExit(main())
