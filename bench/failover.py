"""Failover of the whole platform: kill -9 one replica of identity, ingest, badge, alerting and
drone at once, during a camera burst and a badge stream (bench/failover.py).

Two runs on this machine, as `kuzet up --replicas` runs the platform (see kuzet.e2e.failover for
what is counted and how):
  - replicas: two of each of those services;
  - baseline: one of each, the same kills (what is lost when there is no second replica).
A killed process stays down for the rest of the run (a lost node; the supervisor's restart would
otherwise hide the difference).

    python bench/failover.py            # 4 cameras, 8 badges, 25 s before and 40 s after the kills
    python bench/failover.py --quick    # 2 cameras, 4 badges, 12 s before and 25 s after

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
from pathlib import Path
from typing import Any

from kuzet.e2e.failover import INGEST_LEASE_S, Plan, run_failover

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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 cameras, 4 badges, about a minute per run")
    opts = parser.parse_args()
    if opts.quick:
        plans = [
            Plan(r, cameras=2, badges=4, warmup_s=12, after_kill_s=25, identity_rounds=5) for r in (2, 1)
        ]
    else:
        plans = [
            Plan(r, cameras=4, badges=8, warmup_s=25, after_kill_s=40, identity_rounds=20) for r in (2, 1)
        ]
    from kuzet.ingest.testing.videotest import walking_scenario, write_h264

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_h264(walking_scenario(640, 360), Path(tmp) / "walk.mp4")
        for plan in plans:
            started = time.monotonic()
            row = run_failover(Path(tmp) / f"platform-{plan.replicas}", plan, clip)
            row["wall_s"] = round(time.monotonic() - started, 1)
            row["load_average"] = round(os.getloadavg()[0], 2)
            runs.append(row)
    print(f"{'replicas':>8} " + " ".join(f"{title:>15}" for _, title in COLUMNS))
    for row in runs:
        print(f"{row['replicas']:>8} " + " ".join(f"{row.get(key)!s:>15}" for key, _ in COLUMNS))
    replicas = runs[0]
    summary = {
        **{key: replicas.get(key) for key, _ in COLUMNS},
        "why_null": {k: WHY_NULL[k] for k in WHY_NULL if replicas.get(k) is None},
        "goals": {
            "lost_alerts": 0,
            "ingest_takeover_s": f"<= {INGEST_LEASE_S} (ingest's lease duration)",
            "identity_visible_ms": "<= 1000",
            "stale_matches_after_erasure": 0,
            "badge_commands_lost": 0,
        },
        "quick": opts.quick,
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
