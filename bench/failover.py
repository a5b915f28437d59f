"""Failover of the whole platform: kill -9 one replica of identity, ingest, badge, alerting and
drone at once, during a camera burst and a badge stream (bench/failover.py).

Two runs on this machine, as `kuzet up --replicas` runs the platform (see kuzet.e2e.failover for
what is counted and how):
  - replicas: two of each of those services;
  - baseline: one of each, the same kills (what is lost when there is no second replica).
A killed process stays down for the rest of the run (a lost node; the supervisor's restart would
otherwise hide the difference).

    python bench/failover.py            # 4 cameras, 8 badges, 25 s before and 40 s after the kills,
                                        # the default leases (ingest takeover goal 15 s, drone 10 s),
                                        # one run after the other
    python bench/failover.py --quick    # 2 cameras, 4 badges, 6 s before and 10 s after the kills,
                                        # ingest takeover goal 8 s, drone lease 3 s, both runs at
                                        # once (each run bears the other's load); about 75 CPU-s
                                        # in all, so its wall time depends on the machine's load
                                        # (docs/performance.md)

The quick run's shorter leases keep what is measured the same (each figure is judged against the
lease the run used, recorded in the results); running both platforms side by side only adds load.

Writes bench/results/failover.json: the replicas run's figures at the top level (lost_alerts,
ingest_takeover_s, identity_visible_ms, stale_matches_after_erasure, badge_commands_lost, ...),
both runs in full under "runs". Run it under `nice` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from kuzet.e2e.failover import Plan, run_failover

RESULTS = Path(__file__).resolve().parent / "results" / "failover.json"
COLUMNS = (
    ("lost_alerts", "lost alerts"),
    ("duplicated_alerts", "dup alerts"),
    ("ingest_takeover_s", "takeover s"),
    ("longest_unanalysed_s", "blind s"),
    ("badge_commands_lost", "badge cmds lost"),
    ("drone_commands_lost", "drone cmds lost"),
    ("identity_visible_ms", "visible ms p99"),
    ("stale_matches_after_erasure", "stale"),
)
# What a figure is null for, when it is (never a made-up number).
WHY_NULL = {
    "identity_visible_ms": "one identity replica: no other replica to search",
    "stale_matches_after_erasure": "one identity replica: no other replica to search",
    "ingest_takeover_s": "the killed replica's cameras were not analysed again before the run ended "
    "(one replica: nobody to take over), or it owned none",
}


def measured_run(data_dir: Path, plan: Plan, clip: Path) -> dict[str, Any]:
    started = time.monotonic()
    row = run_failover(data_dir, plan, clip)
    row["wall_s"] = round(time.monotonic() - started, 1)
    row["load_average"] = round(os.getloadavg()[0], 2)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 cameras, 4 badges, short leases, both runs at once"
    )
    opts = parser.parse_args()
    if opts.quick:
        plans = [
            Plan(
                r,
                cameras=2,
                badges=4,
                warmup_s=6,
                after_kill_s=10,
                identity_rounds=3,
                ingest_lease_s=8,
                drone_lease_s=3,
            )
            for r in (2, 1)
        ]
    else:
        plans = [
            Plan(r, cameras=4, badges=8, warmup_s=25, after_kill_s=40, identity_rounds=20) for r in (2, 1)
        ]
    from kuzet.ingest.testing.videotest import walking_scenario, write_h264

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_h264(walking_scenario(640, 360), Path(tmp) / "walk.mp4")
        dirs = [Path(tmp) / f"platform-{plan.replicas}" for plan in plans]
        if opts.quick:
            # Each platform in a process of its own (a platform sets this process's client TLS).
            with ProcessPoolExecutor(len(plans), mp_context=get_context("spawn")) as pool:
                futures = [
                    pool.submit(measured_run, d, plan, clip) for d, plan in zip(dirs, plans, strict=True)
                ]
                runs = [f.result() for f in futures]
        else:
            runs = [measured_run(d, plan, clip) for d, plan in zip(dirs, plans, strict=True)]
    print(f"{'replicas':>8} " + " ".join(f"{title:>15}" for _, title in COLUMNS))
    for row in runs:
        print(f"{row['replicas']:>8} " + " ".join(f"{row.get(key)!s:>15}" for key, _ in COLUMNS))
    replicas = runs[0]
    summary = {
        **{key: replicas.get(key) for key, _ in COLUMNS},
        "why_null": {k: WHY_NULL[k] for k in WHY_NULL if replicas.get(k) is None},
        "goals": {
            "lost_alerts": 0,
            "ingest_takeover_s": f"<= {plans[0].ingest_lease_s} (KUZET_INGEST_LEASE_DURATION_S of the run)",
            "identity_visible_ms": "<= 1000",
            "stale_matches_after_erasure": 0,
            "badge_commands_lost": 0,
        },
        "quick": opts.quick,
        "runs_at_once": opts.quick,
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
