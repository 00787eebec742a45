"""The packaged model catalog, its loader's checks, cost arithmetic and the OpenRouter refresh."""

from __future__ import annotations

import copy
import dataclasses
from importlib import resources
from typing import Any

import pytest
import yaml

from keyrelay.common.errors import InvalidArgument, NotFound
from keyrelay.router.domain.catalog import (
    PROVIDERS,
    SELF_HOSTED_PROVIDERS,
    TASKS,
    BudgetTier,
    Model,
    ModelCatalog,
    tier_for_prices,
)
from keyrelay.router.domain.tokens import count_tokens

CATALOG = ModelCatalog.load()
RAW: dict[str, Any] = yaml.safe_load(
    (resources.files("keyrelay.router") / "data" / "models.yaml").read_text("utf-8")
)


def raw_copy() -> dict[str, Any]:
    return copy.deepcopy(RAW)


def entry(raw: dict[str, Any], model_id: str) -> dict[str, Any]:
    return next(e for e in raw["models"] if e["id"] == model_id)


# --- the packaged file ---------------------------------------------------------------------


def test_catalog_is_large_and_covers_every_provider() -> None:
    assert len(CATALOG) >= 45
    assert set(CATALOG.providers()) == PROVIDERS


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_at_least_two_models(task: str) -> None:
    assert len(CATALOG.list(task=task)) >= 2


@pytest.mark.parametrize("tier", list(BudgetTier))
def test_every_tier_has_a_model(tier: BudgetTier) -> None:
    assert any(m.budget_tier is tier for m in CATALOG)


def test_ids_unique_and_prefixed_by_provider() -> None:
    ids = [m.id for m in CATALOG]
    assert len(ids) == len(set(ids))
    for m in CATALOG:
        assert m.id.split("/", 1)[0] == m.provider
        assert m.id.startswith(m.provider + "/")


def test_seed_models_present_with_expected_shape() -> None:
    assert CATALOG.get("anthropic/claude-3-5-sonnet").provider_model_id == "claude-3-5-sonnet-20241022"
    assert CATALOG.get("gemini/gemini-1.5-flash").provider_model_id == "gemini-1.5-flash"
    gpt = CATALOG.get("openai/gpt-4o-mini")
    assert (gpt.input_price_per_mtok, gpt.output_price_per_mtok) == (0.15, 0.6)
    assert gpt.budget_tier is BudgetTier.LOW
    assert gpt.supports("vision") and "image" in gpt.modalities


@pytest.mark.parametrize(
    ("model_id", "dimensions"),
    [
        ("openai/text-embedding-3-small", 1536),
        ("openai/text-embedding-3-large", 3072),
        ("openai/text-embedding-ada-002", 1536),
        ("cohere/embed-english-v3.0", 1024),
        ("gemini/text-embedding-004", 768),
        ("mistral/mistral-embed", 1024),
    ],
)
def test_embedding_models(model_id: str, dimensions: int) -> None:
    m = CATALOG.get(model_id)
    assert m.dimensions == dimensions
    assert m.tasks == ("embedding",)
    assert m.max_output_tokens == 0 and m.output_price_per_mtok == 0


def test_only_embedding_models_have_dimensions() -> None:
    for m in CATALOG:
        assert (m.dimensions > 0) == (m.tasks == ("embedding",)), m.id
        assert m.is_embedding == ("embedding" in m.tasks)


def test_self_hosted_are_free_and_azure_is_unlimited() -> None:
    for m in CATALOG:
        if m.provider in SELF_HOSTED_PROVIDERS:
            assert m.budget_tier is BudgetTier.FREE, m.id
            assert m.regions == ("any",), m.id
        if m.provider == "azure-openai":
            assert m.budget_tier is BudgetTier.UNLIMITED, m.id
    azure = [m for m in CATALOG if m.provider == "azure-openai" and not m.is_embedding]
    assert {m.provider_model_id for m in azure} >= {"gpt-4o", "gpt-4o-mini"}


def test_every_model_is_consistent_with_the_tier_rule() -> None:
    for m in CATALOG:
        assert m.budget_tier is tier_for_prices(m.provider, m.input_price_per_mtok, m.output_price_per_mtok)


def test_vision_models_accept_images() -> None:
    for m in CATALOG.list(task="vision"):
        assert "image" in m.modalities


