"""Who is calling: identity and agency carried from the gateway to every service.

Every gRPC call carries a caller token (``x-kuzet-caller-token``): a JWT signed by the calling
service's own key (EdDSA or ES256) with the caller's subject, agency and roles, the target
service as its audience, a lifetime of at most 60 s and a random ``jti``. Each service verifies
it against the JWKS of every service's public key, so a pod cannot claim another agency, and a
captured token neither works at another service nor for long. Keys come from the settings
``KUZET_CALLER_SIGNING_KEY`` and ``KUZET_CALLER_JWKS`` (`kuzet keys generate` writes them).

Only for development on one machine, ``KUZET_INSECURE_PLAIN_CALLERS=true`` lets a process run
without keys; it then sends and trusts the caller as plain metadata (``x-kuzet-subject``...).
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from kuzet.common.callerkeys import ALGORITHMS, Keyring, load_keyring
from kuzet.common.errors import ConfigError, PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from kuzet.common.config import ServiceSettings

TOKEN_KEY = "x-kuzet-caller-token"  # noqa: S105 - a metadata key, not a secret
# Plain metadata: development without keys only (KUZET_INSECURE_PLAIN_CALLERS).
SUBJECT_KEY = "x-kuzet-subject"
AGENCY_KEY = "x-kuzet-agency"
ROLES_KEY = "x-kuzet-roles"
SITES_KEY = "x-kuzet-sites"

ROLES = frozenset(
    {"operator", "reviewer", "investigator", "pilot", "auditor", "admin", "internal_affairs", "service"}
)

MAX_TOKEN_LIFETIME_S = 60
# Clock skew between machines that a token's iat and exp may be off by.
LEEWAY_S = 5
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Caller:
    subject: str
    agency: str
    roles: frozenset[str] = field(default_factory=frozenset)
    # The sites of its agency the caller is limited to; empty: every site (a user whose role
    # covers the whole agency, or a service).
    sites: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def require_role(self, *roles: str) -> None:
        """Raise PERMISSION_DENIED unless the caller holds one of ``roles``."""
        if not self.has_role(*roles):
            raise PermissionDenied(
                f"{self.subject or 'caller'} of agency {self.agency or '?'} needs one of the roles "
                f"{', '.join(sorted(roles))}"
            )

    def sees_agency(self, agency: str) -> bool:
        """Whether the caller may act on ``agency``'s data: its own, or any as a (trusted) service."""
        return agency == self.agency or "service" in self.roles

    def require_agency(self, agency: str) -> None:
        """Raise PERMISSION_DENIED when acting on another agency's data (services are trusted)."""
        if not self.sees_agency(agency):
            raise PermissionDenied(f"agency {self.agency or '?'} may not act on agency {agency}'s data")

    def site_limit(self, agency: str) -> frozenset[str] | None:
        """The sites the caller is limited to within ``agency``'s data; None: no limit there. A
        limit applies to the caller's own agency only (what another agency shares is that
        agency's to scope), and a service acts for whole agencies whatever it carries."""
        if "service" in self.roles or not self.sites or agency != self.agency:
            return None
        return self.sites

    def sees_site(self, agency: str, site: str) -> bool:
        """Whether data of ``agency`` at ``site`` is within the caller's sites."""
        limit = self.site_limit(agency)
        return limit is None or site in limit

    def require_site(self, agency: str, site: str, what: str) -> None:
        """PERMISSION_DENIED when a write would put ``what`` at a site outside the caller's."""
        if not self.sees_site(agency, site):
            raise PermissionDenied(
                f"{what} site {site or '(none)'} is outside {self.subject or 'the caller'}'s sites "
                f"({', '.join(sorted(self.sites))})"
            )

    @property
    def is_anonymous(self) -> bool:
        return not self.subject


ANONYMOUS = Caller(subject="", agency="")

_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("kuzet_caller", default=ANONYMOUS)


def current_caller() -> Caller:
    """The caller of the RPC being served (ANONYMOUS outside one)."""
    return _current.get()


def set_current_caller(caller: Caller) -> contextvars.Token[Caller]:
    return _current.set(caller)


