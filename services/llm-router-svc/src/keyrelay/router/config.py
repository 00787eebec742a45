"""llm-router-svc settings (env KEYRELAY_*, see keyrelay.common.settings)."""

from __future__ import annotations

import os

from keyrelay.common.settings import KeyrelaySettings

_PREFIX, _SUFFIX = "KEYRELAY_PROVIDER_", "_BASE_URL"


class RouterSettings(KeyrelaySettings):
    router_listen: str = "127.0.0.1:50052"
    router_db_pool_size: int = 20
    router_http_pool_size: int = 200  # open connections to providers, all providers together
    router_timeout_seconds: float = 60.0  # whole non-streamed call; between streamed chunks
    router_connect_timeout_seconds: float = 5.0
    router_first_byte_timeout_seconds: float = 30.0
    router_key_cache_ttl_seconds: float = 30.0  # resolved keys; dropped on NATS invalidation
    router_breaker_threshold: int = 3  # consecutive retryable failures that open a circuit
    router_breaker_cooldown_seconds: float = 30.0
    # Usage events are published in batches gathered this long (a crash can lose the last one).
    router_usage_batch_window_ms: float = 10.0

    def provider_base_urls(self) -> dict[str, str]:
        """`KEYRELAY_PROVIDER_<NAME>_BASE_URL` overrides, by provider name (`AZURE_OPENAI` ->
        `azure-openai`): point any provider at a self-hosted or test endpoint."""
        return {
            key[len(_PREFIX) : -len(_SUFFIX)].lower().replace("_", "-"): value
            for key, value in os.environ.items()
            if key.startswith(_PREFIX) and key.endswith(_SUFFIX) and value
        }

    def router_timeouts(self) -> dict[str, float]:
        return {
            "timeout": self.router_timeout_seconds,
            "connect_timeout": self.router_connect_timeout_seconds,
            "first_byte_timeout": self.router_first_byte_timeout_seconds,
        }
