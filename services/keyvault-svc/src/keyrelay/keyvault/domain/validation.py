"""Offline checks of a candidate or stored key: format, length, entropy, strength, compliance.

Pure functions over a catalog entry (`ServiceSpec`) and the submitted field values. The
result mirrors `keyrelay.v1.ValidationResult` (minus the live check, which the router does).

Two rules shape every message produced here:
- A message says what is wrong and what to do, naming the field, never quoting the value:
  results are stored beside the ciphertext, shown in the portal and logged. The only things
  derived from a value that may appear are its length and its entropy, which the proto
  carries anyway; prefixes quoted in messages come from the catalog, not from the value.
- `is_valid` is false only for problems that make the key certainly unusable or certainly
  mis-pasted (a required field missing, a documented format not matched, too short, a
  placeholder, whitespace inside). Everything else (low entropy, an unknown field, a
  test-mode key stored as production, an overdue rotation) is reported but does not block:
  the provider, not us, is the authority on whether a key works.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from keyrelay.keyvault.domain.catalog import KeyFieldSpec, SecurityLevel, ServiceSpec

PRODUCTION = "production"
FULL_MASK = "********"
# Below this many bits per character a long secret is suspicious: random base62 scores
# about 5, random hex about 3.8, while words and keyboard runs stay under 3.
LOW_ENTROPY_BITS = 3.0
# Entropy per character is capped by log2(length), so it says little about short values.
ENTROPY_MIN_LENGTH = 20

_PLACEHOLDER_WORDS = frozenset(
    {
        "test", "testing", "demo", "dummy", "sample", "example", "secret", "password", "passwd",
        "changeme", "apikey", "api_key", "api-key", "key", "token", "null", "none", "nil",
        "undefined", "todo", "tbd", "fixme", "xxx", "foo", "bar", "foobar", "abc", "qwerty",
    }
)  # fmt: skip
_PLACEHOLDER_MARKERS = re.compile(
    r"your[-_ ][a-z_ -]*(key|token|secret|password|id)|yourapikey"  # your-api-key, YOUR_TOKEN
    r"|change[-_ ]?me|replace[-_ ]?(me|this|with)|placeholder|insert[-_ ]|redacted"
    r"|<[a-z0-9 _-]{2,}>|\{\{|\$\{[a-z_]"  # <your key>, {{key}}, ${API_KEY}
    r"|x{5,}|\*{3,}|\.\.\.|\u2026"  # sk-xxxxx, a masked value pasted back
    r"|123456789|abcdefgh"
)
_LITERAL_RUN = re.compile(r"(?:[^.^$*+?{}\[\]\\|()]|\\\W)+")  # literals and escaped punctuation
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TAG_PREFERENCE = ("PCI-DSS", "HIPAA", "SOC2", "RBI", "GDPR")


@dataclass(frozen=True, slots=True)
class ComplianceCheck:
    """Mirrors keyrelay.v1.ComplianceCheck. `passed` false means the rule is broken."""

    name: str
    passed: bool
    message: str
    tag: str = ""


@dataclass(frozen=True, slots=True)
class Validation:
    """Mirrors keyrelay.v1.ValidationResult (live_check is added by the caller).

    For multi-field services `pattern`, `pattern_matched`, `length` and
    `entropy_bits_per_char` describe the primary field; `issues` cover every field.
    """

    is_valid: bool
    strength_score: int
    pattern_matched: bool
    pattern: str
    length: int
    entropy_bits_per_char: float
    issues: tuple[str, ...]
    recommendations: tuple[str, ...]
    compliance_checks: tuple[ComplianceCheck, ...]
    validated_at: datetime


def shannon_entropy(value: str) -> float:
    """Shannon entropy of the value's characters, in bits per character (0 for "")."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def mask(value: str) -> str:
    """First 4 + "..." + last 4 characters; a fixed "********" for 12 characters or fewer.

    Short values are masked to a constant so the mask reveals neither part of them nor
    their length.
    """
    if len(value) <= 12:
        return FULL_MASK
    return f"{value[:4]}...{value[-4:]}"