def reset_current_caller(token: contextvars.Token[Caller]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def calling_as(caller: Caller) -> Iterator[None]:
    """Calls started inside carry ``caller`` (channels forward the current caller)."""
    token = _current.set(caller)
    try:
        yield
    finally:
        _current.reset(token)


class CallerTokens:
    """Mints caller tokens for this process and verifies the ones it receives.

    A minted token is reused for half its lifetime per (caller, audience), and a verified one
    is remembered until it expires, so a hot path (a frame per call, a badge per second) signs
    and verifies about once per ``ttl_s / 2`` rather than per call.
    """

    def __init__(self, keyring: Keyring | None, *, ttl_s: float = 30.0, plain: bool = False) -> None:
        if not 0 < ttl_s <= MAX_TOKEN_LIFETIME_S:
            raise ConfigError(f"caller token lifetime must be in (0, {MAX_TOKEN_LIFETIME_S}] s, got {ttl_s}")
        self.keyring = keyring
        self.ttl_s = ttl_s
        self.plain = plain and keyring is None
        self._minted: dict[tuple[Caller, str], tuple[str, float]] = {}
        self._verified: dict[tuple[str, str], tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> CallerTokens:
        """The keys a service's settings name; ConfigError without them (unless insecure plain)."""
        jwks, signing = settings.caller_jwks, settings.caller_signing_key
        if not jwks or not signing:
            if settings.insecure_plain_callers:
                return cls(None, ttl_s=settings.caller_token_ttl_s, plain=True)
            missing = [n for n, v in (("CALLER_JWKS", jwks), ("CALLER_SIGNING_KEY", signing)) if not v]
            raise ConfigError(
                f"{settings.service_name} has no caller-token keys: set "
                + " and ".join(f"KUZET_{settings.service_name.upper()}_{n} (or KUZET_{n})" for n in missing)
                + " (`kuzet keys generate DIR` writes them); only for development on one machine, "
                "KUZET_INSECURE_PLAIN_CALLERS=true runs without them"
            )
        keyring = load_keyring(Path(jwks), Path(signing))
        return cls(keyring, ttl_s=settings.caller_token_ttl_s)

    # ------------------------------------------------------------------------- minting ---

    def metadata(self, caller: Caller, audience: str) -> list[tuple[str, str]]:
        """Metadata that carries ``caller`` on a call to the service ``audience``."""
        if self.plain:
            if caller.is_anonymous:
                return []
            roles = ",".join(sorted(caller.roles))
            out = [(SUBJECT_KEY, caller.subject), (AGENCY_KEY, caller.agency), (ROLES_KEY, roles)]
            return out + ([(SITES_KEY, ",".join(sorted(caller.sites)))] if caller.sites else [])
        return [(TOKEN_KEY, self.token(caller, audience))]

    def token(self, caller: Caller, audience: str) -> str:
        """A token for ``caller`` at ``audience``: the cached one while it has half its life left."""
        now = time.time()
        key = (caller, audience)
        cached = self._minted.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        token = self.mint(caller, audience, now=now)
        with self._lock:
            if len(self._minted) >= _CACHE_LIMIT:
                self._minted = {k: v for k, v in self._minted.items() if now < v[1]}
            self._minted[key] = (token, now + self.ttl_s / 2)
        return token

    def mint(self, caller: Caller, audience: str, *, now: float | None = None) -> str:
        """A fresh token (no cache)."""
        if not audience:
            raise ValueError("a caller token needs the target service as its audience")
        keyring = self.keyring
        if keyring is None or keyring.signing_key is None:
            raise ConfigError(
                "this process has no caller signing key: set KUZET_CALLER_SIGNING_KEY and "
                "KUZET_CALLER_JWKS (`kuzet keys generate DIR` writes them)"
            )
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": keyring.issuer,
            "sub": caller.subject,
            "agency": caller.agency,
            "roles": sorted(caller.roles),
            **({"sites": sorted(caller.sites)} if caller.sites else {}),
            "aud": audience,
            "iat": issued,
            "exp": issued + int(self.ttl_s),
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(
            claims, keyring.signing_key, algorithm=keyring.algorithm, headers={"kid": keyring.issuer}
        )

    # --------------------------------------------------------------------- verification ---

    def caller_from(self, metadata: Iterable[tuple[str, str | bytes]] | None, audience: str) -> Caller:
        """The caller of an incoming call to ``audience``; UNAUTHENTICATED unless its token is valid."""
        values: dict[str, str] = {}
        for key, value in metadata or ():
            values[key] = value.decode() if isinstance(value, bytes) else value
        if self.plain:
            return _plain_caller(values)
        token = values.get(TOKEN_KEY, "")
        if not token:
            raise Unauthenticated(
                f"no caller token ({TOKEN_KEY} metadata): every call to {audience} needs one "
                "minted by a Kuzet service for this audience"
            )
        return self.verify(token, audience)

    def verify(self, token: str, audience: str) -> Caller:
        now = time.time()
        cached = self._verified.get((token, audience))
        if cached is not None:
            if now <= cached[1] + LEEWAY_S:
                return cached[0]
            raise Unauthenticated("caller token expired")
        caller, expires = self._verify(token, audience)
        with self._lock:
            if len(self._verified) >= _CACHE_LIMIT:
                self._verified = {k: v for k, v in self._verified.items() if now <= v[1] + LEEWAY_S}
            self._verified[(token, audience)] = (caller, expires)
        return caller

    def _verify(self, token: str, audience: str) -> tuple[Caller, float]:
        if self.keyring is None:
            raise Unauthenticated("this service has no caller keys to verify tokens with")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise Unauthenticated(f"caller token is malformed: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise Unauthenticated(
                f"caller token algorithm {alg!r} is not accepted (only {', '.join(ALGORITHMS)})"
            )
        key = self.keyring.public_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthenticated(f"caller token is signed by an unknown key {kid!r}")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=audience,
                issuer=kid,
                leeway=LEEWAY_S,
                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("caller token expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"caller token is for another service (audience {_audience_of(token)!r}, not {audience!r})"
            ) from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(f"caller token signature does not verify with {kid}'s key") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"caller token's issuer is not its key's owner {kid!r}") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"caller token is invalid: {exc}") from None
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > MAX_TOKEN_LIFETIME_S:
            raise Unauthenticated(f"caller token lives {lifetime} s, more than {MAX_TOKEN_LIFETIME_S} s")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthenticated("caller token roles must be a list of names")
        agency = claims.get("agency", "")
        if not isinstance(agency, str):
            raise Unauthenticated("caller token agency must be a string")
        sites = claims.get("sites", [])
        if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
            raise Unauthenticated("caller token sites must be a list of site ids")
        subject = claims["sub"]
        if not subject:
            return ANONYMOUS, float(claims["exp"])
        caller = Caller(subject=subject, agency=agency, roles=frozenset(roles), sites=frozenset(sites))
        return caller, float(claims["exp"])


