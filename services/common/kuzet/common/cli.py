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

from kuzet.common.callerkeys import keys_command
from kuzet.common.errors import ConfigError
from kuzet.common.launcher import (
    CALLER_KEYS_DIR,
    GROUP,
    Launcher,
    installed_services,
    local_client_caller_keys,
    local_client_tls,
    parse_replicas,
    port_open,
    read_status,
)

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


def up(only: list[str] | None, replicas: dict[str, int]) -> int:
    """Start each service's replicas as processes on loopback, restart any that exits (with
    backoff) while the others keep running, and stop them all on Ctrl-C."""
    try:
        launcher = Launcher(data_dir(), replicas=replicas)
    except (KeyError, ValueError) as exc:
        print(exc.args[0] if exc.args else exc, file=sys.stderr)
        return 2
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
            count = len(launcher.units(name))
            print(
                f"  {name:<10} {launcher.url(name)}" + (f"  ({count} replicas)" if count > 1 else ""),
                flush=True,
            )
        if client := launcher.client_tls_env:
            # Clients need a certificate of the local CA: `kuzet <tool>` finds it in the data
            # directory; other programs take these settings.
            print("  clients:   " + " ".join(f"{k}={v}" for k, v in client.items()), flush=True)
        print(
            f"Kuzet is up; logs in {launcher.logs}; a process that exits is restarted "
            "(`kuzet status` shows them); Ctrl-C stops it.",
            flush=True,
        )
        while not stopping:
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        launcher.stop_all()
        print("Kuzet stopped.", flush=True)


def data_dir() -> Path:
    return Path(os.environ.get("KUZET_DATA_DIR", ".kuzet"))


def status() -> int:
    """What the supervisor of `kuzet up` last saw; exit 1 unless every process is running."""
    seen = read_status(data_dir())
    if seen is None:
        print(
            f"no platform has run in {data_dir().resolve()} (`kuzet up` writes its status there)",
            file=sys.stderr,
        )
        return 1
    age = time.time() - float(seen["updated_at"])
    print(f"{'process':<12} {'state':<9} {'pid':>7} {'port':>6} {'restarts':>8}  last exit")
    healthy = True
    for key, p in seen["processes"].items():
        # Written on every change only: a running process is checked on its port now.
        state = p["state"] if p["state"] != "running" or port_open(int(p["port"])) else "down"
        healthy &= state == "running"
        wait = f" (restart in {p['restart_in_s']} s)" if p.get("restart_in_s") is not None else ""
        print(
            f"{key:<12} {state:<9} {p['pid'] or '-':>7} {p['port']:>6} {p['restarts']:>8}  "
            f"{p['last_exit'] or '-'}{wait}"
        )
    print(f"(supervisor pid {seen['launcher_pid']}, status written {age:.0f} s ago)")
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    extra = {ep.name: ep for ep in entry_points(group=COMMANDS)}
    parser = argparse.ArgumentParser(prog="kuzet", description="Kuzet public-safety platform")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run one service")
    # An image holds one service and names it in KUZET_IMAGE_SERVICE (services/Dockerfile).
    p_serve.add_argument("service", nargs="?", default=os.environ.get("KUZET_IMAGE_SERVICE") or None)
    p_up = sub.add_parser("up", help="run the whole platform on this machine")
    p_up.add_argument("--only", help="comma-separated services to start")
    p_up.add_argument(
        "--replicas",
        default="",
        help="processes per service, e.g. identity=2,ingest=2 (each its own port; default 1)",
    )
    sub.add_parser("status", help="the processes of `kuzet up` in KUZET_DATA_DIR: running, restarting")
    sub.add_parser("services", help="list the installed services")
    sub.add_parser("keys", help="caller-token keys: `kuzet keys generate DIR`", add_help=False)
    for name in extra:
        sub.add_parser(name, help=f"{name} (from {extra[name].value})", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "keys":
        return keys_command(rest)
    if args.command in extra:
        if not os.environ.get("KUZET_CALLER_SIGNING_KEY"):
            # The tools mint caller tokens with the tools key of `kuzet up` in the data directory.
            os.environ.update(local_client_caller_keys(data_dir().resolve() / CALLER_KEYS_DIR))
        if not os.environ.get("KUZET_TLS_CERT"):
            # The tools reach the services of `kuzet up` in the data directory with its client certificate.
            os.environ.update(local_client_tls(data_dir()))
        command = extra[args.command].load()
        return int(command(rest) or 0)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        if not args.service:
            parser.error("serve: name the service (or set KUZET_IMAGE_SERVICE)")
        return serve(args.service)
    if args.command == "up":
        try:
            replicas = parse_replicas(args.replicas)
        except ValueError as exc:
            parser.error(str(exc))
        return up(args.only.split(",") if args.only else None, replicas)
    if args.command == "status":
        return status()
    for spec in installed_services().values():
        print(f"{spec.name:<10} {spec.protocol}:{spec.default_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
