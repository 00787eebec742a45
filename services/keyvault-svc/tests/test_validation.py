"""Offline key validation: format, length, entropy, strength, compliance, masking.

Every key-shaped value here is built at run time from a documented prefix and random
characters; none is a real credential.
"""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta

import pytest

from keyrelay.keyvault.domain.catalog import Catalog, ServiceSpec
from keyrelay.keyvault.domain.validation import (
    FULL_MASK,
    Validation,
    expected_prefixes,
    mask,
    shannon_entropy,
    strength_score,
    validate,
)

CATALOG = Catalog.load()
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RNG = random.Random(20250601)


def rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def openai_key() -> str:
    return "sk-" + rand(48)


def stripe_key(kind: str = "sk", mode: str = "live") -> str:
    return f"{kind}_{mode}_" + rand(40)


def check(v: Validation, name: str) -> tuple[bool, str, str]:
    found = [c for c in v.compliance_checks if c.name == name]
    assert len(found) == 1, f"{name} not among {[c.name for c in v.compliance_checks]}"
    return found[0].passed, found[0].message, found[0].tag


def run(service_id: str, key_type: str = "production", **fields: str) -> Validation:
    return validate(CATALOG.get(service_id), fields, key_type, now=NOW)


def spec(service_id: str) -> ServiceSpec:
    return CATALOG.get(service_id)


# --- well-formed keys ---------------------------------------------------------------------


def test_a_well_formed_openai_key_is_valid_and_strong() -> None:
    key = openai_key()
    v = run("openai", api_key=key)
    assert v.is_valid
    assert v.issues == ()
    assert v.pattern_matched and v.pattern == spec("openai").field("api_key").pattern  # type: ignore[union-attr]
    assert v.length == len(key)
    assert v.entropy_bits_per_char > 4.5
    assert v.strength_score >= 90
    assert v.validated_at == NOW
    assert v.compliance_checks == ()  # no test mode, not critical, no age given


def test_multi_field_stripe_key_is_valid_and_reports_the_primary_field() -> None:
    secret = stripe_key()
    v = run(
        "stripe",
        secret_key=secret,
        publishable_key=stripe_key("pk"),
        webhook_secret="whsec_" + rand(32),
    )
    assert v.is_valid, v.issues
    assert v.length == len(secret)
    assert v.pattern.startswith("^(sk|rk)_")


def test_optional_key_of_a_self_hosted_server_may_be_absent() -> None:
    v = run("ollama")
    assert v.is_valid
    assert (v.length, v.strength_score, v.pattern_matched) == (0, 0, False)


def test_service_without_documented_pattern_reports_no_match_but_stays_valid() -> None:
    v = run("cohere", api_key=rand(40))
    assert v.is_valid
    assert (v.pattern, v.pattern_matched) == ("", False)


# --- blocking issues ----------------------------------------------------------------------


def test_wrong_prefix_is_blocking_and_names_the_expected_prefix() -> None:
    v = run("openai", api_key="pk-" + rand(48))
    assert not v.is_valid
    assert not v.pattern_matched
    assert any("api_key" in i and "expected prefix sk-..." in i for i in v.issues), v.issues


def test_anthropic_key_given_for_openai_style_service_is_refused() -> None:
    v = run("anthropic", api_key="sk-proj-" + rand(48))
    assert not v.is_valid
    assert any("expected prefix sk-ant-..." in i for i in v.issues)


def test_too_short_is_blocking() -> None:
    v = run("openai", api_key="sk-" + rand(12))
    assert not v.is_valid
    assert any("api_key is shorter than 40 characters" in i for i in v.issues), v.issues


@pytest.mark.parametrize(
    "value",
    [
        "your-api-key",
        "YOUR_OPENAI_API_KEY_HERE",
        "sk-" + "x" * 45,
        "sk-your-api-key-goes-here-0000000000000000000",
        "<OPENAI_API_KEY>",
        "${OPENAI_API_KEY}",
        "changeme",
        "test",
        "sk-" + "a" * 45,
        "sk-" + "ab12" * 12,
        "sk-" + "1234567890" * 5,
        mask("sk-" + "q" * 2 + rand(45)),  # a masked value pasted back
    ],
)
def test_placeholders_are_refused(value: str) -> None:
    v = run("openai", api_key=value)
    assert not v.is_valid
    assert any("placeholder" in i for i in v.issues), v.issues


