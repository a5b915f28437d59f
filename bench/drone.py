"""Drone service benchmark: telemetry fan-out at 10 Hz per drone, and mission upload time.

Three processes, as in production: the simulated vehicles (kuzet.drone.sim), ONE drone service
process (kuzet.drone.server), and this script as the gRPC subscribers (console/pilots) that
measure, for every telemetry sample, the time from the service receiving it from the vehicle
(Telemetry.time) to the subscriber holding it. A drone is "held at 10 Hz" when every subscriber
received at least 95 % of its 10 Hz samples over the measurement window.

Mission upload: 100 waypoints (+ home, takeoff, speed, RTL) over UDP loopback with the service's
asyncio DroneLink vs a baseline classic blocking pymavlink loop (mavutil), median of runs.

Subscribers ask for batched streams (max_batch=256), as the console does; the full run adds the
one-sample-per-message stream as the baseline.

    python bench/drone.py            # 200 and 300 drones, 4 subscribers, 20 s windows, + baseline
    python bench/drone.py --quick    # 200 drones, 2 subscribers, 8 s window (< 1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import grpc

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.testing import free_port_number
from kuzet.common.tls import secure_channel, use_local_pki
from kuzet.common.v1 import common_pb2
from kuzet.common.waiting import within
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
AGENCY = "bench"
PILOT = Caller("bench-pilot", AGENCY, frozenset({"pilot", "admin"}))
LAT, LON = 51.5007, -0.1246


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_udp_range(n: int) -> int:
    """A base port with n free UDP ports above it, below the kernel's ephemeral range (so the
    simulator's own sending sockets cannot take one of them)."""
    lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for base in range(20000, lo - n, n + 7):
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} free UDP ports below {lo}")


async def wait_port(address: str, within_s: float = 30.0) -> grpc.aio.Channel:
    channel = secure_channel(address)
    await within(within_s, channel.channel_ready())
    return channel


def launch(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL)


def read_stats(path: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError):
        return None


