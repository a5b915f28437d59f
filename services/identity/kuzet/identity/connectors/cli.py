"""`kuzet import-wanted`: import a wanted-persons list into a watchlist (docs/connectors.md).

    kuzet import-wanted --watchlist GALLERY_ID --agency AGENCY --feed NAME --operator WHO
        (--drop-store URL --drop-key KEY | --rest URL) [--legal-basis TEXT ...] [--delta] [--json]

It writes to the identity database (KUZET_IDENTITY_* settings, as the service), stores photos in
the service's object store and checks faces through the inference service
(KUZET_ENDPOINT_INFERENCE); running identity replicas pick the change up from the change feed.
A REST source's bearer token comes from KUZET_IMPORT_REST_TOKEN, never from the command line.
Exit status: 0 applied (0 changes included), 1 rejected or failed, 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import asyncio

from kuzet.common.audit import open_audit_log
from kuzet.common.caller import service_caller
from kuzet.common.config import Endpoints, load_settings
from kuzet.common.connectors.base import ImportReport, run_import
from kuzet.common.connectors.cli import import_parser, run_command, source_of
from kuzet.common.db import Database, migrate
from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import InferenceClient
from kuzet.common.objectstore import open_object_store
from kuzet.identity.config import IdentitySettings
from kuzet.identity.connectors.wanted import WantedPersonsConnector
from kuzet.identity.connectors.watchlist import WatchlistSink, WatchlistTarget
from kuzet.identity.faces import InferenceFaces, QualityBar


def parser() -> argparse.ArgumentParser:
    return import_parser(
        "kuzet import-wanted",
        __doc__.splitlines()[0],
        [
            ("--watchlist", "id of the watchlist (gallery) to import into"),
            ("--agency", "the agency that owns the watchlist"),
        ],
        legal_basis_help="a legal basis records may cite (repeatable); default: the watchlist's own",
    )


async def import_wanted(
    opts: argparse.Namespace, settings: IdentitySettings | None = None, endpoints: Endpoints | None = None
) -> ImportReport:
    settings = settings or load_settings(IdentitySettings)
    endpoints = endpoints or Endpoints()
    source = source_of(opts)
    database = Database(settings.effective_database_url)
    channel = open_channel(
        endpoints.inference, audience="inference", caller=service_caller("identity-import", opts.agency)
    )
    try:
        await asyncio.to_thread(migrate, database, "kuzet.identity.migrations")
        audit = await asyncio.to_thread(open_audit_log, settings, database)
        faces = InferenceFaces(
            InferenceClient(channel),
            QualityBar.of(settings),
        )
        target = WatchlistTarget(opts.watchlist, opts.agency, opts.operator, snapshot=not opts.delta)
        sink = WatchlistSink(
            database, audit, open_object_store(settings.effective_object_store_url), faces, target
        )
        legal_bases = opts.legal_basis or [await sink.legal_basis()]
        return await run_import(WantedPersonsConnector(source, legal_bases), sink, opts.feed)
    finally:
        await channel.close()
        database.dispose()


def main(argv: list[str] | None = None) -> int:
    return run_command(parser(), argv, import_wanted)


if __name__ == "__main__":
    raise SystemExit(main())