def expected_prefixes(pattern: str) -> tuple[str, ...]:
    """The literal prefixes a documented pattern requires, for human-readable messages.

    `^(sk|rk)_(live|test)_[A-Za-z0-9]+$` gives sk_live_, sk_test_, rk_live_, rk_test_;
    `^[0-9]+:...` gives nothing. Understands literals, escaped punctuation and groups of
    literal alternatives; stops at anything else (a class, a quantifier).
    """
    if not pattern.startswith("^"):
        return ()
    heads, i = [""], 1
    while i < len(pattern):
        options, end = _literal_options(pattern, i)
        if not options or (end < len(pattern) and pattern[end] in "?*+{"):
            break
        heads = [h + o for h in heads for o in options]
        i = end
    return tuple(h for h in heads if h)


def _literal_options(pattern: str, i: int) -> tuple[list[str], int]:
    """The literal(s) at pattern[i:] and where they end, or ([], i) when not literal."""
    char = pattern[i]
    if char == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
        return [pattern[i + 1]], i + 2
    if char not in ".^$*+?{}[]\\|()":
        return [char], i + 1
    if char == "(":
        end = pattern.find(")", i)
        alternatives = pattern[i + 1 : end].removeprefix("?:").split("|") if end > 0 else []
        if alternatives and all(_LITERAL_RUN.fullmatch(alt) for alt in alternatives):
            return [re.sub(r"\\(\W)", r"\1", alt) for alt in alternatives], end + 1
    return [], i