def test_openrouter_models_are_named_after_their_openrouter_id() -> None:
    routed = CATALOG.list(provider="openrouter")
    assert len(routed) >= 3
    for m in routed:
        assert m.id == f"openrouter/{m.provider_model_id}"


# --- tier rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "prices", "tier"),
    [
        ("ollama", (0, 0), BudgetTier.FREE),
        ("openai", (0.0, 0.0), BudgetTier.FREE),
        ("openai", (0.02, 0), BudgetTier.LOW),
        ("deepseek", (0.27, 1.1), BudgetTier.LOW),
        ("openai", (0.5, 2), BudgetTier.LOW),  # 2 is the top of LOW
        ("openai", (0.5, 2.01), BudgetTier.MEDIUM),
        ("anthropic", (3, 15), BudgetTier.MEDIUM),  # 15 is the top of MEDIUM
        ("openai", (10, 30), BudgetTier.HIGH),
        ("anthropic", (15, 75), BudgetTier.HIGH),
        ("openai", (16, 0), BudgetTier.HIGH),  # the larger of the two prices decides
        ("azure-openai", (0.15, 0.6), BudgetTier.UNLIMITED),
    ],
)
def test_tier_rule(provider: str, prices: tuple[float, float], tier: BudgetTier) -> None:
    assert tier_for_prices(provider, *prices) is tier


def test_tiers_compare() -> None:
    assert BudgetTier.FREE < BudgetTier.LOW < BudgetTier.MEDIUM < BudgetTier.HIGH < BudgetTier.UNLIMITED
    assert BudgetTier.parse("low") is BudgetTier.LOW
    assert BudgetTier.parse(BudgetTier.HIGH) is BudgetTier.HIGH
    assert BudgetTier.parse(2) is BudgetTier.MEDIUM
    with pytest.raises(InvalidArgument):
        BudgetTier.parse("cheap")


# --- cost --------------------------------------------------------------------------------


def test_cost_is_exact() -> None:
    m = CATALOG.get("openai/gpt-4o-mini")  # $0.15 / $0.60 per 1M
    assert m.cost_micros(1000, 500) == 450
    assert m.cost_usd(1000, 500) == 0.00045
    assert m.cost_micros(0, 0) == 0 and m.cost_usd(0, 0) == 0.0
    assert m.cost_micros(1_000_000, 1_000_000) == 750_000
    assert m.cost_usd(1_000_000, 1_000_000) == 0.75


def test_cost_micros_round_up() -> None:
    m = CATALOG.get("openai/gpt-4o-mini")
    assert m.cost_micros(1, 0) == 1  # 0.15 micro-USD -> 1
    assert m.cost_usd(1, 0) == 1.5e-7  # unrounded
    assert m.cost_micros(7, 0) == 2  # 1.05 -> 2
    cohere = CATALOG.get("cohere/command-r7b")  # $0.0375 / $0.15: no float drift
    assert cohere.cost_micros(1_000_000, 0) == 37_500
    assert cohere.cost_micros(40, 0) == 2  # exactly 1.5 -> 2
    assert cohere.cost_micros(80, 0) == 3  # exactly 3.0 stays 3


def test_cost_of_free_and_embedding_models() -> None:
    assert CATALOG.get("ollama/llama3.1:8b").cost_micros(10**9, 10**9) == 0
    emb = CATALOG.get("openai/text-embedding-3-small")  # $0.02 per 1M
    assert emb.cost_micros(1_000_000, 0) == 20_000


@pytest.mark.parametrize("bad", [-1, 1.5, True, None])
def test_cost_rejects_bad_token_counts(bad: Any) -> None:
    m = CATALOG.get("openai/gpt-4o-mini")
    with pytest.raises(ValueError, match="non-negative integer"):
        m.cost_micros(bad, 0)
    with pytest.raises(ValueError, match="non-negative integer"):
        m.cost_usd(0, bad)


# --- lookups -----------------------------------------------------------------------------


def test_get_unknown_model_says_how_to_list() -> None:
    with pytest.raises(NotFound) as err:
        CATALOG.get("openai/gpt-4o-mni")
    message = err.value.message
    assert "'openai/gpt-4o-mni'" in message
    assert "Did you mean 'openai/gpt-4o-mini'" in message
    assert "ListModels" in message and "GET /v1/models" in message


