"""NATS/JetStream helpers: stream definitions, connection, and a publisher that loses nothing.

(Named ``nats_helpers`` so that it never shadows the ``nats`` package.)

``EventPublisher.publish`` returns only once an event is either acknowledged by JetStream
(PubAck) or fsync'd to an on-disk spool; otherwise it raises ``EventNotRecorded``, so that a
caller such as keyvault-svc can refuse the operation (fail closed, like Vault with no
working audit device). A background task replays the spool in order once NATS is back.

Spool format (in the spool directory, one publisher process per directory):

``events.jsonl``
    Append-only. One event per line: exactly the bytes of ``CloudEvent.to_json()``
    (single-line JSON) followed by ``\\n``. Each line is fsync'd before ``publish`` returns.
    A last line without its ``\\n`` is a write torn by a crash; its ``publish`` never
    returned, so it is cut off when the spool is opened (and before every append).
``events.pos``
    ASCII decimal byte offset into ``events.jsonl``: every line before it has been
    acknowledged by JetStream. Missing means 0. Replaced atomically (temp file, fsync,
    rename) after each replayed batch. When the whole file is acknowledged, ``events.pos``
    and then ``events.jsonl`` are deleted. A crash between an ack and the offset update
    means a few events are sent again; JetStream stores them once because each carries
    ``Nats-Msg-Id: <event id>`` and the streams keep a duplicate window.
``lock``
    ``flock``-ed while a publisher has the spool open, so that two processes never share it.

Ordering: while the spool holds events, new events are appended behind them instead of
being published directly, and replay publishes one event at a time, waiting for each PubAck.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from keyrelay.common.events import AUDIT_SUBJECT_PREFIX, USAGE_SUBJECT_PREFIX, CloudEvent

logger = logging.getLogger(__name__)

AUDIT_STREAM = "KEYRELAY_AUDIT"
USAGE_STREAM = "KEYRELAY_USAGE"
AUDIT_SUBJECTS = f"{AUDIT_SUBJECT_PREFIX}.>"
USAGE_SUBJECTS = f"{USAGE_SUBJECT_PREFIX}.>"
CONTROL_SUBJECT_PREFIX = "keyrelay.control"
CONTROL_SUBJECTS = f"{CONTROL_SUBJECT_PREFIX}.>"
# keyvault-svc announces key changes here; every cache of resolved keys listens.
KEY_INVALIDATION_SUBJECT = f"{CONTROL_SUBJECT_PREFIX}.keyvault.invalidate"
"""Core NATS (no stream) namespace for control messages such as cache invalidation:
they matter only to the replicas running now, so they are not persisted."""

DUPLICATE_WINDOW_S = 120.0
_DAY_S = 86_400.0

STREAMS: tuple[StreamConfig, ...] = (
    StreamConfig(
        name=AUDIT_STREAM,
        description="keyrelay audit trail (CloudEvents, structured JSON)",
        subjects=[AUDIT_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=0,  # unlimited: the audit trail is kept until an operator decides otherwise
        duplicate_window=DUPLICATE_WINDOW_S,
    ),
    StreamConfig(
        name=USAGE_STREAM,
        description="keyrelay usage feed, one event per AI call (CloudEvents, structured JSON)",
        subjects=[USAGE_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=90 * _DAY_S,
        duplicate_window=DUPLICATE_WINDOW_S,
    ),
)

_STREAM_NAME_IN_USE = 10058  # JetStream err_code: same name, different configuration
_MSG_ID_HEADER = "Nats-Msg-Id"
_SUBJECT_RE = re.compile(r"[^\s.*>]+(?:\.[^\s.*>]+)*")
# What a failed JetStream publish raises: timeouts, no stream (no responders), connection
# closed or reconnecting, API errors in the PubAck. All mean "spool it and retry later".
_PUBLISH_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)
_CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
)

Callback = Callable[[], Awaitable[None]]


class ConnectFn(Protocol):
    """Opens a NATS connection; called by ``EventPublisher`` as ``fn(reconnected_cb=cb)``.

    ``functools.partial(connect, url, "keyvault-svc")`` is one.
    """

    def __call__(self, *, reconnected_cb: Callback) -> Awaitable[NATS]: ...


class EventNotRecorded(Exception):
    """An event could be neither published to JetStream nor written to the spool."""


# --------------------------------------------------------------------------- streams


async def ensure_streams(js: JetStreamContext, streams: Sequence[StreamConfig] = STREAMS) -> None:
    """Create the streams, or update them to this configuration; safe to run on every start.

    Creating a stream that exists with the same configuration succeeds, so the update only
    happens when the configuration changed (and concurrent replicas cannot race into an error).
    """
    for config in streams:
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
            await js.update_stream(config)


# --------------------------------------------------------------------------- connection


async def _log_error(exc: Exception) -> None:
    # While NATS is down nats-py reports every failed reconnect attempt; those are expected.
    level = logging.DEBUG if isinstance(exc, _CONNECTION_ERRORS) else logging.WARNING
    logger.log(level, "nats: %r", exc)


def _chain(message: str, user_cb: Callback | None) -> Callback:
    async def callback() -> None:
        logger.info(message)
        if user_cb is not None:
            await user_cb()

    return callback


async def connect(
    url: str | list[str], name: str, *, initial_timeout: float | None = None, **kw: Any
) -> NATS:
    """Connect to NATS with settings for a long-running service.

    The client reconnects forever (``max_reconnect_attempts=-1``) every
    ``reconnect_time_wait`` seconds; with those settings nats-py's first connect also keeps
    retrying until a server answers, so a service started before NATS simply waits here.
    ``initial_timeout`` bounds that wait (``TimeoutError``); a service that must start while
    NATS is down gives ``EventPublisher`` this function instead of a client, and the
    publisher connects in the background while it spools. ``kw`` are nats-py options and
    override the defaults; ``disconnected_cb``/``reconnected_cb`` run after our logging.
    """
    options: dict[str, Any] = {
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        "error_cb": _log_error,
    }
    options.update(kw)
    options["disconnected_cb"] = _chain("nats: disconnected", kw.get("disconnected_cb"))
    options["reconnected_cb"] = _chain("nats: reconnected", kw.get("reconnected_cb"))
    nc = NATS()
    try:
        async with asyncio.timeout(initial_timeout):
            await nc.connect(url, **options)
    except BaseException:
        # Timed out or cancelled mid-connect: stop the half-made client's retries.
        with contextlib.suppress(nats.errors.Error, OSError):
            await nc.close()
        raise
    return nc


async def drain(nc: NATS | None) -> None:
    """Drain ``nc`` on shutdown (flush what was published, then close).

    Tolerates a connection that is closed, never connected or currently reconnecting
    (nats-py refuses to drain those; closing them is all that is left to do).
    """
    if nc is None or nc.is_closed:
        return
    if nc.is_connected:
        try:
            await nc.drain()
            return
        except nats.errors.Error as exc:
            logger.warning("nats: drain failed, closing: %r", exc)
    with contextlib.suppress(nats.errors.Error, OSError):
        await nc.close()


# --------------------------------------------------------------------------- spool


class _Spool:
    """The on-disk spool (format in the module docstring). Blocking; run it in a thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "events.jsonl"
        self.pos_path = directory / "events.pos"
        self._lock_fd: int | None = None

    def open(self) -> int:
        """Lock the directory, cut a torn last line; return how many events await replay."""
        self._lock()
        if not self.path.exists():
            self.pos_path.unlink(missing_ok=True)
            return 0
        with self.path.open("r+b") as f:
            _cut_torn_tail(f.fileno())
            f.seek(self._read_pos())
            return sum(1 for _ in f)

    def _lock(self) -> None:
        if self._lock_fd is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"event spool {self.directory} is in use by another process") from None
        except OSError:
            os.close(fd)
            raise
        self._lock_fd = fd

    @property
    def is_open(self) -> bool:
        return self._lock_fd is not None

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def append(self, line: bytes) -> None:
        """Append one event line and fsync it; on error leave the file as it was."""
        self._lock()
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = _cut_torn_tail(fd)
            try:
                data = memoryview(line + b"\n")
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.directory)

    def read(self, max_events: int) -> list[tuple[bytes, int]]:
        """Up to ``max_events`` unacknowledged lines, each with the offset just past it."""
        if not self.path.exists():
            return []
        out: list[tuple[bytes, int]] = []
        with self.path.open("rb") as f:
            f.seek(self._read_pos())
            while len(out) < max_events:
                line = f.readline()
                if not line.endswith(b"\n"):  # end of file, or a line still being written
                    break
                out.append((line[:-1], f.tell()))
        return out

    def ack(self, offset: int) -> None:
        """Record that everything before ``offset`` is in JetStream; empty the spool if all is."""
        if offset >= self.path.stat().st_size:
            # Offset first: a crash in between replays the file again instead of skipping it.
            self.pos_path.unlink(missing_ok=True)
            self.path.unlink()
        else:
            tmp = self.pos_path.with_suffix(".tmp")
            with tmp.open("w") as f:
                f.write(str(offset))
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.pos_path)
        _fsync_dir(self.directory)

    def _read_pos(self) -> int:
        try:
            pos = int(self.pos_path.read_text() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            logger.error("event spool: unreadable %s, replaying from the start", self.pos_path)
            return 0
        if pos > self.path.stat().st_size:
            logger.error("event spool: offset past the end of %s, replaying it all", self.path)
            return 0
        return pos


def _cut_torn_tail(fd: int) -> int:
    """Truncate an unterminated last line (a write torn by a crash); return the new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    logger.warning("event spool: dropping %d bytes of a torn last line", size - end)
    os.ftruncate(fd, end)
    os.fsync(fd)
    return end


def _fsync_dir(directory: Path) -> None:
    """Make a file creation, rename or removal in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- publisher


class EventPublisher:
    """Publishes CloudEvents to JetStream, spooling them to disk when it cannot.

    ``nc`` is a NATS client (connected or not; the caller owns it) or a ``ConnectFn`` that
    the publisher calls in the background until it succeeds (the publisher then owns the
    connection and drains it in ``close``), so a service can start while NATS is down.
    Use ``async with EventPublisher(...)`` or ``start()`` / ``close()``.

    Once connected, and again after a reconnection or a "no stream" answer, the publisher
    runs ``ensure_streams(streams)``: when NATS was down at startup nobody else has created
    them, and a NATS server restarted with an empty store has lost them (pass ``streams=()``
    where the streams are managed elsewhere).
    """

    def __init__(
        self,
        nc: NATS | ConnectFn,
        spool_dir: Path,
        *,
        ack_timeout: float = 2.0,
        replay_interval: float = 1.0,
        replay_batch: int = 256,
        streams: Sequence[StreamConfig] = STREAMS,
        submit_window: float = 0.001,
    ) -> None:
        if isinstance(nc, NATS):
            self._nc: NATS | None = nc
            self._connect_fn: ConnectFn | None = None
        else:
            self._nc = None
            self._connect_fn = nc
        self._spool = _Spool(spool_dir)
        self._ack_timeout = ack_timeout
        self._replay_interval = replay_interval
        self._replay_batch = replay_batch
        self._streams = streams
        self._submit_window = submit_window
        self._streams_ready = False
        self._lock = asyncio.Lock()  # serialises spool writes: appends, reads, acks
        self._wake = asyncio.Event()  # replay now (reconnected, flush requested)
        self._empty = asyncio.Event()
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._connect_failures = 0
        self._queued: list[CloudEvent] = []  # submit(): events waiting for the next flush
        self._flushing: asyncio.Task[None] | None = None
        self._submit_failed = False
        self._acks_sub: tuple[NATS, str] | None = None  # (connection, reply prefix)
        self._batches: dict[str, list[Any]] = {}  # batch id -> [acks missing, all ok, future]
        self._batch_seq = 0

    async def start(self) -> None:
        """Open the spool (replaying what a previous process left) and start the replay task.

        An unusable spool directory is only logged here: while NATS works nothing needs it,
        and each event that would need it raises ``EventNotRecorded``.
        """
        if self._task is not None:
            return
        try:
            self._count = await asyncio.to_thread(self._spool.open)
        except OSError as exc:
            logger.warning("event spool %s unusable: %r", self._spool.directory, exc)
        if self._count:
            logger.info("event spool: %d event(s) to replay", self._count)
        else:
            self._empty.set()
        self._task = asyncio.create_task(self._run(), name="keyrelay-event-replay")

    async def close(self) -> None:
        """Record what submit() queued, stop the replay task; spooled events stay on disk."""
        if self._closed:
            return
        while self._flushing is not None and not self._flushing.done():
            await asyncio.wait([self._flushing])
        self._closed = True
        self._wake.set()
        # Cancel more than once, and the loop checks _closed too: on Python 3.11,
        # asyncio.wait_for (used throughout nats-py) can swallow a cancellation that races
        # with the completion of what it waits for.
        while self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task], timeout=0.5)
        if self._connect_fn is not None:
            await drain(self._nc)
        async with self._lock:
            self._spool.close()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def can_record(self) -> bool:
        """Whether an event published now would be recorded: JetStream is connected or the
        spool is open. Lets a caller refuse an operation before acting (fail closed)."""
        return self._connected() or self._spool.is_open

    def spooled_count(self) -> int:
        """Events on disk not yet acknowledged by JetStream."""
        return self._count

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109 - a deadline is the API
        """Wait until everything submitted or spooled is in JetStream; ``False`` if it is not
        after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while self._flushing is not None and not self._flushing.done():
                    await asyncio.wait([self._flushing])
                self._wake.set()
                await self._empty.wait()
        except TimeoutError:
            return False
        return True

    async def publish(self, event: CloudEvent) -> None:
        """Publish ``event`` and wait for its PubAck, or spool it; see the module docstring.

        Raises ``EventNotRecorded`` when the event is neither acknowledged nor spooled.
        """
        if self._task is None or self._closed:
            raise RuntimeError("EventPublisher is not started, or closed")
        if not _SUBJECT_RE.fullmatch(event.subject):
            # Never spool what NATS will always refuse: it would block the replay for good.
            raise ValueError(f"invalid NATS subject {event.subject!r}")
        payload = event.to_json()
        if self._count == 0 and self._connected():
            try:
                await self._publish(event.subject, event.id, payload)
                return
            except _PUBLISH_ERRORS as exc:
                self._note_failure(exc)
                logger.warning("event %s spooled, JetStream publish failed: %r", event.id, exc)
        # Shielded so that a cancelled caller cannot leave a written event uncounted.
        await asyncio.shield(self._append(payload))

    def submit(self, event: CloudEvent) -> None:
        """Hot-path publishing: queue the event and return at once.

        Queued events are published together after `submit_window` seconds with pipelined
        PubAcks (one round trip for the batch instead of one per event); any that are not
        acknowledged go to the spool, in order. The cost of not waiting: a crash can lose
        the events of the last window. If a flush could neither publish nor spool,
        the next submit raises ``EventNotRecorded`` (fail closed) and the one after tries
        again.
        """
        if self._task is None or self._closed:
            raise RuntimeError("EventPublisher is not started, or closed")
        if self._submit_failed:
            self._submit_failed = False
            raise EventNotRecorded("recent events could be neither published nor spooled")
        if not _SUBJECT_RE.fullmatch(event.subject):
            raise ValueError(f"invalid NATS subject {event.subject!r}")
        self._queued.append(event)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_queued(), name="keyrelay-event-flush")

    async def _flush_queued(self) -> None:
        await asyncio.sleep(self._submit_window)  # let the submits of this window join the batch
        while self._queued:
            batch, self._queued = self._queued, []
            recorded = False
            if self._count == 0 and self._connected():
                recorded = await self._publish_batch(batch)
            if recorded:
                continue
            # Spool the whole batch: what JetStream did store is deduplicated on replay.
            for event in batch:
                try:
                    await asyncio.shield(self._append(event.to_json()))
                except EventNotRecorded:
                    logger.error("event %s could be neither published nor spooled", event.id)
                    self._submit_failed = True

    async def _publish_batch(self, batch: list[CloudEvent]) -> bool:
        """Publish without waiting between messages; True once JetStream acknowledged all.

        The PubAcks of a batch come back to one reply subject; a wildcard subscription per
        connection counts them. Far cheaper than a request (inbox, future, timer) per event.
        """
        nc = self._nc
        assert nc is not None
        if self._acks_sub is None or self._acks_sub[0] is not nc:
            prefix = nc.new_inbox()
            await nc.subscribe(f"{prefix}.*", cb=self._on_ack)
            self._acks_sub = (nc, prefix)
        self._batch_seq += 1
        batch_id = str(self._batch_seq)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._batches[batch_id] = [len(batch), True, done]
        try:
            reply = f"{self._acks_sub[1]}.{batch_id}"
            for event in batch:
                await nc.publish(
                    event.subject, event.to_json(), reply=reply, headers={_MSG_ID_HEADER: event.id}
                )
            return await asyncio.wait_for(done, self._ack_timeout)
        except (*_PUBLISH_ERRORS, TimeoutError) as exc:
            logger.warning("batch publish of %d event(s) failed, spooling: %r", len(batch), exc)
            return False
        finally:
            self._batches.pop(batch_id, None)

    async def _on_ack(self, msg: Any) -> None:
        entry = self._batches.get(msg.subject.rsplit(".", 1)[1])
        if entry is None:
            return  # a batch that already timed out
        try:
            ack = json.loads(msg.data) if msg.data else {}
        except ValueError:
            ack = {}
        if "error" in ack or "stream" not in ack:  # an error, or "no responders"
            entry[1] = False
        entry[0] -= 1
        if entry[0] == 0 and not entry[2].done():
            entry[2].set_result(entry[1])

    # -- internals

    def _connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def _publish(self, subject: str, event_id: str, payload: bytes) -> None:
        assert self._nc is not None
        await self._nc.jetstream(timeout=self._ack_timeout).publish(
            subject, payload, timeout=self._ack_timeout, headers={_MSG_ID_HEADER: event_id}
        )

    async def _append(self, payload: bytes) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._spool.append, payload)
            except (OSError, RuntimeError) as exc:
                raise EventNotRecorded(
                    f"event neither published nor spooled to {self._spool.directory}: {exc}"
                ) from exc
            if self._count == 0:
                logger.warning("JetStream unavailable: spooling events to %s", self._spool.path)
            self._count += 1
            self._empty.clear()

    def _note_failure(self, exc: Exception) -> None:
        if isinstance(exc, nats.js.errors.NoStreamResponseError):
            self._streams_ready = False

    async def _on_reconnected(self) -> None:
        self._streams_ready = False
        self._wake.set()

    async def _ensure_streams(self) -> None:
        assert self._nc is not None
        try:
            await ensure_streams(self._nc.jetstream(timeout=self._ack_timeout), self._streams)
        except _PUBLISH_ERRORS as exc:
            # E.g. no permission to manage streams: publishing may still work, so go on.
            logger.warning("event publisher could not ensure the JetStream streams: %r", exc)
        self._streams_ready = True

    async def _run(self) -> None:
        """Connect when needed and replay the spool, on reconnection and on a timer."""
        while not self._closed:
            self._wake.clear()
            try:
                if self._connect_fn is not None and (self._nc is None or self._nc.is_closed):
                    await self._connect()
                if self._connected() and not self._streams_ready:
                    await self._ensure_streams()
                if self._count and self._connected():
                    await self._replay()
            except Exception:  # noqa: BLE001 - the replay must outlive any single failure
                logger.exception("event replay failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._replay_interval):
                    await self._wake.wait()

    async def _connect(self) -> None:
        assert self._connect_fn is not None
        try:
            self._nc = await self._connect_fn(reconnected_cb=self._on_reconnected)
        except _PUBLISH_ERRORS as exc:
            self._connect_failures += 1
            level = logging.WARNING if self._connect_failures == 1 else logging.DEBUG
            logger.log(level, "event publisher cannot connect to NATS yet: %r", exc)
            return
        self._connect_failures = 0

    async def _replay(self) -> None:
        """Publish spooled events oldest first, one PubAck at a time, acking each batch."""
        while self._count and self._connected() and not self._closed:
            async with self._lock:
                batch = await asyncio.to_thread(self._spool.read, self._replay_batch)
            if not batch:
                return
            done, acked_to, failed = 0, 0, False
            for line, end in batch:
                if self._closed:
                    break
                try:
                    event = json.loads(line)
                    subject, event_id = event["subject"], event["id"]
                except (ValueError, KeyError, TypeError):
                    logger.error("event spool: skipping an unreadable line ending at %d", end)
                else:
                    try:
                        await self._publish(subject, event_id, line)
                    except _PUBLISH_ERRORS as exc:
                        self._note_failure(exc)
                        logger.info("event replay paused: %r", exc)
                        failed = True
                        break
                done, acked_to = done + 1, end
            if done:
                async with self._lock:
                    await asyncio.to_thread(self._spool.ack, acked_to)
                    self._count -= done
                    if self._count == 0:
                        self._empty.set()
                        logger.info("event spool replayed")
            if failed:
                return