def validate(
    spec: ServiceSpec,
    fields: Mapping[str, str],
    key_type: str,
    *,
    now: datetime,
    created_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Validation:
    """Check a key's fields against its catalog entry.

    `fields` maps field names to values (an empty string counts as absent). `created_at`
    (a stored key) enables the rotation check; `expires_at` the expiry recommendation.
    Datetimes must all be timezone-aware or all naive.
    """
    blocking: list[str] = []
    issues: list[str] = []
    recommendations: list[str] = []
    present = {name: value for name, value in fields.items() if value}

    for name in sorted(set(present) - {f.name for f in spec.fields}):
        # Echo only names that look like field names: a pasted key must not come back here.
        shown = f"'{name}'" if _FIELD_NAME.fullmatch(name) else "A field with an invalid name"
        issues.append(
            f"{shown} is not a field of {spec.name} and would be ignored; "
            f"use {_names(f.name for f in spec.fields)}."
        )
    if key_type not in spec.key_types:
        issues.append(
            f"Key type '{key_type[:64]}' is not used for {spec.name}; use {_names(spec.key_types)}."
        )

    for field in spec.fields:
        value = present.get(field.name)
        if value is None:
            if field.required:
                blocking.append(f"{field.name} is required for {spec.name} but was not given.")
            continue
        _check_field(spec, field, value, blocking, issues, recommendations)

    checks = _compliance(spec, present, key_type, now, created_at, expires_at, recommendations)

    primary = present.get(spec.primary_field, "")
    primary_spec = spec.field(spec.primary_field)
    assert primary_spec is not None  # guaranteed by the catalog loader
    matched = bool(primary and primary_spec.pattern and re.fullmatch(primary_spec.pattern, primary))
    entropy = shannon_entropy(primary)
    return Validation(
        is_valid=not blocking,
        strength_score=strength_score(
            primary,
            min_length=primary_spec.min_length,
            pattern=primary_spec.pattern,
            pattern_matched=matched,
            blocking_issues=len(blocking),
            other_issues=len(issues),
        ),
        pattern_matched=matched,
        pattern=primary_spec.pattern,
        length=len(primary),
        entropy_bits_per_char=round(entropy, 4),
        issues=tuple(blocking + issues),
        recommendations=tuple(dict.fromkeys(recommendations)),
        compliance_checks=checks,
        validated_at=now,
    )


def strength_score(
    value: str,
    *,
    min_length: int,
    pattern: str,
    pattern_matched: bool,
    blocking_issues: int = 0,
    other_issues: int = 0,
) -> int:
    """A 0-100 score; each term only grows with a better key and each issue only lowers it.

    - estimated strength, up to 40: length x bits-per-char, full at 128 bits (an upper
      bound on the key's real entropy, so generous, but it ranks keys the right way);
    - entropy per character, up to 20: full at 4.5 bits (random base62 is about 5.0, random
      hex about 3.8), so an evenly spread key beats a long repetitive one;
    - length against the service's minimum, up to 10: full at min_length;
    - character classes, up to 15: 5 per class among lower, upper, digit, other, capped;
    - format, up to 15: 15 if the documented pattern matched, 7 when the service documents
      none (no evidence either way), 0 when it did not match;
    - minus 25 per blocking issue and 10 per other issue; clamped to 0-100.
    """
    if not value:
        return 0
    entropy = shannon_entropy(value)
    bits_points = 40 * min(len(value) * entropy / 128, 1.0)
    entropy_points = 20 * min(entropy / 4.5, 1.0)
    length_points = 10 * min(len(value) / max(min_length, 1), 1.0)
    classes = [str.islower, str.isupper, str.isdigit]
    class_count = sum(any(test(c) for c in value) for test in classes)
    class_count += any(not c.isalnum() for c in value)
    class_points = min(5 * class_count, 15)
    format_points = 15 if pattern_matched else (0 if pattern else 7)
    score = bits_points + entropy_points + length_points + class_points + format_points
    score -= 25 * blocking_issues + 10 * other_issues
    return max(0, min(100, round(score)))


def _check_field(
    spec: ServiceSpec,
    field: KeyFieldSpec,
    value: str,
    blocking: list[str],
    issues: list[str],
    recommendations: list[str],
) -> None:
    """Append what is wrong with one present field value. Messages never quote the value."""
    if not field.allow_whitespace and any(c.isspace() or not c.isprintable() for c in value):
        blocking.append(
            f"{field.name} contains whitespace, a line break or another invisible character, "
            "usually a copy-paste error; copy it again without surrounding spaces or newlines."
        )
    if _looks_like_placeholder(value, field.pattern, strict=field.secret):
        blocking.append(
            f"{field.name} looks like a placeholder or example, not a real credential; "
            f"paste the value {spec.name} issued."
        )
    if field.pattern and not re.fullmatch(field.pattern, value):
        prefixes = expected_prefixes(field.pattern)
        expected = (
            f"expected prefix {' or '.join(p + '...' for p in prefixes)}"
            if prefixes
            else f"expected format {field.pattern}"
        )
        blocking.append(
            f"{field.name} does not match the documented format for {spec.name} {field.name} "
            f"({expected}); check that the whole value was copied from the right {spec.name} field."
        )
    if len(value) < field.min_length:
        blocking.append(
            f"{field.name} is shorter than {field.min_length} characters, the minimum for "
            f"{spec.name} {field.name}; check that it was not truncated when copied."
        )
    if field.secret and len(value) >= ENTROPY_MIN_LENGTH and shannon_entropy(value) < LOW_ENTROPY_BITS:
        issues.append(
            f"{field.name} has low randomness ({shannon_entropy(value):.1f} bits per character; "
            f"generated keys have over {LOW_ENTROPY_BITS:.0f}); it may be hand-made or mangled."
        )
        recommendations.append(f"Generate a new {field.name} in {spec.name} rather than typing one.")


def _looks_like_placeholder(value: str, pattern: str, *, strict: bool) -> bool:
    """True for values such as "your-api-key", "sk-xxxxxxxx", "<API_KEY>" or "changeme".

    The documented prefix is set aside first, so "sk_test_test" is judged on "test".
    `strict` (secret fields) also refuses bare words ("test", "secret") and repeated
    characters ("aaaaaaaa", "abcabcabc"), which are legitimate for identifiers such as a
    database user name or the port 8080.
    """
    body = value.lower()
    for prefix in sorted(expected_prefixes(pattern), key=len, reverse=True):
        if body.startswith(prefix.lower()):
            body = body[len(prefix) :]
            break
    body = body.strip("\"'`")
    if _PLACEHOLDER_MARKERS.search(body):
        return True
    if not strict:
        return False
    repeated = len(body) >= 4 and (len(set(body)) <= 2 or re.fullmatch(r"(.{1,4})\1+", body) is not None)
    return body in _PLACEHOLDER_WORDS or repeated


def _compliance(
    spec: ServiceSpec,
    present: Mapping[str, str],
    key_type: str,
    now: datetime,
    created_at: datetime | None,
    expires_at: datetime | None,
    recommendations: list[str],
) -> tuple[ComplianceCheck, ...]:
    """The compliance rules that apply to this service and call; each failure adds advice.

    A rule that applies is always reported, passed or not, so a stored result shows what
    was checked. Tags name the framework the rule serves for this service (PCI-DSS first
    for payments; SOC2 for rotation, a change-management control).
    """
    tag = next((t for t in _TAG_PREFERENCE if t in spec.compliance_tags), "")
    checks: list[ComplianceCheck] = []

    def add(name: str, failure: str, success: str, advice: str, rule_tag: str = tag) -> None:
        checks.append(ComplianceCheck(name, not failure, failure or success, rule_tag))
        if failure:
            recommendations.append(advice)

    def matching(patterns: tuple[str, ...]) -> list[str]:
        return [n for n, v in present.items() if any(re.match(p, v) for p in patterns)]

    shown_type = key_type[:64]
    if spec.test_key_patterns:
        test_fields = matching(spec.test_key_patterns) if key_type == PRODUCTION else []
        add(
            "test_key_as_production",
            f"{_subject(test_fields, 'is a test-mode value', 'are test-mode values')} stored as a "
            f"production {spec.name} key: production traffic would not be processed."
            if test_fields
            else "",
            "No test-mode value is stored as production.",
            f"Store the live {spec.name} key as production, or store this one with key_type test.",
        )
    if spec.live_key_patterns and key_type != PRODUCTION:
        live_fields = matching(spec.live_key_patterns)
        add(
            "production_key_in_test",
            f"{_subject(live_fields, 'is a live value', 'are live values')} stored as a {shown_type} "
            "key: tests with it would act on real money or data."
            if live_fields
            else "",
            f"No live value is stored as {shown_type}.",
            f"Use {spec.name} test-mode keys outside production; keep live keys under production.",
        )
    if created_at is not None:
        age_days = (now - created_at).days
        status = (
            f"The key is {age_days} days old; {spec.category} keys are rotated every "
            f"{spec.rotation_period_days} days."
        )
        add(
            "rotation_overdue",
            status if age_days > spec.rotation_period_days else "",
            status,
            f"Rotate this {spec.name} key: create a new one in {spec.name}, store it with RotateKey, "
            "then revoke the old one there.",
            "SOC2" if "SOC2" in spec.compliance_tags else tag,
        )
    if spec.security_level is SecurityLevel.CRITICAL:
        add(
            "expiry_set",
            f"{spec.name} keys are critical and this one never expires." if expires_at is None else "",
            "An expiry date is set.",
            f"Set an expiry (expires_in_days) of at most {spec.rotation_period_days} days on critical "
            f"{spec.name} keys, so a forgotten key stops working on its own.",
        )
    return tuple(checks)


def _subject(names: list[str], singular: str, plural: str) -> str:
    return f"{_names(names)} {singular if len(names) == 1 else plural}"


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)