def test_get_unrelated_id_has_no_hint_but_still_says_how_to_list() -> None:
    with pytest.raises(NotFound, match="ListModels") as err:
        CATALOG.get("")
    assert "Did you mean" not in err.value.message


def test_tier_filter_means_at_or_below() -> None:
    low = CATALOG.list(tier=BudgetTier.LOW)
    assert low and all(m.budget_tier <= BudgetTier.LOW for m in low)
    assert {m.budget_tier for m in low} == {BudgetTier.FREE, BudgetTier.LOW}
    assert len(CATALOG.list(tier=BudgetTier.UNLIMITED)) == len(CATALOG)
    free = CATALOG.list(tier="free")
    assert free and all(m.budget_tier is BudgetTier.FREE for m in free)
    # every tier includes all of the tier below it
    for lower, upper in zip(list(BudgetTier), list(BudgetTier)[1:], strict=False):
        assert set(CATALOG.list(tier=lower)) < set(CATALOG.list(tier=upper))


def test_filters_combine() -> None:
    got = CATALOG.list(task="embedding", tier=BudgetTier.LOW, provider="openai")
    assert {m.id for m in got} == {
        "openai/text-embedding-3-small",
        "openai/text-embedding-3-large",
        "openai/text-embedding-ada-002",
    }
    assert CATALOG.list(task="reasoning", tier=BudgetTier.FREE) == (CATALOG.get("ollama/deepseek-r1:8b"),)
    assert CATALOG.list() == tuple(CATALOG)


def test_list_rejects_unknown_filters() -> None:
    with pytest.raises(InvalidArgument, match="task"):
        CATALOG.list(task="poetry")
    with pytest.raises(InvalidArgument, match="provider"):
        CATALOG.list(provider="acme")
    with pytest.raises(InvalidArgument, match="budget tier"):
        CATALOG.list(tier="platinum")


def test_regions() -> None:
    mistral = CATALOG.get("mistral/mistral-large")
    assert mistral.available_in("eu") and not mistral.available_in("us") and mistral.available_in("")
    deepseek = CATALOG.get("deepseek/deepseek-chat")  # "global": no residency commitment
    assert deepseek.available_in("") and not deepseek.available_in("eu")
    ollama = CATALOG.get("ollama/llama3.1:8b")  # "any": self-hosted
    assert ollama.available_in("eu") and ollama.available_in("us")
    azure = CATALOG.get("azure-openai/gpt-4o")
    assert azure.available_in("eu") and azure.available_in("us")


def test_membership_and_supports() -> None:
    assert "openai/gpt-4o" in CATALOG and "openai/nope" not in CATALOG
    m = CATALOG.get("mistral/codestral")
    assert m.supports("code") and not m.supports("vision") and not m.supports("unknown")


# --- loader checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "change", "message"),
    [
        ("openai/gpt-4o-mini", {"budget_tier": "MEDIUM"}, "disagrees with the tier rule"),
        ("openai/gpt-4o-mini", {"budget_tier": "CHEAP"}, "budget_tier must be one of"),
        ("openai/gpt-4o-mini", {"output_price_per_mtok": 20}, "gives HIGH"),
        ("openai/gpt-4o-mini", {"input_price_per_mtok": -0.1}, ">= 0"),
        ("openai/gpt-4o-mini", {"input_price_per_mtok": "0.15"}, "must be a number"),
        ("openai/gpt-4o-mini", {"provider": "anthropic"}, "must equal the id's prefix"),
        ("openai/gpt-4o-mini", {"id": "gpt-4o-mini"}, "provider/model"),
        ("openai/gpt-4o-mini", {"tasks": ["chat", "poetry"]}, "tasks"),
        ("openai/gpt-4o-mini", {"tasks": ["chat", "embedding"]}, "exactly the task 'embedding'"),
        ("openai/gpt-4o-mini", {"modalities": ["text"]}, "'vision' needs 'image'"),
        ("openai/gpt-4o-mini", {"regions": ["global", "us"]}, "stands alone"),
        ("openai/gpt-4o-mini", {"max_output_tokens": 200000}, "max_output_tokens"),
        ("openai/gpt-4o-mini", {"dimensions": 12}, "embedding models only"),
        ("openai/gpt-4o-mini", {"colour": "blue"}, "unknown keys"),
        ("openai/text-embedding-3-small", {"dimensions": 0}, "need dimensions"),
        ("ollama/llama3.1:8b", {"input_price_per_mtok": 0.1, "budget_tier": "LOW"}, "prices 0"),
        ("openrouter/openai/gpt-4o-mini", {"provider_model_id": "gpt-4o-mini"}, "openrouter/<"),
        ("acme", {}, "unknown provider"),
    ],
)
def test_loader_rejects_bad_entries_naming_them(model_id: str, change: dict[str, Any], message: str) -> None:
    raw = raw_copy()
    if model_id == "acme":
        bad = dict(entry(raw, "openai/gpt-4o-mini"), id="acme/model-1", provider="acme")
        raw["models"].append(bad)
        model_id = "acme/model-1"
    else:
        entry(raw, model_id).update(change)
    with pytest.raises(ValueError, match=message) as err:
        ModelCatalog.from_mapping(raw, source="test.yaml")
    assert "test.yaml" in str(err.value)
    assert f"'{change.get('id', model_id)}'" in str(err.value)