@pytest.mark.parametrize("where", ["leading", "trailing", "inside", "newline", "tab"])
def test_whitespace_in_a_key_is_refused_as_a_paste_error(where: str) -> None:
    key = openai_key()
    value = {
        "leading": " " + key,
        "trailing": key + "\n",
        "inside": key[:20] + " " + key[20:],
        "newline": key[:20] + "\r\n" + key[20:],
        "tab": key + "\t",
    }[where]
    v = run("openai", api_key=value)
    assert not v.is_valid
    assert any("whitespace" in i for i in v.issues)


def test_json_key_files_may_contain_whitespace() -> None:
    body = "{\n  " + ",\n  ".join(f'"{rand(8)}": "{rand(60)}"' for _ in range(12)) + "\n}\n"
    assert run("gcp", service_account_json=body).is_valid


def test_missing_required_field_and_unknown_field_are_named() -> None:
    v = run("stripe", publishable_key=stripe_key("pk"), secretkey=stripe_key())
    assert not v.is_valid
    assert any(i.startswith("secret_key is required") for i in v.issues)
    assert any("'secretkey' is not a field of Stripe" in i for i in v.issues)


def test_empty_values_count_as_missing() -> None:
    v = run("razorpay", key_id="rzp_live_" + rand(14), key_secret="")
    assert not v.is_valid
    assert any(i.startswith("key_secret is required") for i in v.issues)


def test_unknown_field_alone_is_reported_but_not_blocking() -> None:
    v = run("openai", api_key=openai_key(), organisation="org-" + rand(20))
    assert v.is_valid
    assert any("'organisation'" in i for i in v.issues)


# --- non-blocking findings ----------------------------------------------------------------


def test_low_entropy_is_an_issue_but_not_blocking() -> None:
    v = run("openai", api_key="sk-" + rand(48, alphabet="abc1"))
    assert v.is_valid
    assert v.entropy_bits_per_char < 3.0
    assert any("low randomness" in i for i in v.issues)
    assert any("Generate a new api_key" in r for r in v.recommendations)


def test_identifiers_are_not_judged_like_secrets() -> None:
    v = run(
        "postgresql",
        password=rand(24),
        host="db.internal",
        port="8080",
        database="test",
        username="test",
    )
    assert v.is_valid, v.issues


# --- compliance ---------------------------------------------------------------------------


def test_stripe_test_key_stored_as_production_fails_compliance() -> None:
    v = run("stripe", secret_key=stripe_key(mode="test"))
    assert v.is_valid  # a well-formed key; the problem is where it is stored
    passed, message, tag = check(v, "test_key_as_production")
    assert not passed
    assert tag == "PCI-DSS"
    assert "secret_key" in message and "production" in message
    assert any("key_type test" in r for r in v.recommendations)


def test_stripe_test_key_stored_as_test_passes() -> None:
    v = run("stripe", "test", secret_key=stripe_key(mode="test"), publishable_key=stripe_key("pk", "test"))
    assert check(v, "production_key_in_test")[0]
    assert check(v, "test_key_as_production")[0]


def test_razorpay_test_key_id_stored_as_production_is_flagged() -> None:
    v = run("razorpay", key_id="rzp_test_" + rand(14), key_secret=rand(24))
    passed, _, tag = check(v, "test_key_as_production")
    assert not passed and tag == "PCI-DSS"


def test_live_key_stored_as_test_is_a_warning() -> None:
    v = run("stripe", "development", secret_key=stripe_key(mode="live"))
    assert v.is_valid
    passed, message, _ = check(v, "production_key_in_test")
    assert not passed
    assert "development" in message
    assert any("test-mode keys outside production" in r for r in v.recommendations)


def test_rotation_overdue_for_a_key_older_than_its_category_period() -> None:
    stripe = spec("stripe")
    assert stripe.rotation_period_days == 90
    fields = {"secret_key": stripe_key()}
    old = validate(stripe, fields, "production", now=NOW, created_at=NOW - timedelta(days=400))
    passed, message, tag = check(old, "rotation_overdue")
    assert not passed
    assert "400 days" in message and "90 days" in message
    assert tag == "SOC2"
    assert any("RotateKey" in r for r in old.recommendations)

    fresh = validate(stripe, fields, "production", now=NOW, created_at=NOW - timedelta(days=30))
    assert check(fresh, "rotation_overdue")[0]
    assert not any("RotateKey" in r for r in fresh.recommendations)


def test_critical_keys_without_expiry_get_a_recommendation() -> None:
    stripe = spec("stripe")
    fields = {"secret_key": stripe_key()}
    without = validate(stripe, fields, "production", now=NOW)
    assert not check(without, "expiry_set")[0]
    assert any("expiry" in r for r in without.recommendations)

    with_expiry = validate(stripe, fields, "production", now=NOW, expires_at=NOW + timedelta(days=90))
    assert check(with_expiry, "expiry_set")[0]
    # Not critical: no expiry rule at all.
    assert all(c.name != "expiry_set" for c in run("openai", api_key=openai_key()).compliance_checks)