def _audience_of(token: str) -> Any:
    return jwt.decode(token, options={"verify_signature": False}).get("aud")


def _plain_caller(values: dict[str, str]) -> Caller:
    subject = values.get(SUBJECT_KEY, "")
    if not subject:
        return ANONYMOUS
    roles = frozenset(r for r in values.get(ROLES_KEY, "").split(",") if r)
    sites = frozenset(s for s in values.get(SITES_KEY, "").split(",") if s)
    return Caller(subject=subject, agency=values.get(AGENCY_KEY, ""), roles=roles, sites=sites)


_process_tokens: CallerTokens | None = None


def use_caller_tokens(tokens: CallerTokens) -> None:
    """Make ``tokens`` this process's (a service does at start, with its own settings' keys)."""
    global _process_tokens
    _process_tokens = tokens


def caller_tokens() -> CallerTokens:
    """This process's tokens: those a service set, else from KUZET_CALLER_* (tools and tests)."""
    global _process_tokens
    if _process_tokens is None:
        from kuzet.common.config import ServiceSettings, load_settings

        _process_tokens = CallerTokens.from_settings(load_settings(ServiceSettings))
    return _process_tokens


def caller_metadata(caller: Caller, *, audience: str) -> list[tuple[str, str]]:
    """Metadata that carries ``caller`` on a call to the service ``audience`` (a signed token)."""
    return caller_tokens().metadata(caller, audience)


def caller_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None, *, audience: str) -> Caller:
    """The caller of an incoming call to ``audience``, from its verified token."""
    return caller_tokens().caller_from(metadata, audience)


def service_caller(service: str, agency: str = "", roles: Sequence[str] = ("service",)) -> Caller:
    """The identity a service uses for calls it makes on its own behalf (background jobs)."""
    return Caller(subject=f"service:{service}", agency=agency, roles=frozenset(roles))