def test_loader_rejects_duplicate_ids() -> None:
    raw = raw_copy()
    raw["models"].append(copy.deepcopy(entry(raw, "openai/gpt-4o")))
    with pytest.raises(ValueError, match="'openai/gpt-4o'.*duplicate id"):
        ModelCatalog.from_mapping(raw, source="test.yaml")


def test_loader_rejects_missing_keys_and_bad_documents() -> None:
    raw = raw_copy()
    del entry(raw, "openai/gpt-4o")["context_window"]
    with pytest.raises(ValueError, match=r"'openai/gpt-4o'.*missing keys \['context_window'\]"):
        ModelCatalog.from_mapping(raw)
    with pytest.raises(ValueError, match="top-level key 'models'"):
        ModelCatalog.from_mapping({"models": [], "extra": 1})
    with pytest.raises(ValueError, match="non-empty list"):
        ModelCatalog.from_mapping({"models": []})


def test_load_from_a_path(tmp_path: Any) -> None:
    raw = {"models": [entry(raw_copy(), "openai/gpt-4o-mini")]}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw), "utf-8")
    catalog = ModelCatalog.load(path)
    assert [m.id for m in catalog] == ["openai/gpt-4o-mini"]


def test_model_is_frozen() -> None:
    m = CATALOG.get("openai/gpt-4o")
    with pytest.raises(AttributeError):
        m.input_price_per_mtok = 0  # type: ignore[misc]
    assert isinstance(m.tasks, tuple) and isinstance(m.regions, tuple) and isinstance(m.modalities, tuple)
    assert m == CATALOG.get("openai/gpt-4o") and hash(m) == hash(CATALOG.get("openai/gpt-4o"))


# --- OpenRouter refresh --------------------------------------------------------------------


def or_entry(their_id: str, prompt: Any, completion: Any, **extra: Any) -> dict[str, Any]:
    """One entry shaped like OpenRouter's GET /api/v1/models."""
    base: dict[str, Any] = {
        "id": their_id,
        "name": their_id,
        "context_length": 128000,
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
        "top_provider": {"max_completion_tokens": 16384, "is_moderated": True},
    }
    base.update(extra)
    return base


def test_merge_openrouter_refreshes_prices_context_and_tier() -> None:
    payload = {
        "data": [
            or_entry("openai/gpt-4o-mini", "0.0000002", "0.0000008", context_length=131072),
            or_entry(
                "anthropic/claude-3.5-sonnet",
                "0.000003",
                "0.00002",  # $20 per 1M: now HIGH
                context_length=200000,
                top_provider={"max_completion_tokens": None},
            ),
            or_entry("some/model-we-do-not-list", "0.000001", "0.000002"),
        ]
    }
    merged = CATALOG.merge_openrouter(payload)
    mini = merged.get("openrouter/openai/gpt-4o-mini")
    assert (mini.input_price_per_mtok, mini.output_price_per_mtok) == (0.2, 0.8)
    assert (mini.context_window, mini.max_output_tokens) == (131072, 16384)
    assert mini.cost_micros(1000, 500) == 600  # 200 + 400, exact after the conversion
    sonnet = merged.get("openrouter/anthropic/claude-3.5-sonnet")
    assert (sonnet.input_price_per_mtok, sonnet.output_price_per_mtok) == (3.0, 20.0)
    assert sonnet.budget_tier is BudgetTier.HIGH
    assert sonnet.max_output_tokens == CATALOG.get(sonnet.id).max_output_tokens  # null: kept
    # nothing else changed, nothing was added, and the original catalog is untouched
    assert len(merged) == len(CATALOG)
    assert "openrouter/some/model-we-do-not-list" not in merged
    assert merged.get("openai/gpt-4o-mini") == CATALOG.get("openai/gpt-4o-mini")  # direct, not routed
    assert CATALOG.get("openrouter/openai/gpt-4o-mini").input_price_per_mtok == 0.15


