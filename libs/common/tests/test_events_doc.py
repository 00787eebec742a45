"""docs/events.md must describe every event keyrelay publishes (SPEC §8).

Subscribers read that page instead of our code, so these tests compare it with the code: the
audit actions keyvault-svc emits, the fields of llm-router-svc's usage events, the CloudEvents
envelope, the streams and subjects, and the cache-invalidation messages. Each failure says
what to add to (or remove from) the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from keyrelay.common import events, nats_helpers
from keyrelay.common.events import CloudEvent, audit_event, usage_event

REPO = Path(__file__).resolve().parents[3]
DOC_PATH = REPO / "docs" / "events.md"
KEYVAULT_SRC = REPO / "services" / "keyvault-svc" / "src" / "keyrelay" / "keyvault"
RAG_SRC = REPO / "services" / "rag-svc" / "src" / "keyrelay" / "rag"
GATEWAY = REPO / "services" / "llm-router-svc" / "src" / "keyrelay" / "router" / "gateway.py"

ACTIONS_HEADING = "### Action catalogue"
AUDIT_DATA_HEADING = "### Audit data"
USAGE_DATA_HEADING = "### Usage data"
ENVELOPE_HEADING = "## The envelope (CloudEvents 1.0, structured JSON)"
STREAMS_HEADING = "## Streams and subjects"
CONTROL_HEADING = "## Cache-invalidation control messages (core NATS)"

# First argument of an audit call, when it is a string literal: `self._audited("key.read", ...`,
# `self.audit.record("key.resolved", ...`, `auditor.record(\n "rpc.denied", ...`,
# `self.audit.record_soon("access_key.verified", ...`. The \b keeps `_cached_record(` and
# `validation_record(` out.
_AUDIT_CALL_RE = re.compile(r"""\b(?:_audited|record|record_soon)\(\s*["']([a-z0-9_.-]+)["']""")
# PutKey's action is chosen after the work by a nested function returning one of these.
_PUT_KEY_ACTION_RE = re.compile(r"""["'](key\.(?:created|updated))["']""")
_SCOPE_RE = re.compile(r""""scope":\s*"([a-z_]+)\"""")
_CODE_RE = re.compile(r"`([^`]+)`")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def doc() -> str:
    assert DOC_PATH.is_file(), f"{DOC_PATH.relative_to(REPO)} is missing: write the event reference (SPEC §8)"
    return DOC_PATH.read_text(encoding="utf-8")


def section(doc: str, heading: str) -> str:
    """The text under ``heading`` (a whole line) up to the next heading of the same or a
    higher level."""
    lines = doc.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    try:
        start = lines.index(heading)
    except ValueError:
        pytest.fail(f"docs/events.md has no heading {heading!r}; these tests look for it, keep it")
    out: list[str] = []
    in_fence = False
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("#"):
            hashes = len(line) - len(line.lstrip("#"))
            if hashes <= level and line[hashes : hashes + 1] == " ":
                break
        out.append(line)
    return "\n".join(out)


def table_rows(text: str) -> dict[str, str]:
    """Rows of the Markdown tables in ``text``, by the first code span of their first cell
    (``| `key.read` | ... |`` -> ``{"key.read": "| `key.read` | ... |"}``)."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        first_cell = line.strip("|").split("|", 1)[0]
        found = _CODE_RE.search(first_cell)
        if found:
            rows[found.group(1)] = line
    return rows


def source_files() -> list[Path]:
    """The services that publish audit events: keyvault-svc and rag-svc."""
    files = []
    for root in (KEYVAULT_SRC, RAG_SRC):
        found = sorted(root.rglob("*.py"))
        assert found, f"no sources under {root}; update KEYVAULT_SRC / RAG_SRC in this test"
        files += found
    return files


def audit_actions_in_code() -> dict[str, str]:
    """Every audit action keyvault-svc and rag-svc can emit -> a file that emits it."""
    found: dict[str, str] = {}
    for path in source_files():
        text = path.read_text(encoding="utf-8")
        for match in [*_AUDIT_CALL_RE.finditer(text), *_PUT_KEY_ACTION_RE.finditer(text)]:
            found.setdefault(match.group(1), str(path.relative_to(REPO)))
    # Guard against a regex that silently stopped matching (the test would then pass vacuously).
    expected = {
        "key.created",
        "key.updated",
        "key.resolved",
        "access_key.verified",
        "rpc.denied",
        "rag.answered",
    }
    assert expected <= found.keys(), (
        f"the action regex no longer finds {sorted(expected - found.keys())} in the services; "
        "fix _AUDIT_CALL_RE / _PUT_KEY_ACTION_RE in this test"
    )
    return found


def usage_fields_in_code() -> set[str]:
    """Keys of the ``data`` dict built in gateway.py ``_record_usage``, plus what
    ``usage_event`` adds (``request_id``)."""
    text = GATEWAY.read_text(encoding="utf-8")
    body = re.search(r"\n    def _record_usage\(.*?(?=\n    def |\n    # --|\Z)", text, re.DOTALL)
    assert body, "gateway.py has no Gateway._record_usage any more; update this test"
    data = re.search(r"\bdata = \{(.*?)\n\s*\}", body.group(0), re.DOTALL)
    assert data, "_record_usage no longer builds `data = {...}`; update usage_fields_in_code()"
    keys = set(re.findall(r"""["'](\w+)["']\s*:""", data.group(1)))
    assert {"cost_micros", "prompt_tokens", "success"} <= keys, f"parsed usage keys look wrong: {keys}"
    return keys | set(usage_event("llm-router-svc", "acme", {}, None).data)


def sample_audit_event() -> CloudEvent:
    return audit_event(
        "keyvault-svc", "acme", "key.read", {"kind": "service", "id": "portal"}, {}, "success", None, None
    )


def missing_message(what: str, missing: list[str], where: str, how: str) -> str:
    return f"docs/events.md does not document {what} {missing}: add {how} under '{where}'"


# --------------------------------------------------------------------------- audit actions


def test_every_audit_action_in_keyvault_is_documented(doc: str) -> None:
    code = audit_actions_in_code()
    documented = table_rows(section(doc, ACTIONS_HEADING))
    missing = sorted(set(code) - set(documented))
    assert not missing, missing_message(
        "the audit action(s)",
        missing,
        ACTIONS_HEADING,
        "a table row per action (| `action` | gRPC call (caller) | tenant | `resource` fields | outcomes |); "
        "emitted in " + ", ".join(sorted({code[a] for a in missing})),
    )


def test_every_documented_audit_action_exists(doc: str) -> None:
    code = audit_actions_in_code()
    documented = table_rows(section(doc, ACTIONS_HEADING))
    stale = sorted(set(documented) - set(code))
    assert not stale, (
        f"docs/events.md documents audit action(s) {stale} that no service emits any more: "
        f"remove or rename their rows under '{ACTIONS_HEADING}'"
    )


def test_audit_actions_are_valid_subject_tokens() -> None:
    for action in audit_actions_in_code():
        events.validate_action(action)  # raises: the action could not be published


def test_audit_data_fields_and_outcomes_are_documented(doc: str) -> None:
    text = section(doc, AUDIT_DATA_HEADING)
    rows = table_rows(text)
    missing = sorted(set(sample_audit_event().data) - set(rows))
    assert not missing, missing_message(
        "the audit data field(s)", missing, AUDIT_DATA_HEADING, "a row (| `field` | type | meaning |)"
    )
    actor_fields = {"kind", "id", "via"}  # Actor.as_dict() plus "via", set in keyvault adapters/audit.py
    missing_actor = sorted(f"actor.{f}" for f in actor_fields if f"actor.{f}" not in rows)
    assert not missing_actor, missing_message(
        "the actor field(s)", missing_actor, AUDIT_DATA_HEADING + " / Actor", "a row (| `actor.x` | ... |)"
    )
    missing_outcomes = sorted(o for o in events.OUTCOMES if f"`{o}`" not in rows["outcome"])
    assert not missing_outcomes, missing_message(
        "the outcome value(s)", missing_outcomes, AUDIT_DATA_HEADING, "them to the `outcome` row"
    )
    assert f"`{events.PLATFORM_TENANT}`" in text, (
        f"say under '{AUDIT_DATA_HEADING}' which audit events are filed under tenant "
        f"`{events.PLATFORM_TENANT}`"
    )


# --------------------------------------------------------------------------- usage events


def test_every_usage_data_field_is_documented(doc: str) -> None:
    code = usage_fields_in_code()
    documented = table_rows(section(doc, USAGE_DATA_HEADING))
    missing = sorted(code - set(documented))
    assert not missing, missing_message(
        "the usage data field(s)",
        missing,
        USAGE_DATA_HEADING,
        "a row per field (| `field` | type | meaning |) for each key _record_usage puts in `data`",
    )
    stale = sorted(set(documented) - code)
    assert not stale, (
        f"docs/events.md documents usage field(s) {stale} that gateway.py _record_usage no longer "
        f"sends: remove them under '{USAGE_DATA_HEADING}'"
    )


# --------------------------------------------------------------------------- envelope, streams


def test_envelope_attributes_are_documented(doc: str) -> None:
    attributes = json.loads(sample_audit_event().to_json())
    documented = table_rows(section(doc, ENVELOPE_HEADING))
    missing = sorted(set(attributes) - set(documented))
    assert not missing, missing_message(
        "the CloudEvents attribute(s)", missing, ENVELOPE_HEADING, "a row (| `attribute` | type | value |)"
    )
    for value in (events.SPEC_VERSION, events.USAGE_TYPE, events.AUDIT_TYPE_PREFIX):
        assert value in doc, f"docs/events.md should mention {value!r} (from events.py)"


def test_streams_and_subjects_are_documented(doc: str) -> None:
    text = section(doc, STREAMS_HEADING)
    rows = table_rows(text)
    for config in nats_helpers.STREAMS:
        row = rows.get(config.name)
        assert row is not None, missing_message(
            "the stream", [config.name], STREAMS_HEADING, "a row (| `STREAM` | subjects | ... |)"
        )
        for subject in config.subjects or []:
            assert f"`{subject}`" in row, (
                f"add subject `{subject}` to the `{config.name}` row under '{STREAMS_HEADING}'"
            )
        age = "unlimited" if not config.max_age else f"{config.max_age / 86_400:g} days"
        assert age in row, f"the `{config.name}` row under '{STREAMS_HEADING}' should give max_age as {age!r}"
        window = f"{config.duplicate_window:g} s"
        assert window in row, (
            f"the `{config.name}` row under '{STREAMS_HEADING}' should give duplicate window {window!r}"
        )
    subjects = {
        f"{events.AUDIT_SUBJECT_PREFIX}.{{tenant_id}}.{{action}}": "the audit subject pattern",
        f"{events.USAGE_SUBJECT_PREFIX}.{{tenant_id}}": "the usage subject pattern",
        nats_helpers.KEY_INVALIDATION_SUBJECT: "the cache-invalidation subject",
        nats_helpers.CONTROL_SUBJECTS: "the control namespace",
        nats_helpers._MSG_ID_HEADER: "the deduplication header",
        events.PLATFORM_TENANT: "the platform tenant",
    }
    missing = [f"{what} `{value}`" for value, what in subjects.items() if f"`{value}`" not in doc]
    assert not missing, (
        f"docs/events.md does not mention {missing} (from events.py / nats_helpers.py): add them"
    )


def test_invalidation_scopes_are_documented(doc: str) -> None:
    scopes: set[str] = set()
    for path in source_files():
        scopes.update(_SCOPE_RE.findall(path.read_text(encoding="utf-8")))
    assert {"tenant_key", "access_key"} <= scopes, f"the scope regex found only {scopes}; fix _SCOPE_RE"
    documented = table_rows(section(doc, CONTROL_HEADING))
    missing = sorted(scopes - set(documented))
    assert not missing, missing_message(
        "the invalidation scope(s)",
        missing,
        CONTROL_HEADING,
        "a row (| `scope` | other fields | sent when |)",
    )


# --------------------------------------------------------------------------- examples


def test_example_events_match_the_code(doc: str) -> None:
    blocks = re.findall(r"```json\n(.*?)\n```", doc, re.DOTALL)
    parsed = [CloudEvent.from_json(block) for block in blocks]  # ValueError: not a valid event
    audits = [e for e in parsed if e.type.startswith(events.AUDIT_TYPE_PREFIX + ".")]
    usages = [e for e in parsed if e.type == events.USAGE_TYPE]
    assert audits, "add an example audit event (a ```json block) to docs/events.md"
    assert usages, "add an example usage event (a ```json block) to docs/events.md"
    actions = audit_actions_in_code()
    audit_keys = set(sample_audit_event().data)
    for event in audits:
        action = event.data.get("action")
        assert action in actions, f"the example audit event's action {action!r} is not one keyvault-svc emits"
        expected = audit_event(
            event.source, event.tenantid, action, {}, {}, event.data["outcome"], None, None
        )
        assert (event.type, event.subject) == (expected.type, expected.subject), (
            f"the example audit event should have type {expected.type!r} and subject {expected.subject!r}"
        )
        assert set(event.data) == audit_keys, (
            f"the example audit event's data keys should be {sorted(audit_keys)}"
        )
    usage_keys = usage_fields_in_code()
    for event in usages:
        assert event.subject == events.usage_subject(event.tenantid), (
            "the example usage event has a wrong subject"
        )
        assert set(event.data) == usage_keys, (
            f"the example usage event's data keys should be exactly {sorted(usage_keys)}; "
            f"missing {sorted(usage_keys - set(event.data))}, extra {sorted(set(event.data) - usage_keys)}"
        )
        assert isinstance(event.data["cost_micros"], int), "cost_micros is an integer (micro-USD)"
