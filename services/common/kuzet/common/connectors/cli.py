"""The command-line side every `kuzet import-*` command shares: where the rows come from, who
runs it, the report and the exit status (0 applied, 0 changes included; 1 rejected, failed or
refused; 2 bad usage or settings)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from kuzet.common.connectors.base import ImportReport, RawSource
from kuzet.common.connectors.filedrop import FileDrop
from kuzet.common.connectors.reporting import print_report
from kuzet.common.connectors.rest import RestSource
from kuzet.common.errors import ConfigError, InvalidArgument, KuzetError
from kuzet.common.objectstore import open_object_store

TOKEN_ENV = "KUZET_IMPORT_REST_TOKEN"  # noqa: S105 - an environment variable's name, not a secret


def import_parser(
    prog: str, description: str, target: Sequence[tuple[str, str]], *, legal_basis_help: str
) -> argparse.ArgumentParser:
    """The options every import takes; ``target``: the command's own required options (name,
    help), which come first."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    for name, help_text in target:
        p.add_argument(name, required=True, help=help_text)
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
    p.add_argument("--legal-basis", action="append", default=[], help=legal_basis_help)
    p.add_argument("--delta", action="store_true", help="the source lists changes only: absent entries stay")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def source_of(opts: argparse.Namespace) -> RawSource:
    if bool(opts.rest) == bool(opts.drop_key):
        raise ValueError("give either --rest URL or --drop-store URL with --drop-key KEY")
    if opts.rest:
        # The token comes from the environment: a command line is visible to every local user.
        return RestSource(opts.rest, token=os.environ.get(TOKEN_ENV, ""))
    if not opts.drop_store:
        raise ValueError("--drop-key needs --drop-store")
    return FileDrop(
        open_object_store(opts.drop_store), opts.drop_key, label=f"{opts.drop_store} {opts.drop_key}"
    )


def run_command(
    p: argparse.ArgumentParser,
    argv: list[str] | None,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, ImportReport]],
) -> int:
    opts = p.parse_args(argv)
    try:
        report = asyncio.run(run(opts))
    except (ConfigError, ValueError, InvalidArgument) as exc:
        print(f"{p.prog}: {exc}", file=sys.stderr)
        return 2
    except KuzetError as exc:
        # Refused before anything was written (no such target, another agency's, a service down).
        print(f"{p.prog}: {exc}", file=sys.stderr)
        return 1
    print_report(report, opts.json)
    return 0 if report.outcome == "applied" else 1
