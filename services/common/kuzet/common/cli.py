"""`kuzet` command line: run one service, or the whole platform on one machine."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

from kuzet.common.errors import ConfigError
from kuzet.common.launcher import GROUP, Launcher, installed_services

COMMANDS = "kuzet.commands"


def serve(name: str) -> int:
    # Only the named service is imported: loading every entry point would cost each process the
    # start-up time of all the others.
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        installed = ", ".join(sorted(ep.name for ep in entry_points(group=GROUP))) or "none"
        print(f"unknown service {name!r}; installed: {installed}", file=sys.stderr)
        return 2
    try:
        asyncio.run(found[0].load().run())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def up(only: list[str] | None) -> int:
    """Start each service as its own process on loopback; stop them all on Ctrl-C or if one dies."""
    launcher = Launcher(Path(os.environ.get("KUZET_DATA_DIR", ".kuzet")))
    if not launcher.specs:
        print("no Kuzet services are installed (run `make dev`)", file=sys.stderr)
        return 2
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name in launcher.start_all(only):
            print(f"  {name:<10} {launcher.url(name)}", flush=True)
        print(f"Kuzet is up; logs in {launcher.logs}; Ctrl-C stops it.", flush=True)
        while not stopping:
            if dead := launcher.exited():
                print(f"stopping: {dead} exited; see {launcher.logs}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        launcher.stop_all()
        print("Kuzet stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    extra = {ep.name: ep for ep in entry_points(group=COMMANDS)}
    parser = argparse.ArgumentParser(prog="kuzet", description="Kuzet public-safety platform")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run one service")
    p_serve.add_argument("service")
    p_up = sub.add_parser("up", help="run the whole platform on this machine")
    p_up.add_argument("--only", help="comma-separated services to start")
    sub.add_parser("services", help="list the installed services")
    for name in extra:
        sub.add_parser(name, help=f"{name} (from {extra[name].value})", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command in extra:
        command = extra[args.command].load()
        return int(command(rest) or 0)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        return serve(args.service)
    if args.command == "up":
        return up(args.only.split(",") if args.only else None)
    for spec in installed_services().values():
        print(f"{spec.name:<10} {spec.protocol}:{spec.default_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
