"""portal-api settings (env KEYRELAY_*, see keyrelay.common.settings)."""

from __future__ import annotations

from pathlib import Path

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

    def platform_admin_token(self) -> str | None:
        if self.admin_token:
            return self.admin_token
        if self.admin_token_file and self.admin_token_file.exists():
            return self.admin_token_file.read_text().strip()
        return None
