"""Settings from the environment (and optionally a TOML file), validated at start.

A service's settings read ``KUZET_<SVC>_<FIELD>`` first and fall back to the platform-wide
``KUZET_<FIELD>`` (handy for ``KUZET_OTLP_ENDPOINT`` or ``KUZET_DATA_DIR``). ``KUZET_CONFIG_FILE``
names an optional TOML file with the same field names, read after the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kuzet.common.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PLAINTEXT_DEV = "plaintext-dev"


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set ``service_name`` and ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="KUZET_SERVICE_", extra="ignore")
    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 50050

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 means the service's default port")
    data_dir: Path = Field(default=Path(".kuzet"), description="where embedded defaults keep their files")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir")
    object_store_url: str = Field(
        default="", description="file:///dir or s3://bucket?endpoint=host:port; empty means data_dir/objects"
    )
    otlp_endpoint: str = Field(default="", description="OTLP gRPC endpoint; empty disables export")
    log_level: str = "INFO"
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    max_message_mb: int = Field(default=32, ge=1, le=512)
    # Reflection lists every method to whoever reaches the port: a debugging aid, off unless asked.
    grpc_reflection: bool = Field(default=False, description="serve gRPC server reflection")
    # Caller tokens (kuzet.common.caller): this service's private key and every service's public key.
    caller_signing_key: str = Field(default="", description="PEM file: this service's caller-token key")
    caller_jwks: str = Field(default="", description="JWKS file: every service's caller-token public key")
    caller_token_ttl_s: float = Field(
        default=30.0, gt=0, le=60, description="lifetime of the caller tokens this service mints"
    )
    tenancy_file: str = Field(
        default="", description="the platform's agencies and their sites (KUZET_TENANCY_FILE, the chart's)"
    )
    insecure_plain_callers: bool = Field(
        default=False,
        description="development only: run without caller keys, trusting plain caller metadata",
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return upper

    @property
    def listen_port(self) -> int:
        return self.port or self.default_port

    @property
    def listen_address(self) -> str:
        return f"{self.host}:{self.listen_port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"

    @property
    def effective_object_store_url(self) -> str:
        if self.object_store_url:
            return self.object_store_url
        return f"file://{(self.data_dir / 'objects').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            EnvSettingsSource(settings_cls, env_prefix="KUZET_"),
        ]
        config_file = os.environ.get("KUZET_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        sources.append(file_secret_settings)
        return tuple(sources)


class Endpoints(BaseSettings):
    """Where the other services listen (``KUZET_ENDPOINT_<SVC>``); loopback defaults for one machine."""

    model_config = SettingsConfigDict(env_prefix="KUZET_ENDPOINT_", extra="ignore")

    inference: str = "127.0.0.1:50051"
    identity: str = "127.0.0.1:50052"
    alerting: str = "127.0.0.1:50053"
    ingest: str = "127.0.0.1:50054"
    badge: str = "127.0.0.1:50055"
    drone: str = "127.0.0.1:50056"
    traffic: str = "127.0.0.1:50057"
    federation: str = "127.0.0.1:50058"


class TlsSettings(BaseSettings):
    """``KUZET_TLS_*``: how every gRPC server and client of this process secures its connections
    (kuzet.common.tls): PEM files of this process's certificate and key, and of the trusted CA."""

    model_config = SettingsConfigDict(env_prefix="KUZET_TLS_", extra="ignore")

    mode: Literal["mtls", "plaintext-dev"] = Field(
        default="mtls", description="mtls, or plaintext-dev to serve and dial without TLS (development only)"
    )
    cert: Path | None = Field(default=None, description="this process's certificate chain (PEM)")
    key: Path | None = Field(default=None, description="its private key (PEM)")
    ca: Path | None = Field(default=None, description="the CA that signs every Kuzet certificate (PEM)")

    @property
    def plaintext(self) -> bool:
        return self.mode == PLAINTEXT_DEV


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build and validate ``cls``; on failure raise ConfigError naming every bad setting."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "?"
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            problems.append(f"  {prefix}{name.upper()}: {err['msg']}{shown}")
        raise ConfigError(f"invalid settings for {cls.__name__}:\n" + "\n".join(problems)) from None


class AuditSettings(BaseSettings):
    """The audit trail's keys and anchoring (``KUZET_AUDIT_*``), shared by every auditing service.

    Services that share a database share one chain, so they must share its keys too.
    """

    model_config = SettingsConfigDict(env_prefix="KUZET_AUDIT_", extra="ignore")

    key: SecretStr = Field(
        default=SecretStr(""),
        description="the current key, '<key id>:<secret of 32+ characters>'; records name the key id",
    )
    old_keys: SecretStr = Field(
        default=SecretStr(""),
        description="earlier keys, comma-separated '<key id>:<secret>', kept to verify older records",
    )
    key_file: str = Field(
        default="",
        description="a file of '<key id>:<secret>' lines instead: the first is current, the rest earlier",
    )
    ephemeral_key: bool = Field(
        default=False,
        description="DEVELOPMENT ONLY: without a key, use a random one; its records stop verifying at restart",
    )
    anchor_url: str = Field(
        default="",
        description="object store for chain-head anchors (s3://bucket?endpoint=...; object lock needed); "
        "empty means files under the service's data_dir/audit-anchors (no lock)",
    )
    anchor_prefix: str = Field(default="audit-anchors", pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,200}$")
    anchor_interval_s: float = Field(
        default=60.0, ge=1.0, description="how often the chain head is anchored (only when it moved)"
    )
    anchor_retention_days: int = Field(
        default=2557, ge=1, le=36500, description="object-lock (COMPLIANCE) retention of each anchor; 7 years"
    )
