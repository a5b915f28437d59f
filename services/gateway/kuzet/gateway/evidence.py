"""Short-lived signed URLs for evidence (snapshots, clips, enrolled and probe faces).

The gateway authorises the caller when it hands out a URL (the alert or match must be visible
to the caller's agency); the URL then names exactly one object for one subject until it expires,
so an <img> tag can load it without the bearer token. Each fetch is an audit record.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass


class EvidenceTokenError(Exception):
    pass


@dataclass(frozen=True)
class EvidenceGrant:
    kind: str  # "object" (object-store key), "person_image", "probe_image"
    ref: str
    agency: str
    subject: str
    purpose: str
    expires_at: int
    roles: tuple[str, ...] = ()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EvidenceSigner:
    def __init__(self, secret: bytes, ttl_seconds: int = 120) -> None:
        if len(secret) < 16:
            raise ValueError("the evidence signing secret must be at least 16 bytes")
        self._secret = secret
        self.ttl = ttl_seconds

    def __repr__(self) -> str:  # the secret never reaches a log line through repr()
        return f"EvidenceSigner(ttl={self.ttl})"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def sign(
        self,
        kind: str,
        ref: str,
        agency: str,
        subject: str,
        purpose: str,
        *,
        roles: list[str] | None = None,
        now: float | None = None,
    ) -> str:
        exp = int((now if now is not None else time.time()) + self.ttl)
        payload = json.dumps(
            {"k": kind, "r": ref, "a": agency, "s": subject, "p": purpose, "e": exp, "o": roles or []},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: float | None = None) -> EvidenceGrant:
        try:
            body, mac = token.split(".")
            payload = _unb64(body)
            given = _unb64(mac)
        except ValueError as exc:
            raise EvidenceTokenError("malformed evidence link") from exc
        if not hmac.compare_digest(given, self._mac(payload)):
            raise EvidenceTokenError("evidence link signature does not verify")
        try:
            d = json.loads(payload)
            grant = EvidenceGrant(
                kind=str(d["k"]),
                ref=str(d["r"]),
                agency=str(d["a"]),
                subject=str(d["s"]),
                purpose=str(d["p"]),
                expires_at=int(d["e"]),
                roles=tuple(str(r) for r in d.get("o", [])),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvidenceTokenError("malformed evidence link") from exc
        if grant.expires_at < (now if now is not None else time.time()):
            raise EvidenceTokenError("evidence link expired")
        return grant
