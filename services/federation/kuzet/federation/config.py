"""Settings of the federation service (KUZET_FEDERATION_*)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from kuzet.common.config import ServiceSettings

# A site id becomes a NATS subject token and a JetStream domain: no dots, wildcards or spaces.
SITE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class FederationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_FEDERATION_", extra="ignore")
    service_name: ClassVar[str] = "federation"
    default_port: ClassVar[int] = 50058

    role: Literal["facility", "hub"] = Field(
        default="facility",
        description="facility: send this release's alerts and audit heads up to the hub; hub: take the "
        "facilities' streams into this release's alerting",
    )
    site_id: str = Field(
        default="site-1",
        pattern=SITE_PATTERN,
        description="this release's site (facility) id; also its JetStream domain and subject token",
    )
    nats_url: str = Field(
        default="",
        description="this release's own NATS server (a facility's is a leaf node of the hub's); empty: a "
        "release on its own, federation off (the service only answers health checks)",
    )
    hub_domain: str = Field(
        default="hub",
        pattern=SITE_PATTERN,
        description="the hub's JetStream domain: at a facility its hub's, at a hub its own",
    )
    upstream_domain: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_-]{1,64})?$",
        description="hub only: the JetStream domain of the hub above this one (a region's nation), whose "
        "watchlist changes this hub applies to its identity and so passes on to its facilities; empty: none",
    )
    facilities: list[str] = Field(
        default_factory=list,
        description="hub only: the facility sites whose streams the hub sources (a JSON list)",
    )
    duplicate_window_s: float = Field(
        default=7200.0,
        ge=60.0,
        description="JetStream de-duplication window of the facility streams (Nats-Msg-Id): covers a "
        "follower that restarts and re-sends what it had already written",
    )
    max_age_days: float = Field(
        default=30.0,
        gt=0,
        description="how long the streams keep messages (a facility may be cut off this long)",
    )
    relay_batch: int = Field(
        default=1000, ge=1, le=1000, description="hub: messages per PublishBatch into the hub's alerting"
    )
    relay_wait_s: float = Field(
        default=0.05,
        gt=0,
        le=5.0,
        description="hub: how long one pull waits for messages; bounds the hub latency of a lone alert",
    )
    source_check_s: float = Field(
        default=0.5,
        gt=0,
        le=10.0,
        description="hub: how often each facility is asked whether it is reachable; a facility that "
        "answers again gets its sources restarted at once (nats-server retries a stalled one only every 10 s)",
    )
    audit_services: list[str] = Field(
        default_factory=lambda: ["alerting", "identity", "badge", "drone", "traffic", "gateway"],
        description="facility: the services whose anchored audit chain heads are sent up (a JSON list)",
    )
    audit_interval_s: float = Field(
        default=60.0, ge=0.1, description="facility: how often the audit heads are read and sent up"
    )
    forward_watchlists: bool = Field(
        default=True,
        description="hub: send the watchlist changes of this release's identity down to the facilities",
    )
    apply_watchlists: bool = Field(
        default=True, description="facility: apply the hub's watchlist changes to this release's identity"
    )
    search_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=60.0,
        description="hub: how long a cross-site search waits for each facility; one that has not "
        "answered by then is reported unreachable (not searched)",
    )
    answer_searches: bool = Field(
        default=True,
        description="facility: answer the hub investigators' cross-site face searches with this "
        "release's identity (each audited by identity here, and by federation at the hub)",
    )
    retry_s: float = Field(default=1.0, gt=0, description="pause before a failed step is tried again")

    @model_validator(mode="after")
    def _chain(self) -> FederationSettings:
        if self.upstream_domain and self.role != "hub":
            raise ValueError("upstream_domain is a hub's (a region's nation); a facility has its hub_domain")
        if self.upstream_domain == self.hub_domain:
            raise ValueError("upstream_domain must be another hub's domain, not this hub's own")
        return self

    @field_validator("facilities")
    @classmethod
    def _sites(cls, value: list[str]) -> list[str]:
        bad = [site for site in value if not re.fullmatch(SITE_PATTERN, site)]
        if bad:
            raise ValueError(f"site ids must match {SITE_PATTERN}: {', '.join(bad)}")
        return value
