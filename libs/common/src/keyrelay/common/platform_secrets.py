"""Platform services read their configuration from keyvault-svc, with environment fallback.

    class CrmSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="CRM_")
        database_url: str
        stripe_secret_key: str = ""

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, **_):
            vault = PlatformSecretSource(settings_cls, "services/crm", KeyvaultConnection.from_env("crm"))
            return (init_settings, vault, env_settings)

Each field of the platform secret `services/crm` fills the setting of the same name;
settings the secret does not hold come from the environment. When keyvault-svc cannot be
reached the source logs a warning and gives nothing, so the environment decides (the
"vault helper with environment fallback" the seed platform's services used). A refusal
(this service may not read that secret) is a configuration error and raises.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from keyrelay.common.errors import from_rpc_error
from keyrelay.common.tls import load_material
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyvaultConnection:
    address: str
    tls_dir: Path
    identity: str
    timeout: float = 5.0

    @classmethod
    def from_env(cls, identity: str) -> KeyvaultConnection:
        data_dir = Path(os.environ.get("KEYRELAY_DATA_DIR", ".keyrelay"))
        return cls(
            address=os.environ.get("KEYRELAY_KEYVAULT_ADDR", "127.0.0.1:50051"),
            tls_dir=Path(os.environ.get("KEYRELAY_TLS_DIR", data_dir / "tls")),
            identity=identity,
        )


def fetch_platform_secret(name: str, conn: KeyvaultConnection) -> dict[str, str] | None:
    """The secret's fields, or None when keyvault-svc is unreachable or the secret is absent."""
    material = load_material(conn.tls_dir, conn.identity)
    creds = grpc.ssl_channel_credentials(material.ca, material.key, material.cert)
    with grpc.secure_channel(conn.address, creds) as channel:
        stub = keyvault_pb2_grpc.KeyVaultStub(channel)
        try:
            request = keyvault_pb2.GetPlatformSecretRequest(name=name)
            reply = stub.GetPlatformSecret(request, timeout=conn.timeout)
        except grpc.RpcError as err:
            code = err.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.NOT_FOUND:
                return None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                log.warning("keyvault-svc unreachable for secret %s; using the environment", name)
                return None
            raise from_rpc_error(err) from err
    return dict(reply.fields)


class PlatformSecretSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], name: str, conn: KeyvaultConnection) -> None:
        super().__init__(settings_cls)
        fields = fetch_platform_secret(name, conn) or {}
        self._values = {k.lower(): v for k, v in fields.items() if k.lower() in settings_cls.model_fields}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)