async def fanout(n_drones: int, n_subs: int, window_s: float, hz: float, batch: int) -> dict[str, Any]:
    base_port = free_udp_range(n_drones)
    port = free_port_number()
    tmp = tempfile.mkdtemp(prefix="kuzet-drone-bench-")
    env = dict(
        os.environ,
        KUZET_DRONE_PORT=str(port),
        KUZET_DRONE_DATA_DIR=tmp,
        KUZET_DRONE_DATABASE_URL=f"sqlite:///{tmp}/drone.db",
        KUZET_DRONE_PUBLISH_EVENTS="false",
        KUZET_DRONE_TELEMETRY_HZ=str(hz),
        KUZET_DRONE_LOG_LEVEL="WARNING",
    )
    service = launch(
        ["-c", "import asyncio\nfrom kuzet.drone.server import SPEC\nasyncio.run(SPEC.run())"], env
    )
    stats_file = f"{tmp}/sim-stats.json"
    sim = launch(
        [
            "-m",
            "kuzet.drone.sim",
            "--count",
            str(n_drones),
            "--base-port",
            str(base_port),
            "--stats-file",
            stats_file,
        ]
    )

    async def sim_stats() -> dict[str, Any]:
        before = read_stats(stats_file)
        sim.send_signal(signal.SIGUSR1)
        for _ in range(100):
            await asyncio.sleep(0.02)
            stats = read_stats(stats_file)
            if stats is not None and stats != before:
                return stats
        raise RuntimeError("simulator did not write its stats")

    try:
        channel = await wait_port(f"127.0.0.1:{port}")
        stub = drone_pb2_grpc.DroneServiceStub(channel)
        md = caller_metadata(PILOT, audience="drone")
        sem = asyncio.Semaphore(16)

        async def register(i: int) -> None:
            drone = drone_pb2.Drone(
                drone_id=f"b{i:04d}",
                agency_id=AGENCY,
                system_id=i % 250 + 1,
                home=common_pb2.GeoPoint(latitude=LAT, longitude=LON, altitude_m=20),
                link_url=f"udpin:127.0.0.1:{base_port + i}",
            )
            async with sem:
                for attempt in range(3):
                    try:
                        await stub.RegisterDrone(
                            drone_pb2.RegisterDroneRequest(drone=drone, update=True), metadata=md
                        )
                        return
                    except grpc.aio.AioRpcError as exc:
                        # Seen rarely on this oversubscribed machine with 300 concurrent registrations:
                        # CANCELLED with the service alive; counted and retried (update=True is idempotent).
                        if (
                            exc.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
                            or attempt == 2
                        ):
                            raise
                        retries.append(i)

        retries: list[int] = []
        t0 = time.monotonic()
        await asyncio.gather(*(register(i) for i in range(n_drones)))
        register_s = time.monotonic() - t0
        # Let every link come up and the 10 Hz stream requests settle.
        await asyncio.sleep(3.0)

        latencies: list[list[float]] = [[] for _ in range(n_subs)]
        counts: list[dict[str, int]] = [{} for _ in range(n_subs)]
        measuring = asyncio.Event()

        async def subscriber(k: int) -> None:
            request = drone_pb2.WatchTelemetryRequest(max_batch=batch)
            async for msg in stub.WatchTelemetry(request, metadata=md):
                if not measuring.is_set():
                    continue
                now = time.time()
                for t in msg.batch if batch > 1 else [msg.telemetry]:
                    latencies[k].append((now - t.time.seconds - t.time.nanos * 1e-9) * 1000.0)
                    counts[k][t.drone_id] = counts[k].get(t.drone_id, 0) + 1

        subs = [asyncio.create_task(subscriber(k)) for k in range(n_subs)]
        await asyncio.sleep(2.0)
        cpu0, cpu_sim0 = cpu_seconds(service.pid), cpu_seconds(sim.pid)
        sent0 = await sim_stats()
        measuring.set()
        t_start = time.monotonic()
        await asyncio.sleep(window_s)
        measuring.clear()
        elapsed = time.monotonic() - t_start
        sent1 = await sim_stats()
        cpu1, cpu_sim1 = cpu_seconds(service.pid), cpu_seconds(sim.pid)
        for s in subs:
            s.cancel()
        await asyncio.gather(*subs, return_exceptions=True)
        await channel.close()
    finally:
        for proc in (service, sim):
            proc.terminate()
        for proc in (service, sim):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    # Held: every subscriber got >= 95 % of the nominal 10 Hz. Delivered: every subscriber got
    # >= 95 % of what the vehicle actually sent (the simulator is CPU-starved too on a busy box).
    expected = hz * elapsed
    sent = [b - a for a, b in zip(sent0["positions"], sent1["positions"], strict=True)]
    held = sum(1 for i in range(n_drones) if all(c.get(f"b{i:04d}", 0) >= 0.95 * expected for c in counts))
    delivered = sum(
        1 for i in range(n_drones) if all(c.get(f"b{i:04d}", 0) >= 0.95 * sent[i] for c in counts)
    )
    vehicle_hz = sum(sent) / max(1, len(sent)) / (sent1["time"] - sent0["time"])
    # Load-independent capacity: service CPU time per position sample the vehicles sent (all the
    # MAVLink around it, the fan-out to every subscriber and the gRPC writes included).
    cpu_us_per_sample = (cpu1 - cpu0) / max(1, sum(sent)) * 1e6
    all_lat = sorted(x for lat in latencies for x in lat)

    def pct(p: float) -> float:
        return all_lat[min(len(all_lat) - 1, int(p / 100 * len(all_lat)))] if all_lat else float("nan")

    return {
        "drones_registered": n_drones,
        "drones": held,
        "subscribers": n_subs,
        "hz": hz,
        "max_batch": batch,
        "drones_delivered": delivered,
        "vehicle_hz": vehicle_hz,
        "service_cpu_us_per_sample": cpu_us_per_sample,
        "drones_per_core_at_10hz": 1e6 / (cpu_us_per_sample * hz) if cpu_us_per_sample else None,
        "samples": len(all_lat),
        "samples_per_s": len(all_lat) / elapsed,
        "p50_fanout_ms": pct(50),
        "p99_fanout_ms": pct(99),
        "max_fanout_ms": all_lat[-1] if all_lat else None,
        "service_cpu_pct": (cpu1 - cpu0) / elapsed * 100,
        "sim_cpu_pct": (cpu_sim1 - cpu_sim0) / elapsed * 100,
        "register_s": register_s,
        "register_retries": len(retries),
    }


