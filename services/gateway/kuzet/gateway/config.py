"""Gateway settings (environment prefix KUZET_GATEWAY_)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from kuzet.common.config import ServiceSettings
from kuzet.gateway.clientaddr import parse_networks
from kuzet.gateway.localissuer import DemoUser


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_GATEWAY_", extra="ignore")
    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8080

    # The address browsers use to reach the gateway; the local issuer's URL derives from it.
    public_url: str = ""

    # Token validation. `issuers` are the agencies' OIDC providers (discovery + JWKS over HTTPS).
    issuers: list[str] = Field(default_factory=list)
    audience: str = "kuzet"
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)
    clock_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    # The agencies each issuer may assert, JSON: {"https://sso.prison.example/realms/staff":
    # ["prison"]}. Every issuer needs an entry; a token asserting another agency gets 401. The
    # local issuer asserts the agencies of its own users.
    issuer_agencies: dict[str, list[str]] = Field(default_factory=dict)
    agency_claim: str = "agency"
    roles_claim: str = "roles"
    # The sites of the agency a user is limited to (a list of site ids; absent or empty: every
    # site). Every service enforces it as it enforces the agency.
    sites_claim: str = "sites"

    # LOCAL ISSUER: one machine and tests only. Turn off wherever a real IdP exists.
    local_issuer: bool = True
    local_issuer_key_path: str = ""
    local_issuer_token_ttl_seconds: int = Field(default=3600, gt=0, le=86400)
    # JSON list of {username, password, agency, roles, name}; when empty and demo users are
    # enabled, one user per role in agencies "prison" and "police" with `demo_password`.
    local_users: list[DemoUser] = Field(default_factory=list)
    local_demo_users: bool = True
    demo_password: SecretStr = SecretStr("kuzet-demo")

    # Evidence links: HMAC secret (random per process when empty) and lifetime.
    evidence_secret: SecretStr = SecretStr("")
    evidence_url_ttl_seconds: int = Field(default=120, gt=0, le=3600)

    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: float = Field(default=60.0, ge=1)
    # Evidence links (thumbnails, review faces) per client address, apart from the budget above:
    # one alert page shows up to 200 thumbnails, a review page two faces per card.
    evidence_rate_limit_per_second: float = Field(default=50.0, gt=0)
    evidence_rate_limit_burst: float = Field(default=500.0, ge=1)
    # Peers (addresses or CIDR ranges, e.g. the ingress) whose X-Forwarded-For is believed for
    # rate limits; from anyone else the header is ignored. Empty: the direct peer always counts.
    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    cors_origins: list[str] = Field(default_factory=list)
    # Deadline of each call to a backing service.
    rpc_timeout_seconds: float = Field(default=10.0, gt=0)

    # The live map's base layer: the agency's own XYZ tile server, e.g.
    # https://tiles.prison.example/{z}/{x}/{y}.png (browsers load tiles from it directly, so the
    # console's content policy allows its origin). Empty: no tiles, the map draws the site plans
    # (facilities, zones, cameras) only; nothing is ever fetched from the internet by default.
    map_tile_url: str = ""
    map_tile_attribution: str = Field(default="", max_length=300)
    map_max_zoom: int = Field(default=19, ge=1, le=24)
    # At most one map feed frame per layer this often (badge and drone updates coalesce).
    map_feed_interval_s: float = Field(default=0.25, gt=0, le=5)

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, v: str) -> str:
        v = v.strip()
        if v and (
            urlsplit(v).scheme not in ("http", "https")
            or not urlsplit(v).netloc
            or not all(p in v for p in ("{z}", "{x}", "{y}"))
        ):
            raise ValueError("map_tile_url must be an http(s) URL with {z}, {x} and {y}")
        return v

    def tile_origin(self) -> str:
        """The tile server's origin, for the content policy; empty when there is none."""
        if not self.map_tile_url:
            return ""
        parts = urlsplit(self.map_tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        parse_networks(v)
        return v

    @field_validator("issuer_agencies")
    @classmethod
    def _bindings(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return {iss.rstrip("/"): [a for a in agencies if a.strip()] for iss, agencies in v.items()}

    @field_validator("issuers", "cors_origins")
    @classmethod
    def _no_blank(cls, v: list[str]) -> list[str]:
        return [s.rstrip("/") for s in v if s.strip()]

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.listen_port}"

    def local_issuer_url(self) -> str:
        return self.base_url() + "/oidc"
