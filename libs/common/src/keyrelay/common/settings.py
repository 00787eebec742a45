"""Base settings shared by every keyrelay process.

One flat namespace: every setting is read from `KEYRELAY_<FIELD>` (for example
`KEYRELAY_NATS_URL`), then from the optional YAML file named by `KEYRELAY_CONFIG`, then
falls back to a default that suits the embedded stack started by `keyrelay up`.
Service-specific settings are fields of a subclass whose names start with the service's
name (`keyvault_role_id` -> `KEYRELAY_KEYVAULT_ROLE_ID`), so one environment configures
the whole suite without collisions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SERVICE_NAMES = ("keyvault", "router", "rag", "portal")


class YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by KEYRELAY_CONFIG (keys are field names, lower case)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("KEYRELAY_CONFIG")
        self._data: dict[str, Any] = {}
        if path:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"KEYRELAY_CONFIG {path} must hold a mapping of settings")
            self._data = {str(k).lower(): v for k, v in loaded.items()}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class KeyrelaySettings(BaseSettings):
    """Settings every service understands. Defaults match `keyrelay up`."""

    model_config = SettingsConfigDict(env_prefix="KEYRELAY_", extra="ignore")

    data_dir: Path = Path(".keyrelay")
    log_level: str = "INFO"
    log_json: bool = True

    # Infrastructure (the launcher sets these for the services it starts).
    vault_addr: str = "http://127.0.0.1:8200"
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/keyrelay"

    # Service-to-service gRPC: addresses and mutual TLS material.
    keyvault_addr: str = "127.0.0.1:50051"
    router_addr: str = "127.0.0.1:50052"
    rag_addr: str = "127.0.0.1:50053"
    tls_dir: Path | None = Field(
        default=None,
        description="Directory with ca.pem, <service>.pem and <service>-key.pem; defaults to <data_dir>/tls.",
    )

    @property
    def tls_path(self) -> Path:
        return self.tls_dir or self.data_dir / "tls"

    # Distinguishes replicas of one service on a machine (each keeps its own event spool).
    replica_id: str = "0"

    def spool_dir(self, service: str) -> Path:
        """This replica's event spool: stable across restarts, so nothing spooled is orphaned."""
        return self.data_dir / "spool" / f"{service}-{self.replica_id}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlFileSource(settings_cls), file_secret_settings)