def mission_items(mav: Any, n: int) -> list[Any]:
    from pymavlink.dialects.v20 import ardupilotmega as m

    items = [
        mav.mission_item_int_encode(
            0,
            0,
            0,
            m.MAV_FRAME_GLOBAL_INT,
            m.MAV_CMD_NAV_WAYPOINT,
            0,
            1,
            0,
            0,
            0,
            0,
            int(LAT * 1e7),
            int(LON * 1e7),
            20,
        ),
        mav.mission_item_int_encode(
            0, 0, 1, m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, m.MAV_CMD_NAV_TAKEOFF, 0, 1, 0, 0, 0, 0, 0, 0, 30
        ),
        mav.mission_item_int_encode(
            0, 0, 2, m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, m.MAV_CMD_DO_CHANGE_SPEED, 0, 1, 1, 8, 0, 0, 0, 0, 0
        ),
    ]
    for i in range(n):
        items.append(
            mav.mission_item_int_encode(
                0,
                0,
                len(items),
                m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                m.MAV_CMD_NAV_WAYPOINT,
                0,
                1,
                0,
                0,
                0,
                0,
                int((LAT + i * 1e-5) * 1e7),
                int(LON * 1e7),
                30,
            )
        )
    items.append(
        mav.mission_item_int_encode(
            0,
            0,
            len(items),
            m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            m.MAV_CMD_NAV_RETURN_TO_LAUNCH,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        )
    )
    return items


async def upload_kuzet(n: int, runs: int) -> list[float]:
    from kuzet.drone.mavlink.link import DroneLink
    from kuzet.drone.sim import SimHost, VehicleConfig

    port = free_port_number()
    host = SimHost().start()
    link = DroneLink(f"udpin:127.0.0.1:{port}", 7)
    await link.open()
    vehicle = host.add(VehicleConfig(7, LAT, LON, 20.0), f"udpout:127.0.0.1:{port}")
    try:
        await within(10, link.wait_for("HEARTBEAT"))
        times = []
        for _ in range(runs):
            times.append(await link.upload(mission_items(link.mav, n)) * 1000.0)
            assert len(vehicle.mission) == n + 4
        return times
    finally:
        await link.close()
        host.stop()


def upload_baseline(n: int, runs: int) -> list[float]:
    """The classic blocking pymavlink loop a GCS script would write (recv_match per request)."""
    from pymavlink import mavutil

    from kuzet.drone.sim import SimHost, VehicleConfig

    port = free_port_number()
    host = SimHost().start()
    conn = mavutil.mavlink_connection(f"udpin:127.0.0.1:{port}", source_system=255, dialect="ardupilotmega")
    vehicle = host.add(VehicleConfig(8, LAT, LON, 20.0), f"udpout:127.0.0.1:{port}")
    try:
        conn.wait_heartbeat(timeout=5)
        times = []
        for _ in range(runs):
            items = mission_items(conn.mav, n)
            t0 = time.perf_counter()
            conn.mav.mission_count_send(8, 1, len(items), 0)
            while True:
                msg = conn.recv_match(
                    type=["MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK"], blocking=True, timeout=2
                )
                if msg is None:
                    raise RuntimeError("baseline upload timed out")
                if msg.get_type() == "MISSION_ACK":
                    break
                item = items[msg.seq]
                item.target_system, item.target_component = 8, 1
                conn.mav.send(item)
            times.append((time.perf_counter() - t0) * 1000.0)
            assert len(vehicle.mission) == n + 4
        return times
    finally:
        conn.close()
        host.stop()


