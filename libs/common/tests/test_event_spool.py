"""Nothing is lost while NATS is down: the publisher spools to disk and replays in order.

Every test runs a real nats-server that it stops and restarts on the same port and store
directory, like an outage of the platform's NATS.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from keyrelay.common.events import CloudEvent, audit_event, usage_event
from keyrelay.common.nats_helpers import (
    AUDIT_STREAM,
    USAGE_STREAM,
    EventNotRecorded,
    EventPublisher,
    connect,
    drain,
    ensure_streams,
)
from keyrelay.common.testing.nats_server import NatsServer

pytestmark = pytest.mark.timeout(30)

FAST_RECONNECT = {"reconnect_time_wait": 0.1}


def key_event(n: int, tenant_id: str = "acme") -> CloudEvent:
    return audit_event(
        source="keyvault-svc",
        tenant_id=tenant_id,
        action="key.created",
        actor={"kind": "admin", "id": "admin"},
        resource={"service_id": "openai", "key_type": "production", "key_id": f"k{n}"},
        outcome="success",
        reason=None,
        request_id=f"req-{n}",
    )


def spooled_ids(spool_dir: Path) -> list[str]:
    lines = (spool_dir / "events.jsonl").read_bytes().splitlines()
    return [json.loads(line)["id"] for line in lines]


async def stored_ids(js: JetStreamContext, stream: str) -> list[str]:
    """The ``Nats-Msg-Id`` of every message in ``stream``, in stream order."""
    state = (await js.stream_info(stream)).state
    ids = []
    for seq in range(state.first_seq, state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        assert msg.headers is not None and msg.data is not None
        assert json.loads(msg.data)["id"] == msg.headers["Nats-Msg-Id"]
        ids.append(msg.headers["Nats-Msg-Id"])
    return ids


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (instead of sleeping for a guessed time)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await connect(nats_server.url, "test-spool", initial_timeout=5, **FAST_RECONNECT)
    await ensure_streams(client.jetstream())
    yield client
    await drain(client)


async def test_events_published_while_nats_is_down_are_spooled_then_replayed_once_in_order(
    nats_server: NatsServer, nc: NATS, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    # streams=(): the fixture made them, and a stream request cut by the outage would only
    # hold the replay loop for ack_timeout.
    async with EventPublisher(nc, spool, replay_interval=0.1, streams=()) as publisher:
        before = key_event(0)
        await publisher.publish(before)

        nats_server.stop()
        await until(lambda: not nc.is_connected)
        during = [key_event(n) for n in range(1, 6)]
        for event in during:
            await publisher.publish(event)  # no exception: spooled
        await publisher.publish(during[1])  # the same event again (a retried call)

        assert publisher.spooled_count() == 6
        assert spooled_ids(spool) == [e.id for e in during] + [during[1].id]

        nats_server.start()
        assert await publisher.flush(timeout=10)
        assert publisher.spooled_count() == 0
        after = key_event(6)
        await publisher.publish(after)

    assert await stored_ids(nc.jetstream(), AUDIT_STREAM) == [e.id for e in [before, *during, after]]
    assert not (spool / "events.jsonl").exists()
    assert not (spool / "events.pos").exists()


async def test_spooled_events_survive_a_crash_and_a_new_publisher_replays_them(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A process that spooled events is SIGKILLed; the next one replays them.

    The dead process's torn last line (a write cut by the crash) is ignored.
    """
    spool = tmp_path / "spool"
    nats_server.stop()
    script = textwrap.dedent(
        """
        import asyncio, sys
        from functools import partial
        from pathlib import Path
        from keyrelay.common.events import usage_event
        from keyrelay.common.nats_helpers import EventPublisher, connect

        async def main() -> None:
            spool, url, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
            publisher = EventPublisher(partial(connect, url, "crashing"), spool)
            await publisher.start()
            for n in range(count):
                event = usage_event("llm-router-svc", "acme", {"n": n}, f"req-{n}")
                await publisher.publish(event)
                print(event.id, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """
    )
    count = 20
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(spool), nats_server.url, str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        published = [await asyncio.to_thread(proc.stdout.readline) for _ in range(count)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    published = [line.strip() for line in published]
    assert spooled_ids(spool) == published
    with (spool / "events.jsonl").open("ab") as f:
        f.write(b'{"id":"torn","subject":"keyrelay.usage.acme","da')

    nats_server.start()
    publisher = EventPublisher(
        partial(connect, nats_server.url, "restarted", **FAST_RECONNECT),
        spool,
        replay_interval=0.1,
    )
    async with publisher:
        assert publisher.spooled_count() == count
        assert await publisher.flush(timeout=10)

    client = await connect(nats_server.url, "check", initial_timeout=5)
    try:
        assert await stored_ids(client.jetstream(), USAGE_STREAM) == published
    finally:
        await drain(client)


async def test_a_service_starts_and_publishes_while_nats_is_down(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """With a connect function the publisher connects in the background and spools meanwhile."""
    nats_server.stop()
    publisher = EventPublisher(
        partial(connect, nats_server.url, "starting", **FAST_RECONNECT),
        tmp_path / "spool",
        replay_interval=0.1,
    )
    async with publisher:
        events = [usage_event("llm-router-svc", "acme", {"n": n}, None) for n in range(3)]
        for event in events:
            await publisher.publish(event)
        assert publisher.spooled_count() == 3
        assert not await publisher.flush(timeout=0.3)  # nothing to replay to yet

        nats_server.start()  # empty store: the publisher also creates the streams
        assert await publisher.flush(timeout=10)

    client = await connect(nats_server.url, "check", initial_timeout=5)
    try:
        assert await stored_ids(client.jetstream(), USAGE_STREAM) == [e.id for e in events]
    finally:
        await drain(client)


@pytest.mark.parametrize("recorded_acks", [4, 0])
async def test_replay_resumes_from_the_recorded_offset_and_resends_are_deduplicated(
    nc: NATS, tmp_path: Path, recorded_acks: int
) -> None:
    """A crash after 4 PubAcks, with (4) or without (0) the offset saved to events.pos.

    Either way each event ends up in the stream once, in order: the offset skips what was
    acknowledged, and what is sent again is dropped by JetStream as a duplicate Nats-Msg-Id.
    """
    js = nc.jetstream()
    events = [key_event(n) for n in range(10)]
    for event in events[:4]:  # the 4 acknowledged before the crash
        await js.publish(event.subject, event.to_json(), headers={"Nats-Msg-Id": event.id})
    spool = tmp_path / "spool"
    spool.mkdir()
    lines = [event.to_json() + b"\n" for event in events]
    (spool / "events.jsonl").write_bytes(b"".join(lines))
    if recorded_acks:
        (spool / "events.pos").write_text(str(sum(map(len, lines[:recorded_acks]))))

    async with EventPublisher(nc, spool, replay_interval=0.1) as publisher:
        assert publisher.spooled_count() == 10 - recorded_acks
        assert await publisher.flush(timeout=10)
    assert await stored_ids(js, AUDIT_STREAM) == [e.id for e in events]


async def test_unwritable_spool_while_nats_is_down_raises_event_not_recorded(
    nats_server: NatsServer, nc: NATS, tmp_path: Path
) -> None:
    """Fail closed: keyvault-svc refuses an operation whose audit event cannot be recorded."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # a file where the spool's parent should be: unwritable even as root
    async with EventPublisher(nc, blocker / "spool") as publisher:
        await publisher.publish(key_event(0))  # NATS is up: the spool is not needed

        nats_server.stop()
        await until(lambda: not nc.is_connected)
        with pytest.raises(EventNotRecorded):
            await publisher.publish(key_event(1))
        assert publisher.spooled_count() == 0


async def test_submitted_events_are_published_in_batches_or_spooled_and_never_lost(
    nats_server: NatsServer, nc: NATS, tmp_path: Path
) -> None:
    async with EventPublisher(nc, tmp_path / "spool", replay_interval=0.1, streams=()) as publisher:
        first = [key_event(n) for n in range(200)]
        for event in first:
            publisher.submit(event)  # returns at once
        assert await publisher.flush(timeout=10)

        nats_server.stop()
        await until(lambda: not nc.is_connected)
        second = [key_event(n) for n in range(200, 220)]
        for event in second:
            publisher.submit(event)
        await until(lambda: publisher.spooled_count() == 20)

        nats_server.start()
        assert await publisher.flush(timeout=10)
    stored = await stored_ids(nc.jetstream(), AUDIT_STREAM)
    assert sorted(stored) == sorted(e.id for e in first + second)
    assert stored[-20:] == [e.id for e in second], "spooled events are replayed in order"


async def test_submit_fails_closed_when_events_can_be_neither_published_nor_spooled(
    nats_server: NatsServer, nc: NATS, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    async with EventPublisher(nc, blocker / "spool") as publisher:
        nats_server.stop()
        await until(lambda: not nc.is_connected)
        publisher.submit(key_event(0))
        await until(lambda: publisher._submit_failed)
        with pytest.raises(EventNotRecorded):
            publisher.submit(key_event(1))


async def test_two_publishers_cannot_share_a_spool(nc: NATS, tmp_path: Path) -> None:
    async with EventPublisher(nc, tmp_path / "spool"):
        with pytest.raises(RuntimeError, match="in use"):
            await EventPublisher(nc, tmp_path / "spool").start()


async def test_connect_with_initial_timeout_gives_up_when_nats_is_down(
    nats_server: NatsServer,
) -> None:
    nats_server.stop()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await connect(nats_server.url, "impatient", initial_timeout=0.5, **FAST_RECONNECT)
    assert time.monotonic() - started < 3


async def test_drain_closes_a_reconnecting_connection(nats_server: NatsServer, nc: NATS) -> None:
    nats_server.stop()
    await until(lambda: not nc.is_connected)
    await drain(nc)
    assert nc.is_closed
