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
import json
import os
import sys
from typing import TextIO

from kuzet.common.audit import open_audit_log
from kuzet.common.caller import service_caller
from kuzet.common.config import Endpoints, load_settings
from kuzet.common.db import Database, migrate
from kuzet.common.errors import ConfigError, InvalidArgument, KuzetError
from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import InferenceClient
from kuzet.common.objectstore import open_object_store
from kuzet.identity.config import IdentitySettings
from kuzet.identity.connectors.base import ImportReport, RawSource, run_import
from kuzet.identity.connectors.filedrop import FileDrop
from kuzet.identity.connectors.rest import RestSource
from kuzet.identity.connectors.wanted import WantedPersonsConnector
from kuzet.identity.connectors.watchlist import WatchlistSink, WatchlistTarget
from kuzet.identity.faces import InferenceFaces, QualityBar

TOKEN_ENV = "KUZET_IMPORT_REST_TOKEN"  # noqa: S105 - an environment variable's name, not a secret


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kuzet import-wanted", description=__doc__.splitlines()[0])
    p.add_argument("--watchlist", required=True, help="id of the watchlist (gallery) to import into")
    p.add_argument("--agency", required=True, help="the agency that owns the watchlist")
    p.add_argument(
        "--feed", required=True, help="name of the feed: entries are keyed by feed and external id"
    )
    p.add_argument("--operator", required=True, help="who runs the import (named in the audit record)")
    p.add_argument(
        "--drop-store",
        default="",
        help="object store of the file drop: s3://bucket?endpoint=... or file:///dir",
    )
    p.add_argument("--drop-key", default="", help="the dropped file's key in that store (.csv or .json)")
    p.add_argument("--rest", default="", help="URL of a paged REST source")
    p.add_argument(
        "--legal-basis",
        action="append",
        default=[],
        help="a legal basis records may cite (repeatable); default: the watchlist's own",
    )
    p.add_argument("--delta", action="store_true", help="the source lists changes only: absent entries stay")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def source_of(opts: argparse.Namespace) -> RawSource:
    if bool(opts.rest) == bool(opts.drop_key):
        raise ValueError("give either --rest URL or --drop-store URL with --drop-key KEY")
    if opts.rest:
        return RestSource(opts.rest, token=os.environ.get(TOKEN_ENV, ""))
    if not opts.drop_store:
        raise ValueError("--drop-key needs --drop-store")
    return FileDrop(
        open_object_store(opts.drop_store), opts.drop_key, label=f"{opts.drop_store} {opts.drop_key}"
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


def print_report(report: ImportReport, as_json: bool, out: TextIO = sys.stdout) -> None:
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


def main(argv: list[str] | None = None) -> int:
    opts = parser().parse_args(argv)
    try:
        report = asyncio.run(import_wanted(opts))
    except (ConfigError, ValueError, InvalidArgument) as exc:
        print(f"kuzet import-wanted: {exc}", file=sys.stderr)
        return 2
    except KuzetError as exc:
        # Refused before anything was written: no watchlist, another agency's, inference down.
        print(f"kuzet import-wanted: {exc}", file=sys.stderr)
        return 1
    print_report(report, opts.json)
    return 0 if report.outcome == "applied" else 1


if __name__ == "__main__":
    raise SystemExit(main())