def main() -> int:
    from kuzet.common.auditkeys import use_run_audit_key

    use_run_audit_key()  # the services it starts refuse to start without an audit key
    use_local_pki(Path(mkdtemp(prefix="kuzet-bench-pki-")), "bench")  # mTLS, as deployed
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--drones", type=int, nargs="*")
    p.add_argument("--subscribers", type=int)
    p.add_argument("--window", type=float)
    opts = p.parse_args()
    from kuzet.common.callerkeys import use_ephemeral_keys

    # The services it starts verify caller tokens: keys for this run (kept until main returns).
    _keys = use_ephemeral_keys("bench")
    sizes = opts.drones or ([200] if opts.quick else [200, 300])
    subs = opts.subscribers or (2 if opts.quick else 4)
    window = opts.window or (8.0 if opts.quick else 20.0)
    runs = 3 if opts.quick else 10

    rows = [asyncio.run(fanout(n, subs, window, 10.0, 256)) for n in sizes]
    if not opts.quick:
        # One sample per stream message, as a naive servicer would send: the side-by-side baseline.
        rows.append(asyncio.run(fanout(sizes[0], subs, window, 10.0, 1)))
    kuzet_up = asyncio.run(upload_kuzet(100, runs))
    base_up = upload_baseline(100, runs)
    print(
        f"\nCPU: {os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f}); "
        "latencies and rates are lower bounds, us/sample is the load-independent cost.\n"
    )
    print(
        f"{'drones':>7} {'veh Hz':>6} {'held@10Hz':>9} {'delivered':>9} {'subs':>4} {'batch':>5} "
        f"{'samples/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'svc CPU%':>8} {'sim CPU%':>8} {'us/sample':>9} {'drones/core':>11}"
    )
    for r in rows:
        print(
            f"{r['drones_registered']:>7} {r['vehicle_hz']:>6.1f} {r['drones']:>9} {r['drones_delivered']:>9} "
            f"{r['subscribers']:>4} {r['max_batch']:>5} "
            f"{r['samples_per_s']:>9.0f} "
            f"{r['p50_fanout_ms']:>7.2f} {r['p99_fanout_ms']:>7.2f} {r['max_fanout_ms']:>7.1f} "
            f"{r['service_cpu_pct']:>8.0f} {r['sim_cpu_pct']:>8.0f} {r['service_cpu_us_per_sample']:>9.0f} "
            f"{r['drones_per_core_at_10hz']:>11.0f}"
        )
    k_med, b_med = statistics.median(kuzet_up), statistics.median(base_up)
    print(
        f"\nmission upload, 100 waypoints (104 items) on loopback: kuzet DroneLink {k_med:.1f} ms median, "
        f"blocking pymavlink loop {b_med:.1f} ms median (ratio {k_med / b_med:.2f})"
    )
    kuzet_rows = [r for r in rows if r["max_batch"] > 1]
    best = max(kuzet_rows, key=lambda r: (r["drones"], -r["p99_fanout_ms"]))
    ok = [r for r in kuzet_rows if r["drones"] == r["drones_registered"] and r["p99_fanout_ms"] <= 50]
    headline = max(ok, key=lambda r: r["drones"]) if ok else best
    result = {
        "benchmark": "drone",
        "quick": opts.quick,
        "cpu_count": os.cpu_count(),
        "cpu_shared": True,
        "drones": headline["drones"],
        "p99_fanout_ms": round(headline["p99_fanout_ms"], 2),
        "runs": rows,
        "mission_upload_100wp_ms": round(k_med, 2),
        "mission_upload_100wp_baseline_ms": round(b_med, 2),
        "mission_upload_runs_ms": [round(x, 2) for x in kuzet_up],
        "goal": {"drones": 200, "p99_fanout_ms": 50},
        "goal_met": headline["drones"] >= 200 and headline["p99_fanout_ms"] <= 50,
        "service_cpu_us_per_sample": round(headline["service_cpu_us_per_sample"], 1),
        "drones_per_core_at_10hz": round(headline["drones_per_core_at_10hz"] or 0),
        "load_average_1m": os.getloadavg()[0],
    }
    out = ROOT / "bench" / "results" / "drone.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"\nheadline: drones={result['drones']} p99_fanout_ms={result['p99_fanout_ms']} -> {out.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