# --- strength, entropy, masking -----------------------------------------------------------


def test_a_long_random_key_scores_higher_than_a_short_low_entropy_one() -> None:
    strong = run("cohere", api_key=rand(64))
    weak = run("cohere", api_key="abcabd" * 7)
    assert strong.strength_score > weak.strength_score + 30
    assert 0 <= weak.strength_score <= strong.strength_score <= 100


def test_strength_grows_with_length_and_falls_with_each_issue() -> None:
    key = rand(80)
    scores = [
        strength_score(key[:n], min_length=32, pattern="", pattern_matched=False) for n in (8, 16, 32, 64)
    ]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    base = dict(min_length=32, pattern="^x$", pattern_matched=True)
    clean = strength_score(key, **base)  # type: ignore[arg-type]
    one = strength_score(key, **base, other_issues=1)  # type: ignore[arg-type]
    blocked = strength_score(key, **base, blocking_issues=1)  # type: ignore[arg-type]
    assert clean > one > blocked
    assert strength_score(key, min_length=32, pattern="^x$", pattern_matched=False) < clean
    assert strength_score("", min_length=32, pattern="", pattern_matched=False) == 0


def test_shannon_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("ab") == pytest.approx(1.0)
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy(string.hexdigits[:16] * 4) == pytest.approx(4.0)


def test_mask_shows_four_and_four_of_long_values() -> None:
    key = "sk-" + rand(45)
    assert mask(key) == key[:4] + "..." + key[-4:]
    assert mask("x" * 13) == "xxxx...xxxx"


@pytest.mark.parametrize("length", [0, 1, 5, 12])
def test_mask_hides_short_values_entirely_and_their_length(length: int) -> None:
    assert mask(rand(length)) == FULL_MASK == "********"


def test_expected_prefixes() -> None:
    assert expected_prefixes("^(sk|rk)_(live|test)_[A-Za-z0-9]+$") == (
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
    )
    assert expected_prefixes(r"^SG\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$") == ("SG.",)
    assert expected_prefixes("^https?://.+$") == ("http",)
    assert expected_prefixes("^[0-9]+:[A-Za-z0-9_-]+$") == ()
    assert expected_prefixes("") == ()


# --- secrets never leak into results ------------------------------------------------------


def _bad_inputs() -> list[tuple[str, str, dict[str, str], str]]:
    """(service, key_type, fields, the random canary body each value carries)."""
    cases = []
    for label in ("prefix", "short", "space", "entropy", "testprod", "livetest", "unknown", "invalid_name"):
        canary = rand(12) if label == "short" else rand(40)
        fields = {
            "prefix": {"api_key": "pk-" + canary},
            "short": {"api_key": "sk-" + canary},
            "space": {"api_key": "sk-" + canary[:20] + " \n" + canary[20:]},
            "entropy": {"api_key": "sk-" + canary + "aaabbbcccaaabbbcccabcabcabcaaabbbccc"},
            "testprod": {"secret_key": "sk_test_" + canary},
            "livetest": {"secret_key": "sk_live_" + canary},
            "unknown": {"api_key": "sk-" + canary, "extra_field": canary},
            "invalid_name": {"api_key": "sk-" + rand(48), "sk-" + canary: "x"},
        }[label]
        service = "stripe" if label in ("testprod", "livetest") else "openai"
        key_type = "test" if label == "livetest" else "production"
        cases.append((service, key_type, fields, canary))
    return cases


@pytest.mark.parametrize(("service_id", "key_type", "fields", "canary"), _bad_inputs())
def test_no_message_contains_any_part_of_the_value(
    service_id: str, key_type: str, fields: dict[str, str], canary: str
) -> None:
    v = validate(CATALOG.get(service_id), fields, key_type, now=NOW, created_at=NOW - timedelta(days=999))
    assert v.issues or any(not c.passed for c in v.compliance_checks)  # each case finds something
    texts = [*v.issues, *v.recommendations, *(c.message for c in v.compliance_checks)]
    joined = "\n".join(texts)
    for value in [*fields.values(), *fields.keys()]:
        if len(value) > 12:
            assert value not in joined
            assert mask(value) not in joined
    windows = {canary[i : i + 6] for i in range(len(canary) - 5)}
    assert [w for w in windows if w in joined] == []
