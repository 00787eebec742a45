"""portal-api settings (env KEYRELAY_*, see keyrelay.common.settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from keyrelay.common.settings import KeyrelaySettings


class PortalSettings(KeyrelaySettings):
    portal_host: str = "127.0.0.1"
    portal_port: int = 8001
    admin_token: str | None = None
    admin_token_file: Path | None = None
    # Verified access keys are cached this long; NATS invalidation drops them sooner.
    portal_access_key_cache_seconds: float = 10.0
    # Deadline of one completion or embedding call through llm-router-svc (streams included).
    portal_upstream_timeout_seconds: float = 300.0
    # JWT bearer tokens (SPEC §7): HS256 with a shared secret (>= 32 bytes) and/or RS256
    # verified against a JWKS; issuer and audience are checked when set. Unset = no JWT.
    portal_jwt_secret: SecretStr | None = None
    portal_jwt_secret_file: Path | None = None
    portal_jwt_jwks_url: str | None = None
    portal_jwt_issuer: str | None = None
    portal_jwt_audience: str | None = None
    portal_jwt_jwks_cache_seconds: float = 300.0
    portal_jwt_leeway_seconds: float = 0.0

    def platform_admin_token(self) -> str | None:
        if self.admin_token:
            return self.admin_token
        if self.admin_token_file and self.admin_token_file.exists():
            return self.admin_token_file.read_text().strip()
        return None

    def jwt_secret(self) -> str | None:
        """The HS256 secret, from the setting or its file (read when asked: the file may come later)."""
        if self.portal_jwt_secret is not None and self.portal_jwt_secret.get_secret_value():
            return self.portal_jwt_secret.get_secret_value()
        if self.portal_jwt_secret_file and self.portal_jwt_secret_file.exists():
            return self.portal_jwt_secret_file.read_text().strip() or None
        return None
