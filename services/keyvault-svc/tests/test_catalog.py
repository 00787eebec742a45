"""The packaged service catalog and its loader.

Fake credentials are generated at run time from the catalog's own patterns (`fake_value`),
so this file holds no credential-shaped literal.
"""

from __future__ import annotations

import copy
import random
import re
import re._constants as sre  # Python 3.11+: the regex parser behind `re`
import re._parser as sre_parse
import string
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
import yaml

from keyrelay.common.errors import InvalidArgument, NotFound
from keyrelay.keyvault.domain.catalog import (
    CATEGORIES,
    PROTOCOL_FAMILIES,
    Catalog,
    KeyFieldSpec,
    SecurityLevel,
    ServiceSpec,
)
from keyrelay.keyvault.domain.validation import expected_prefixes, shannon_entropy, validate

CATALOG = Catalog.load()
NOW = datetime(2025, 6, 1, tzinfo=UTC)
ALNUM = string.ascii_letters + string.digits

# Every service SEED-NOTES.md names, with the fields it names for it.
SEED_SERVICES: dict[str, set[str]] = {
    # AI
    "openai": {"api_key", "organization"},
    "anthropic": {"api_key"},
    "openrouter": {"api_key"},
    "cohere": {"api_key"},
    "mistral": {"api_key"},
    "gemini": {"api_key"},
    "aws-bedrock": set(),
    "azure-openai": {"api_key"},
    "deepseek": {"api_key"},
    "perplexity": {"api_key"},
    "huggingface": {"api_key"},
    "groq": {"api_key"},
    "together": {"api_key"},
    "ollama": set(),
    "vllm": set(),
    "lmstudio": set(),
    # payment
    "stripe": {"publishable_key", "secret_key", "webhook_secret"},
    "paypal": {"client_id", "client_secret"},
    "razorpay": {"key_id", "key_secret"},
    "payu": set(),
    # advertising
    "google-ads": {"developer_token", "client_id", "client_secret", "refresh_token"},
    "meta-ads": {"app_id", "app_secret", "access_token"},
    "linkedin-ads": set(),
    "twitter-ads": set(),
    "tiktok-ads": set(),
    "pinterest-ads": set(),
    # social
    "facebook": set(),
    "instagram": set(),
    "twitter": set(),
    "linkedin": set(),
    "youtube": set(),
    "tiktok": set(),
    "pinterest": set(),
    # ecommerce
    "shopify": set(),
    "woocommerce": set(),
    "bigcommerce": set(),
    # crm / marketing
    "hubspot": set(),
    "salesforce": set(),
    "pipedrive": set(),
    "zoho": set(),
    "mailchimp": set(),
    # communication
    "twilio": set(),
    "sendgrid": set(),
    "resend": set(),
    "telegram-bot": set(),
    # analytics
    "google-analytics": {"measurement_id", "api_secret"},
    "mixpanel": set(),
    "segment": set(),
    "amplitude": set(),
    # seo
    "serpapi": set(),
    "ahrefs": set(),
    "semrush": set(),
    # cloud / infrastructure
    "aws-s3": {"access_key", "secret_key", "region"},
    "gcp": set(),
    "azure": set(),
    "github": set(),
    # databases
    "postgresql": set(),
    "redis": set(),
    "mongodb": set(),
}

# The documented prefixes SPEC §4.2 names, and where they must appear.
DOCUMENTED_PREFIXES = [
    ("openai", "api_key", "sk-"),
    ("anthropic", "api_key", "sk-ant-"),
    ("openrouter", "api_key", "sk-or-v1-"),
    ("stripe", "secret_key", "sk_live_"),
    ("stripe", "secret_key", "sk_test_"),
    ("stripe", "publishable_key", "pk_live_"),
    ("stripe", "publishable_key", "pk_test_"),
    ("stripe", "webhook_secret", "whsec_"),
    ("aws-s3", "access_key", "AKIA"),
    ("aws-bedrock", "access_key", "AKIA"),
    ("gemini", "api_key", "AIza"),
    ("youtube", "api_key", "AIza"),
    ("sendgrid", "api_key", "SG."),
    ("resend", "api_key", "re_"),
    ("razorpay", "key_id", "rzp_live_"),
    ("razorpay", "key_id", "rzp_test_"),
    ("github", "token", "ghp_"),
    ("github", "token", "github_pat_"),
    ("slack", "bot_token", "xoxb-"),
    ("huggingface", "api_key", "hf_"),
    ("groq", "api_key", "gsk_"),
]


