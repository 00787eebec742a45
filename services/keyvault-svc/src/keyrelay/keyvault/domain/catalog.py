"""The service catalog: which services tenants bring keys for, and what those keys look like.

The catalog is data (`keyrelay/keyvault/data/services.yaml`, format described in its
header); this module turns it into frozen dataclasses that mirror `keyrelay.v1.ServiceInfo`
and `KeyField` field for field, plus what validation needs beyond the proto
(`test_key_patterns`, `live_key_patterns`, `default_base_url`, `allow_whitespace`).

Loading validates the whole file and refuses to start on any mistake: a typo in a pattern
or a category would otherwise surface as a wrong answer to a tenant much later. `load()`
reads the file (the only I/O here); the service calls it once at start-up and passes the
`Catalog` on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from keyrelay.common.errors import InvalidArgument, NotFound
from keyrelay.keyvault.domain.ids import ID_PATTERN

CATEGORIES: tuple[str, ...] = (
    "ai",
    "payment",
    "advertising",
    "social",
    "ecommerce",
    "crm",
    "communication",
    "analytics",
    "seo",
    "cloud",
    "database",
    "infrastructure",
)
COMPLIANCE_TAGS = frozenset({"PCI-DSS", "SOC2", "GDPR", "HIPAA", "RBI"})
PROTOCOL_FAMILIES = frozenset({"openai", "anthropic", "gemini", "cohere", "azure-openai", "bedrock"})

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
_LIVE_CHECK = re.compile(r"(GET|POST|HEAD) (/\S*|https://\S+)")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class SecurityLevel(StrEnum):
    """Mirrors keyrelay.v1.SecurityLevel: `SECURITY_LEVEL_<name>` in the proto."""

    STANDARD = "standard"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class KeyFieldSpec:
    """One part of a credential (keyrelay.v1.KeyField, plus `allow_whitespace`)."""

    name: str
    description: str = ""
    pattern: str = ""  # documented format, anchored ^...$; empty when none is documented
    min_length: int = 1
    required: bool = True
    secret: bool = True  # false for identifiers such as publishable keys and regions
    allow_whitespace: bool = False  # only where whitespace belongs to the value (JSON files)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One catalog entry (keyrelay.v1.ServiceInfo, plus what validation and routing need)."""

    service_id: str
    name: str
    category: str
    key_types: tuple[str, ...]
    fields: tuple[KeyFieldSpec, ...]
    primary_field: str
    min_length: int  # of the primary field, as in the proto
    compliance_tags: tuple[str, ...]
    rotation_period_days: int
    security_level: SecurityLevel
    protocol_family: str = ""
    live_check: str = ""
    default_base_url: str = ""
    test_key_patterns: tuple[str, ...] = ()
    live_key_patterns: tuple[str, ...] = ()

    def field(self, name: str) -> KeyFieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


