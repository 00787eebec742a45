"""Fake AI providers for tests and benchmarks, speaking the providers' documented wire formats.

One aiohttp server serves every provider under its own prefix (``FakeProviders.url(provider)`` is
the base URL a client is configured with): OpenAI and the OpenAI-compatible providers under
``/{name}/v1``, Azure OpenAI under ``/azure``, Anthropic under ``/anthropic``, Gemini under
``/gemini`` and Cohere under ``/cohere``. Each checks the credential where its provider expects
it, answers in its provider's JSON and SSE shapes, and fails in its provider's error shapes.

Behaviours are queued per provider (``script``): ``Ok``, ``Fail`` (an HTTP error), ``Hang`` (no
answer for a while) and ``CutStream`` (the connection drops mid-answer). ``/_control/*`` does the
same from another process; ``python -m keyrelay.common.testing.fake_providers --port N`` runs it
standalone. The non-streaming OpenAI path does no sleeping and no logging, and requests are kept
in a bounded deque, so the server can stand in as an instant upstream for benchmarks.
"""

from ._server import MAX_RECORDED, PROVIDERS, FakeProviders
from ._wire import CutStream, Fail, Hang, Ok, Recorded, embed

__all__ = [
    "MAX_RECORDED",
    "PROVIDERS",
    "CutStream",
    "Fail",
    "FakeProviders",
    "Hang",
    "Ok",
    "Recorded",
    "embed",
]
