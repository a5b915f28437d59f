"""Everything a request handler needs, built once per gateway process."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
from fastapi import Request

from kuzet.common.audit import AuditLog, open_audit_log
from kuzet.common.caller import Caller, CallerTokens, calling_as, use_caller_tokens
from kuzet.common.config import Endpoints
from kuzet.common.db import Database
from kuzet.common.errors import ConfigError
from kuzet.common.grpcclient import leader_address
from kuzet.common.objectstore import ObjectStore, open_object_store
from kuzet.gateway.auth import (
    IssuerPolicy,
    JwksSource,
    Principal,
    TokenValidator,
    http_jwks_source,
    issuer_name,
)
from kuzet.gateway.backends import Backends
from kuzet.gateway.clientaddr import Network, parse_networks
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.errors import from_grpc
from kuzet.gateway.evidence import EvidenceSigner
from kuzet.gateway.localissuer import DemoUser, LocalIssuer, SigningKey, demo_users
from kuzet.gateway.ratelimit import RateLimiter

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass
class Gateway:
    settings: GatewaySettings
    validator: TokenValidator
    backends: Backends
    signer: EvidenceSigner
    limiter: RateLimiter
    audit: AuditLog
    objects: ObjectStore
    http: httpx.AsyncClient
    local_issuer: LocalIssuer | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    trusted_proxies: list[Network] = field(default_factory=list)

    async def call(
        self,
        principal: Principal,
        method: Callable[..., Awaitable[R]],
        request: Any,
        *,
        at_leader: Callable[[str], Callable[..., Awaitable[R]]] | None = None,
    ) -> R:
        """One unary call to a service on behalf of `principal`; gRPC errors become ApiErrors.

        With ``at_leader`` (the same method on the replica at an address) a replica's UNAVAILABLE
        naming the leader (x-kuzet-leader) is retried there, once.
        """
        timeout = self.settings.rpc_timeout_seconds
        try:
            try:
                with calling_as(principal_caller(principal)):
                    return await method(request, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                leader = leader_address(exc) if at_leader is not None else ""
                if not leader or at_leader is None:
                    raise
                log.info(
                    "%s; retrying at the leader %s", exc.details(), leader, extra={"agency": principal.agency}
                )
                with calling_as(principal_caller(principal)):
                    return await at_leader(leader)(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            err = from_grpc(exc)
            if err.status >= 500:
                log.warning(
                    "backing call failed: %s %s",
                    exc.code().name,
                    exc.details(),
                    extra={"agency": principal.agency},
                )
            raise err from None

    async def record(
        self,
        principal: Principal,
        action: str,
        target: str,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        await self.audit.record(
            action, target, outcome, details, agency=principal.agency, actor=principal.subject
        )

    async def close(self) -> None:
        await self.backends.close()
        await self.http.aclose()
        await self.audit.stop()
        self.audit.database.dispose()


def principal_caller(principal: Principal) -> Caller:
    return Caller(
        subject=principal.subject, agency=principal.agency, roles=principal.roles, sites=principal.sites
    )


# Subjects of the local issuer read "prison/prison-operator@local".
LOCAL_ISSUER_NAME = "local"


def issuer_policies(settings: GatewaySettings) -> dict[str, IssuerPolicy]:
    """The agencies each configured issuer may assert; every issuer must have some."""
    unknown = sorted(set(settings.issuer_agencies) - set(settings.issuers))
    if unknown:
        raise ConfigError(
            f"KUZET_GATEWAY_ISSUER_AGENCIES names issuers not in KUZET_GATEWAY_ISSUERS: {', '.join(unknown)}"
        )
    policies = {}
    for iss in settings.issuers:
        agencies = frozenset(settings.issuer_agencies.get(iss, ()))
        if not agencies:
            raise ConfigError(
                f"issuer {iss} has no entry in KUZET_GATEWAY_ISSUER_AGENCIES: name the agencies it may "
                'assert, e.g. {"' + iss + '": ["prison"]}'
            )
        policies[iss] = IssuerPolicy(agencies, issuer_name(iss))
    return policies


def build_gateway(
    settings: GatewaySettings,
    *,
    endpoints: Endpoints | None = None,
    http: httpx.AsyncClient | None = None,
    extra_issuers: dict[str, tuple[JwksSource, frozenset[str]]] | None = None,
) -> Gateway:
    """The gateway; ``extra_issuers`` (tests): issuer -> (key source, agencies it may assert)."""
    # The gateway mints a caller token per backing service; without keys it does not start.
    use_caller_tokens(CallerTokens.from_settings(settings))
    http = http or httpx.AsyncClient(follow_redirects=False)
    issuers: dict[str, JwksSource] = {iss: http_jwks_source(iss, http) for iss in settings.issuers}
    policies = issuer_policies(settings)
    for iss, (source, agencies) in (extra_issuers or {}).items():
        issuers[iss] = source
        policies[iss] = IssuerPolicy(agencies, issuer_name(iss))
    local: LocalIssuer | None = None
    if settings.local_issuer:
        users = list(settings.local_users)
        if not users and settings.local_demo_users:
            users = demo_users(settings.demo_password.get_secret_value())
            log.warning(
                "LOCAL ISSUER with demo users is enabled: for one machine and tests, never production"
            )
        key_path = Path(settings.local_issuer_key_path) if settings.local_issuer_key_path else None
        local = LocalIssuer(
            settings.local_issuer_url(),
            settings.audience,
            users,
            key=SigningKey.create(key_path),
            token_ttl_seconds=settings.local_issuer_token_ttl_seconds,
        )
        # Its keys are in this process: no HTTP round trip to ourselves.
        issuers[local.issuer] = local.jwks_source
        policies[local.issuer] = IssuerPolicy(frozenset(u.agency for u in users), LOCAL_ISSUER_NAME)
    if not issuers:
        raise ConfigError(
            "no token issuer: set KUZET_GATEWAY_ISSUERS to the agencies' OIDC providers "
            "(or KUZET_GATEWAY_LOCAL_ISSUER=true on one machine)"
        )
    validator = TokenValidator(
        issuers,
        settings.audience,
        policies=policies,
        cache_seconds=settings.jwks_cache_seconds,
        min_refresh_seconds=settings.jwks_min_refresh_seconds,
        leeway_seconds=settings.clock_leeway_seconds,
        agency_claim=settings.agency_claim,
        roles_claim=settings.roles_claim,
        sites_claim=settings.sites_claim,
    )
    audit = open_audit_log(settings, database_for(settings))
    if local is not None:

        async def signin(username: str, user: DemoUser | None) -> None:
            # Failed attempts name the username tried, never the password.
            await audit.record(
                "auth.signin",
                username[:64],
                "ok" if user else "denied",
                {"issuer": "local"},
                agency=user.agency if user else "",
                actor=username[:64],
            )

        local.on_signin = signin
    secret = settings.evidence_secret.get_secret_value().encode()
    if not secret:
        # Links then die with the process, which is acceptable: they live two minutes anyway.
        secret = secrets.token_bytes(32)
    return Gateway(
        settings=settings,
        validator=validator,
        backends=Backends(endpoints or Endpoints(), max_message_mb=settings.max_message_mb),
        signer=EvidenceSigner(secret, settings.evidence_url_ttl_seconds),
        limiter=RateLimiter(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            budgets={
                "evidence": (settings.evidence_rate_limit_per_second, settings.evidence_rate_limit_burst)
            },
        ),
        audit=audit,
        objects=open_object_store(settings.effective_object_store_url),
        http=http,
        local_issuer=local,
        trusted_proxies=parse_networks(settings.trusted_proxies),
    )


def database_for(settings: GatewaySettings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.effective_database_url)


def gateway_of(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw
