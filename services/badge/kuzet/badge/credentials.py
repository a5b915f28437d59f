"""Per-device credentials: the token a badge presents on the device port, and what is stored of it.

A token is ``<badge_id>.<secret>``, the secret 32 random bytes (URL-safe base64). Only the SHA-256
of the secret is stored (a leaked table opens no stream); the token is shown once, when issued.
A badge id may contain '.', a secret never does: the secret is what follows the last '.'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from kuzet.common.errors import Unauthenticated

METADATA_KEY = "authorization"
SCHEME = "Bearer "
SECRET_BYTES = 32


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_token(badge_id: str) -> tuple[str, str]:
    """A fresh token for ``badge_id`` and the hash to store for it."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode("ascii")
    return f"{badge_id}.{secret}", _digest(secret)


def metadata(token: str) -> tuple[str, str]:
    """The metadata a badge sends with Connect on the device port."""
    return (METADATA_KEY, SCHEME + token)


def parse(value: str | None) -> tuple[str, str]:
    """``authorization`` metadata -> (badge id, secret); UNAUTHENTICATED when absent or malformed."""
    if not value:
        raise Unauthenticated(
            "the device port needs a device token: authorization: Bearer <badge_id>.<secret>"
        )
    if not value.startswith(SCHEME):
        raise Unauthenticated("the authorization metadata must be 'Bearer <badge_id>.<secret>'")
    badge_id, dot, secret = value[len(SCHEME) :].strip().rpartition(".")
    if not dot or not badge_id or not secret:
        raise Unauthenticated("malformed device token: expected <badge_id>.<secret>")
    return badge_id, secret


def matches(stored_hash: str, secret: str) -> bool:
    """Constant-time: the comparison tells an attacker nothing about how close a guess was."""
    if not stored_hash or not secret.isascii():
        return False
    return hmac.compare_digest(stored_hash, _digest(secret))
