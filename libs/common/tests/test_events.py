"""CloudEvents envelopes, stream setup and direct publishing against a real nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg, StorageType

from keyrelay.common.events import (
    PLATFORM_TENANT,
    CloudEvent,
    audit_event,
    usage_event,
)
from keyrelay.common.nats_helpers import (
    AUDIT_STREAM,
    STREAMS,
    USAGE_STREAM,
    EventPublisher,
    connect,
    drain,
    ensure_streams,
)
from keyrelay.common.testing.nats_server import NatsServer

pytestmark = pytest.mark.timeout(30)


def key_created(tenant_id: str = "acme", action: str = "key.created") -> CloudEvent:
    return audit_event(
        source="keyvault-svc",
        tenant_id=tenant_id,
        action=action,
        actor={"kind": "access_key", "id": "ak_123"},
        resource={"service_id": "openai", "key_type": "production", "key_id": "k1"},
        outcome="success",
        reason=None,
        request_id="req-1",
    )


async def stream_messages(js: JetStreamContext, stream: str) -> list[RawStreamMsg]:
    """Every message of ``stream``, by sequence."""
    state = (await js.stream_info(stream)).state
    return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]


# ---------------------------------------------------------------- envelope


def test_envelope_round_trips_through_structured_json() -> None:
    event = key_created()
    raw = event.to_json()
    assert b"\n" not in raw
    body = json.loads(raw)
    assert body["specversion"] == "1.0"
    assert body["datacontenttype"] == "application/json"
    assert body["tenantid"] == "acme"
    assert len(body["id"]) == 32 and body["time"].endswith("Z")
    assert CloudEvent.from_json(raw) == event


def test_audit_event_subject_type_and_data() -> None:
    event = key_created()
    assert event.type == "keyrelay.audit.key.created"
    assert event.subject == "keyrelay.audit.acme.key.created"
    assert event.source == "keyvault-svc"
    assert event.data == {
        "actor": {"kind": "access_key", "id": "ak_123"},
        "action": "key.created",
        "resource": {"service_id": "openai", "key_type": "production", "key_id": "k1"},
        "outcome": "success",
        "reason": None,
        "request_id": "req-1",
    }


def test_platform_events_use_the_platform_tenant() -> None:
    event = key_created(tenant_id=PLATFORM_TENANT, action="platform_secret.read")
    assert event.subject == "keyrelay.audit._platform.platform_secret.read"
    assert event.tenantid == "_platform"


def test_usage_event_subject_type_and_request_id() -> None:
    event = usage_event("llm-router-svc", "acme", {"model": "openai/gpt-4o-mini"}, "req-9")
    assert event.type == "keyrelay.usage.recorded"
    assert event.subject == "keyrelay.usage.acme"
    assert event.data == {"model": "openai/gpt-4o-mini", "request_id": "req-9"}


def test_each_event_gets_a_new_id() -> None:
    assert key_created().id != key_created().id


@pytest.mark.parametrize(
    "tenant_id", ["", "a.b", "a b", "*", ">", "acme.>", "Acme", "-acme", "platform ", "a\n"]
)
def test_subject_unsafe_tenant_ids_are_rejected(tenant_id: str) -> None:
    with pytest.raises(ValueError, match="tenant id"):
        key_created(tenant_id=tenant_id)
    with pytest.raises(ValueError, match="tenant id"):
        usage_event("llm-router-svc", tenant_id, {}, None)


@pytest.mark.parametrize("action", ["", "key created", "key..created", ".key", "key.", "key.*"])
def test_subject_unsafe_actions_are_rejected(action: str) -> None:
    with pytest.raises(ValueError, match="action"):
        key_created(action=action)


def test_unknown_outcome_is_rejected() -> None:
    with pytest.raises(ValueError, match="outcome"):
        audit_event("keyvault-svc", "acme", "key.created", {}, {}, "maybe", None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"not json",
        b'{"specversion": "1.0"}',
        json.dumps({**json.loads(key_created().to_json()), "specversion": "0.3"}).encode(),
        json.dumps({**json.loads(key_created().to_json()), "data": [1]}).encode(),
    ],
)
def test_from_json_rejects_what_is_not_a_cloudevent_1_0(body: bytes) -> None:
    with pytest.raises(ValueError):
        CloudEvent.from_json(body)


# ---------------------------------------------------------------- against nats-server


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await connect(nats_server.url, "test-events", initial_timeout=5)
    yield client
    await drain(client)


async def test_ensure_streams_creates_then_updates_idempotently(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    await ensure_streams(js)  # unchanged: no error
    changed = STREAMS[1].evolve(max_age=30 * 86_400.0)
    await ensure_streams(js, [changed])  # changed: updated in place
    usage = (await js.stream_info(USAGE_STREAM)).config
    assert usage.max_age == 30 * 86_400.0
    audit = (await js.stream_info(AUDIT_STREAM)).config
    assert audit.subjects == ["keyrelay.audit.>"]
    assert audit.storage == StorageType.FILE
    assert audit.max_age == 0
    assert audit.duplicate_window == 120.0


async def test_published_events_land_in_their_stream_with_msg_id(nc: NATS, tmp_path: Path) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    audit, usage = key_created(), usage_event("llm-router-svc", "acme", {"tokens": 3}, "r")
    async with EventPublisher(nc, tmp_path / "spool") as publisher:
        await publisher.publish(audit)
        await publisher.publish(usage)
        assert publisher.spooled_count() == 0

    [stored_audit] = await stream_messages(js, AUDIT_STREAM)
    assert stored_audit.subject == "keyrelay.audit.acme.key.created"
    assert stored_audit.headers == {"Nats-Msg-Id": audit.id}
    assert CloudEvent.from_json(stored_audit.data or b"") == audit
    [stored_usage] = await stream_messages(js, USAGE_STREAM)
    assert stored_usage.subject == "keyrelay.usage.acme"
    assert stored_usage.headers == {"Nats-Msg-Id": usage.id}
    assert not (tmp_path / "spool" / "events.jsonl").exists()
    assert nc.is_connected  # the publisher does not close a client it was given


async def test_same_event_id_published_twice_is_stored_once(nc: NATS, tmp_path: Path) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    event = key_created()
    async with EventPublisher(nc, tmp_path / "spool") as publisher:
        await publisher.publish(event)
        await publisher.publish(event)
    assert [m.headers for m in await stream_messages(js, AUDIT_STREAM)] == [{"Nats-Msg-Id": event.id}]


async def test_publisher_creates_the_streams_itself(nc: NATS, tmp_path: Path) -> None:
    """A service started while NATS was down has not run ensure_streams: the publisher does."""
    async with EventPublisher(nc, tmp_path / "spool", replay_interval=0.05) as publisher:
        await publisher.publish(key_created())  # before the streams exist: spooled
        assert await publisher.flush(timeout=5)
    assert len(await stream_messages(nc.jetstream(), AUDIT_STREAM)) == 1


async def test_drain_tolerates_closed_and_missing_connections(nc: NATS) -> None:
    await drain(None)
    await drain(nc)
    assert nc.is_closed
    await drain(nc)  # already closed: no error
