"""The keys that MAC audit records: never in the database, named by a key id in every record.

A database administrator can edit a record and recompute every later SHA-256, but cannot
recompute an HMAC without the key, which comes from the environment or a key file. Each record
names its key id, so keys rotate: the current key MACs new records, earlier keys stay known to
verification.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kuzet.common.config import AuditSettings
from kuzet.common.errors import ConfigError

log = logging.getLogger(__name__)

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,31}$")
MIN_SECRET_CHARS = 32
LOCAL_KEY_FILE = "audit.key"


@dataclass(frozen=True)
class AuditKey:
    key_id: str
    secret: bytes = field(repr=False)


class AuditKeyring:
    """The current key and the earlier ones, by id."""

    def __init__(
        self, current: AuditKey, earlier: Iterable[AuditKey] = (), *, ephemeral: bool = False
    ) -> None:
        self.current = current
        self.ephemeral = ephemeral
        self._keys = {k.key_id: k for k in earlier}
        self._keys[current.key_id] = current

    def get(self, key_id: str) -> AuditKey | None:
        return self._keys.get(key_id)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)


def parse_key(text: str, where: str) -> AuditKey:
    key_id, sep, secret = text.strip().partition(":")
    if not sep or not _KEY_ID.match(key_id):
        raise ConfigError(f"{where}: expected '<key id>:<secret>', the id 1-32 of A-Z a-z 0-9 . _ -")
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{where}: the secret of key {key_id!r} needs at least {MIN_SECRET_CHARS} characters"
        )
    return AuditKey(key_id, secret.encode())


def _parse_list(text: str, where: str) -> list[AuditKey]:
    return [parse_key(item, where) for item in re.split(r"[,\n]", text) if item.strip()]


def load_keyring(settings: AuditSettings | None = None) -> AuditKeyring:
    """The keyring the settings name; ConfigError when there is none (unless ephemeral is allowed)."""
    settings = settings or AuditSettings()
    ephemeral = False
    if settings.key_file:
        try:
            text = Path(settings.key_file).read_text()
        except OSError as exc:
            raise ConfigError(f"KUZET_AUDIT_KEY_FILE {settings.key_file}: {exc.strerror}") from None
        keys = _parse_list(text, "KUZET_AUDIT_KEY_FILE")
        if not keys:
            raise ConfigError(f"KUZET_AUDIT_KEY_FILE {settings.key_file} holds no key")
        current, earlier = keys[0], keys[1:]
    elif settings.key.get_secret_value():
        current = parse_key(settings.key.get_secret_value(), "KUZET_AUDIT_KEY")
        earlier = []
    elif settings.ephemeral_key:
        current = AuditKey(f"ephemeral-{secrets.token_hex(4)}", secrets.token_bytes(32))
        log.warning(
            "audit records are MACed with an ephemeral key (KUZET_AUDIT_EPHEMERAL_KEY): "
            "they will not verify after this process ends",
            extra={"key_id": current.key_id},
        )
        earlier, ephemeral = [], True
    else:
        raise ConfigError(
            "no audit key: set KUZET_AUDIT_KEY ('<key id>:<secret>') or KUZET_AUDIT_KEY_FILE "
            "(KUZET_AUDIT_EPHEMERAL_KEY=true for development only)"
        )
    earlier += _parse_list(settings.old_keys.get_secret_value(), "KUZET_AUDIT_OLD_KEYS")
    ids = [current.key_id, *(k.key_id for k in earlier)]
    if len(set(ids)) != len(ids):
        raise ConfigError("audit keys: a key id is given twice")
    return AuditKeyring(current, earlier, ephemeral=ephemeral)


def ensure_local_key_file(data_dir: Path) -> Path:
    """The key file of a one-machine platform, made once (0600) so restarts keep verifying."""
    path = Path(data_dir) / LOCAL_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        line = f"local-{secrets.token_hex(4)}:{secrets.token_hex(32)}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path  # another launcher made it first
        with os.fdopen(fd, "w") as handle:
            handle.write(line)
    return path


def use_run_audit_key() -> None:
    """A key for a run that starts its own services (the benches), unless one is set already;
    the processes it starts inherit it. Their records verify for this run only."""
    if not (os.environ.get("KUZET_AUDIT_KEY") or os.environ.get("KUZET_AUDIT_KEY_FILE")):
        os.environ["KUZET_AUDIT_KEY"] = f"run-{secrets.token_hex(4)}:{secrets.token_hex(32)}"