class Catalog:
    """The loaded, validated catalog. Immutable; lookups are dictionary reads."""

    def __init__(self, services: Iterable[ServiceSpec]) -> None:
        self._by_id: dict[str, ServiceSpec] = {}
        for spec in services:
            if spec.service_id in self._by_id:
                raise ValueError(f"service catalog: duplicate service_id '{spec.service_id}'")
            self._by_id[spec.service_id] = spec

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        """Read and validate a catalog file; the packaged `data/services.yaml` by default.

        Raises ValueError naming the offending entry and what is wrong with it.
        """
        if path is None:
            text = (resources.files("keyrelay.keyvault") / "data" / "services.yaml").read_text("utf-8")
            source = "services.yaml"
        else:
            text = Path(path).read_text("utf-8")
            source = str(path)
        return cls.from_mapping(yaml.safe_load(text), source=source)

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "service catalog") -> Catalog:
        """Build a catalog from the parsed YAML document (pure: no I/O)."""
        if not isinstance(data, Mapping) or set(data) != {"categories", "services"}:
            raise ValueError(f"{source}: expected exactly the top-level keys 'categories' and 'services'")
        policies = _parse_categories(data["categories"], source)
        entries = data["services"]
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{source}: 'services' must be a non-empty list")
        return cls(_parse_service(entry, i, policies, source) for i, entry in enumerate(entries))

    def get(self, service_id: str) -> ServiceSpec:
        try:
            return self._by_id[service_id]
        except KeyError:
            close = difflib.get_close_matches(service_id, self._by_id, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise NotFound(
                f"Unknown service_id {service_id[:64]!r}.{hint} List the supported services "
                "with ListServices (gRPC) or GET /api/brain/portal/services."
            ) from None

    def list(self, category: str | None = None) -> tuple[ServiceSpec, ...]:
        """All services in file order, or those of one category."""
        if category is None:
            return tuple(self._by_id.values())
        if category not in CATEGORIES:
            raise InvalidArgument(f"Unknown category {category[:64]!r}; use one of: {', '.join(CATEGORIES)}.")
        return tuple(s for s in self._by_id.values() if s.category == category)

    def categories(self) -> tuple[str, ...]:
        """Categories that have at least one service, in the canonical order."""
        present = {s.category for s in self._by_id.values()}
        return tuple(c for c in CATEGORIES if c in present)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._by_id


# --- parsing and validation of the file ---------------------------------------------------

_SERVICE_KEYS = {
    "service_id",
    "name",
    "category",
    "key_types",
    "fields",
    "primary_field",
    "compliance_tags",
    "rotation_period_days",
    "security_level",
    "protocol_family",
    "live_check",
    "default_base_url",
    "test_key_patterns",
    "live_key_patterns",
}
_REQUIRED_SERVICE_KEYS = {"service_id", "name", "category", "key_types", "fields", "primary_field"}
_FIELD_KEYS = {"name", "description", "pattern", "min_length", "required", "secret", "allow_whitespace"}


def _parse_categories(raw: Any, source: str) -> dict[str, tuple[int, SecurityLevel]]:
    if not isinstance(raw, Mapping) or set(raw) != set(CATEGORIES):
        raise ValueError(f"{source}: 'categories' must define exactly: {', '.join(CATEGORIES)}")
    policies: dict[str, tuple[int, SecurityLevel]] = {}
    for name, policy in raw.items():
        where = f"{source}: category '{name}'"
        if not isinstance(policy, Mapping) or set(policy) != {"rotation_period_days", "security_level"}:
            raise ValueError(f"{where}: give exactly rotation_period_days and security_level")
        policies[name] = (
            _positive_int(policy["rotation_period_days"], where, "rotation_period_days"),
            _security_level(policy["security_level"], where),
        )
    return policies


def _parse_service(
    entry: Any, index: int, policies: Mapping[str, tuple[int, SecurityLevel]], source: str
) -> ServiceSpec:
    sid = entry.get("service_id") if isinstance(entry, Mapping) else None
    where = f"{source}: service '{sid}' (entry {index})"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    if unknown := set(entry) - _SERVICE_KEYS:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    if missing := _REQUIRED_SERVICE_KEYS - set(entry):
        raise ValueError(f"{where}: missing keys {sorted(missing)}")
    if not isinstance(sid, str) or not ID_PATTERN.fullmatch(sid):
        raise ValueError(f"{where}: service_id must match ^[a-z0-9][a-z0-9_-]{{0,62}}$")
    if not isinstance(entry["name"], str) or not entry["name"].strip():
        raise ValueError(f"{where}: name must be a non-empty string")

    category = entry["category"]
    if category not in policies:
        raise ValueError(f"{where}: category '{category}' is not one of {', '.join(CATEGORIES)}")
    default_rotation, default_level = policies[category]

    key_types = _strings(entry["key_types"], where, "key_types")
    if not key_types or len(set(key_types)) != len(key_types):
        raise ValueError(f"{where}: key_types must be a non-empty list without duplicates")
    if bad := [k for k in key_types if not ID_PATTERN.fullmatch(k)]:
        raise ValueError(f"{where}: key_types {bad} do not match ^[a-z0-9][a-z0-9_-]{{0,62}}$")

    raw_fields = entry["fields"]
    if not isinstance(raw_fields, list) or not raw_fields:
        raise ValueError(f"{where}: fields must be a non-empty list")
    fields = tuple(_parse_field(f, where) for f in raw_fields)
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: field names must be unique")
    primary = entry["primary_field"]
    if primary not in names:
        raise ValueError(f"{where}: primary_field '{primary}' is not one of its fields {names}")

    tags = _strings(entry.get("compliance_tags", []), where, "compliance_tags")
    if bad := sorted(set(tags) - COMPLIANCE_TAGS):
        raise ValueError(f"{where}: unknown compliance tags {bad}; use {sorted(COMPLIANCE_TAGS)}")

    test_patterns = _prefix_patterns(entry.get("test_key_patterns", []), where, "test_key_patterns")
    live_patterns = _prefix_patterns(entry.get("live_key_patterns", []), where, "live_key_patterns")
    if test_patterns and "test" not in key_types:
        raise ValueError(f"{where}: has test_key_patterns, so key_types must include 'test'")

    protocol = entry.get("protocol_family", "")
    live_check = entry.get("live_check", "")
    base_url = entry.get("default_base_url", "")
    if category == "ai":
        if protocol not in PROTOCOL_FAMILIES:
            raise ValueError(f"{where}: AI services need protocol_family, one of {sorted(PROTOCOL_FAMILIES)}")
        if not isinstance(live_check, str) or not _LIVE_CHECK.fullmatch(live_check):
            raise ValueError(
                f"{where}: AI services need live_check as 'METHOD /path' or 'METHOD https://...'"
            )
        if not isinstance(base_url, str) or not base_url:
            raise ValueError(f"{where}: AI services need default_base_url")
        if unknown_refs := set(_PLACEHOLDER.findall(base_url)) - set(names):
            raise ValueError(f"{where}: default_base_url refers to unknown fields {sorted(unknown_refs)}")
    elif protocol or live_check or base_url:
        raise ValueError(
            f"{where}: protocol_family, live_check and default_base_url are for AI services only"
        )

    return ServiceSpec(
        service_id=sid,
        name=entry["name"].strip(),
        category=category,
        key_types=key_types,
        fields=fields,
        primary_field=primary,
        min_length=fields[names.index(primary)].min_length,
        compliance_tags=tags,
        rotation_period_days=_positive_int(
            entry.get("rotation_period_days", default_rotation), where, "rotation_period_days"
        ),
        security_level=_security_level(entry.get("security_level", default_level), where),
        protocol_family=protocol,
        live_check=live_check,
        default_base_url=base_url,
        test_key_patterns=test_patterns,
        live_key_patterns=live_patterns,
    )


def _parse_field(raw: Any, where: str) -> KeyFieldSpec:
    if not isinstance(raw, Mapping) or "name" not in raw:
        raise ValueError(f"{where}: each field must be a mapping with a name")
    name = raw["name"]
    here = f"{where}, field '{name}'"
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"{here}: field names must match ^[a-z][a-z0-9_]*$")
    if unknown := set(raw) - _FIELD_KEYS:
        raise ValueError(f"{here}: unknown keys {sorted(unknown)}")
    pattern = raw.get("pattern", "")
    if pattern:
        if not isinstance(pattern, str) or not (pattern.startswith("^") and pattern.endswith("$")):
            raise ValueError(f"{here}: pattern must be anchored as ^...$")
        _compile(pattern, here)
    required, secret = raw.get("required", True), raw.get("secret", True)
    allow_whitespace = raw.get("allow_whitespace", False)
    if not all(isinstance(flag, bool) for flag in (required, secret, allow_whitespace)):
        raise ValueError(f"{here}: required, secret and allow_whitespace must be true or false")
    return KeyFieldSpec(
        name=name,
        description=str(raw.get("description", "")),
        pattern=pattern,
        min_length=_positive_int(raw.get("min_length", 1), here, "min_length"),
        required=required,
        secret=secret,
        allow_whitespace=allow_whitespace,
    )


def _strings(raw: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise ValueError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(raw)


def _prefix_patterns(raw: Any, where: str, key: str) -> tuple[str, ...]:
    patterns = _strings(raw, where, key)
    for p in patterns:
        if not p.startswith("^"):
            raise ValueError(f"{where}: {key} entries must be anchored with ^")
        _compile(p, f"{where}, {key}")
    return patterns


def _compile(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: pattern {pattern!r} does not compile: {exc}") from None


def _positive_int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {key} must be a positive integer")
    return value


def _security_level(value: Any, where: str) -> SecurityLevel:
    try:
        return SecurityLevel(value)
    except ValueError:
        raise ValueError(
            f"{where}: security_level must be one of {', '.join(level.value for level in SecurityLevel)}"
        ) from None