# --- fake values generated from a pattern -------------------------------------------------


def fake_value(pattern: str, rng: random.Random, unbounded: int = 48) -> str:
    """A random string that matches `pattern` (the subset of regex the catalog uses)."""
    return _emit(sre_parse.parse(pattern), rng, unbounded)


def _emit(items: Any, rng: random.Random, unbounded: int) -> str:
    out: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.ANY:
            out.append(rng.choice(ALNUM))
        elif op is sre.IN:
            out.append(rng.choice(_charset(arg)))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = arg
            count = low + unbounded if high is sre.MAXREPEAT else rng.randint(low, high)
            out.extend(_emit(sub, rng, unbounded) for _ in range(count))
        elif op is sre.SUBPATTERN:
            out.append(_emit(arg[-1], rng, unbounded))
        elif op is sre.BRANCH:
            out.append(_emit(rng.choice(arg[1]), rng, unbounded))
        elif op is not sre.AT:  # ^ and $ produce nothing
            raise NotImplementedError(f"fake_value does not support {op} in {items}")
    return "".join(out)


def _charset(items: Any) -> str:
    chars: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            chars.append(chr(arg))
        elif op is sre.RANGE:
            chars.extend(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is sre.CATEGORY and arg is sre.CATEGORY_DIGIT:
            chars.extend(string.digits)
        else:
            raise NotImplementedError(f"fake_value does not support {op} in a character set")
    return "".join(chars)


def fake_fields(spec: ServiceSpec, rng: random.Random) -> dict[str, str]:
    """Every field of a service, filled with a well-formed random value."""
    values = {}
    for field in spec.fields:
        if field.pattern:
            values[field.name] = fake_value(field.pattern, rng)
        else:
            size = max(field.min_length, 40 if field.secret else 12)
            values[field.name] = "".join(rng.choice(ALNUM) for _ in range(size))
    return values


def fields_with_patterns() -> list[tuple[str, KeyFieldSpec]]:
    return [(s.service_id, f) for s in CATALOG.list() for f in s.fields if f.pattern]


# --- the packaged catalog -----------------------------------------------------------------


def test_catalog_has_at_least_45_services_and_two_per_category() -> None:
    counts = Counter(s.category for s in CATALOG.list())
    assert len(CATALOG) >= 45
    assert CATALOG.categories() == CATEGORIES
    assert {c: n for c, n in counts.items() if n < 2} == {}


@pytest.mark.parametrize("service_id", sorted(SEED_SERVICES))
def test_every_seed_notes_service_is_present_with_its_fields(service_id: str) -> None:
    spec = CATALOG.get(service_id)
    assert SEED_SERVICES[service_id] <= {f.name for f in spec.fields}


def test_every_ai_service_names_protocol_family_live_check_and_base_url() -> None:
    ai = CATALOG.list("ai")
    assert len(ai) >= 11
    for spec in ai:
        assert spec.protocol_family in PROTOCOL_FAMILIES, spec.service_id
        assert re.fullmatch(r"(GET|POST|HEAD) (/\S*|https://\S+)", spec.live_check), spec.service_id
        assert spec.default_base_url, spec.service_id
    for spec in CATALOG.list():
        if spec.category != "ai":
            assert (spec.protocol_family, spec.live_check, spec.default_base_url) == ("", "", "")


def test_live_checks_are_the_documented_cheap_calls() -> None:
    assert CATALOG.get("openai").live_check == "GET /models"
    assert CATALOG.get("openai").default_base_url == "https://api.openai.com/v1"
    assert CATALOG.get("anthropic").live_check == "GET /v1/models"
    assert CATALOG.get("gemini").live_check == "GET /v1beta/models"
    assert CATALOG.get("cohere").live_check == "GET /v1/models"
    assert CATALOG.get("cohere").protocol_family == "cohere"
    assert CATALOG.get("azure-openai").protocol_family == "azure-openai"
    assert CATALOG.get("aws-bedrock").protocol_family == "bedrock"


def test_self_hosted_ai_servers_take_an_optional_key() -> None:
    for service_id in ("ollama", "vllm", "lmstudio"):
        spec = CATALOG.get(service_id)
        primary = spec.field(spec.primary_field)
        assert primary is not None and not primary.required
        assert spec.default_base_url.startswith("http://127.0.0.1:")


def test_category_policies() -> None:
    for spec in CATALOG.list():
        if spec.category in ("payment", "cloud"):
            assert spec.security_level is SecurityLevel.CRITICAL, spec.service_id
            assert spec.rotation_period_days == 90, spec.service_id
        if spec.category == "payment":
            assert "PCI-DSS" in spec.compliance_tags, spec.service_id
    assert CATALOG.get("openai").rotation_period_days == 180
    assert CATALOG.get("serpapi").rotation_period_days == 365
    assert {"RBI", "PCI-DSS"} <= set(CATALOG.get("razorpay").compliance_tags)
    assert "RBI" in CATALOG.get("payu").compliance_tags
    # IAM credentials override the ai default.
    assert CATALOG.get("aws-bedrock").security_level is SecurityLevel.CRITICAL


def test_test_mode_services_list_test_key_type_and_patterns() -> None:
    stripe = CATALOG.get("stripe")
    assert "test" in stripe.key_types
    assert {"^sk_test_", "^pk_test_"} <= set(stripe.test_key_patterns)
    assert "^rzp_test_" in CATALOG.get("razorpay").test_key_patterns
    for spec in CATALOG.list():
        if spec.test_key_patterns:
            assert "test" in spec.key_types


def test_primary_field_and_min_length_mirror_the_proto() -> None:
    for spec in CATALOG.list():
        primary = spec.field(spec.primary_field)
        assert primary is not None, spec.service_id
        assert spec.min_length == primary.min_length
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", spec.service_id)
    stripe = CATALOG.get("stripe")
    assert stripe.primary_field == "secret_key"
    publishable = stripe.field("publishable_key")
    assert publishable is not None and not publishable.secret and not publishable.required


@pytest.mark.parametrize(("service_id", "field", "prefix"), DOCUMENTED_PREFIXES)
def test_documented_prefixes_are_in_the_patterns(service_id: str, field: str, prefix: str) -> None:
    spec = CATALOG.get(service_id).field(field)
    assert spec is not None
    assert prefix in expected_prefixes(spec.pattern)


@pytest.mark.parametrize(("service_id", "field"), fields_with_patterns(), ids=lambda x: getattr(x, "name", x))
def test_every_pattern_compiles_and_accepts_a_value_of_its_shape(
    service_id: str, field: KeyFieldSpec
) -> None:
    rng = random.Random(f"{service_id}/{field.name}")
    for _ in range(5):
        value = fake_value(field.pattern, rng)
        assert re.fullmatch(field.pattern, value), (service_id, field.name)
        for prefix in expected_prefixes(field.pattern):
            # The body after a documented prefix alone is not enough.
            assert not re.fullmatch(field.pattern, "zz" + value.removeprefix(prefix)[2:])


@pytest.mark.parametrize("service_id", [s.service_id for s in CATALOG.list()])
def test_a_well_formed_credential_of_every_service_validates_cleanly(service_id: str) -> None:
    """Catches catalog entries whose min_length contradicts their pattern, and false alarms."""
    spec = CATALOG.get(service_id)
    rng = random.Random(service_id)
    for _ in range(3):
        result = validate(spec, fake_fields(spec, rng), "production", now=NOW)
        assert result.is_valid, result.issues
        assert result.issues == ()
        assert result.strength_score > 50


def test_catalog_file_holds_nothing_credential_shaped() -> None:
    """No token in the data file matches a secret field's format or looks random."""
    text = (resources.files("keyrelay.keyvault") / "data" / "services.yaml").read_text("utf-8")
    # Regex fragments (with \ | ^ $) are formats, not values.
    tokens = {t for t in re.split(r"[\s'\",\[\]{}()]+", text) if not re.search(r"[\\|^$]", t)}
    for spec in CATALOG.list():
        for field in spec.fields:
            if field.pattern and field.secret:
                assert not [
                    t for t in tokens if len(t) >= field.min_length and re.fullmatch(field.pattern, t)
                ]
    random_looking = [
        t for t in tokens if len(t) >= 20 and re.fullmatch(r"[A-Za-z0-9_-]+", t) and shannon_entropy(t) > 4.0
    ]
    assert random_looking == []


# --- lookups ------------------------------------------------------------------------------


def test_get_unknown_service_raises_not_found_saying_how_to_list_services() -> None:
    with pytest.raises(NotFound) as err:
        CATALOG.get("opena1")
    assert "ListServices" in err.value.message
    assert "'openai'" in err.value.message


def test_list_filters_by_category_and_refuses_unknown_categories() -> None:
    payment = CATALOG.list("payment")
    assert {"stripe", "paypal", "razorpay", "payu"} <= {s.service_id for s in payment}
    assert all(s.category == "payment" for s in payment)
    assert len(CATALOG.list()) == len(CATALOG)
    with pytest.raises(InvalidArgument):
        CATALOG.list("crypto")


# --- loader validation --------------------------------------------------------------------


def minimal_document() -> dict[str, Any]:
    """A valid two-service catalog document to break in one place per test."""
    return {
        "categories": {c: {"rotation_period_days": 365, "security_level": "standard"} for c in CATEGORIES},
        "services": [
            {
                "service_id": "acme-ai",
                "name": "Acme AI",
                "category": "ai",
                "key_types": ["production"],
                "primary_field": "api_key",
                "protocol_family": "openai",
                "default_base_url": "https://acme.invalid/v1",
                "live_check": "GET /models",
                "fields": [{"name": "api_key", "pattern": "^ak-[a-z0-9]+$", "min_length": 20}],
            },
            {
                "service_id": "acme-pay",
                "name": "Acme Pay",
                "category": "payment",
                "key_types": ["production", "test"],
                "primary_field": "secret",
                "compliance_tags": ["PCI-DSS"],
                "test_key_patterns": ["^t_"],
                "fields": [{"name": "secret", "min_length": 20}, {"name": "account", "secret": False}],
            },
        ],
    }


def test_minimal_document_loads_and_applies_category_defaults() -> None:
    catalog = Catalog.from_mapping(minimal_document())
    pay = catalog.get("acme-pay")
    assert pay.rotation_period_days == 365
    assert pay.security_level is SecurityLevel.STANDARD
    assert pay.min_length == 20
    assert pay.field("account") == KeyFieldSpec(name="account", secret=False)


def test_load_reads_a_file_path(tmp_path: Any) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(minimal_document()))
    assert [s.service_id for s in Catalog.load(path).list()] == ["acme-ai", "acme-pay"]


