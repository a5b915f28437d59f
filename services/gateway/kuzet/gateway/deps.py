"""FastAPI dependencies: who is calling, may they, and are they within their rate."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kuzet.common.v1 import common_pb2
from kuzet.gateway.auth import AuthError, Principal
from kuzet.gateway.clientaddr import connection_address
from kuzet.gateway.context import Gateway, gateway_of
from kuzet.gateway.errors import ApiError, forbidden, unauthenticated
from kuzet.gateway.roles import Permission, allowed

_bearer = HTTPBearer(auto_error=False, description="An access token from the agency's OIDC provider")

MAX_PAGE_SIZE = 500


def client_key(request: Request) -> str:
    address = connection_address(request, gateway_of(request).trusted_proxies)
    # Evidence links carry no bearer token, so they are counted per address too, but in their
    # own budget (see ratelimit): a page of thumbnails must not lock the same address out of
    # signing in, nor sign-in attempts starve the thumbnails.
    kind = "evidence" if request.url.path.startswith("/evidence/") else "ip"
    return f"{kind}:{address}"


def check_rate(gw: Gateway, key: str, cost: float = 1.0) -> None:
    wait = gw.limiter.take(key, cost)
    if wait > 0:
        raise ApiError(
            429,
            "RESOURCE_EXHAUSTED",
            "rate limit exceeded, slow down",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


async def principal_from_token(gw: Gateway, token: str, key: str) -> Principal:
    try:
        return await gw.validator.validate(token)
    except AuthError as exc:
        # Failed attempts cost more so token guessing from one address is slowed down.
        check_rate(gw, key, cost=5.0)
        raise unauthenticated(str(exc)) from None


async def current_principal(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    gw = gateway_of(request)
    if creds is None or creds.scheme.lower() != "bearer":
        check_rate(gw, client_key(request))
        raise unauthenticated("missing bearer token")
    principal = await principal_from_token(gw, creds.credentials, client_key(request))
    check_rate(gw, f"sub:{principal.issuer}|{principal.subject}")
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def dep(principal: Principal = Depends(current_principal)) -> Principal:
        if not allowed(principal.roles, permission):
            raise forbidden(
                f"{permission.value} needs one of the roles: " + ", ".join(sorted(_roles_for(permission)))
            )
        return principal

    dep.__name__ = f"require_{permission.name.lower()}"
    return dep


def _roles_for(permission: Permission) -> frozenset[str]:
    from kuzet.gateway.roles import ROLE_TABLE

    return ROLE_TABLE[permission]


def page_params(
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE, description="Items per page"),
    page_token: str = Query("", max_length=512, description="next_page_token of the previous page"),
) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=page_size, page_token=page_token)
