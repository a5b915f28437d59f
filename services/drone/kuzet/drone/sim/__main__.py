"""Run simulated vehicles in their own process: `python -m kuzet.drone.sim --count 200 --base-port 21000`.

Vehicle i (from 0) has system id (start + i - 1) % 250 + 1 and sends to udp HOST:(base_port + i)
(udpout), where the service listens with udpin. Homes are spread on a grid 50 m apart.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from kuzet.drone.sim.host import SimHost
from kuzet.drone.sim.vehicle import VehicleConfig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--base-port", type=int, default=21000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--system-id-start", type=int, default=1)
    p.add_argument("--lat", type=float, default=51.5007)
    p.add_argument("--lon", type=float, default=-0.1246)
    p.add_argument("--speedup", type=float, default=1.0)
    p.add_argument("--battery", type=float, default=100.0)
    p.add_argument("--stats-file", help="on SIGUSR1 write positions sent per vehicle, in order (JSON) here")
    opts = p.parse_args(argv)
    host = SimHost()
    for i in range(opts.count):
        sysid = (opts.system_id_start + i - 1) % 250 + 1
        lat = opts.lat + (i // 20) * 50 / 111_195.0
        lon = opts.lon + (i % 20) * 50 / 69_230.0
        host.add(
            VehicleConfig(sysid, lat, lon, 20.0, battery_pct=opts.battery, speedup=opts.speedup, seed=i + 1),
            f"udpout:{opts.host}:{opts.base_port + i}",
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if opts.stats_file:

        def dump(*_: object) -> None:
            stats = {"time": time.monotonic(), "positions": [v.positions_sent for v in host.ordered]}
            with open(opts.stats_file, "w", encoding="utf-8") as fh:
                json.dump(stats, fh)

        signal.signal(signal.SIGUSR1, dump)
    host.start()
    print(f"simulating {opts.count} vehicles", flush=True)
    stop.wait()
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
