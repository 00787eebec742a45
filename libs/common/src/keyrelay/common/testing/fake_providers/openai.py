"""OpenAI's Chat Completions, Embeddings and Models wire format, served for OpenAI itself, the
OpenAI-compatible providers (under ``/{name}/v1``) and Azure OpenAI (under ``/azure/openai``).

Auth is ``Authorization: Bearer <key>`` (Azure: the ``api-key`` header). Errors are
``{"error": {"message", "type", "param", "code"}}`` (Azure: ``{"error": {"code", "message"}}``).
"""

from __future__ import annotations

import base64
import os
import struct
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ._wire import (
    BadRequest,
    Call,
    Event,
    Family,
    Output,
    embed,
    format_seconds,
    json_response,
    text_of,
    write_json,
    write_sse,
)

OPENAI_COMPATIBLE = (
    "openai",
    "openrouter",
    "deepseek",
    "mistral",
    "groq",
    "together",
    "perplexity",
    "ollama",
    "vllm",
    "lmstudio",
    "huggingface",
    "xai",
)
# Local servers answer without a key unless one is configured (valid_keys set).
KEYLESS = frozenset({"ollama", "vllm", "lmstudio"})

_MODELS = {
    "openai": ["gpt-4o", "gpt-4o-mini", "o3-mini", "text-embedding-3-small", "text-embedding-3-large"],
    "deepseek": ["deepseek-chat", "deepseek-reasoner"],
    "mistral": ["mistral-large-latest", "mistral-small-latest", "mistral-embed"],
    "groq": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
    "together": ["meta-llama/Llama-3.3-70B-Instruct-Turbo", "BAAI/bge-large-en-v1.5"],
    "perplexity": ["sonar", "sonar-pro"],
    "ollama": ["llama3.2:latest", "nomic-embed-text:latest"],
    "vllm": ["meta-llama/Llama-3.1-8B-Instruct"],
    "lmstudio": ["qwen2.5-7b-instruct"],
    "huggingface": ["tgi"],
    "xai": ["grok-3", "grok-3-mini"],
}
# OpenRouter's model list (the router's catalog refresh reads it): id, name, context, $/token.
_OPENROUTER_MODELS = [
    ("openai/gpt-4o-mini", "OpenAI: GPT-4o-mini", 128000, "0.00000015", "0.0000006"),
    ("anthropic/claude-3.5-haiku", "Anthropic: Claude 3.5 Haiku", 200000, "0.0000008", "0.000004"),
    ("google/gemini-2.0-flash-001", "Google: Gemini 2.0 Flash", 1048576, "0.0000001", "0.0000004"),
    ("meta-llama/llama-3.3-70b-instruct:free", "Meta: Llama 3.3 70B Instruct (free)", 131072, "0", "0"),
]
_EMBEDDING_DIMS = {"text-embedding-3-large": 3072, "mistral-embed": 1024}
_DEFAULT_EMBEDDING_DIMS = 1536
_CREATED = 1_700_000_000

# status -> (type, code, default message), after OpenAI's documented error codes
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


# ---------------------------------------------------------------- auth and errors