def _break(path: str, value: Any) -> dict[str, Any]:
    """minimal_document() with one item replaced; path like "services.1.fields.0.pattern"."""
    doc = copy.deepcopy(minimal_document())
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("services.1.service_id", "acme-ai", "duplicate service_id 'acme-ai'"),
        ("services.1.service_id", "Acme/Pay", "service_id must match"),
        ("services.1.category", "crypto", "category 'crypto' is not one of"),
        ("services.1.primary_field", "secret_key", "primary_field 'secret_key' is not one of"),
        ("services.0.fields.0.pattern", "^ak-[a-z0-9+$", "does not compile"),
        ("services.0.fields.0.pattern", "ak-[a-z0-9]+", "anchored"),
        ("services.1.test_key_patterns", ["^t_("], "does not compile"),
        ("services.1.key_types", ["production"], "key_types must include 'test'"),
        ("services.1.compliance_tags", ["PCI"], "unknown compliance tags"),
        ("services.1.security_level", "extreme", "security_level must be one of"),
        ("services.1.rotation_period_days", 0, "rotation_period_days must be a positive integer"),
        ("services.1.live_check", "GET /x", "AI services only"),
        ("services.0.protocol_family", "", "protocol_family"),
        ("services.0.live_check", "models", "live_check"),
        ("services.0.default_base_url", "https://{tenant}.acme.invalid", "unknown fields"),
        ("services.0.fields.0.min_length", -1, "min_length must be a positive integer"),
        ("services.0.fields.0.required", "yes", "must be true or false"),
        ("services.0.fields.0.patern", "^x$", "unknown keys"),
        ("services.1.fields.1.name", "secret", "field names must be unique"),
    ],
)
def test_load_rejects_a_bad_entry_naming_it(path: str, value: Any, expected: str) -> None:
    doc = _break(path, value)
    with pytest.raises(ValueError, match=re.escape(expected)) as err:
        Catalog.from_mapping(doc, source="services.yaml")
    entry = path.split(".")[1]
    assert f"(entry {entry})" in str(err.value) or "duplicate" in str(err.value)


def test_load_rejects_missing_categories() -> None:
    doc = minimal_document()
    del doc["categories"]["seo"]
    with pytest.raises(ValueError, match="'categories' must define exactly"):
        Catalog.from_mapping(doc)
