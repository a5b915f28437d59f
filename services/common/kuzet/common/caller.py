"""Who is calling: identity and agency carried in gRPC metadata from the gateway to every service.

Inside the cluster NetworkPolicies restrict who can reach a service; when
``KUZET_CALLER_SECRET`` is set the metadata is also HMAC-signed so that a compromised pod cannot
claim another agency.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kuzet.common.errors import PermissionDenied, Unauthenticated

SUBJECT_KEY = "x-kuzet-subject"
AGENCY_KEY = "x-kuzet-agency"
ROLES_KEY = "x-kuzet-roles"
SIGNATURE_KEY = "x-kuzet-caller-sig"

ROLES = frozenset(
    {"operator", "reviewer", "investigator", "pilot", "auditor", "admin", "internal_affairs", "service"}
)


@dataclass(frozen=True)
class Caller:
    subject: str
    agency: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def require_role(self, *roles: str) -> None:
        """Raise PERMISSION_DENIED unless the caller holds one of ``roles``."""
        if not self.has_role(*roles):
            raise PermissionDenied(
                f"{self.subject or 'caller'} of agency {self.agency or '?'} needs one of the roles "
                f"{', '.join(sorted(roles))}"
            )

    def require_agency(self, agency: str) -> None:
        """Raise PERMISSION_DENIED when acting on another agency's data (services are trusted)."""
        if agency != self.agency and "service" not in self.roles:
            raise PermissionDenied(f"agency {self.agency or '?'} may not act on agency {agency}'s data")

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


def _secret() -> bytes | None:
    value = os.environ.get("KUZET_CALLER_SECRET")
    return value.encode() if value else None


def _signature(secret: bytes, subject: str, agency: str, roles: str) -> str:
    return hmac.new(secret, f"{subject}\n{agency}\n{roles}".encode(), hashlib.sha256).hexdigest()


def caller_metadata(caller: Caller) -> list[tuple[str, str]]:
    """Metadata that carries ``caller`` on an outgoing call."""
    if caller.is_anonymous:
        return []
    roles = ",".join(sorted(caller.roles))
    md = [(SUBJECT_KEY, caller.subject), (AGENCY_KEY, caller.agency), (ROLES_KEY, roles)]
    secret = _secret()
    if secret is not None:
        md.append((SIGNATURE_KEY, _signature(secret, caller.subject, caller.agency, roles)))
    return md


def caller_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> Caller:
    """Read the caller from incoming metadata; verify its signature when a secret is configured."""
    values: dict[str, str] = {}
    for key, value in metadata or ():
        values[key] = value.decode() if isinstance(value, bytes) else value
    subject = values.get(SUBJECT_KEY, "")
    if not subject:
        return ANONYMOUS
    agency = values.get(AGENCY_KEY, "")
    roles_text = values.get(ROLES_KEY, "")
    secret = _secret()
    if secret is not None:
        expected = _signature(secret, subject, agency, roles_text)
        if not hmac.compare_digest(expected, values.get(SIGNATURE_KEY, "")):
            raise Unauthenticated("caller metadata signature is missing or wrong")
    roles = frozenset(r for r in roles_text.split(",") if r)
    return Caller(subject=subject, agency=agency, roles=roles)


def service_caller(service: str, agency: str = "", roles: Sequence[str] = ("service",)) -> Caller:
    """The identity a service uses for calls it makes on its own behalf (background jobs)."""
    return Caller(subject=f"service:{service}", agency=agency, roles=frozenset(roles))
