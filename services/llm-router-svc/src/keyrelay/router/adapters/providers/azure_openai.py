"""Azure OpenAI: OpenAI's bodies at the resource's own endpoint, one deployment per model.

`POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...` with the
`api-key` header. The endpoint comes from the credential's `endpoint` field (each key belongs
to one Azure resource), else from the adapter's base URL; the deployment is the request's
model id, else the credential's `deployment` field; the API version is the credential's
`api_version` field, else the adapter's setting (default "2024-10-21", the GA version that
supports `stream_options`). check_key lists the resource's models.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from keyrelay.router.adapters.providers.openai_compat import OpenAICompatAdapter
from keyrelay.router.domain.messages import Credential, LiveCheckOutcome, ProviderError

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIAdapter(OpenAICompatAdapter):
    protocol = "azure-openai"

    def __init__(
        self,
        name: str,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        first_byte_timeout: float = 30.0,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        super().__init__(
            name,
            base_url,
            session,
            timeout=timeout,
            connect_timeout=connect_timeout,
            first_byte_timeout=first_byte_timeout,
        )
        self.api_version = api_version

    def _endpoint(self, cred: Credential) -> str:
        endpoint = (cred.fields.get("endpoint") or self.base_url).rstrip("/")
        if not endpoint:
            raise ProviderError(
                self.name,
                "bad_request",
                f"no endpoint for {self.name}: store the key with its resource endpoint "
                "(e.g. https://NAME.openai.azure.com) or set the provider's base URL.",
            )
        return endpoint

    def _url(self, cred: Credential, operation: str, model: str) -> str:
        deployment = model or cred.fields.get("deployment", "")
        return f"{self._endpoint(cred)}/openai/deployments/{quote(deployment, safe='')}/{operation}"

    def _params(self, cred: Credential) -> dict[str, str]:
        return {"api-version": cred.fields.get("api_version") or self.api_version}

    def _headers(self, cred: Credential) -> dict[str, str]:
        return {"api-key": cred.api_key}

    async def check_key(self, cred: Credential) -> LiveCheckOutcome:
        try:
            url = f"{self._endpoint(cred)}/openai/models"
        except ProviderError as exc:
            return LiveCheckOutcome("unverified", 0, exc.message)
        return await self._probe(cred, "GET", url, headers=self._headers(cred), params=self._params(cred))
