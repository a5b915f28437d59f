"""What caller tokens cost per call, against the HMAC-signed metadata they replaced.

    python bench/caller_tokens.py [--quick]

Measured in one process, per operation (CPU microseconds, median of repeated rounds):
- baseline: the old scheme, an HMAC-SHA256 over subject/agency/roles, signed and checked per call
  (written out here: the platform no longer has it);
- mint: a fresh EdDSA JWT (`CallerTokens.mint`), and the cached token a hot path gets
  (`CallerTokens.token`: one signature per caller and audience per half lifetime);
- verify: the first check of a token (signature, claims), and the check of a token seen before
  (`CallerTokens.verify`, remembered until it expires);
- steady state: what a call costs on a hot path (cached mint + remembered verify), and the worst
  case (a new token every call: mint + first verify).

Writes bench/results/caller_tokens.json.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuzet.common.caller import Caller, CallerTokens
from kuzet.common.callerkeys import generate_keys, load_keyring

RESULTS = Path(__file__).resolve().parent / "results" / "caller_tokens.json"
CALLER = Caller("alice", "police", frozenset({"operator", "reviewer"}))
SECRET = b"bench-secret-bench-secret-bench!"


def per_op_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean CPU time of ``n`` calls, in microseconds (CPU time, as
    the work is all on this thread and a shared machine's wall clock counts other processes)."""
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn()
        samples.append((time.process_time() - started) / n * 1e6)
    return round(statistics.median(samples), 2)


def hmac_sign_and_check() -> bool:
    roles = ",".join(sorted(CALLER.roles))
    message = f"{CALLER.subject}\n{CALLER.agency}\n{roles}".encode()
    signature = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def run(quick: bool) -> dict[str, Any]:
    n, rounds = (300, 5) if quick else (3000, 9)
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        generate_keys(keys, ["gateway", "identity"])
        minter = CallerTokens(load_keyring(keys / "jwks.json", keys / "gateway.pem"))
        verifier = CallerTokens(load_keyring(keys / "jwks.json", keys / "identity.pem"))
        token = minter.mint(CALLER, "identity")
        verifier.verify(token, "identity")

        def first_verify() -> object:
            return verifier._verify(token, "identity")

        def fresh_call() -> object:
            return verifier._verify(minter.mint(CALLER, "identity"), "identity")

        def hot_call() -> object:
            return verifier.verify(minter.token(CALLER, "identity"), "identity")

        baseline = per_op_us(hmac_sign_and_check, n, rounds)
        figures = {
            "hmac_sign_and_check_us": baseline,
            "mint_fresh_us": per_op_us(lambda: minter.mint(CALLER, "identity"), n, rounds),
            "mint_cached_us": per_op_us(lambda: minter.token(CALLER, "identity"), n, rounds),
            "verify_first_us": per_op_us(first_verify, n, rounds),
            "verify_remembered_us": per_op_us(lambda: verifier.verify(token, "identity"), n, rounds),
            "per_call_hot_path_us": per_op_us(hot_call, n, rounds),
            "per_call_worst_case_us": per_op_us(fresh_call, n, rounds),
        }
    return {
        "bench": "caller_tokens",
        "quick": quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "token_bytes": len(token),
        "ops_per_round": n,
        "rounds": rounds,
        **figures,
        "hot_path_vs_hmac": round(figures["per_call_hot_path_us"] / baseline, 2),
        "worst_case_vs_hmac": round(figures["per_call_worst_case_us"] / baseline, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (well under a minute)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args()
    result = run(opts.quick)
    for key, value in result.items():
        print(f"{key:28} {value}")
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
