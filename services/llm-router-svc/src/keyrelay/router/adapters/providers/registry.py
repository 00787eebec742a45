"""Which adapter class speaks which protocol, and each provider's default base URL."""

from __future__ import annotations

from typing import Any

import aiohttp

from keyrelay.router.adapters.providers.anthropic import AnthropicAdapter
from keyrelay.router.adapters.providers.azure_openai import AzureOpenAIAdapter
from keyrelay.router.adapters.providers.base import ProviderAdapter
from keyrelay.router.adapters.providers.cohere import CohereAdapter
from keyrelay.router.adapters.providers.gemini import GeminiAdapter
from keyrelay.router.adapters.providers.openai_compat import OpenAICompatAdapter

# name -> (protocol, the base URL the provider's own SDK uses). Azure has none: each key
# carries its resource's endpoint. Mirrors keyvault-svc's services.yaml (DeepSeek's SDK
# docs use either https://api.deepseek.com or .../v1; both serve the same API).
DEFAULT_BASE_URLS: dict[str, tuple[str, str]] = {
    "openai": ("openai", "https://api.openai.com/v1"),
    "openrouter": ("openai", "https://openrouter.ai/api/v1"),
    "deepseek": ("openai", "https://api.deepseek.com/v1"),
    "mistral": ("openai", "https://api.mistral.ai/v1"),
    "perplexity": ("openai", "https://api.perplexity.ai"),
    "groq": ("openai", "https://api.groq.com/openai/v1"),
    "together": ("openai", "https://api.together.xyz/v1"),
    "xai": ("openai", "https://api.x.ai/v1"),
    "ollama": ("openai", "http://127.0.0.1:11434/v1"),
    "vllm": ("openai", "http://127.0.0.1:8000/v1"),
    "lmstudio": ("openai", "http://127.0.0.1:1234/v1"),
    "huggingface": ("openai", "https://router.huggingface.co/v1"),
    "anthropic": ("anthropic", "https://api.anthropic.com"),
    "gemini": ("gemini", "https://generativelanguage.googleapis.com"),
    "cohere": ("cohere", "https://api.cohere.com"),
    "azure-openai": ("azure-openai", ""),
}

ADAPTER_CLASSES: dict[str, type[ProviderAdapter]] = {
    OpenAICompatAdapter.protocol: OpenAICompatAdapter,
    AnthropicAdapter.protocol: AnthropicAdapter,
    GeminiAdapter.protocol: GeminiAdapter,
    CohereAdapter.protocol: CohereAdapter,
    AzureOpenAIAdapter.protocol: AzureOpenAIAdapter,
}


def build_adapter(
    name: str, protocol: str, base_url: str, session: aiohttp.ClientSession, **options: Any
) -> ProviderAdapter:
    """The adapter for `name` speaking `protocol`; an empty base_url means the provider's default.

    `options`: timeout, connect_timeout, first_byte_timeout; for azure-openai also api_version.
    """
    try:
        cls = ADAPTER_CLASSES[protocol]
    except KeyError:
        known = ", ".join(sorted(ADAPTER_CLASSES))
        raise ValueError(f"unknown provider protocol {protocol!r} for {name!r} (known: {known})") from None
    if not base_url:
        base_url = DEFAULT_BASE_URLS.get(name, (protocol, ""))[1]
        if not base_url and protocol != "azure-openai":
            raise ValueError(f"no base URL for provider {name!r}: it has no default, so configure one")
    return cls(name, base_url, session, **options)
