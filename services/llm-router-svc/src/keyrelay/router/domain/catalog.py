"""The model catalog: every model the router can call, what it costs and what it is for.

The catalog is data (`keyrelay/router/data/models.yaml`; its header explains every field, the
price sources and the budget-tier rule). This module turns it into frozen `Model` values that
mirror `keyrelay.v1.Model`, and answers the questions routing and accounting ask: which models
support a task within a tier, what a call cost (exactly, in integer micro-USD).

Loading validates the whole file and refuses to start on any mistake, with a ValueError naming
the entry. `ModelCatalog.load()` reads the file (the only I/O here); `merge_openrouter()` is
pure: it takes the JSON of OpenRouter's model list, fetched by the caller, and returns a new
catalog with the OpenRouter-routed entries' prices refreshed.

Notes for users of this module:
- `BudgetTier` is FREE=0 < LOW=1 < ... < UNLIMITED=4 so tiers compare; the proto enum
  `keyrelay.v1.BudgetTier` numbers them from 1 (0 is UNSPECIFIED): proto value = tier + 1.
- Money is computed in `Decimal` from the prices exactly as written in the file, so
  1,000 prompt + 500 completion tokens at $0.15/$0.60 per 1M is exactly 450 micro-USD.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from keyrelay.common.errors import InvalidArgument, NotFound

TASKS: tuple[str, ...] = (
    "chat",
    "reasoning",
    "code",
    "rag",
    "vision",
    "embedding",
    "summarization",
    "translation",
)
# Adapter names (SPEC §5). A model's provider must be one of these.
PROVIDERS: frozenset[str] = frozenset(
    {
        "openai",
        "anthropic",
        "gemini",
        "cohere",
        "mistral",
        "deepseek",
        "openrouter",
        "perplexity",
        "groq",
        "together",
        "xai",
        "azure-openai",
        "huggingface",
        "ollama",
        "vllm",
        "lmstudio",
    }
)
# Runtimes the tenant hosts: no per-token price, so their prices must be 0.
SELF_HOSTED_PROVIDERS: frozenset[str] = frozenset({"huggingface", "ollama", "vllm", "lmstudio"})
# Enterprise deployments: UNLIMITED whatever their list price.
ENTERPRISE_PROVIDERS: frozenset[str] = frozenset({"azure-openai"})
MODALITIES: tuple[str, ...] = ("text", "image")
# regions: "global" = no residency commitment (fits only tenants with no region);
# "any" = self-hosted, fits every region. Both stand alone.
GLOBAL_REGION = "global"
ANY_REGION = "any"
OPENROUTER = "openrouter"

# Upper bounds (inclusive) of the price bands, USD per 1M tokens, applied to
# max(input price, output price). See the header of models.yaml.
LOW_MAX_PRICE = Decimal("2")
MEDIUM_MAX_PRICE = Decimal("15")

_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._:/@+-]*")
_PROVIDER_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")
_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)*")
_MICROS_PER_USD = Decimal(1_000_000)


class BudgetTier(IntEnum):
    """Price band of a model, and the most expensive band a tenant may use."""

    FREE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    UNLIMITED = 4

    @classmethod
    def parse(cls, value: BudgetTier | int | str) -> BudgetTier:
        """A tier from itself, its value (0-4) or its name in any case ("low", "LOW")."""
        if isinstance(value, BudgetTier):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value in cls._value2member_map_:
            return cls(value)
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        raise InvalidArgument(
            f"Unknown budget tier {str(value)[:32]!r}; use one of: {', '.join(t.name for t in cls)}."
        )


def tier_for_prices(provider: str, input_price_per_mtok: float, output_price_per_mtok: float) -> BudgetTier:
    """The tier the catalog rule assigns (models.yaml header, "BUDGET TIER RULE")."""
    if provider in ENTERPRISE_PROVIDERS:
        return BudgetTier.UNLIMITED
    worst = max(_decimal(input_price_per_mtok), _decimal(output_price_per_mtok))
    if worst == 0:
        return BudgetTier.FREE
    if worst <= LOW_MAX_PRICE:
        return BudgetTier.LOW
    if worst <= MEDIUM_MAX_PRICE:
        return BudgetTier.MEDIUM
    return BudgetTier.HIGH


@dataclass(frozen=True, slots=True)
class Model:
    """One catalog entry (keyrelay.v1.Model). Prices are USD per 1M tokens."""

    id: str
    provider: str
    provider_model_id: str
    name: str
    context_window: int
    max_output_tokens: int  # 0 for embedding models
    input_price_per_mtok: float
    output_price_per_mtok: float
    tasks: tuple[str, ...]
    budget_tier: BudgetTier
    regions: tuple[str, ...]
    modalities: tuple[str, ...]
    dimensions: int = 0  # embedding models only
    # Exact prices for money arithmetic, derived from the floats above.
    _input_price: Decimal = field(init=False, repr=False, compare=False)
    _output_price: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_input_price", _decimal(self.input_price_per_mtok))
        object.__setattr__(self, "_output_price", _decimal(self.output_price_per_mtok))

    @property
    def is_embedding(self) -> bool:
        return "embedding" in self.tasks

    def supports(self, task: str) -> bool:
        return task in self.tasks

    def available_in(self, region: str) -> bool:
        """Whether a tenant whose region setting is `region` ("" = none) may use this model."""
        return not region or region in self.regions or ANY_REGION in self.regions

    def cost_micros(self, prompt_tokens: int, completion_tokens: int) -> int:
        """Cost in micro-USD (1e-6 USD), exact, rounded up to the next whole micro-USD."""
        return math.ceil(self._exact_micros(prompt_tokens, completion_tokens))

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Cost in USD, unrounded (the nearest float to the exact amount)."""
        return float(self._exact_micros(prompt_tokens, completion_tokens) / _MICROS_PER_USD)

    def _exact_micros(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        for label, count in (("prompt_tokens", prompt_tokens), ("completion_tokens", completion_tokens)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{label} must be a non-negative integer, got {count!r}")
        # price per 1M tokens x tokens / 1M = USD; x 1M = micro-USD: the 1Ms cancel.
        return prompt_tokens * self._input_price + completion_tokens * self._output_price


class ModelCatalog:
    """The loaded, validated catalog. Immutable; lookups are dictionary reads."""

    def __init__(self, models: Iterable[Model]) -> None:
        self._by_id: dict[str, Model] = {}
        for model in models:
            _check_model(model)
            if model.id in self._by_id:
                raise ValueError(f"model catalog: duplicate id '{model.id}'")
            self._by_id[model.id] = model
        self._all = tuple(self._by_id.values())

    @classmethod
    def load(cls, path: str | Path | None = None) -> ModelCatalog:
        """Read and validate a catalog file; the packaged `data/models.yaml` by default.

        Raises ValueError naming the offending entry and what is wrong with it.
        """
        if path is None:
            text = (resources.files("keyrelay.router") / "data" / "models.yaml").read_text("utf-8")
            source = "models.yaml"
        else:
            text = Path(path).read_text("utf-8")
            source = str(path)
        return cls.from_mapping(yaml.safe_load(text), source=source)

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "model catalog") -> ModelCatalog:
        """Build a catalog from the parsed YAML document (pure: no I/O)."""
        if not isinstance(data, Mapping) or set(data) != {"models"}:
            raise ValueError(f"{source}: expected exactly the top-level key 'models'")
        entries = data["models"]
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{source}: 'models' must be a non-empty list")
        models = [_parse_model(entry, i, source) for i, entry in enumerate(entries)]
        seen: set[str] = set()
        for i, model in enumerate(models):
            if model.id in seen:
                raise ValueError(f"{source}: model '{model.id}' (entry {i}): duplicate id")
            seen.add(model.id)
        return cls(models)

    def get(self, model_id: str) -> Model:
        try:
            return self._by_id[model_id]
        except KeyError:
            close = difflib.get_close_matches(model_id, self._by_id, n=3) if model_id else []
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise NotFound(
                f"Unknown model {model_id[:128]!r}.{hint} Model ids look like 'provider/model' "
                "(e.g. 'openai/gpt-4o-mini'), or use 'auto'. List the available models with "
                "ListModels (gRPC), GET /v1/models or GET /api/brain/openrouter/models."
            ) from None

    def list(
        self,
        task: str | None = None,
        tier: BudgetTier | int | str | None = None,
        provider: str | None = None,
    ) -> tuple[Model, ...]:
        """Models in file order, filtered (AND) by task, tier (at or below) and provider."""
        if task is not None and task not in TASKS:
            raise InvalidArgument(f"Unknown task type {task[:64]!r}; use one of: {', '.join(TASKS)}.")
        if provider is not None and provider not in PROVIDERS:
            raise InvalidArgument(
                f"Unknown provider {provider[:64]!r}; use one of: {', '.join(sorted(PROVIDERS))}."
            )
        ceiling = None if tier is None else BudgetTier.parse(tier)
        return tuple(
            m
            for m in self._all
            if (task is None or task in m.tasks)
            and (ceiling is None or m.budget_tier <= ceiling)
            and (provider is None or m.provider == provider)
        )

    def providers(self) -> tuple[str, ...]:
        """Providers that have at least one model, in order of first appearance."""
        return tuple(dict.fromkeys(m.provider for m in self._all))

    def merge_openrouter(self, payload: Any) -> ModelCatalog:
        """A new catalog with OpenRouter-routed models refreshed from OpenRouter's model list.

        `payload` is the JSON of `GET https://openrouter.ai/api/v1/models`:
        `{"data": [{"id", "context_length", "pricing": {"prompt", "completion"},
        "top_provider": {"max_completion_tokens"}, ...}]}`, prices in USD per token as strings.
        For each of our models with provider "openrouter" whose provider_model_id equals an
        entry's id, the prices, context window and max output are replaced and the budget tier
        re-derived from the new prices. Models are never added or removed. Malformed entries
        (and a malformed payload) are ignored: the affected models keep their current values.
        """
        quotes = _openrouter_quotes(payload)
        if not quotes:
            return ModelCatalog(self._all)
        merged = []
        for model in self._all:
            quote = quotes.get(model.provider_model_id) if model.provider == OPENROUTER else None
            merged.append(model if quote is None else _refreshed(model, quote))
        return ModelCatalog(merged)

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[Model]:
        return iter(self._all)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id


# --- invariants of a model (checked for every catalog, loaded or merged) --------------------


def _check_model(m: Model) -> None:
    where = f"model catalog: model '{m.id}'"
    if not isinstance(m.id, str) or not _MODEL_ID.fullmatch(m.id) or len(m.id) > 200:
        raise ValueError(f"{where}: id must look like 'provider/model' (no spaces, at most 200 chars)")
    prefix = m.id.split("/", 1)[0]
    if m.provider != prefix:
        raise ValueError(f"{where}: provider '{m.provider}' must equal the id's prefix '{prefix}'")
    if m.provider not in PROVIDERS:
        raise ValueError(f"{where}: unknown provider '{m.provider}'; use one of {sorted(PROVIDERS)}")
    if not _PROVIDER_MODEL_ID.fullmatch(m.provider_model_id) or len(m.provider_model_id) > 200:
        raise ValueError(f"{where}: provider_model_id must be a non-empty id without spaces")
    if m.provider == OPENROUTER and m.id != f"{OPENROUTER}/{m.provider_model_id}":
        raise ValueError(f"{where}: OpenRouter models are named 'openrouter/<provider_model_id>'")
    if not m.name.strip():
        raise ValueError(f"{where}: name must be non-empty")

    if not m.tasks or len(set(m.tasks)) != len(m.tasks) or not set(m.tasks) <= set(TASKS):
        raise ValueError(f"{where}: tasks must be a non-empty list without duplicates from {list(TASKS)}")
    if not m.modalities or len(set(m.modalities)) != len(m.modalities):
        raise ValueError(f"{where}: modalities must be a non-empty list without duplicates")
    if not set(m.modalities) <= set(MODALITIES) or "text" not in m.modalities:
        raise ValueError(f"{where}: modalities must include 'text' and come from {list(MODALITIES)}")
    if "vision" in m.tasks and "image" not in m.modalities:
        raise ValueError(f"{where}: task 'vision' needs 'image' in modalities")
    _check_regions(m.regions, where)

    if m.context_window < 1:
        raise ValueError(f"{where}: context_window must be a positive integer")
    for label, price in (("input", m.input_price_per_mtok), ("output", m.output_price_per_mtok)):
        if not math.isfinite(price) or price < 0:
            raise ValueError(f"{where}: {label}_price_per_mtok must be a finite number >= 0")
    if m.is_embedding:
        if m.tasks != ("embedding",):
            raise ValueError(f"{where}: an embedding model has exactly the task 'embedding'")
        if m.dimensions < 1:
            raise ValueError(f"{where}: embedding models need dimensions (a positive integer)")
        if m.max_output_tokens != 0 or m.output_price_per_mtok != 0:
            raise ValueError(f"{where}: embedding models have max_output_tokens 0 and output price 0")
    else:
        if m.dimensions != 0:
            raise ValueError(f"{where}: dimensions is for embedding models only")
        if not 1 <= m.max_output_tokens <= m.context_window:
            raise ValueError(f"{where}: max_output_tokens must be between 1 and context_window")
    if m.provider in SELF_HOSTED_PROVIDERS and (m.input_price_per_mtok or m.output_price_per_mtok):
        raise ValueError(f"{where}: self-hosted models ({m.provider}) have prices 0")

    expected = tier_for_prices(m.provider, m.input_price_per_mtok, m.output_price_per_mtok)
    if m.budget_tier is not expected:
        raise ValueError(
            f"{where}: budget_tier {m.budget_tier.name} disagrees with the tier rule, which gives "
            f"{expected.name} for max(input, output) price "
            f"{max(m.input_price_per_mtok, m.output_price_per_mtok)} per 1M tokens"
        )


def _check_regions(regions: tuple[str, ...], where: str) -> None:
    if not regions or len(set(regions)) != len(regions):
        raise ValueError(f"{where}: regions must be a non-empty list without duplicates")
    special = {GLOBAL_REGION, ANY_REGION} & set(regions)
    if special and len(regions) != 1:
        raise ValueError(f"{where}: '{special.pop()}' stands alone in regions")
    if bad := [r for r in regions if not _REGION.fullmatch(r)]:
        raise ValueError(f"{where}: regions {bad} must be lowercase region codes such as 'us' or 'eu'")


# --- parsing the file ---------------------------------------------------------------------------

_KEYS = {
    "id",
    "provider",
    "provider_model_id",
    "name",
    "context_window",
    "max_output_tokens",
    "input_price_per_mtok",
    "output_price_per_mtok",
    "tasks",
    "budget_tier",
    "regions",
    "modalities",
    "dimensions",
}
_REQUIRED_KEYS = _KEYS - {"dimensions"}


def _parse_model(entry: Any, index: int, source: str) -> Model:
    mid = entry.get("id") if isinstance(entry, Mapping) else None
    where = f"{source}: model '{mid}' (entry {index})"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    if unknown := set(entry) - _KEYS:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    if missing := _REQUIRED_KEYS - set(entry):
        raise ValueError(f"{where}: missing keys {sorted(missing)}")
    for key in ("id", "provider", "provider_model_id", "name"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ValueError(f"{where}: {key} must be a non-empty string")
    tier_name = entry["budget_tier"]
    if not isinstance(tier_name, str) or tier_name not in BudgetTier.__members__:
        raise ValueError(f"{where}: budget_tier must be one of {', '.join(BudgetTier.__members__)}")
    model = Model(
        id=entry["id"],
        provider=entry["provider"],
        provider_model_id=entry["provider_model_id"],
        name=entry["name"].strip(),
        context_window=_int(entry["context_window"], where, "context_window"),
        max_output_tokens=_int(entry["max_output_tokens"], where, "max_output_tokens"),
        input_price_per_mtok=_price(entry["input_price_per_mtok"], where, "input_price_per_mtok"),
        output_price_per_mtok=_price(entry["output_price_per_mtok"], where, "output_price_per_mtok"),
        tasks=_strings(entry["tasks"], where, "tasks"),
        budget_tier=BudgetTier[tier_name],
        regions=_strings(entry["regions"], where, "regions"),
        modalities=_strings(entry["modalities"], where, "modalities"),
        dimensions=_int(entry.get("dimensions", 0), where, "dimensions"),
    )
    try:
        _check_model(model)
    except ValueError as exc:
        # Anchor the invariant's message on the file and the entry number.
        message = str(exc).removeprefix(f"model catalog: model '{model.id}': ")
        raise ValueError(f"{where}: {message}") from None
    return model


def _int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: {key} must be a non-negative integer")
    return value


def _price(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key} must be a number (USD per 1M tokens)")
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"{where}: {key} must be a finite number >= 0")
    return price


def _strings(raw: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise ValueError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(raw)


def _decimal(price: float) -> Decimal:
    """The decimal a price was written as: repr() of a float is its shortest round-trip form."""
    return Decimal(repr(float(price)))


# --- OpenRouter refresh ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OpenRouterQuote:
    input_price_per_mtok: float
    output_price_per_mtok: float
    context_window: int | None
    max_output_tokens: int | None


def _openrouter_quotes(payload: Any) -> dict[str, _OpenRouterQuote]:
    """OpenRouter id -> quote, for the well-formed entries only (the first of duplicates)."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, list):
        return {}
    quotes: dict[str, _OpenRouterQuote] = {}
    for entry in data:
        if not isinstance(entry, Mapping):
            continue
        their_id = entry.get("id")
        if not isinstance(their_id, str) or not their_id or their_id in quotes:
            continue
        pricing = entry.get("pricing")
        if not isinstance(pricing, Mapping):
            continue
        prompt = _per_token_to_per_mtok(pricing.get("prompt"))
        completion = _per_token_to_per_mtok(pricing.get("completion"))
        if prompt is None or completion is None:
            continue
        top = entry.get("top_provider")
        quotes[their_id] = _OpenRouterQuote(
            input_price_per_mtok=prompt,
            output_price_per_mtok=completion,
            context_window=_positive_int_or_none(entry.get("context_length")),
            max_output_tokens=_positive_int_or_none(
                top.get("max_completion_tokens") if isinstance(top, Mapping) else None
            ),
        )
    return quotes


def _per_token_to_per_mtok(value: Any) -> float | None:
    """ "0.00000015" (USD per token) -> 0.15 (USD per 1M tokens); None when not a price >= 0."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        per_token = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not per_token.is_finite() or per_token < 0:  # OpenRouter uses "-1" for variable pricing
        return None
    return float(per_token * _MICROS_PER_USD)


def _positive_int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def _refreshed(model: Model, quote: _OpenRouterQuote) -> Model:
    context = quote.context_window or model.context_window
    max_output = min(quote.max_output_tokens or model.max_output_tokens, context)
    candidate = replace(
        model,
        input_price_per_mtok=quote.input_price_per_mtok,
        output_price_per_mtok=quote.output_price_per_mtok,
        context_window=context,
        max_output_tokens=0 if model.is_embedding else max_output,
        budget_tier=tier_for_prices(model.provider, quote.input_price_per_mtok, quote.output_price_per_mtok),
    )
    try:
        _check_model(candidate)
    except ValueError:
        return model
    return candidate
