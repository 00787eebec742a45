"""keyvault-svc settings (env KEYRELAY_*, see keyrelay.common.settings)."""

from __future__ import annotations

from pathlib import Path

from keyrelay.common.settings import KeyrelaySettings


class KeyvaultSettings(KeyrelaySettings):
    keyvault_listen: str = "127.0.0.1:50051"
    # Vault credentials: AppRole (ids inline or in files) or a token.
    keyvault_role_id: str | None = None
    keyvault_role_id_file: Path | None = None
    keyvault_secret_id: str | None = None
    keyvault_secret_id_file: Path | None = None
    keyvault_vault_token: str | None = None
    keyvault_kv_mount: str = "keyrelay"
    keyvault_transit_mount: str = "transit"
    vault_cacert: Path | None = None
    # ResolveKey (plaintext) / VerifyAccessKey cache; invalidated across replicas on every
    # change. 0 keeps no plaintext key in memory between calls.
    keyvault_cache_ttl_seconds: float = 30.0
    # Cache of stored entries (ciphertext and metadata only); 0 turns it off.
    keyvault_record_cache_ttl_seconds: float = 30.0
    # Who may read platform secrets, by name prefix (JSON in the environment), e.g.
    # {"services/crm/": ["crm"]}. Provider keys ("providers/") are readable by no caller:
    # only ResolveKey uses them, inside keyvault-svc.
    keyvault_secret_readers: dict[str, list[str]] = {}

    def approle(self) -> tuple[str, str] | None:
        role_id = self.keyvault_role_id or _read(self.keyvault_role_id_file)
        secret_id = self.keyvault_secret_id or _read(self.keyvault_secret_id_file)
        return (role_id, secret_id) if role_id and secret_id else None


def _read(path: Path | None) -> str | None:
    return path.read_text().strip() if path else None
