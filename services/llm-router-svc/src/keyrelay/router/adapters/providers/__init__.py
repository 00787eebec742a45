"""Provider adapters: the internal chat/embedding shapes to and from each provider's wire format.

One adapter per (provider name, protocol, base URL), all sharing the service's one
`aiohttp.ClientSession`; build them with `build_adapter`.
"""

from keyrelay.router.adapters.providers.base import ProviderAdapter
from keyrelay.router.adapters.providers.registry import ADAPTER_CLASSES, DEFAULT_BASE_URLS, build_adapter

__all__ = ["ADAPTER_CLASSES", "DEFAULT_BASE_URLS", "ProviderAdapter", "build_adapter"]