def error(
    status: int, message: str = "", retry_after: float | None = None, param: str | None = None
) -> web.Response:
    type_, code, default = _ERRORS.get(status, ("server_error", None, "Upstream error."))
    headers = {"retry-after": format_seconds(retry_after)} if retry_after is not None else None
    body = {"error": {"message": message or default, "type": type_, "param": param, "code": code}}
    return json_response(body, status, headers)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def _refuse(
    request: web.Request, provider: str, key: str, valid: frozenset[str] | None
) -> web.Response | None:
    if request.path.endswith("/models") and provider == "openrouter":
        return None  # OpenRouter lists its models without a key
    if not key:
        if valid is None and provider in KEYLESS:
            return None
        return error(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.")
    if valid is not None and key not in valid:
        return error(401, f"Incorrect API key provided: {key[:3]}***{key[-4:]}.")
    return None


OPENAI = Family(credential=_bearer, refuse=_refuse, error=error)


def _azure_error(status: int, message: str = "", retry_after: float | None = None) -> web.Response:
    default = _ERRORS.get(status, ("", None, "Upstream error."))[2]
    if status == 429 and not message:
        seconds = format_seconds(retry_after) if retry_after is not None else "1"
        message = (
            "Requests have exceeded the call rate limit of your pricing tier. "
            f"Please retry after {seconds} seconds."
        )
    headers = {"retry-after": format_seconds(retry_after)} if retry_after is not None else None
    return json_response({"error": {"code": str(status), "message": message or default}}, status, headers)


def _azure_refuse(
    request: web.Request, provider: str, key: str, valid: frozenset[str] | None
) -> web.Response | None:
    if not key:
        return _azure_error(401, "Access denied due to missing subscription key.")
    if valid is not None and key not in valid:
        return _azure_error(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
            "valid key for an active subscription and use a correct regional API endpoint for your resource.",
        )
    if "api-version" not in request.query:
        return _azure_error(404, "Resource not found")
    return None


AZURE = Family(credential=lambda r: r.headers.get("api-key", ""), refuse=_azure_refuse, error=_azure_error)


# ---------------------------------------------------------------- chat completions


def _object(call: Call) -> dict[str, Any]:
    body = call.body
    if not isinstance(body, dict):
        raise BadRequest("We could not parse the JSON body of your request.")
    return body


def _prompt(body: dict[str, Any]) -> list[str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("[] is too short - 'messages'", "messages")
    return [text_of(m.get("content")) for m in messages if isinstance(m, dict)]


def _usage(out: Output) -> dict[str, int]:
    return {
        "prompt_tokens": out.prompt_tokens,
        "completion_tokens": out.completion_tokens,
        "total_tokens": out.prompt_tokens + out.completion_tokens,
    }


async def chat_completions(call: Call) -> web.StreamResponse:
    body = _object(call)
    model = body.get("model") or call.request.match_info.get("deployment")
    if not model:
        raise BadRequest("you must provide a model parameter", "model")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    out = call.render(_prompt(body), limit, body.get("stop"))
    finish = "length" if out.finish == "length" else "stop"
    ident = "chatcmpl-" + os.urandom(12).hex()
    created = int(time.time())
    if body.get("stream"):
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await write_sse(call, _chunks(out, ident, created, model, finish, include_usage))
    response: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": out.text},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
    }
    if out.usage:
        response["usage"] = _usage(out)
    return await write_json(call, response)


def _chunks(
    out: Output, ident: str, created: int, model: str, finish: str, include_usage: bool
) -> Iterator[Event]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            data["usage"] = None
        return data

    yield Event(chunk({"role": "assistant", "content": ""}), stage="open")
    for piece in out.chunks:
        yield Event(chunk({"content": piece}))
    yield Event(chunk({}, finish), stage="close")
    if include_usage and out.usage:
        final = chunk({})
        final["choices"] = []
        final["usage"] = _usage(out)
        yield Event(final, stage="close")
    yield Event("[DONE]", stage="close")


# ---------------------------------------------------------------- embeddings and models


async def embeddings(call: Call) -> web.StreamResponse:
    body = _object(call)
    model = body.get("model") or call.request.match_info.get("deployment")
    if not model:
        raise BadRequest("you must provide a model parameter", "model")
    texts = _inputs(body.get("input"))
    dims = body.get("dimensions") or _EMBEDDING_DIMS.get(model, _DEFAULT_EMBEDDING_DIMS)
    if not isinstance(dims, int) or dims < 1:
        raise BadRequest("dimensions must be a positive integer", "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise BadRequest(
            f"'{encoding}' is not one of ['float', 'base64'] - 'encoding_format'", "encoding_format"
        )
    data = []
    for index, text in enumerate(texts):
        vector: Any = embed(text, dims)
        if encoding == "base64":
            vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(len(t.split()) for t in texts)
    payload: dict[str, Any] = {"object": "list", "data": data, "model": model}
    if call.ok.usage:
        payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    return await write_json(call, payload)


def _inputs(value: Any) -> list[str]:
    """``input`` as texts: a string, a list of strings, or token arrays (one word per token)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise BadRequest("'input' is a required property", "input")
    texts = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(t, int) for t in item):
            texts.append(" ".join(map(str, item)))
        else:
            raise BadRequest("Invalid 'input': expected a string, strings or token arrays.", "input")
    return texts


async def models(call: Call) -> web.StreamResponse:
    if call.provider == "openrouter":
        return await write_json(call, {"data": [_openrouter_model(*m) for m in _OPENROUTER_MODELS]})
    owner = "openai" if call.provider == "openai" else call.provider
    data = [
        {"id": model, "object": "model", "created": _CREATED, "owned_by": owner}
        for model in _MODELS.get(call.provider, [])
    ]
    return await write_json(call, {"object": "list", "data": data})


def _openrouter_model(model: str, name: str, context: int, prompt: str, completion: str) -> dict[str, Any]:
    return {
        "id": model,
        "canonical_slug": model.split(":")[0],
        "name": name,
        "created": _CREATED,
        "description": f"{name} (fake provider).",
        "context_length": context,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "top_provider": {"context_length": context, "max_completion_tokens": 16384, "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": ["max_tokens", "temperature", "top_p", "stop", "stream"],
    }