@pytest.mark.parametrize(
    "bad",
    [
        "not an entry",
        {"name": "no id", "pricing": {"prompt": "0.000001", "completion": "0.000001"}},
        or_entry("openai/gpt-4o-mini", "-1", "-1"),  # OpenRouter's "variable price"
        or_entry("openai/gpt-4o-mini", "abc", "0.000001"),
        or_entry("openai/gpt-4o-mini", "NaN", "0.000001"),
        or_entry("openai/gpt-4o-mini", "Infinity", "0.000001"),
        or_entry("openai/gpt-4o-mini", None, "0.000001"),
        or_entry("openai/gpt-4o-mini", True, "0.000001"),
        or_entry("openai/gpt-4o-mini", ["0.1"], "0.000001"),
        {"id": "openai/gpt-4o-mini", "pricing": "free"},
        {"id": 42, "pricing": {"prompt": "0", "completion": "0"}},
    ],
)
def test_merge_openrouter_ignores_malformed_entries(bad: Any) -> None:
    payload = {"data": [bad, or_entry("openai/gpt-4o", "0.000002", "0.000009")]}
    merged = CATALOG.merge_openrouter(payload)
    assert merged.get("openrouter/openai/gpt-4o-mini") == CATALOG.get("openrouter/openai/gpt-4o-mini")
    assert merged.get("openrouter/openai/gpt-4o").output_price_per_mtok == 9.0  # the good one applied


def test_merge_openrouter_keeps_old_values_for_bad_optional_fields() -> None:
    payload = {
        "data": [
            or_entry(
                "openai/gpt-4o-mini",
                "0.0000001",
                "0.0000004",
                context_length="lots",
                top_provider="?",
            ),
            or_entry("openai/gpt-4o", "0.0000025", "0.00001", context_length=4096),
        ]
    }
    merged = CATALOG.merge_openrouter(payload)
    mini = merged.get("openrouter/openai/gpt-4o-mini")
    assert mini.input_price_per_mtok == 0.1
    assert mini.context_window == CATALOG.get(mini.id).context_window
    gpt4o = merged.get("openrouter/openai/gpt-4o")
    assert (gpt4o.context_window, gpt4o.max_output_tokens) == (4096, 4096)  # output clamped to window


@pytest.mark.parametrize("payload", [None, [], "x", {}, {"data": None}, {"data": "x"}, {"data": [None, 1]}])
def test_merge_openrouter_never_crashes_on_malformed_payloads(payload: Any) -> None:
    merged = CATALOG.merge_openrouter(payload)
    assert list(merged) == list(CATALOG)


def test_merge_openrouter_free_price_is_free_tier() -> None:
    merged = CATALOG.merge_openrouter({"data": [or_entry("openai/gpt-4o-mini", "0", 0)]})
    assert merged.get("openrouter/openai/gpt-4o-mini").budget_tier is BudgetTier.FREE


# --- token estimate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100), ("x" * 401, 101), ("héllo wörld", 3)],
)
def test_count_tokens_rule(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_catalog_checks_models_built_in_code_too() -> None:
    m = Model(
        id="openai/x",
        provider="openai",
        provider_model_id="x",
        name="X",
        context_window=10,
        max_output_tokens=5,
        input_price_per_mtok=1,
        output_price_per_mtok=1,
        tasks=("chat",),
        budget_tier=BudgetTier.HIGH,
        regions=("us",),
        modalities=("text",),
    )
    with pytest.raises(ValueError, match="gives LOW"):
        ModelCatalog([m])
    fixed = dataclasses.replace(m, budget_tier=BudgetTier.LOW)
    assert ModelCatalog([fixed]).get("openai/x").cost_micros(10, 10) == 20
