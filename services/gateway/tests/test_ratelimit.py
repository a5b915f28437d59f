"""Evidence links have a budget of their own, apart from the one that protects sign-in and the API."""

from __future__ import annotations

from typing import Any

from kuzet.gateway.ratelimit import RateLimiter


def test_a_key_class_with_its_own_budget() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 2.0, budgets={"evidence": (10.0, 5.0)}, clock=lambda: now[0])
    assert [limiter.take("evidence:10.0.0.1") for _ in range(6)][:5] == [0.0] * 5
    assert limiter.take("evidence:10.0.0.1") > 0  # its own burst is spent
    # The same address's API and sign-in budget is untouched, and still the smaller one.
    assert [limiter.take("ip:10.0.0.1") for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] += 0.1  # refills at the class's rate, not the default one
    assert limiter.take("evidence:10.0.0.1") == 0.0


async def test_evidence_links_do_not_spend_the_address_budget(gateway_factory: Any) -> None:
    gw = await gateway_factory(
        rate_limit_per_second=0.01,
        rate_limit_burst=2,
        evidence_rate_limit_per_second=0.01,
        evidence_rate_limit_burst=5,
    )
    # Bad links are refused (403) but still counted: guessing links stays bounded.
    codes = [(await gw.client.get("/evidence/not-a-token")).status_code for _ in range(6)]
    assert codes == [403] * 5 + [429]
    # Sign-in from the same address still has its whole budget.
    assert [(await gw.client.get("/api/v1/config")).status_code for _ in range(3)] == [200, 200, 429]
