"""router service settings (env KEYRELAY_*, see keyrelay.common.settings)."""

from __future__ import annotations

from keyrelay.common.settings import KeyrelaySettings


class RouterSettings(KeyrelaySettings):
    router_listen: str = "127.0.0.1:50052"
